"""Due steps run in batches: one transaction for many states, the same pages and timeline as
one-by-one runs, no page twice (re-runs, racing workers), a broken state delays only itself."""

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from incidents import engine
from incidents.engine import escalation_run_due, escalation_step_run, escalation_wake
from incidents.models import EscalationState, EscalationStatus, Incident, Severity, TimelineKind
from incidents.services import incident_acknowledge, incident_declare
from notifications.models import Channel, ContactMethod, Notification, NotificationRule
from notifications.selectors import page_plan, page_plans
from notifications.services import Page, notification_enqueue, notifications_page_many
from oncall.models import User
from rotations.models import EscalationPolicy, StepAction
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, UserFactory
from tests.incidents.conftest import T0

pytestmark = pytest.mark.django_db


def two_step_policy(first: User, second: User) -> EscalationPolicy:
    policy = EscalationPolicyFactory.create(name="Batch")
    EscalationStepFactory.create(
        policy=policy, action=StepAction.USERS, wait=timedelta(minutes=5), users=[first]
    )
    EscalationStepFactory.create(
        policy=policy, action=StepAction.USERS, wait=timedelta(minutes=5), users=[second]
    )
    return policy


def declare(count: int, policy: EscalationPolicy, label: str = "Batch") -> list[Incident]:
    return [
        incident_declare(
            title=f"{label} {i}",
            actor=None,
            severity=Severity.SEV3,
            team=policy.team,
            escalation_policy=policy,
        )
        for i in range(count)
    ]


def keys(incidents: list[Incident]) -> list[str]:
    return sorted(
        Notification.objects.filter(
            subject_type="incident", subject_id__in=[i.pk for i in incidents]
        ).values_list("idempotency_key", flat=True)
    )


def queries_for(count: int) -> int:
    policy = two_step_policy(UserFactory.create(), UserFactory.create())
    declare(count, policy, label=f"q{count}")
    with CaptureQueriesContext(connection) as context:
        assert escalation_run_due() == count
    return len(context.captured_queries)


def test_one_batch_runs_every_due_state_in_a_constant_number_of_queries(
    sent_tasks: list[Any],
) -> None:
    with time_machine.travel(T0, tick=False):
        few = queries_for(3)
        many = queries_for(40)
    assert many == few
    assert few <= 20  # 16, the page facts of the batch's incidents (incidents.pagefacts: 3) and
    # the weekly review's note that they moved (postmortems.stamp: 1)


def test_a_batch_writes_what_one_by_one_runs_write(sent_tasks: list[Any]) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        ann, bob = UserFactory.create(username="ann"), UserFactory.create(username="bob")
        ContactMethod.objects.create(
            user=ann, channel=Channel.SMS, address="+12025550111", verified_at=T0
        )
        policy = two_step_policy(ann, bob)
        batched, single = declare(3, policy, "b"), declare(1, policy, "s")
        for state in EscalationState.objects.filter(incident__in=single):
            assert escalation_step_run(state_id=state.pk, token=state.guard_token) == "ran"
        assert escalation_run_due() == 3
        traveller.shift(timedelta(minutes=5))
        assert escalation_run_due() == 4

    def shape(incident: Incident) -> list[tuple[str, str, dict[str, Any]]]:
        events = incident.timeline.filter(kind__in=[TimelineKind.PAGED, TimelineKind.ESCALATION])
        return [
            (
                e.kind,
                e.message,
                {k: v for k, v in e.data.items() if k not in ("notifications", "state_id")},
            )
            for e in events.order_by("at", "id")
        ]

    assert {str(shape(i)) for i in [*batched, *single]} == {str(shape(single[0]))}
    for incident in batched:
        rows = Notification.objects.filter(subject_id=incident.pk).order_by("id")
        assert [(r.recipient, r.channel) for r in rows] == [(ann, "sms"), (bob, "email")]
        paged = incident.timeline.filter(kind=TimelineKind.PAGED).order_by("id")
        assert [e.data["notifications"] for e in paged] == [[r.pk] for r in rows]
        # Four SMS to one number at once share its free slot (storm control bundles them into
        # one message); none waits behind another.
    sms = Notification.objects.filter(channel="sms").order_by("id")
    assert [(n.throttled, n.not_before) for n in sms] == [(False, None)] * 4
    states = EscalationState.objects.filter(incident__in=[*batched, *single])
    assert {s.status for s in states} == {EscalationStatus.DONE}


