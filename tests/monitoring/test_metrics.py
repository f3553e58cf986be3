"""/metrics: the token door, the exposition parsed as Prometheus parses it, counts that move
when pages are sent, events arrive and steps run, and the cached gauges."""

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from incidents.engine import escalation_run_due
from incidents.models import Incident, Severity, Source
from incidents.models import Status as IncidentStatus
from incidents.services import incident_declare
from monitoring.gauges import metrics_refresh, monitoring_cache
from notifications import services
from notifications.models import Channel, ContactMethod, NotificationRule, Urgency
from oncall.health import heartbeat_record
from rotations.models import StepAction
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    IntegrationFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)
from tests.integrations.support import post_only, trigger
from tests.notifications.conftest import real_channels, sent_tasks  # noqa: F401

pytestmark = pytest.mark.django_db
TOKEN = "scrape-secret-0123456789"


@pytest.fixture(autouse=True)
def token(settings: Settings) -> Iterator[None]:
    settings.METRICS_TOKEN = TOKEN
    monitoring_cache().clear()
    yield
    monitoring_cache().clear()


def scrape(client: Client) -> dict[str, list[Sample]]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        family.name: family.samples
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(families: dict[str, list[Sample]], sample: str, **labels: str) -> float:
    """A sample's value (0 when absent, as a counter that never moved is)."""
    for samples in families.values():
        for found in samples:
            if found.name == sample and found.labels == labels:
                return found.value
    return 0.0


