"""Starting, stopping and hurrying an incident's escalation states (in the caller's
transaction; step tasks queued on commit)."""

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from incidents.engine.tracks import STEP_TASK, Track
from incidents.models import (
    ESCALATION_TRANSITIONS,
    EscalationState,
    EscalationStatus,
    Incident,
)
from oncall.celery import app as celery_app

logger = logging.getLogger(__name__)


class IllegalEscalationTransition(Exception):
    """A track was asked to move where its status map does not go (a done or stopped track
    never runs again: a reopen or reassignment starts new states)."""

    code = "illegal_escalation_transition"


def escalation_transition(*, state: EscalationState, to: EscalationStatus) -> None:
    """The one place a track's status changes (the caller holds its row lock and saves).

    Leaving `active` ends the track: no next step, no guard token for a task to match."""
    if to not in ESCALATION_TRANSITIONS[state.status]:
        raise IllegalEscalationTransition(
            f"escalation track {state.track} is {state.status}; it cannot become {to}"
        )
    state.status = to
    if to != EscalationStatus.ACTIVE:
        state.next_action_at = None
        state.guard_token = None


# --- starting and stopping ----------------------------------------------------------------


def enqueue_step(*, state_id: int, token: uuid.UUID, eta: datetime) -> None:
    """Send the step task (call it on commit); the sweeper covers a lost one."""
    countdown = max(0.0, (eta - timezone.now()).total_seconds())
    celery_app.send_task(
        STEP_TASK, args=[state_id, str(token)], queue="escalation", countdown=countdown or None
    )


def schedule_step(state: EscalationState) -> None:
    token, due = state.guard_token, state.next_action_at
    assert token is not None
    assert due is not None
    transaction.on_commit(lambda: enqueue_step(state_id=state.pk, token=token, eta=due))


def escalation_start(
    *, incident: Incident, tracks: list[Track], at: datetime, generation: int | None = None
) -> list[EscalationState]:
    """Write one active state per track, due at `at`; call inside the caller's transaction.

    `generation`: the states' generation (default: one past the incident's latest)."""
    if generation is None:
        generation = 1 + max((s.generation for s in incident.escalation_states.all()), default=0)
    states = []
    for track in tracks:
        state = EscalationState(
            incident=incident,
            track=track.name,
            generation=generation,
            policy=track.policy,
            snapshot=track.snapshot.to_json(),
            triggered_at=at,
            next_action_at=at,
            guard_token=uuid.uuid4(),
        )
        state.__dict__["policy_snapshot"] = track.snapshot  # the cached typed copy
        state.full_clean(exclude=["incident", "policy"])
        state.save()
        schedule_step(state)
        states.append(state)
    return states


def escalation_stop(*, incident: Incident) -> list[EscalationState]:
    """Stop every active track (hold the incident's row lock). Tokens are cleared, so a task
    already in flight finds nothing to do."""
    states = list(
        EscalationState.objects.select_for_update()
        .filter(incident=incident, status=EscalationStatus.ACTIVE)
        .order_by("pk")
    )
    for state in states:
        escalation_transition(state=state, to=EscalationStatus.STOPPED)
        state.save(update_fields=["status", "guard_token", "next_action_at", "updated_at"])
    return states


def escalation_hurry(*, incident: Incident, at: datetime) -> list[EscalationState]:
    """Make every active track due now (escalate now); the old task becomes stale."""
    states = list(
        EscalationState.objects.select_for_update()
        .filter(incident=incident, status=EscalationStatus.ACTIVE)
        .order_by("pk")
    )
    for state in states:
        state.next_action_at = at
        state.guard_token = uuid.uuid4()
        state.save(update_fields=["next_action_at", "guard_token", "updated_at"])
        schedule_step(state)
    return states