def test_running_a_batch_again_pages_nobody_twice(sent_tasks: list[Any]) -> None:
    with time_machine.travel(T0, tick=False):
        incidents = declare(5, two_step_policy(UserFactory.create(), UserFactory.create()))
        escalation_run_due()
        first = keys(incidents)
        # As if the states' move had been lost (a restore, a bug): the step runs again.
        EscalationState.objects.filter(incident__in=incidents).update(
            step_index=0, next_action_at=T0
        )
        assert escalation_run_due() == 5
    assert keys(incidents) == first
    again = Incident.objects.get(pk=incidents[0].pk).timeline.filter(kind=TimelineKind.PAGED)
    assert len({tuple(e.data["notifications"]) for e in again}) == 1  # the same outbox row


def test_tracks_of_incidents_no_longer_triggered_stop_in_the_batch(sent_tasks: list[Any]) -> None:
    with time_machine.travel(T0, tick=False):
        incidents = declare(3, two_step_policy(UserFactory.create(), UserFactory.create()))
        incident_acknowledge(incident=incidents[1], actor=None)
        EscalationState.objects.filter(incident=incidents[1]).update(
            status=EscalationStatus.ACTIVE, next_action_at=T0
        )
        assert escalation_run_due() == 3
    assert [len(keys([i])) for i in incidents] == [1, 0, 1]
    assert EscalationState.objects.get(incident=incidents[1]).status == EscalationStatus.STOPPED


