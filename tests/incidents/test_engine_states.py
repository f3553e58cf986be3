"""An escalation track's status moves only along its map, through one function, and a
snapshot stored in an older shape still runs."""

import uuid

import pytest
import time_machine

from incidents.engine import escalation_run_due
from incidents.engine.states import IllegalEscalationTransition, escalation_transition
from incidents.models import (
    ESCALATION_TRANSITIONS,
    EscalationState,
    EscalationStatus,
    Incident,
    Severity,
)
from incidents.services import (
    incident_acknowledge,
    incident_declare,
    incident_reassign,
    incident_resolve,
)
from notifications.models import Notification
from oncall.models import User
from rotations.models import StepAction
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, UserFactory
from tests.incidents.conftest import T0

pytestmark = pytest.mark.django_db


def test_the_map_lets_an_active_track_end_and_nothing_else_move() -> None:
    assert {
        EscalationStatus.ACTIVE: {EscalationStatus.DONE, EscalationStatus.STOPPED},
        EscalationStatus.DONE: set(),
        EscalationStatus.STOPPED: set(),
    } == ESCALATION_TRANSITIONS


@pytest.mark.parametrize("start", [EscalationStatus.DONE, EscalationStatus.STOPPED])
@pytest.mark.parametrize("to", list(EscalationStatus))
def test_an_ended_track_never_moves_again(start: EscalationStatus, to: EscalationStatus) -> None:
    state = EscalationState(track="main", status=start)
    with pytest.raises(IllegalEscalationTransition):
        escalation_transition(state=state, to=to)
    assert state.status == start


def test_ending_a_track_clears_its_next_step_and_token() -> None:
    state = EscalationState(
        track="main", next_action_at=T0, guard_token=uuid.uuid4(), status=EscalationStatus.ACTIVE
    )
    escalation_transition(state=state, to=EscalationStatus.DONE)
    assert (state.status, state.next_action_at, state.guard_token) == ("done", None, None)


def paging_incident(person: User) -> Incident:
    policy = EscalationPolicyFactory.create()
    EscalationStepFactory.create(policy=policy, action=StepAction.USERS, users=[person])
    EscalationStepFactory.create(policy=policy, action=StepAction.USERS, users=[person])
    return incident_declare(
        title="Down", actor=None, severity=Severity.SEV3, escalation_policy=policy
    )


def status_of(incident: Incident) -> list[str]:
    return [s.status for s in EscalationState.objects.filter(incident=incident).order_by("pk")]


def test_acknowledge_resolve_and_reassign_stop_the_tracks() -> None:
    person = UserFactory.create()
    with time_machine.travel(T0, tick=False):
        acked, resolved, reassigned = (paging_incident(person) for _ in range(3))
        incident_acknowledge(incident=acked, actor=None)
        incident_resolve(incident=resolved, actor=None)
        incident_reassign(incident=reassigned, actor=None, user=UserFactory.create())
    assert status_of(acked) == ["stopped"]
    assert status_of(resolved) == ["stopped"]
    assert status_of(reassigned) == ["stopped", "active"]


def test_a_snapshot_stored_in_the_older_shape_still_runs() -> None:
    person = UserFactory.create()
    with time_machine.travel(T0, tick=False):
        incident = paging_incident(person)
        # The documented first shape: named people as "user_ids", no walk, label or repeat.
        EscalationState.objects.filter(incident=incident).update(
            snapshot={
                "name": "Old",
                "steps": [{"action": "users", "wait": 60, "user_ids": [person.pk]}],
            }
        )
        assert escalation_run_due() == 1
    state = EscalationState.objects.get(incident=incident)
    assert state.policy_snapshot.name == "Old"
    assert state.status == EscalationStatus.DONE
    assert list(Notification.objects.values_list("recipient", flat=True).distinct()) == [person.pk]
