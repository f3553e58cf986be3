"""Running due steps: the claim (SKIP LOCKED), the one-state entry point, the wake-up hint and
the sweeper."""

import logging
import time
import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents.engine.batch import (
    DRAIN_SECONDS,
    DUE_BATCH,
    FATAL_ERRORS,
    RETRY_AFTER,
    Batch,
    batch_run,
)
from incidents.engine.states import enqueue_step, escalation_transition, schedule_step
from incidents.models import (
    EscalationState,
    EscalationStatus,
    Incident,
    Status,
)
from oncall.logs import bind_log_ids
from oncall.metrics import record_escalation_lateness

logger = logging.getLogger(__name__)


_STATE_FIELDS = [
    "status",
    "guard_token",
    "next_action_at",
    "step_index",
    "repeat_index",
    "walk_position",
    "updated_at",
]
_MOVED = [name for name in _STATE_FIELDS if name not in ("guard_token", "updated_at")]


def _save_states(states: list[EscalationState]) -> None:
    """Write the states' moves: one UPDATE per distinct outcome (a burst of tracks on one
    policy moves alike), each group of active states with a new guard token of its own.
    A token only guards its own state, so states may share one."""
    groups: dict[tuple[Any, ...], list[EscalationState]] = {}
    for state in states:
        outcome = tuple(getattr(state, name) for name in _MOVED)
        groups.setdefault(outcome, []).append(state)
    updated = timezone.now()
    for group in groups.values():
        token = uuid.uuid4() if group[0].status == EscalationStatus.ACTIVE else None
        values = {name: getattr(group[0], name) for name in _STATE_FIELDS}
        values.update(guard_token=token, updated_at=updated)
        for state in group:
            state.guard_token, state.updated_at = token, updated
        EscalationState.objects.filter(pk__in=[s.pk for s in group]).update(**values)


def _hint(states: list[EscalationState]) -> None:
    """On commit, one step task per distinct due time: the task that wakes runs everything
    due then (the sweeper covers a lost one)."""
    first: dict[datetime, EscalationState] = {}
    for state in states:
        assert state.next_action_at is not None
        first.setdefault(state.next_action_at, state)
    hints = [(s.pk, s.guard_token, due) for due, s in first.items()]

    def send() -> None:
        for state_id, token, due in hints:
            assert token is not None
            enqueue_step(state_id=state_id, token=token, eta=due)

    if hints:
        transaction.on_commit(send)


def _count_lateness(due: list[datetime]) -> None:
    """oncall_escalation_lateness_seconds: each step's pages written (now) minus its due
    time, counted once the batch commits (a rolled-back batch wrote nothing)."""
    if not due:
        return
    written = timezone.now()
    seconds = [(written - at).total_seconds() for at in due]
    transaction.on_commit(lambda: record_escalation_lateness(seconds=seconds))


def _run_states(states: list[EscalationState], now: datetime) -> None:
    """Run the due step of each state: the caller holds their row locks and has checked
    that they are active and due. Tracks of incidents no longer triggered stop."""
    incidents = Incident.objects.select_related("team").in_bulk({s.incident_id for s in states})
    running: list[tuple[EscalationState, Incident]] = []
    for state in states:
        incident = incidents[state.incident_id]
        state.incident = incident
        if incident.status != Status.TRIGGERED:
            escalation_transition(state=state, to=EscalationStatus.STOPPED)
        else:
            running.append((state, incident))
    due = [state.next_action_at for state, _ in running]
    batch = Batch(running, now)
    for state, incident in running:
        batch_run(state, incident, batch)
    batch.write()
    _count_lateness([d for d in due if d is not None])
    _save_states(states)
    _hint([s for s in states if s.status == EscalationStatus.ACTIVE])