def test_one_hint_per_due_time_and_a_woken_hint_drains_everything_due(
    sent_tasks: list[Any], django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incidents = declare(4, two_step_policy(UserFactory.create(), UserFactory.create()))
        sent_tasks.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert escalation_run_due() == 4
        steps = [t for t in sent_tasks if t["name"] == engine.STEP_TASK]
        assert len(steps) == 1  # all four are next due at T0 + 5 min
        state_id, token = steps[0]["args"]
        traveller.shift(timedelta(minutes=4))
        assert escalation_wake(state_id=state_id, token=token) == "not due"
        traveller.shift(timedelta(minutes=1))
        # The hinted track was acknowledged meanwhile: its task still runs the other three.
        incident_acknowledge(incident=Incident.objects.get(pk=incidents[0].pk), actor=None)
        assert escalation_wake(state_id=state_id, token=token) == "ran 3 due steps"
    assert [len(keys([i])) for i in incidents] == [1, 2, 2, 2]


def test_a_broken_state_delays_only_itself(sent_tasks: list[Any]) -> None:
    with time_machine.travel(T0, tick=False):
        good = declare(3, two_step_policy(UserFactory.create(), UserFactory.create()), "good")
        broken = declare(1, two_step_policy(UserFactory.create(), UserFactory.create()), "broken")
        # A snapshot nothing can step (a bad address no longer breaks a step: it fails its page).
        EscalationState.objects.filter(incident=broken[0]).update(
            snapshot={"name": "Broken", "steps": 5}
        )
        assert escalation_run_due() == 4
    assert [len(keys([i])) for i in good] == [1, 1, 1]
    assert keys(broken) == []
    state = EscalationState.objects.get(incident=broken[0])
    assert state.status == EscalationStatus.ACTIVE
    assert state.next_action_at == T0 + engine.RETRY_AFTER


def test_page_plans_for_many_people_follow_rules_then_defaults(
    django_assert_max_num_queries: Any,
) -> None:
    ruled, default, nobody = UserFactory.create_batch(3)
    sms = ContactMethod.objects.create(
        user=ruled, channel=Channel.SMS, address="+12025550121", verified_at=T0
    )
    email = ContactMethod.objects.create(
        user=ruled, channel=Channel.EMAIL, address="r@example.com", verified_at=T0
    )
    NotificationRule.objects.create(user=ruled, urgency="high", contact_method=sms, delay=60)
    NotificationRule.objects.create(user=ruled, urgency="high", contact_method=email, delay=0)
    NotificationRule.objects.create(user=ruled, urgency="low", contact_method=email, delay=0)
    for channel, address in ((Channel.SMS, "+12025550122"), (Channel.VOICE, "+12025550122")):
        ContactMethod.objects.create(user=default, channel=channel, address=address, verified_at=T0)
    ContactMethod.objects.create(user=nobody, channel=Channel.SMS, address="+12025550123")
    with django_assert_max_num_queries(2):
        plans = page_plans(users=[ruled, default, nobody], urgencies={"high", "low"})

    def facts(rules: list[Any]) -> list[tuple[str, str, int]]:
        return [(r.contact_method.channel, r.urgency, r.delay) for r in rules]

    # Saved rules, by delay; the default rules (a text, a call two minutes later) for a person
    # with none; nothing over an unverified method.
    assert facts(plans[(ruled.pk, "high")]) == [("email", "high", 0), ("sms", "high", 60)]
    assert facts(plans[(ruled.pk, "low")]) == [("email", "low", 0)]
    assert facts(plans[(default.pk, "high")]) == [("sms", "high", 0), ("voice", "high", 120)]
    assert facts(plans[(default.pk, "low")]) == [("sms", "low", 0)]
    assert plans[(nobody.pk, "high")] == plans[(nobody.pk, "low")] == []
    assert facts(page_plan(user=default, urgency="high")) == facts(plans[(default.pk, "high")])


def test_bulk_throttle_and_deadline_match_notification_enqueue(settings: Settings) -> None:
    settings.NOTIFY_MIN_INTERVAL = {**settings.NOTIFY_MIN_INTERVAL, "sms": 30}
    one, other = UserFactory.create_batch(2)
    methods = {
        user: ContactMethod.objects.create(
            user=user, channel=Channel.SMS, address=number, verified_at=T0
        )
        for user, number in ((one, "+12025550131"), (other, "+12025550132"))
    }
    # Each number got a message 10 s ago: new rows wait for its next free slot, together.
    for user, method in methods.items():
        Notification.objects.create(
            idempotency_key=f"earlier-{user.pk}",
            channel=Channel.SMS,
            address=method.address,
            status="sent",
            attempted_at=T0 - timedelta(seconds=10),
        )
    with time_machine.travel(T0, tick=False):
        pages = [
            Page(
                user=one,
                urgency="high",
                subject_type="incident",
                subject_id=n,
                key=f"bulk{n}",
                subject="s",
                body="b",
                reason="r",
            )
            for n in range(3)
        ]
        bulk = [rows[0] for rows in notifications_page_many(pages)]
        single = [
            notification_enqueue(
                idempotency_key=f"single{n}",
                channel=Channel.SMS,
                address="+12025550132",
                contact_method=methods[other],
                subject_type="incident",
                subject_id=n,
            )
            for n in range(3)
        ]
    for rows in (bulk, single):
        for row in rows:
            row.refresh_from_db()
    assert [(r.not_before, r.throttled, r.deadline) for r in bulk] == [
        (r.not_before, r.throttled, r.deadline) for r in single
    ]
    assert [(r.not_before, r.throttled) for r in bulk] == [(T0 + timedelta(seconds=20), True)] * 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_batch_runners_at_once_page_each_person_once(postgres: None) -> None:
    incidents = declare(60, two_step_policy(UserFactory.create(), UserFactory.create()))
    barrier = threading.Barrier(2)
    claimed: list[int] = []

    def runner() -> None:
        try:
            barrier.wait()
            claimed.append(escalation_run_due(limit=40))
            claimed.append(escalation_run_due(limit=40))
        finally:
            connection.close()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(claimed) == 60
    assert len(keys(incidents)) == 60
    assert len(set(keys(incidents))) == 60


def test_a_contact_method_with_an_invalid_address_fails_its_page_not_the_step(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # A number saved before the phone rule got stricter (here: a fictional 555 number) used to
    # raise in the step, which then failed and was retried for ever, paging nobody at all.
    first, second = UserFactory.create(), UserFactory.create()
    now = T0
    for channel, address in ((Channel.SMS, "+15551234567"), (Channel.EMAIL, "first@example.com")):
        method = ContactMethod.objects.create(
            user=first, channel=channel, address=address, verified_at=now
        )
        for urgency in ("high", "low"):
            NotificationRule.objects.create(user=first, urgency=urgency, contact_method=method)
    [incident] = declare(1, two_step_policy(first, second))
    with django_capture_on_commit_callbacks(execute=True):
        assert escalation_run_due() == 1
    rows = {row.channel: row for row in Notification.objects.filter(recipient=first)}
    assert rows[Channel.EMAIL].status in {"pending", "sending", "sent"}
    assert rows[Channel.SMS].status == "failed"
    assert "not a valid phone number" in rows[Channel.SMS].last_error
    state = EscalationState.objects.get(incident=incident)
    assert state.step_index == 1  # the step ran and the engine moved on to the second person
    assert incident.timeline.filter(kind=TimelineKind.PAGE_FAILED).exists()
