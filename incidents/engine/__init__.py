"""The escalation engine: the database is the truth, Celery the executor.

- `tracks_for_*` decide which tracks an incident escalates on and freeze each policy into a
  `rotations.stepping.PolicySnapshot` (steps with their resolved targets, waits, repeat);
  every step run is decided by `rotations.stepping.step_run`, the rule the dry run and the
  incident page's forecast use too.
- A track's status changes only in `escalation_transition` (active → done | stopped).
- `escalation_start` writes one `EscalationState` per track with `next_action_at` and a guard
  token in the caller's transaction, and queues the step task on commit.
- Due steps run in batches: `escalation_run_due` claims up to DUE_BATCH due states with
  SKIP LOCKED in one transaction, loads what they need once (incidents, people, on-call,
  urgencies, page plans), pages through the outbox in one INSERT (idempotency key per
  incident/track/repeat/step/walk/user, so a re-run pages nobody twice), writes the timeline
  in one INSERT, moves every state on with a new token, and on commit queues the deliveries
  and one step task per distinct next due time. `escalation_step_run` is the same code path
  for one state (with its token, under its row lock).
- A step task is a hint (`escalation_wake`): when it fires it drains everything due, so one
  task runs a burst; the sweeper drains the same way and covers lost tasks.
"""

from incidents.engine.batch import DUE_BATCH, RETRY_AFTER, page_content
from incidents.engine.due import (
    escalation_drain,
    escalation_run_due,
    escalation_step_run,
    escalation_sweep,
    escalation_wake,
)
from incidents.engine.states import (
    IllegalEscalationTransition,
    enqueue_step,
    escalation_hurry,
    escalation_start,
    escalation_stop,
    escalation_transition,
)
from incidents.engine.tracks import (
    STEP_TASK,
    SUBJECT_TYPE,
    Snapshot,
    Track,
    new_tier_snapshot,
    snapshot_policy,
    track_for_users,
    tracks_for_engage,
    tracks_for_incident,
    veteran_snapshot,
)

__all__ = [
    "DUE_BATCH",
    "RETRY_AFTER",
    "STEP_TASK",
    "SUBJECT_TYPE",
    "IllegalEscalationTransition",
    "Snapshot",
    "Track",
    "enqueue_step",
    "escalation_drain",
    "escalation_hurry",
    "escalation_run_due",
    "escalation_start",
    "escalation_step_run",
    "escalation_stop",
    "escalation_sweep",
    "escalation_transition",
    "escalation_wake",
    "new_tier_snapshot",
    "page_content",
    "snapshot_policy",
    "track_for_users",
    "tracks_for_engage",
    "tracks_for_incident",
    "veteran_snapshot",
]