def escalation_step_run(
    *,
    state_id: int,
    token: str | uuid.UUID | None = None,
    now: datetime | None = None,
    skip_locked: bool = False,
) -> str:
    """Run a due step of one track. Safe to call twice, from any number of workers.

    `token` is the guard a task carries (None: only require the state to be due). Returns
    what happened, for the logs. The batch runner's code path, for a batch of one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = (
            EscalationState.objects.select_for_update(skip_locked=skip_locked)
            .filter(pk=state_id)
            .first()
        )
        if state is None:
            return "missing or claimed by another worker"
        if token is not None and str(state.guard_token) != str(token):
            return "stale token"
        if state.status != EscalationStatus.ACTIVE or state.next_action_at is None:
            return f"not active ({state.status})"
        if state.next_action_at > now:
            if token is not None:  # an early task: come back when it is due
                schedule_step(state)
            return "not due"
        _run_states([state], now)
        if state.status == EscalationStatus.STOPPED:
            return f"incident {state.incident.status}"
        return "ran"


def _run_one_by_one(state_ids: list[int], now: datetime) -> None:
    """After a batch raised: each state on its own, so one broken state (a bad address, a
    bug) delays only itself; it is tried again RETRY_AFTER later."""
    for state_id in state_ids:
        try:
            with transaction.atomic():
                state = EscalationState.objects.select_for_update().get(pk=state_id)
                _run_states([state], now)
        except FATAL_ERRORS:
            raise
        except Exception:
            logger.exception("escalation state %s: the step failed; retrying later", state_id)
            EscalationState.objects.filter(pk=state_id).update(
                next_action_at=now + RETRY_AFTER, updated_at=timezone.now()
            )


def escalation_run_due(*, now: datetime | None = None, limit: int = DUE_BATCH) -> int:
    """Run up to `limit` due steps in one transaction; returns how many states it claimed.

    Claims with SKIP LOCKED (oldest due first), so any number of workers can run it at
    once: each takes rows nobody else holds, and the idempotency keys make a second run of
    a step (a redelivered task after a crash) page nobody twice.
    """
    now = now or timezone.now()
    with transaction.atomic():
        states = list(
            EscalationState.objects.select_for_update(skip_locked=True)
            .filter(status=EscalationStatus.ACTIVE, next_action_at__lte=now)
            .order_by("next_action_at", "pk")[:limit]
        )
        if not states:
            return 0
        try:
            with transaction.atomic():
                _run_states(states, now)
        except FATAL_ERRORS:
            raise
        except Exception:
            logger.exception("a batch of %d escalation steps failed; one by one", len(states))
            _run_one_by_one([s.pk for s in states], now)
    return len(states)


def escalation_drain(
    *, now: datetime | None = None, limit: int = DUE_BATCH, seconds: float = DRAIN_SECONDS
) -> int:
    """Run batches until fewer than `limit` were due (or `seconds` have passed)."""
    started = time.monotonic()
    ran = 0
    while True:
        claimed = escalation_run_due(now=now, limit=limit)
        ran += claimed
        if claimed < limit or time.monotonic() - started > seconds:
            return ran


def escalation_wake(*, state_id: int, token: str, now: datetime | None = None) -> str:
    """What a step task does: its ETA is a hint that something falls due now.

    An early task (its state still waits, same token) comes back when due; otherwise it
    drains everything due, its own state included unless another worker holds it (and then
    runs it). A stale token drains too: one hint may stand for several states due at once.
    """
    now = now or timezone.now()
    row = (
        EscalationState.objects.filter(pk=state_id)
        .values_list("guard_token", "status", "next_action_at", "incident_id")
        .first()
    )
    if row is not None:
        bind_log_ids(incident_id=row[3])  # the step task's log line names the incident
    if row is not None and str(row[0]) == str(token) and row[1] == EscalationStatus.ACTIVE:
        due = row[2]
        if row[0] is not None and due is not None and due > now:
            enqueue_step(state_id=state_id, token=row[0], eta=due)
            return "not due"
    return f"ran {escalation_drain()} due steps"


def escalation_sweep(*, now: datetime | None = None, limit: int = DUE_BATCH) -> int:
    """Run every overdue state nobody else is running (lost ETA, dead worker, flushed Redis)."""
    return escalation_drain(now=now or timezone.now(), limit=limit)
