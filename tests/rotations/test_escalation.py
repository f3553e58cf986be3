"""The dry run of an escalation policy reads like the handbook: walk the list, then the CPE manager."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

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

NOW = datetime(
    2026, 11, 24, 15, 0, tzinfo=UTC
)  # a Tuesday: week 2 of a rotation started 2026-11-16


def veteran_team() -> tuple[Team, Rotation, dict[str, User]]:
    people = {n: UserFactory.create(username=n) for n in ("alice", "bob", "carol", "morgan", "zoe")}
    team = Team.objects.create(slug="core", name="Core", escalation_contact=people["morgan"])
    team.members.set([people[n] for n in ("alice", "bob", "carol", "zoe")])
    rotation = Rotation.objects.create(
        team=team,
        tier=Tier.VETERAN,
        position=Position.PRIMARY,
        start_date=date(2026, 11, 16),
        handoff_time=time(9),
        timezone="America/New_York",
        shift_length=timedelta(days=7),
    )
    for position, name in enumerate(("alice", "bob", "carol")):
        RotationMember.objects.create(rotation=rotation, user=people[name], position=position)
    return team, rotation, people


def plan_rows(policy: EscalationPolicy) -> list[tuple[float, str | None]]:
    return [
        (p.minute, p.user.username if p.user else None) for p in policy_plan(policy=policy, at=NOW)
    ]


@pytest.mark.django_db
def test_walks_the_list_every_ten_minutes_then_pages_the_cpe_manager() -> None:
    team, rotation, _ = veteran_team()
    policy = EscalationPolicy.objects.create(team=team, name="Engage")
    EscalationStep.objects.create(
        policy=policy, position=0, action=StepAction.WALK_ROTATION, rotation=rotation
    )
    EscalationStep.objects.create(policy=policy, position=1, action=StepAction.ESCALATION_CONTACT)
    # Week 2: bob is at the top; then the next people on the list, then the CPE manager.
    assert plan_rows(policy) == [(0, "bob"), (10, "carol"), (20, "alice"), (30, "morgan")]
    contact = policy_plan(policy=policy, at=NOW)[-1]
    assert "ran out" in contact.reason


@pytest.mark.django_db
def test_an_override_puts_the_covering_person_first_in_the_walk() -> None:
    team, rotation, people = veteran_team()
    Override.objects.create(
        rotation=rotation,
        user=people["zoe"],
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=1),
    )
    policy = EscalationPolicy.objects.create(team=team, name="Engage")
    EscalationStep.objects.create(
        policy=policy,
        position=0,
        action=StepAction.WALK_ROTATION,
        rotation=rotation,
        wait=timedelta(minutes=5),
    )
    assert plan_rows(policy) == [(0, "zoe"), (5, "bob"), (10, "carol"), (15, "alice")]


@pytest.mark.django_db
def test_repeat_runs_the_steps_again_and_waits_are_to_the_second() -> None:
    team, rotation, people = veteran_team()
    policy = EscalationPolicy.objects.create(team=team, name="Primary", repeat=2)
    EscalationStep.objects.create(
        policy=policy,
        position=0,
        action=StepAction.ROTATION_ONCALL,
        rotation=rotation,
        wait=timedelta(seconds=90),
    )
    step = EscalationStep.objects.create(
        policy=policy, position=1, action=StepAction.USERS, wait=timedelta(seconds=30)
    )
    step.users.set([people["morgan"], people["zoe"]])
    rows = [
        (p.offset.total_seconds(), p.user.username if p.user else None, p.repeat)
        for p in policy_plan(policy=policy, at=NOW)
    ]
    assert rows == [
        (0, "bob", 0),
        (90, "morgan", 0),
        (90, "zoe", 0),
        (120, "bob", 1),
        (210, "morgan", 1),
        (210, "zoe", 1),
        (240, "bob", 2),
        (330, "morgan", 2),
        (330, "zoe", 2),
    ]


@pytest.mark.django_db
def test_whole_team_and_a_gap_are_shown() -> None:
    team, rotation, _ = veteran_team()
    rotation.start_date = date(2027, 1, 4)  # not started yet: nobody is on call
    rotation.save()
    policy = EscalationPolicy.objects.create(team=team, name="All hands")
    EscalationStep.objects.create(
        policy=policy, position=0, action=StepAction.ROTATION_ONCALL, rotation=rotation
    )
    EscalationStep.objects.create(policy=policy, position=1, action=StepAction.TEAM)
    plan = policy_plan(policy=policy, at=NOW)
    assert plan[0].user is None
    assert "gap" in plan[0].reason
    assert sorted(p.user.username for p in plan[1:] if p.user) == ["alice", "bob", "carol", "zoe"]
    # A step with nobody to page costs no time (as the engine runs it): the team at once.
    assert {p.minute for p in plan} == {0.0}


@pytest.mark.django_db
def test_plan_follows_the_rotation_after_a_handoff_during_the_escalation() -> None:
    team, rotation, _ = veteran_team()
    policy = EscalationPolicy.objects.create(team=team, name="Primary", repeat=1)
    EscalationStep.objects.create(
        policy=policy,
        position=0,
        action=StepAction.ROTATION_ONCALL,
        rotation=rotation,
        wait=timedelta(hours=1),
    )
    # 08:30 New York on Monday 2026-11-30: bob until 09:00, then carol takes over.
    with time_machine.travel(datetime(2026, 11, 30, 13, 30, tzinfo=UTC), tick=False):
        start = datetime(2026, 11, 30, 13, 30, tzinfo=UTC)
        rows = [(p.minute, p.user.username) for p in policy_plan(policy=policy, at=start) if p.user]
    assert rows == [(0, "bob"), (60, "carol")]
