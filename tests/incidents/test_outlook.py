"""What happens next on a track: the coming pages, read from the frozen snapshot, and the steps
in words. Checked against what the engine then really does."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from incidents.engine import escalation_sweep
from incidents.engine.outlook import TrackOutlook, outlook_rows, track_outlook
from incidents.models import EscalationState, Incident
from incidents.services import incident_acknowledge, incident_declare
from rotations.models import StepAction
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    OverrideFactory,
)
from tests.incidents.conftest import T0, Core, minute_by_minute, paged

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def outlook(incident: Incident) -> TrackOutlook:
    state = EscalationState.objects.get(incident=incident, track="main")
    now = timezone.now()
    return track_outlook(state, outlook_rows([state], team_name="Core", now=now), now=now)


def coming(result: TrackOutlook) -> list[tuple[int, str]]:
    """(minutes after T0, who) for each coming page."""
    return [(int((p.at - T0).total_seconds() // 60), p.people) for p in result.upcoming]


def test_the_veteran_walk_then_the_cpe_manager_as_the_engine_will_run_it(
    core: Core, frozen_now: Any
) -> None:
    incident = incident_declare(title="Checkout down", actor=core.people["john"], team=core.team)
    bob, carol, alice = (core.people[n].name for n in ("bob", "carol", "alice"))
    morgan = core.people["morgan"].name

    before = outlook(incident)
    assert coming(before) == [
        (0, bob),
        (10, carol),
        (20, alice),
        (30, f"the CPE manager {morgan}"),
    ]
    assert before.exhausted
    assert not before.more
    assert before.steps == [
        "Page each person on the Core · Veteran primary list in turn, 10 minutes apart",
        f"Page the CPE manager {morgan}, then wait 10 minutes",
    ]

    escalation_sweep()
    assert coming(outlook(incident)) == [
        (10, carol),
        (20, alice),
        (30, f"the CPE manager {morgan}"),
    ]

    # The forecast is what happens: let the sweeper run and compare.
    minute_by_minute(frozen_now, 35)
    assert paged(incident) == ["bob", "carol", "alice", "morgan"]
    done = outlook(incident)
    assert done.upcoming == []
    assert done.exhausted


def test_an_acknowledged_track_forecasts_nothing(core: Core) -> None:
    incident = incident_declare(title="Checkout down", actor=core.people["john"], team=core.team)
    escalation_sweep()
    incident_acknowledge(incident=incident, actor=core.people["bob"])
    result = outlook(incident)
    assert result.upcoming == []
    assert not result.exhausted


def test_an_oncall_step_is_resolved_when_it_runs_overrides_included(core: Core) -> None:
    """Step 1 pages Alice; step 2, five minutes later, the new tier's on-call — who is Dave
    by override from minute 3, though Erin is on call now."""
    policy = EscalationPolicyFactory.create(team=core.team, repeat=0)
    EscalationStepFactory.create(
        policy=policy,
        position=0,
        action=StepAction.USERS,
        users=[core.people["alice"]],
        wait=timedelta(minutes=5),
    )
    EscalationStepFactory.create(
        policy=policy,
        position=1,
        action=StepAction.ROTATION_ONCALL,
        rotation=core.new,
        wait=timedelta(minutes=5),
    )
    OverrideFactory.create(
        rotation=core.new, user=core.people["dave"], start=T0 + timedelta(minutes=3)
    )
    incident = incident_declare(
        title="Checkout down", actor=core.people["john"], team=core.team, escalation_policy=policy
    )
    result = outlook(incident)
    assert coming(result) == [(0, core.people["alice"].name), (5, core.people["dave"].name)]
    assert result.steps == [
        f"Page {core.people['alice'].name}, then wait 5 minutes",
        "Page whoever is on call for Core · New primary, then wait 5 minutes",
    ]


def test_repeats_start_over_and_a_step_with_nobody_costs_no_time(core: Core) -> None:
    """Step 1 has nobody (an empty named list); step 2 pages the team; repeated once."""
    core.team.members.set([core.people["alice"], core.people["bob"]])
    policy = EscalationPolicyFactory.create(team=core.team, repeat=1)
    EscalationStepFactory.create(
        policy=policy, position=0, action=StepAction.USERS, wait=timedelta(minutes=7)
    )
    EscalationStepFactory.create(
        policy=policy, position=1, action=StepAction.TEAM, wait=timedelta(seconds=90)
    )
    incident = incident_declare(
        title="Checkout down", actor=core.people["john"], team=core.team, escalation_policy=policy
    )
    result = outlook(incident)
    team = {core.people["alice"].name, core.people["bob"].name}
    assert [p.at - T0 for p in result.upcoming] == [timedelta(0), timedelta(seconds=90)]
    for page in result.upcoming:
        assert page.count == 2
        assert set(page.people.split(" and ")) == team
    assert [p.repeat for p in result.upcoming] == [0, 1]
    assert result.exhausted
    assert result.steps[1] == "Page everyone on Core, then wait 1 minute 30 seconds"


def test_a_long_list_shows_the_first_pages_and_says_more_follow(core: Core) -> None:
    policy = EscalationPolicyFactory.create(team=core.team, repeat=3)
    EscalationStepFactory.create(policy=policy, position=0, walk=True, rotation=core.veteran)
    incident = incident_declare(
        title="Checkout down", actor=core.people["john"], team=core.team, escalation_policy=policy
    )
    result = outlook(incident)
    assert len(result.upcoming) == 4
    assert result.more
    assert not result.exhausted
