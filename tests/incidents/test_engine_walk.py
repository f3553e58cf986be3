"""The dry run is the engine: for random policies, rotations and acknowledgement times, the
admin's plan (`policy_plan`) lists exactly the pages the real engine sends, person for person
and second for second, up to the acknowledgement."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.engine import escalation_run_due
from incidents.models import EscalationState, EscalationStatus, Incident, Severity, TimelineKind
from incidents.services import incident_acknowledge, incident_declare
from oncall.models import User
from rotations.escalation import policy_plan
from rotations.models import (
    EscalationPolicy,
    EscalationStep,
    Override,
    Position,
    Rotation,
    RotationMember,
    StepAction,
    Team,
    Tier,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PEOPLE = 5
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, before the US DST change


@dataclass(frozen=True)
class RotaCase:
    members: list[int]  # indexes into the people, in list order
    shift_hours: int
    start_day: int  # days after 2026-02-23 the rotation starts (later: not started yet)
    working_hours: bool
    override: tuple[int, int, int] | None  # (person, start minute, length in minutes)


@dataclass(frozen=True)
class StepCase:
    action: str
    wait_seconds: int
    rotation: int  # 0 or 1
    people: list[int]


@dataclass(frozen=True)
class Case:
    rotas: list[RotaCase]
    steps: list[StepCase]
    repeat: int
    team: list[int]
    contact: int | None
    trigger_minutes: int  # after START
    ack_seconds: int | None  # after the trigger; None: nobody acknowledges


people_st = st.lists(st.integers(0, PEOPLE - 1), unique=True, max_size=PEOPLE)
rota_st = st.builds(
    RotaCase,
    members=people_st,
    shift_hours=st.sampled_from([1, 2, 8, 24, 168]),
    start_day=st.integers(0, 10),
    working_hours=st.booleans(),
    override=st.none()
    | st.tuples(st.integers(0, PEOPLE - 1), st.integers(-60, 240), st.integers(1, 240)),
)
step_st = st.builds(
    StepCase,
    action=st.sampled_from(list(StepAction)),
    wait_seconds=st.sampled_from([0, 30, 300, 600, 1800, 3600]),
    rotation=st.integers(0, 1),
    people=people_st,
)
case_st = st.builds(
    Case,
    rotas=st.lists(rota_st, min_size=2, max_size=2),
    steps=st.lists(step_st, min_size=1, max_size=4),
    repeat=st.integers(0, 2),
    team=people_st,
    contact=st.none() | st.integers(0, PEOPLE - 1),
    trigger_minutes=st.integers(0, 60 * 24 * 9),
    ack_seconds=st.none() | st.integers(0, 4 * 3600),
)


def build(case: Case, people: list[User]) -> EscalationPolicy:
    contact = people[case.contact] if case.contact is not None else None
    team = Team.objects.create(slug="walk", name="Walk", escalation_contact=contact)
    team.members.set([people[i] for i in case.team])
    rotations = []
    for rota, position in zip(case.rotas, (Position.PRIMARY, Position.SECONDARY), strict=True):
        rotation = Rotation.objects.create(
            team=team,
            tier=Tier.VETERAN,
            position=position,
            shift_length=timedelta(hours=rota.shift_hours),
            handoff_time=time(9),
            timezone="America/New_York",
            start_date=date(2026, 2, 23) + timedelta(days=rota.start_day),
            working_days=[0, 1, 2, 3, 4] if rota.working_hours else [],
            working_hours_start=time(9) if rota.working_hours else None,
            working_hours_end=time(17) if rota.working_hours else None,
        )
        for order, index in enumerate(rota.members):
            RotationMember.objects.create(rotation=rotation, user=people[index], position=order)
        if rota.override is not None:
            who, start, length = rota.override
            begins = START + timedelta(minutes=case.trigger_minutes + start)
            Override.objects.create(
                rotation=rotation,
                user=people[who],
                start=begins,
                end=begins + timedelta(minutes=length),
            )
        rotations.append(rotation)
    policy = EscalationPolicy.objects.create(team=team, name="Random", repeat=case.repeat)
    for number, spec in enumerate(case.steps):
        step = EscalationStep.objects.create(
            policy=policy,
            position=number,
            action=spec.action,
            wait=timedelta(seconds=spec.wait_seconds),
            rotation=rotations[spec.rotation]
            if spec.action in (StepAction.ROTATION_ONCALL, StepAction.WALK_ROTATION)
            else None,
        )
        if spec.action == StepAction.USERS:
            step.users.set([people[i] for i in spec.people])
    return policy


Page = tuple[datetime, int, int, int]  # when, whom, step (1-based), pass


def engine_pages(policy: EscalationPolicy, trigger: datetime, ack: datetime | None) -> list[Page]:
    """Declare at `trigger`, run every step the moment it falls due, acknowledge at `ack`."""
    with time_machine.travel(trigger, tick=False) as traveller:
        incident = incident_declare(
            title="Walk", actor=None, severity=Severity.SEV3, escalation_policy=policy
        )
        state = EscalationState.objects.get(incident=incident, track="main")
        for _ in range(1000):
            state.refresh_from_db()
            due = state.next_action_at
            if state.status != EscalationStatus.ACTIVE or due is None:
                break
            if ack is not None and due >= ack:
                traveller.move_to(ack)
                incident_acknowledge(incident=Incident.objects.get(pk=incident.pk), actor=None)
                break
            traveller.move_to(due)
            escalation_run_due(now=due)
    events = incident.timeline.filter(kind=TimelineKind.PAGED, data__track="main")
    return [
        (e.at, e.data["user_id"], e.data["step"], e.data["repeat"])
        for e in events.order_by("at", "id")
    ]


def dry_run_pages(policy: EscalationPolicy, trigger: datetime, ack: datetime | None) -> list[Page]:
    return [
        (trigger + p.offset, p.user.pk, p.step, p.repeat)
        for p in policy_plan(policy=policy, at=trigger)
        if p.user is not None and (ack is None or trigger + p.offset < ack)
    ]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=case_st)
def test_the_dry_run_plans_exactly_what_the_engine_pages(case: Case) -> None:
    with transaction.atomic():
        people = UserFactory.create_batch(PEOPLE)
        policy = build(case, people)
        trigger = START + timedelta(minutes=case.trigger_minutes)
        ack = None if case.ack_seconds is None else trigger + timedelta(seconds=case.ack_seconds)
        planned = dry_run_pages(policy, trigger, ack)
        paged = engine_pages(policy, trigger, ack)
        assert paged == planned
        transaction.set_rollback(True)


def test_a_policy_whose_first_step_has_nobody_pages_the_next_at_once() -> None:
    """The case that split the two walks: a gap in the rotation costs no time."""
    people = UserFactory.create_batch(PEOPLE)
    case = Case(
        rotas=[RotaCase([0, 1], 168, 30, False, None), RotaCase([2], 168, 0, False, None)],
        steps=[
            StepCase(StepAction.ROTATION_ONCALL, 600, 0, []),  # not started: a gap
            StepCase(StepAction.USERS, 600, 0, [3]),
        ],
        repeat=0,
        team=[],
        contact=None,
        trigger_minutes=0,
        ack_seconds=None,
    )
    policy = build(case, people)
    expected = [(START, people[3].pk, 2, 0)]
    assert dry_run_pages(policy, START, None) == expected
    assert engine_pages(policy, START, None) == expected
