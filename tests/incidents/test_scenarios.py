"""Engage development, read like handbook 000: page the name at the top of the list, the next
one after 10 minutes of silence, the CPE manager when the list runs out; the new tier once."""

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from pytest_django import Settings

from incidents.engine import escalation_step_run, escalation_sweep
from incidents.models import EscalationState, EscalationStatus, Incident, TimelineKind, Via
from incidents.services import (
    incident_acknowledge,
    incident_engage,
    incident_record_call,
    incident_resolve,
)
from notifications.models import Notification, Status
from oncall.models import User
from rotations.models import ContactMode
from tests.factories import DirectNumberFactory, RotationFactory, TeamFactory, UserFactory
from tests.incidents.conftest import T0, Core, minute_by_minute, paged, pending


def engage(core: Core) -> Incident:
    return incident_engage(
        team=core.team,
        ticket="CSD-123",
        requester_name="John",
        requester_phone="+1-202-555-0143",
        bridge="https://meet.example.com/csd-123",
        actor=core.people["john"],
    )


@pytest.mark.django_db
def test_nobody_answers_for_ten_minutes_so_the_next_veteran_is_paged(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        assert paged(incident) == ["bob", "erin"]  # top of each list, same text
        traveller.shift(timedelta(minutes=9, seconds=59))
        escalation_sweep()
        assert paged(incident) == ["bob", "erin"]
        traveller.shift(timedelta(seconds=1))
        escalation_sweep()
        assert paged(incident) == ["bob", "erin", "carol"]


@pytest.mark.django_db
def test_when_the_list_runs_out_the_cpe_manager_is_paged_and_then_nobody(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        minute_by_minute(traveller, 90)
    assert paged(incident) == ["bob", "erin", "carol", "alice", "morgan"]
    morgan = Notification.objects.get(subject_id=incident.pk, recipient__username="morgan")
    assert morgan.created_at == T0 + timedelta(minutes=30)
    assert "ran out" in morgan.reason
    states = EscalationState.objects.filter(incident=incident)
    assert {s.status for s in states} == {EscalationStatus.DONE}


@pytest.mark.django_db
def test_the_new_tier_is_paged_exactly_once_with_the_same_text(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        minute_by_minute(traveller, 60)
    rows = Notification.objects.filter(subject_id=incident.pk)
    names = [n.recipient.username for n in rows if n.recipient]
    assert [name for name in names if name in ("dave", "erin")] == ["erin"]
    texts = {(n.subject, n.body) for n in rows}
    assert len(texts) == 1
    (_, body) = texts.pop()
    assert "Need immediate help with CSD-123 - Call John at +1-202-555-0143" in body
    assert "https://meet.example.com/csd-123" in body


@pytest.mark.django_db
def test_acknowledged_at_minute_three_nobody_else_is_ever_paged(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        traveller.shift(timedelta(minutes=3))
        assert pending(incident) == 2
        incident_acknowledge(incident=incident, actor=core.people["bob"], via=Via.LINK)
        minute_by_minute(traveller, 120)
    assert paged(incident) == ["bob", "erin"]
    assert pending(incident) == 0  # the pages not yet sent were cancelled
    incident.refresh_from_db()
    assert (incident.acknowledged_by, incident.acknowledged_via) == (core.people["bob"], "link")
    assert incident.acknowledged_at == T0 + timedelta(minutes=3)
    assert not EscalationState.objects.filter(incident=incident, status="active").exists()


@pytest.mark.django_db
def test_resolved_while_a_step_task_is_in_flight_pages_nobody(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        veteran = EscalationState.objects.get(incident=incident, track="veteran")
        in_flight = veteran.guard_token  # the ETA task for minute 10 carries this
        assert in_flight is not None
        traveller.shift(timedelta(minutes=5))
        incident_resolve(incident=incident, actor=core.people["bob"])
        traveller.shift(timedelta(minutes=5))
        outcome = escalation_step_run(state_id=veteran.pk, token=in_flight)
    assert outcome == "stale token"
    assert paged(incident) == ["bob", "erin"]


@pytest.mark.django_db
def test_a_task_whose_token_was_superseded_does_nothing(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        first = EscalationState.objects.get(incident=incident, track="veteran").guard_token
        assert (
            escalation_step_run(
                state_id=incident.escalation_states.get(track="veteran").pk, token=first
            )
            == "ran"
        )
        traveller.shift(timedelta(minutes=10))
        # The first task is delivered a second time (late ack, redelivery): harmless.
        state = EscalationState.objects.get(incident=incident, track="veteran")
        assert escalation_step_run(state_id=state.pk, token=first) == "stale token"
    assert paged(incident) == ["bob"]


@pytest.mark.django_db
def test_a_task_arriving_early_pages_nobody_until_due(core: Core, sent_tasks: list[Any]) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        state = EscalationState.objects.get(incident=incident, track="veteran")
        traveller.shift(timedelta(minutes=9))
        assert escalation_step_run(state_id=state.pk, token=state.guard_token) == "not due"
    assert paged(incident) == ["bob", "erin"]


@pytest.mark.django_db
def test_a_call_directly_team_is_not_paged_and_its_numbers_are_recorded(
    db: None, sent_tasks: list[Any]
) -> None:
    frank = UserFactory.create(username="frank")
    platform = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    RotationFactory.create(team=platform, members=[frank])
    DirectNumberFactory.create(team=platform, label="Frank (platform lead)", phone="+12025550101")
    DirectNumberFactory.create(team=platform, label="Grace", phone="+12025550102")
    support = UserFactory.create(username="john")
    incident = incident_engage(
        team=platform,
        ticket="CSD-9",
        requester_name="John",
        requester_phone="+1-202-555-0143",
        bridge="",
        actor=support,
    )
    escalation_sweep()
    assert not Notification.objects.filter(subject_id=incident.pk).exists()
    assert not EscalationState.objects.filter(incident=incident).exists()
    assert incident.contact_mode == "call"
    assert [n["phone"] for n in incident.direct_numbers] == ["+12025550101", "+12025550102"]
    note = incident.timeline.get(kind=TimelineKind.CALL_DIRECTLY)
    assert "Frank (platform lead): +12025550101" in note.message
    incident_record_call(
        incident=incident, number="+12025550101", outcome="answered, joining", actor=support
    )
    call = incident.timeline.get(kind=TimelineKind.CALL)
    assert call.actor == support
    assert call.message == "Called Frank (platform lead) (+12025550101): answered, joining"


@pytest.mark.django_db
def test_dst_night_shifts_hand_off_at_local_time_and_timers_stay_ten_minutes(
    core: Core,
) -> None:
    # New York springs forward at 02:00 on Sunday 2026-03-08. Declared at 01:55 EST
    # (06:55 UTC): ten minutes later is 03:05 EDT, 07:05 UTC, not an hour later.
    night = datetime(2026, 3, 8, 6, 55, tzinfo=UTC)
    with time_machine.travel(night, tick=False) as traveller:
        incident = engage(core)
        escalation_sweep()
        assert paged(incident)[0] == "carol"  # week of 2026-03-02: shift 8 → carol
        traveller.shift(timedelta(minutes=9, seconds=59))
        escalation_sweep()
        assert paged(incident) == ["carol", "dave"]
        traveller.shift(timedelta(seconds=1))
        escalation_sweep()
        assert paged(incident) == ["carol", "dave", "alice"]
    incident_resolve(incident=incident, actor=None)
    # Monday 09:05 EDT is 13:05 UTC: the new week has begun at local 09:00 (a fixed
    # 168-hour shift from the EST start would still be carol's until 14:00 UTC).
    with time_machine.travel(datetime(2026, 3, 9, 13, 5, tzinfo=UTC), tick=False):
        monday = engage(core)
        escalation_sweep()
    assert paged(monday)[0] == "alice"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_due_state_send_one_page(postgres: None, core: Core) -> None:
    # At T0, when bob tops the veteran list (real time would make the name the week's).
    traveller = time_machine.travel(T0, tick=False)
    traveller.start()
    incident = engage(core)
    state = EscalationState.objects.get(incident=incident, track="veteran")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker() -> None:
        try:
            barrier.wait()
            outcomes.append(escalation_step_run(state_id=state.pk, token=state.guard_token))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    traveller.stop()
    assert sorted(outcomes) == ["ran", "stale token"]
    assert paged(incident) == ["bob"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_page_each_person_once(postgres: None, core: Core) -> None:
    traveller = time_machine.travel(T0, tick=False)
    traveller.start()
    incident = engage(core)
    barrier = threading.Barrier(2)

    def sweeper() -> None:
        try:
            barrier.wait()
            escalation_sweep()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    traveller.stop()
    assert sorted(paged(incident)) == ["bob", "erin"]


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    return {"NOTIFY_CONSOLE": "1"}


@pytest.mark.redis
@pytest.mark.postgres
def test_engage_runs_through_a_real_worker_with_short_timers(
    celery_worker: Callable[[], str], core: Core, settings: Settings
) -> None:
    # Two-second waits instead of ten minutes; the worker runs every step from its ETA.
    settings.ENGAGE_WALK_WAIT_SECONDS = 2
    started = time.monotonic()
    incident = engage(core)
    deadline = time.monotonic() + 40
    while "morgan" not in paged(incident):
        assert time.monotonic() < deadline, (
            f"escalation stalled at {paged(incident)}:\n{celery_worker()}"
        )
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    # Real time: whoever tops the lists today; the veteran list in order, the new tier once.
    veteran = EscalationState.objects.get(incident=incident, track="veteran")
    walk = [t.user_id for t in veteran.policy_snapshot.steps[0].walk if t.user_id]
    veterans = [
        u.username for u in sorted(User.objects.filter(pk__in=walk), key=lambda u: walk.index(u.pk))
    ]
    everyone = paged(incident)
    assert [n for n in everyone if n in ("alice", "bob", "carol", "morgan")] == [
        *veterans,
        "morgan",
    ]
    assert len([n for n in everyone if n in ("dave", "erin")]) == 1
    assert elapsed >= 6  # three waits of two seconds, none skipped
    # Each page waited its full two seconds after the previous one (never early).
    pages = incident.timeline.filter(kind=TimelineKind.PAGED, data__track="veteran")
    at = [e.at for e in pages.order_by("at")]
    assert all(b - a >= timedelta(seconds=2) for a, b in itertools.pairwise(at))
    assert "incidents.escalation_step" in celery_worker()
    incident_acknowledge(incident=incident, actor=core.people["morgan"])
    time.sleep(3)
    assert paged(incident) == everyone
    assert Notification.objects.filter(subject_id=incident.pk, status=Status.PENDING).count() == 0