# --- the door --------------------------------------------------------------------------------
def test_without_a_token_configured_metrics_do_not_exist(
    client: Client, settings: Settings
) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_without_a_token_configured_debug_serves_them_openly(
    client: Client, settings: Settings
) -> None:
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_a_missing_or_wrong_token_is_401(client: Client, authorization: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"oncall_" not in response.content


def test_the_token_needs_no_login_and_only_get_is_allowed(client: Client) -> None:
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    response = client.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 405


# --- counters where the event happens ---------------------------------------------------------
def test_sending_a_page_counts_it_and_its_lateness(
    client: Client,
    real_channels: HTTPServer,  # noqa: F811
    sent_tasks: object,  # noqa: F811
    django_capture_on_commit_callbacks: object,
) -> None:
    real_channels.expect_request("/hook", method="POST").respond_with_data("ok")
    real_channels.expect_request("/broken", method="POST").respond_with_data("no", status=400)
    before = scrape(client)
    rows = [
        services.notification_enqueue(
            idempotency_key=f"m{n}",
            channel=Channel.WEBHOOK,
            address=real_channels.url_for(path),
            subject="SEV2 #7",
            body="slow",
        )
        for n, path in enumerate(["/hook", "/hook", "/broken"])
    ]
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        outcomes = [services.notification_deliver(notification_id=row.pk) for row in rows]
    assert outcomes == ["sent", "sent", "failed"]

    after = scrape(client)
    sent = {"channel": "webhook", "status": "sent"}
    failed = {"channel": "webhook", "status": "failed"}
    assert (
        value(after, "oncall_notifications_total", **sent)
        - value(before, "oncall_notifications_total", **sent)
        == 2
    )
    assert (
        value(after, "oncall_notifications_total", **failed)
        - value(before, "oncall_notifications_total", **failed)
        == 1
    )
    lateness = "oncall_notification_lateness_seconds_count"
    assert value(after, lateness) - value(before, lateness) == 2
    assert value(after, "oncall_notification_lateness_seconds_bucket", le="+Inf") >= 2


def test_a_step_run_late_is_observed_with_its_lateness(
    client: Client, django_capture_on_commit_callbacks: object
) -> None:
    person = UserFactory.create()
    policy = EscalationPolicyFactory.create()
    EscalationStepFactory.create(policy=policy, action=StepAction.USERS, users=[person])
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        incident_declare(title="Down", actor=None, severity=Severity.SEV3, escalation_policy=policy)
    before = scrape(client)
    with (
        time_machine.travel(start + timedelta(seconds=45), tick=False),
        django_capture_on_commit_callbacks(execute=True),  # type: ignore[operator]
    ):
        assert escalation_run_due() == 1
    after = scrape(client)
    count, total = (
        "oncall_escalation_lateness_seconds_count",
        "oncall_escalation_lateness_seconds_sum",
    )
    assert value(after, count) - value(before, count) == 1
    assert value(after, total) - value(before, total) == pytest.approx(45, abs=1)
    # 45 s late: above the 30 s bucket's bound, within the 60 s one.
    bucket = "oncall_escalation_lateness_seconds_bucket"
    assert value(after, bucket, le="30.0") == value(before, bucket, le="30.0")
    assert value(after, bucket, le="60.0") - value(before, bucket, le="60.0") == 1


def test_events_at_the_doors_are_counted_by_outcome(
    client: Client, django_capture_on_commit_callbacks: object
) -> None:
    integration = IntegrationFactory.create(rate_limit_per_minute=1)
    key = integration.key  # type: ignore[attr-defined]
    label = str(integration.pk)
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert post_only(client, "/v2/enqueue", trigger(key, "a")).status_code == 202
    assert post_only(client, "/v2/enqueue", trigger(key, "b")).status_code == 429
    assert post_only(client, "/v2/enqueue", {**trigger(key, "c"), "payload": {}}).status_code in (
        400,
        429,
    )
    assert post_only(client, "/v2/enqueue", trigger("not-a-key", "d")).status_code == 400
    after = scrape(client)

    def moved(integration: str, outcome: str) -> float:
        name = "oncall_inbound_events_total"
        labels = {"integration": integration, "outcome": outcome}
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(label, "accepted") == 1
    assert moved(label, "rate_limited") >= 1
    assert moved(label, "rate_limited") + moved(label, "refused") == 2
    assert moved("unknown", "refused") == 1


def test_an_event_given_up_is_counted_failed(
    client: Client, django_capture_on_commit_callbacks: object
) -> None:
    from integrations.ingest.status import inbound_transition
    from integrations.models import InboundEvent, InboundStatus

    integration = IntegrationFactory.create()
    event = InboundEvent.objects.create(
        integration=integration, kind=integration.type, payload={}, dedup_key="k"
    )
    name, labels = "oncall_inbound_events_total", {"integration": str(integration.pk)}
    before = value(scrape(client), name, outcome="failed", **labels)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        inbound_transition(event, to=InboundStatus.FAILED, at=timezone.now(), error="boom")
    assert value(scrape(client), name, outcome="failed", **labels) - before == 1


# --- the cached gauges ------------------------------------------------------------------------
def test_the_gauges_come_from_the_snapshot_with_their_labels(
    client: Client, django_assert_num_queries: object
) -> None:
    team = TeamFactory.create(slug="core")
    IncidentFactory.create(team=team, severity=Severity.SEV1)
    IncidentFactory.create(team=team, severity=Severity.SEV1, status=IncidentStatus.ACKNOWLEDGED)
    IncidentFactory.create(team=team, severity=Severity.SEV3, status=IncidentStatus.RESOLVED)
    Incident.objects.filter(severity=Severity.SEV3).update(source=Source.INTEGRATION)
    services.notification_enqueue(
        idempotency_key="p1", channel=Channel.EMAIL, address="a@example.com", subject="x"
    )
    heartbeat_record()
    # Nothing cached yet: the process's counters, no gauges.
    assert "oncall_incidents_open" not in scrape(client)

    metrics_refresh()
    with django_assert_num_queries(0):  # type: ignore[operator]
        families = scrape(client)

    def by_labels(name: str, *keys: str) -> dict[tuple[str, ...], float]:
        return {tuple(s.labels[k] for k in keys): s.value for s in families[name]}

    assert by_labels("oncall_incidents_open", "team", "severity", "status") == {
        ("core", "SEV1", "triggered"): 1,
        ("core", "SEV1", "acknowledged"): 1,
    }
    assert families["oncall_incidents"][0].labels.keys() == {"team", "severity", "source"}
    assert by_labels("oncall_incidents", "team", "severity", "source") == {
        ("core", "SEV1", "manual"): 2,
        ("core", "SEV3", "integration"): 1,
    }
    assert value(families, "oncall_outbox_pending", channel="email") == 1
    assert value(families, "oncall_outbox_oldest_pending_age_seconds") >= 0
    assert value(families, "oncall_inbound_events_pending") == 0
    assert 0 <= value(families, "oncall_heartbeat_age_seconds") < 60
    assert 0 <= value(families, "oncall_metrics_snapshot_age_seconds") < 60
    queues = {s.labels["queue"] for s in families["oncall_celery_queue_length"]}
    assert {"escalation", "notify-sms", "default"} <= queues
    for name in ("oncall_shifts_uncovered", "oncall_users_unreachable"):
        assert name in families
    assert families["oncall_incidents"][0].name == "oncall_incidents_total"


def test_uncovered_hours_and_unreachable_people_over_the_next_week(client: Client) -> None:
    team = TeamFactory.create(slug="search")
    RotationFactory.create(team=team, name="Empty", position="primary")
    reachable, unreachable = UserFactory.create(), UserFactory.create()
    # Weekly shifts: any seven days from now hold a handoff, so both are on call in them.
    RotationFactory.create(
        team=team, name="Staffed", position="secondary", members=[reachable, unreachable]
    )
    verified = ContactMethod.objects.create(
        user=reachable, channel=Channel.SMS, address="+15555550100", verified_at=timezone.now()
    )
    NotificationRule.objects.create(user=reachable, urgency=Urgency.HIGH, contact_method=verified)
    # A verified method used only for low urgency, and an unverified one for high: unreachable.
    low = ContactMethod.objects.create(
        user=unreachable, channel=Channel.EMAIL, address="u@example.com", verified_at=timezone.now()
    )
    NotificationRule.objects.create(user=unreachable, urgency=Urgency.LOW, contact_method=low)
    unverified = ContactMethod.objects.create(
        user=unreachable, channel=Channel.SMS, address="+15555550101"
    )
    NotificationRule.objects.create(
        user=unreachable, urgency=Urgency.HIGH, contact_method=unverified
    )

    metrics_refresh()
    families = scrape(client)
    assert value(families, "oncall_shifts_uncovered", team="search", rotation="Empty") == 168
    assert value(families, "oncall_shifts_uncovered", team="search", rotation="Staffed") == 0
    assert value(families, "oncall_users_unreachable") == 1

    verified_too = ContactMethod.objects.create(
        user=unreachable, channel=Channel.VOICE, address="+15555550102", verified_at=timezone.now()
    )
    NotificationRule.objects.create(
        user=unreachable, urgency=Urgency.HIGH, contact_method=verified_too
    )
    metrics_refresh()
    assert value(scrape(client), "oncall_users_unreachable") == 0


# --- multiprocess -----------------------------------------------------------------------------
def test_counts_of_other_processes_are_summed_and_a_missing_folder_is_made(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gunicorn workers and Celery children write their counts to PROMETHEUS_MULTIPROC_DIR;
    the scrape sums every process's files. The folder need not exist beforehand."""
    folder = tmp_path / "not" / "yet"
    record = (
        "from oncall.metrics import record_notification, record_inbound\n"
        "record_notification(channel='sms', status='sent', due_at=None, sent_at=None)\n"
        "record_inbound(integration='9', outcome='accepted')\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    for _ in range(2):  # two processes, like two workers
        subprocess.run([sys.executable, "-c", record], env=env, check=True, timeout=60)
    assert folder.is_dir()

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    families = scrape(client)
    assert value(families, "oncall_notifications_total", channel="sms", status="sent") == 2
    assert value(families, "oncall_inbound_events_total", integration="9", outcome="accepted") == 2


def test_an_unusable_folder_falls_back_to_counting_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    record = (
        "import os\n"
        "from oncall.metrics import NOTIFICATIONS, record_notification\n"
        "record_notification(channel='sms', status='sent', due_at=None, sent_at=None)\n"
        "assert 'PROMETHEUS_MULTIPROC_DIR' not in os.environ\n"
        "print(NOTIFICATIONS.labels(channel='sms', status='sent')._value.get())\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(blocker / "sub")}
    done = subprocess.run(
        [sys.executable, "-c", record], env=env, check=True, timeout=60, capture_output=True
    )
    assert done.stdout.decode().strip() == "1.0"
    assert "cannot be created" in done.stderr.decode()
