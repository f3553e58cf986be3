"""Asynchronous ingestion: one stored row per accepted event, folded in order by a task.

These tests post without folding and run the tasks themselves (the wire-format tests let
`support.post_json` run the drain after each answer).
"""

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from incidents.models import EscalationState, Incident, Status
from integrations import ingest
from integrations.ingest import events as inbound
from integrations.ingest import keyfold
from integrations.models import (
    Alert,
    AlertGroup,
    InboundEvent,
    InboundStatus,
    Integration,
    WebhookSubscription,
)
from integrations.services import integration_issue_key
from integrations.tasks import ingest_process, ingest_sweep
from notifications.models import Channel, Notification
from oncall.celery import app as celery_app
from oncall.roles import MANAGER
from rotations.models import StepAction
from tests.api.conftest import bearer_client
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    IntegrationFactory,
    RotationFactory,
    RotationMemberFactory,
    UserFactory,
)
from tests.integrations import support
from tests.integrations.support import am_alert, am_message, trigger

URL = "/v2/enqueue"


# These tests fold by hand (task, drain, sweeper) and look in between.
post_json = support.post_only
REAL_FOLD = inbound.fold_event
Sent = list[tuple[str, list[Any], dict[str, Any]]]


@pytest.fixture(autouse=True)
def asynchronous(settings: Settings) -> None:
    """Without the ingest Redis (one task per event) unless a test sets it."""
    settings.INGEST_REDIS_URL = ""


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Fold and drain tasks sent (not run); other tasks (escalation) are dropped."""
    calls: Sent = []

    def send_task(name: str, args: list[Any] | None = None, **options: Any) -> None:
        if name in (ingest.PROCESS_TASK, ingest.DRAIN_TASK):
            calls.append((name, list(args or []), options))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return calls


def key(integration: Integration) -> str:
    return integration.key  # type: ignore[attr-defined]


def action(integration: Integration, name: str, dedup_key: str) -> dict[str, Any]:
    return {"routing_key": key(integration), "event_action": name, "dedup_key": dedup_key}


def sweep_later(seconds: float = 3600) -> int:
    return ingest.ingest_sweep(now=timezone.now() + timedelta(seconds=seconds))


# --- Storing ----------------------------------------------------------------------------------


def test_a_post_stores_one_event_queues_its_task_and_opens_nothing_yet(
    client: Client,
    integration: Integration,
    sent: Sent,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, URL, trigger(key(integration), "disk", component="db"))

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "disk",
    }
    event = InboundEvent.objects.get()
    assert (event.integration, event.kind, event.dedup_key) == (integration, "events_v2", "disk")
    assert event.processed_at is None
    assert event.payload["component"] == "db"
    assert event.payload["level"] == "SEV1"
    assert key(integration) not in str(event.payload)  # the routing key is a secret
    assert not Incident.objects.exists()
    assert sent == [(ingest.PROCESS_TASK, [event.pk], {"queue": "ingest", "countdown": None})]

    assert ingest_process(event.pk) == "folded 1, failed 0"

    event.refresh_from_db()
    assert event.processed_at is not None
    assert (event.action, event.attempts) == ("created", 1)
    incident = Incident.objects.get()
    assert (incident.dedup_key, incident.severity) == ("disk", "SEV1")
    assert Alert.objects.get().component == "db"
    assert ingest_process(event.pk) == "done"  # a repeated task folds nothing twice
    assert AlertGroup.objects.get().alert_count == 1


def test_a_trigger_without_dedup_key_stores_the_generated_one(
    client: Client, integration: Integration, sent: Sent
) -> None:
    generated = post_json(client, URL, trigger(key(integration))).json()["dedup_key"]

    assert InboundEvent.objects.get().dedup_key == generated
    sweep_later()
    assert Incident.objects.get().dedup_key == generated


@pytest.mark.parametrize(
    ("body", "change"),
    [
        (b"{nope", None),
        ({"event_action": "trigger"}, None),
        ({"routing_key": "oncall_integration_unknown", "event_action": "trigger"}, None),
        (None, {"event_action": "explode"}),
        (None, {"payload": {"summary": "x", "source": "y", "severity": "fatal"}}),
        (None, {"event_action": "resolve", "dedup_key": None}),
    ],
)
def test_a_400_stores_nothing(
    client: Client, integration: Integration, sent: Sent, body: Any, change: Any
) -> None:
    if change is not None:
        body = {**trigger(key(integration), "k"), **change}
    response = post_json(client, URL, body)

    assert response.status_code == 400, response.content
    assert response.json()["status"] == "invalid event"
    assert not InboundEvent.objects.exists()
    assert sent == []


def test_alertmanager_400s_store_nothing_and_accepted_messages_fold_later(
    client: Client, am_integration: Integration, sent: Sent
) -> None:
    url = f"/integrations/alertmanager/{key(am_integration)}/"
    bad = am_message(alerts=[am_alert("a1", severity="page")])
    bad["commonLabels"] = {}
    assert post_json(client, url, bad).status_code == 400
    assert not InboundEvent.objects.exists()

    response = post_json(client, url, am_message())

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "action": "accepted",
        "dedup_key": '{}:{alertname="HighLatency"}',
        "incident": None,
    }
    assert not Incident.objects.exists()
    ingest_process(InboundEvent.objects.get().pk)
    incident = Incident.objects.get()
    assert incident.severity == "SEV1"
    assert {a.fingerprint for a in incident.alerts.all()} == {"a1", "a2"}
    assert incident.alerts.get(fingerprint="a1").ends_at is None


def test_a_429_stores_nothing(db: None, client: Client, sent: Sent) -> None:
    integration = IntegrationFactory.create(rate_limit_per_minute=1)
    assert post_json(client, URL, trigger(key(integration), "k")).status_code == 202
    assert post_json(client, URL, trigger(key(integration), "k")).status_code == 429
    assert InboundEvent.objects.count() == 1


# --- Order ------------------------------------------------------------------------------------


def test_trigger_then_resolve_of_one_burst_apply_in_order_whichever_task_runs_first(
    client: Client, integration: Integration, sent: Sent
) -> None:
    post_json(client, URL, trigger(key(integration), "db"))
    post_json(client, URL, action(integration, "resolve", "db"))
    post_json(client, URL, trigger(key(integration), "db"))
    first, resolve, again = InboundEvent.objects.order_by("id")

    ingest_process(resolve.pk)  # the resolve's task comes first: it folds its key in order

    assert [e.action for e in InboundEvent.objects.order_by("id")] == [
        "created",
        "resolved",
        "created",
    ]
    old, new = Incident.objects.order_by("id")
    assert (old.status, new.status) == (Status.RESOLVED, Status.TRIGGERED)
    assert ingest_process(first.pk) == ingest_process(again.pk) == "done"


def test_a_key_held_by_another_worker_is_left_to_it_and_looked_at_again(
    client: Client, integration: Integration, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_json(client, URL, trigger(key(integration), "db"))
    event = InboundEvent.objects.get()
    drained = ingest.Drained(busy=True)
    monkeypatch.setattr(keyfold, "ingest_drain", lambda **kwargs: drained)
    sent.clear()

    assert ingest_process(event.pk) == "folded 0, failed 0, key busy"

    assert sent == [
        (
            ingest.PROCESS_TASK,
            [event.pk],
            {"kwargs": {"retries": 1}, "queue": "ingest", "countdown": ingest.BUSY_RETRY_SECONDS},
        )
    ]


# --- Lost tasks, failures ---------------------------------------------------------------------


def test_the_sweeper_folds_an_event_whose_task_was_lost_after_the_grace(
    client: Client, integration: Integration, sent: Sent, settings: Settings
) -> None:
    post_json(client, URL, trigger(key(integration), "lost"))
    sent.clear()  # the broker lost it

    assert ingest.ingest_sweep() == 0  # within the grace: its task may still come
    assert not Incident.objects.exists()

    assert sweep_later(settings.INGEST_SWEEP_GRACE.total_seconds() + 1) == 1
    assert Incident.objects.get().dedup_key == "lost"
    assert InboundEvent.objects.get().processed_at is not None
    assert ingest_sweep() == 0  # the task: nothing left


@pytest.fixture
def hiccup(
    client: Client, integration: Integration, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> tuple[InboundEvent, InboundEvent, InboundEvent]:
    """A trigger and a resolve of "db", a trigger of "other"; folding the first one fails
    (until the test puts `inbound.fold_event` back)."""
    post_json(client, URL, trigger(key(integration), "db"))
    post_json(client, URL, action(integration, "resolve", "db"))
    post_json(client, URL, trigger(key(integration), "other"))
    trig, resolve, other = InboundEvent.objects.order_by("id")

    def broken(event: InboundEvent) -> Any:
        if event.pk == trig.pk:
            raise RuntimeError("database hiccup")
        return REAL_FOLD(event)

    monkeypatch.setattr(inbound, "fold_event", broken)
    sent.clear()
    return trig, resolve, other


def test_a_failing_event_records_its_error_holds_its_key_and_is_retried(
    hiccup: tuple[InboundEvent, InboundEvent, InboundEvent],
    sent: Sent,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    trig, resolve, other = hiccup

    with django_capture_on_commit_callbacks(execute=True):
        assert ingest_process(trig.pk) == "folded 0, failed 1"
    ingest_process(resolve.pk)  # waits behind the failed trigger: order
    ingest_process(other.pk)  # another key goes on

    trig.refresh_from_db()
    assert (trig.attempts, trig.last_error) == (1, "RuntimeError: database hiccup")
    assert trig.processed_at is None
    assert trig.next_attempt_at is not None
    assert InboundEvent.objects.get(pk=resolve.pk).processed_at is None
    assert Incident.objects.get().dedup_key == "other"
    (retry,) = sent
    assert retry[1] == [trig.pk]
    assert retry[2]["countdown"] == pytest.approx(5)  # INGEST_RETRY_BASE_DELAY
    assert ingest.ingest_sweep(now=trig.next_attempt_at - timedelta(seconds=1)) == 0

    monkeypatch.setattr(inbound, "fold_event", REAL_FOLD)
    assert ingest.ingest_sweep(now=trig.next_attempt_at) == 2

    trig.refresh_from_db()
    assert (trig.attempts, trig.action) == (2, "created")
    assert Incident.objects.get(dedup_key="db").status == Status.RESOLVED


def test_the_backoff_doubles_up_to_the_cap(settings: Settings) -> None:
    settings.INGEST_RETRY_BASE_DELAY = timedelta(seconds=5)
    settings.INGEST_RETRY_MAX_DELAY = timedelta(seconds=30)
    delays = [ingest.retry_delay(n).total_seconds() for n in range(1, 6)]
    assert delays == [5, 10, 20, 30, 30]


def test_an_event_failing_every_attempt_is_given_up_and_its_key_goes_on(
    client: Client,
    integration: Integration,
    sent: Sent,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    settings.INGEST_MAX_ATTEMPTS = 2
    post_json(client, URL, trigger(key(integration), "db"))
    post_json(client, URL, trigger(key(integration), "db", summary="second"))
    bad, _good = InboundEvent.objects.order_by("id")

    def broken(event: InboundEvent) -> Any:
        if event.pk == bad.pk:
            raise ValueError("cannot fold")
        return REAL_FOLD(event)

    monkeypatch.setattr(inbound, "fold_event", broken)

    ingest_process(bad.pk)
    assert sweep_later() == 1  # second attempt gives up, then the next event folds

    bad.refresh_from_db()
    assert bad.failed_at is not None
    assert (bad.attempts, bad.processed_at) == (2, None)
    assert Incident.objects.get().title == "second"

    monkeypatch.setattr(inbound, "fold_event", REAL_FOLD)
    sent.clear()
    assert ingest.inbound_retry(events=InboundEvent.objects.all()) == 1
    assert sweep_later() == 1
    assert AlertGroup.objects.get().alert_count == 2


def test_the_sweeper_deletes_processed_events_after_the_retention(
    client: Client, integration: Integration, sent: Sent
) -> None:
    post_json(client, URL, trigger(key(integration), "a"))
    sweep_later()
    assert InboundEvent.objects.count() == 1
    sweep_later(8 * 86400)
    assert not InboundEvent.objects.exists()
    assert Incident.objects.count() == 1


# --- The key cache ----------------------------------------------------------------------------


def test_a_rotated_key_stops_working_at_once_in_this_process(
    client: Client, integration: Integration, sent: Sent, settings: Settings
) -> None:
    settings.INGEST_KEY_CACHE_SECONDS = 60
    old = key(integration)
    assert post_json(client, URL, trigger(old, "a")).status_code == 202  # cached now

    new = integration_issue_key(integration=integration)
    integration.save(update_fields=["key_prefix", "key_digest"])

    assert post_json(client, URL, trigger(old, "a")).status_code == 400
    assert post_json(client, URL, trigger(new, "a")).status_code == 202


def test_cached_lookups_skip_the_query(
    client: Client,
    integration: Integration,
    sent: Sent,
    settings: Settings,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    settings.INGEST_KEY_CACHE_SECONDS = 60
    post_json(client, URL, trigger(key(integration), "a"))
    # The rate-limit counter and the one INSERT; no key lookup, no incident work.
    with django_assert_max_num_queries(2):
        assert post_json(client, URL, trigger(key(integration), "a")).status_code == 202


# --- Admin ------------------------------------------------------------------------------------


def test_the_admin_lists_unprocessed_and_failed_events_read_only(
    client: Client, integration: Integration, sent: Sent
) -> None:
    post_json(client, URL, trigger(key(integration), "waiting"))
    InboundEvent.objects.update(last_error="RuntimeError: boom", attempts=1, status="retrying")
    user = UserFactory.create(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_inboundevent"))
    admin = Client()
    admin.force_login(user)

    for state in ("", "?state=unprocessed", "?state=retrying", "?state=failed"):
        page = admin.get(f"/admin/integrations/inboundevent/{state}")
        assert page.status_code == 200
        assert ("RuntimeError: boom" in page.content.decode()) == (state != "?state=failed")
    event = InboundEvent.objects.get()
    assert admin.get(f"/admin/integrations/inboundevent/{event.pk}/change/").status_code == 200
    assert admin.get("/admin/integrations/inboundevent/add/").status_code == 403


# --- PostgreSQL: concurrency ------------------------------------------------------------------


def _in_threads(count: int, work: Callable[[int], object]) -> None:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_triggers_store_fifty_events_and_fold_into_one_incident(
    sent: Sent,
) -> None:
    integration = IntegrationFactory.create()
    body = trigger(key(integration), "storm")
    statuses: list[int] = []
    _in_threads(50, lambda n: statuses.append(post_json(Client(), URL, body).status_code))

    assert statuses == [202] * 50
    assert InboundEvent.objects.count() == 50
    assert not Incident.objects.exists()

    # Every task at once, on 8 workers: each folds the key or finds it held and leaves it.
    ids = [args[0] for _, args, _ in sent]
    assert sorted(ids) == sorted(InboundEvent.objects.values_list("pk", flat=True))
    _in_threads(8, lambda n: [ingest_process(i) for i in ids[n::8]])
    sweep_later()  # whatever a busy task left (its re-check went to the broker)

    assert Incident.objects.filter(dedup_key="storm").count() == 1
    assert AlertGroup.objects.get().alert_count == 50
    assert Alert.objects.count() == 50
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_apply_one_keys_burst_in_order(sent: Sent) -> None:
    integration = IntegrationFactory.create()
    client = Client()
    for _ in range(5):
        post_json(client, URL, trigger(key(integration), "flap"))
        post_json(client, URL, action(integration, "acknowledge", "flap"))
        post_json(client, URL, action(integration, "resolve", "flap"))
    ids = list(InboundEvent.objects.order_by("-id").values_list("pk", flat=True))

    _in_threads(6, lambda n: [ingest_process(i) for i in ids[n::6]])
    sweep_later()

    actions = list(InboundEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["created", "acknowledged", "resolved"] * 5
    assert list(Incident.objects.values_list("status", flat=True)) == [Status.RESOLVED] * 5
    stamps = list(InboundEvent.objects.order_by("id").values_list("processed_at", flat=True))
    assert stamps == sorted(stamps)  # type: ignore[type-var]


# --- Coalesced wake-ups (Redis) ----------------------------------------------------------------


@pytest.fixture
def wake_redis(settings: Settings, redis_url: str) -> Iterator[redis.Redis]:
    """The ingest Redis on, its wake-up flag down."""
    settings.INGEST_REDIS_URL = redis_url
    client = redis.Redis.from_url(redis_url)
    client.delete(ingest.WAKE_FLAG)
    yield client
    client.delete(ingest.WAKE_FLAG)


@pytest.fixture
def post_committed(
    client: Client, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Callable[[dict[str, Any]], int]:
    """POST one event to /v2/enqueue and run its on-commit hooks (the wake-up); the status."""

    def post(body: dict[str, Any]) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return post_json(client, URL, body).status_code

    return post


@pytest.mark.redis
def test_a_burst_of_events_sends_one_drain_that_folds_them_all(
    integration: Integration,
    sent: Sent,
    wake_redis: redis.Redis,
    post_committed: Callable[[dict[str, Any]], int],
) -> None:
    for n in range(20):
        body = trigger(key(integration), f"burst-{n % 4}")
        assert post_committed(body) == 202

    assert sent == [(ingest.DRAIN_TASK, [], {"queue": "ingest", "countdown": None})]
    assert wake_redis.get(ingest.WAKE_FLAG) is not None  # a drain is on its way
    assert wake_redis.pttl(ingest.WAKE_FLAG) <= ingest.WAKE_FLAG_MS  # and it expires

    assert ingest.ingest_drain_pending() == "folded 20, failed 0"
    assert wake_redis.get(ingest.WAKE_FLAG) is None
    assert Incident.objects.count() == 4
    assert sorted(AlertGroup.objects.values_list("alert_count", flat=True)) == [5, 5, 5, 5]
    assert not InboundEvent.objects.filter(processed_at__isnull=True).exists()


@pytest.mark.redis
def test_an_event_committed_after_a_drain_began_sends_the_next_drain(
    integration: Integration,
    sent: Sent,
    wake_redis: redis.Redis,
    post_committed: Callable[[dict[str, Any]], int],
) -> None:
    first = trigger(key(integration), "first")
    assert post_committed(first) == 202
    assert ingest.ingest_drain_pending() == "folded 1, failed 0"  # clears the flag, reads

    second = trigger(key(integration), "second")
    assert post_committed(second) == 202

    assert [name for name, _, _ in sent] == [ingest.DRAIN_TASK, ingest.DRAIN_TASK]
    assert ingest.ingest_drain_pending() == "folded 1, failed 0"
    assert set(Incident.objects.values_list("dedup_key", flat=True)) == {"first", "second"}


@pytest.mark.redis
def test_a_drain_keeps_each_keys_order_and_leaves_waiting_retries_alone(
    integration: Integration,
    sent: Sent,
    wake_redis: redis.Redis,
    post_committed: Callable[[dict[str, Any]], int],
) -> None:
    for dedup in ("a", "b"):
        assert post_committed(trigger(key(integration), dedup)) == 202
        body = action(integration, "resolve", dedup)
        assert post_committed(body) == 202
    b_trigger = InboundEvent.objects.filter(dedup_key="b").earliest("id")
    InboundEvent.objects.filter(pk=b_trigger.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5), attempts=1, status="retrying"
    )

    # b's resolve is due but waits behind b's trigger, which waits for its retry (its own
    # task folds the key then): the drain folds a's two and does not come back for b.
    assert ingest.ingest_drain_pending() == "folded 2, failed 0"
    assert sent == [(ingest.DRAIN_TASK, [], {"queue": "ingest", "countdown": None})]  # the wake

    assert list(
        InboundEvent.objects.filter(dedup_key="a").order_by("id").values_list("action", flat=True)
    ) == ["created", "resolved"]
    assert Incident.objects.get(dedup_key="a").status == Status.RESOLVED
    assert InboundEvent.objects.filter(dedup_key="b", processed_at__isnull=True).count() == 2


def test_a_failure_in_a_drain_batch_stops_only_its_key_and_queues_its_retry(
    hiccup: tuple[InboundEvent, InboundEvent, InboundEvent],
    sent: Sent,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    trig, resolve, web = hiccup
    with django_capture_on_commit_callbacks(execute=True):
        assert ingest.ingest_drain_pending() == "folded 1, failed 1"

    trig.refresh_from_db()
    assert (trig.attempts, trig.last_error) == (1, "RuntimeError: database hiccup")
    assert InboundEvent.objects.get(pk=resolve.pk).processed_at is None  # waits: order
    assert InboundEvent.objects.get(pk=web.pk).action == "created"  # another key goes on
    assert [(name, args) for name, args, _ in sent] == [(ingest.PROCESS_TASK, [trig.pk])]

    monkeypatch.setattr(inbound, "fold_event", REAL_FOLD)
    InboundEvent.objects.filter(pk=trig.pk).update(next_attempt_at=timezone.now())  # its time
    assert ingest_process(trig.pk) == "folded 2, failed 0"  # the retry folds its key in order
    assert Incident.objects.get(dedup_key="db").status == Status.RESOLVED


def test_a_failure_after_other_folds_in_a_batch_undoes_them_and_they_are_folded_once(
    client: Client,
    integration: Integration,
    sent: Sent,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # The batch folds "first" without a savepoint, then "db" fails: the batch is redone with
    # a savepoint per event, and nothing of the undone attempt is left twice.
    WebhookSubscription.objects.create(url="https://hooks.example.com/", team=integration.team)
    for dedup in ("first", "db", "other"):
        post_json(client, URL, trigger(key(integration), dedup))
    failing = InboundEvent.objects.get(dedup_key="db")
    folds: list[str] = []

    def broken(event: InboundEvent) -> Any:
        folds.append(event.dedup_key)
        if event.pk == failing.pk:
            raise RuntimeError("database hiccup")
        return REAL_FOLD(event)

    monkeypatch.setattr(inbound, "fold_event", broken)
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert ingest.ingest_drain_pending() == "folded 2, failed 1"

    assert folds == ["first", "db", "first", "db", "other"]
    for dedup in ("first", "other"):
        incident = Incident.objects.get(dedup_key=dedup)
        kinds = list(incident.timeline.order_by("id").values_list("kind", flat=True))
        assert kinds == ["declared", "escalation", "alert"]
        assert Alert.objects.filter(incident=incident).count() == 1
        assert AlertGroup.objects.get(dedup_key=dedup).alert_count == 1
    assert not Incident.objects.filter(dedup_key="db").exists()
    webhooks = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert sorted(n.data["incident"]["dedup_key"] for n in webhooks) == ["first", "other"]
    # What runs on commit was queued by the attempt that committed only: each webhook row's
    # delivery and each escalation's first step once, and the failed event's retry.
    states = EscalationState.objects.filter(incident__team=integration.team)
    assert states.count() == 2
    assert len(callbacks) == webhooks.count() + states.count() + 1
    assert [(name, args) for name, args, _ in sent] == [(ingest.PROCESS_TASK, [failing.pk])]


def test_when_the_ingest_redis_does_not_answer_each_event_sends_its_own_task(
    integration: Integration,
    sent: Sent,
    settings: Settings,
    post_committed: Callable[[dict[str, Any]], int],
) -> None:
    settings.INGEST_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens
    for dedup in ("x", "y"):
        body = trigger(key(integration), dedup)
        assert post_committed(body) == 202

    ids = list(InboundEvent.objects.order_by("id").values_list("pk", flat=True))
    assert [(name, args) for name, args, _ in sent] == [(ingest.PROCESS_TASK, [i]) for i in ids]


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_a_drain_leaves_a_key_another_worker_holds_and_looks_again(sent: Sent) -> None:
    integration = IntegrationFactory.create()
    client = Client()
    for dedup in ("held", "held", "free"):
        post_json(client, URL, trigger(key(integration), dedup))
    head = InboundEvent.objects.filter(dedup_key="held").earliest("id")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:  # another worker in the middle of folding the key's head
        with transaction.atomic():
            InboundEvent.objects.select_for_update().get(pk=head.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        sent.clear()
        assert ingest.ingest_drain_pending() == "folded 1, failed 0, keys busy"
    finally:
        release.set()
        holder.join()

    # The held key's second event was not folded ahead of its head; a drain comes back.
    assert set(
        InboundEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    ) == set(InboundEvent.objects.filter(dedup_key="held").values_list("pk", flat=True))
    assert sent == [
        (ingest.DRAIN_TASK, [], {"queue": "ingest", "countdown": ingest.BUSY_RETRY_SECONDS})
    ]
    assert ingest.ingest_drain_pending() == "folded 2, failed 0"
    assert AlertGroup.objects.get(dedup_key="held").alert_count == 2


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_concurrent_drains_fold_a_storm_once_each_and_every_key_in_order(sent: Sent) -> None:
    integration = IntegrationFactory.create()
    client = Client()
    for n in range(5):
        post_json(client, URL, trigger(key(integration), "flap"))
        post_json(client, URL, trigger(key(integration), f"other-{n}"))
        post_json(client, URL, action(integration, "acknowledge", "flap"))
        post_json(client, URL, trigger(key(integration), f"other-{n}"))
        post_json(client, URL, action(integration, "resolve", "flap"))

    # Four workers drain at once in batches of three: each event is claimed by one of them,
    # and a key's later events are never folded before an older one another worker holds.
    _in_threads(4, lambda n: [ingest.ingest_drain_pending(size=3) for _ in range(3)])
    sweep_later()

    flap = InboundEvent.objects.filter(dedup_key="flap").order_by("id")
    assert (
        list(flap.values_list("action", flat=True))
        == [
            "created",
            "acknowledged",
            "resolved",
        ]
        * 5
    )
    stamps = list(flap.values_list("processed_at", flat=True))
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    assert list(InboundEvent.objects.values_list("attempts", flat=True)) == [1] * 25
    assert Incident.objects.filter(dedup_key__startswith="other-").count() == 5
    assert (
        sorted(
            AlertGroup.objects.filter(dedup_key__startswith="other-").values_list(
                "alert_count", flat=True
            )
        )
        == [2] * 5
    )


# --- A batch reads configuration once --------------------------------------------------------

CONFIG_TABLES = (
    "incidents_severitypolicy",
    "incidents_webhooksubscription",
    "rotations_escalationstep",
    "rotations_rotationmember",
)


def config_reads(queries: CaptureQueriesContext) -> Counter[str]:
    return Counter(
        table for q in queries for table in CONFIG_TABLES if f'FROM "{table}"' in q["sql"]
    )


def test_a_drain_batch_reads_the_teams_configuration_once_and_the_next_batch_reads_it_anew(
    integration: Integration, sent: Sent, client: Client
) -> None:
    team = integration.team
    alice, bob = UserFactory.create(), UserFactory.create()
    rotation = RotationFactory.create(team=team, members=[alice, bob])
    policy = EscalationPolicyFactory.create(team=team)
    EscalationStepFactory.create(policy=policy, action=StepAction.WALK_ROTATION, rotation=rotation)
    integration.escalation_policy = policy
    integration.save(update_fields=["escalation_policy"])
    for n in range(10):
        post_json(client, URL, trigger(key(integration), f"new-{n}"))

    with CaptureQueriesContext(connection) as queries:
        assert ingest.ingest_drain_pending() == "folded 10, failed 0"

    # Ten incidents, each paged along the policy, which was read once for all of them.
    assert config_reads(queries) == dict.fromkeys(CONFIG_TABLES, 1)
    states = EscalationState.objects.filter(incident__team=team)
    assert states.count() == 10
    assert {len(s.snapshot["steps"][0]["walk"]) for s in states} == {2}

    # What a manager changes between batches, the next batch sees.
    carol = UserFactory.create()
    RotationMemberFactory.create(rotation=rotation, user=carol, position=2)
    WebhookSubscription.objects.create(url="https://hooks.example.com/", team=team)
    post_json(client, URL, trigger(key(integration), "after-the-change"))

    assert ingest.ingest_drain_pending() == "folded 1, failed 0"

    latest = EscalationState.objects.get(incident__dedup_key="after-the-change")
    assert {uid for uid, _ in latest.snapshot["steps"][0]["walk"]} == {alice.pk, bob.pk, carol.pk}
    webhooks = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert [n.data["incident"]["id"] for n in webhooks] == [latest.incident_id]


# --- A real worker on Redis -------------------------------------------------------------------


@pytest.mark.redis
def test_events_posted_are_folded_by_a_real_worker(
    celery_worker: Callable[[], str], wake_redis: redis.Redis
) -> None:
    worker = celery_worker
    integration = IntegrationFactory.create()
    client = Client()
    for _ in range(3):
        assert post_json(client, URL, trigger(key(integration), "real")).status_code == 202
    assert post_json(client, URL, action(integration, "acknowledge", "real")).status_code == 202

    deadline = time.monotonic() + 30
    while InboundEvent.objects.filter(processed_at__isnull=True).exists():
        assert time.monotonic() < deadline, f"not folded; worker log:\n{worker()}"
        time.sleep(0.2)
    incident = Incident.objects.get(dedup_key="real")
    assert incident.status == Status.ACKNOWLEDGED
    assert AlertGroup.objects.get().alert_count == 3
    assert "incidents.ingest_drain" in worker()  # one wake-up for the burst


def test_an_event_that_fails_on_postgresql_is_given_up_shown_and_its_key_goes_on(
    postgres: None,
    client: Client,
    admin_client: Client,
    integration: Integration,
    sent: Sent,
    settings: Settings,
) -> None:
    settings.INGEST_MAX_ATTEMPTS = 2
    post_json(client, URL, trigger(key(integration), "db"))
    post_json(client, URL, trigger(key(integration), "db", summary="second"))
    bad, good = InboundEvent.objects.order_by("id")
    # The door now refuses a summary over 1024 characters, so the bad row is stored as an
    # older portal accepted it: PostgreSQL refuses it in Alert.summary (SQLite would not).
    bad.payload = {**bad.payload, "summary": "x" * 2000}
    bad.save(update_fields=["payload"])

    ingest_process(bad.pk)
    assert sweep_later() == 1  # the second attempt gives up, then the next event folds

    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == (InboundStatus.FAILED, 2)
    assert "too long" in bad.last_error
    good.refresh_from_db()
    assert good.status == InboundStatus.PROCESSED
    assert Incident.objects.get().title == "second"

    manager = UserFactory.create(roles=[MANAGER])
    api = bearer_client(manager).get(f"/api/v1/integrations/{integration.pk}/").json()
    assert api["failed_events"]["count"] == 1
    (latest,) = api["failed_events"]["latest"]
    assert (latest["id"], latest["dedup_key"], latest["attempts"]) == (bad.pk, "db", 2)
    assert "too long" in latest["error"]

    page = admin_client.get(f"/admin/integrations/integration/{integration.pk}/change/")
    text = page.content.decode()
    assert "1 failed" in text
    assert f"#{bad.pk} db" in text
    assert "too long" in text
    assert f"integration__id__exact={integration.pk}&amp;state=failed" in text
