"""The escalation engine: the database is the truth, Celery the executor.

- `tracks_for_*` decide which tracks an incident escalates on and freeze each policy into a
  snapshot (steps with their resolved targets, waits in seconds, repeat).
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

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from incidents.models import (
    EscalationState,
    EscalationStatus,
    Incident,
    SeverityPolicy,
    Status,
    TimelineEvent,
    TimelineKind,
    Via,
)
from incidents.timeline import timeline_write_many
from notifications.models import Urgency
from notifications.services import Page, notifications_page_many
from oncall.celery import app as celery_app
from oncall.models import User
from rotations.escalation import escalation_contact_target, rotation_oncall_target, rotation_walk
from rotations.models import EscalationPolicy, Position, Rotation, StepAction, Team, Tier
from rotations.selectors import overrides_between, rotations_with_members

logger = logging.getLogger(__name__)

STEP_TASK = "incidents.escalation_step"
SUBJECT_TYPE = "incident"
# The instant used to ask "who covers at t" of the overrides.
_INSTANT = timedelta(microseconds=1)

Snapshot = dict[str, Any]


@dataclass(frozen=True)
class Track:
    name: str
    policy: EscalationPolicy | None
    snapshot: Snapshot


# --- snapshots ----------------------------------------------------------------------------


def _rotation_label(rotation: Rotation) -> str:
    return str(rotation)


def _step_entry(
    *,
    action: str,
    wait: timedelta,
    at: datetime,
    rotation: Rotation | None = None,
    targets: list[tuple[User | None, str]] | None = None,
    label: str = "",
) -> dict[str, Any]:
    """One frozen step. Walks and named people are resolved now; a rotation's on-call is
    resolved when the step runs (whoever is on call at that instant)."""
    entry: dict[str, Any] = {
        "action": action,
        "wait": wait.total_seconds(),
        "rotation_id": rotation.pk if rotation else None,
        "targets": [],
        "walk": [],
        "label": label,
    }
    if action == StepAction.WALK_ROTATION and rotation is not None:
        overrides = overrides_between([rotation.pk], at, at + _INSTANT)[rotation.pk]
        entry["walk"] = [[u.pk, why] for u, why in rotation_walk(rotation, overrides, at)]
    elif targets is not None:
        entry["targets"] = [[u.pk if u else None, why] for u, why in targets]
    return entry


def snapshot_policy(*, policy: EscalationPolicy, at: datetime) -> Snapshot:
    """Freeze a policy's steps at `at` (the trigger)."""
    steps = list(
        policy.steps.select_related("policy__team__escalation_contact").prefetch_related("users")
    )
    rotation_ids = {s.rotation_id for s in steps if s.rotation_id}
    rotations = {r.pk: r for r in rotations_with_members().filter(pk__in=rotation_ids)}
    team = policy.team
    entries = []
    for step in steps:
        rotation = rotations.get(step.rotation_id) if step.rotation_id else None
        targets: list[tuple[User | None, str]] | None = None
        if step.action == StepAction.USERS:
            targets = [(u, "named in the policy") for u in step.users.all()]
        elif step.action == StepAction.TEAM:
            targets = [(u, f"member of {team.name}") for u in team.members.all()]
        elif step.action == StepAction.ESCALATION_CONTACT:
            targets = [escalation_contact_target(team)]
        entries.append(
            _step_entry(
                action=step.action,
                wait=step.wait,
                at=at,
                rotation=rotation,
                targets=targets,
                label=str(step),
            )
        )
    return {"policy_id": policy.pk, "name": policy.name, "repeat": policy.repeat, "steps": entries}


def _team_rotation(team: Team, tier: str) -> Rotation | None:
    return (
        rotations_with_members(Rotation.objects.filter(team=team, tier=tier))
        .order_by("position")
        .filter(position=Position.PRIMARY)
        .first()
    )


def veteran_snapshot(*, team: Team, at: datetime) -> Snapshot | None:
    """Walk the veteran primary list, each after the wait; then the escalation contact."""
    rotation = _team_rotation(team, Tier.VETERAN) or _team_rotation(team, Tier.NONE)
    wait = timedelta(seconds=settings.ENGAGE_WALK_WAIT_SECONDS)
    steps = []
    if rotation is not None:
        steps.append(
            _step_entry(
                action=StepAction.WALK_ROTATION,
                wait=wait,
                at=at,
                rotation=rotation,
                label=f"Walk {rotation}",
            )
        )
    steps.append(
        _step_entry(
            action=StepAction.ESCALATION_CONTACT,
            wait=wait,
            at=at,
            targets=[escalation_contact_target(team)],
            label="Escalation contact",
        )
    )
    return {"policy_id": None, "name": f"{team.name}: veteran list", "repeat": 0, "steps": steps}


def new_tier_snapshot(*, team: Team, at: datetime) -> Snapshot | None:
    """The new tier's on-call, paged once."""
    rotation = _team_rotation(team, Tier.NEW)
    if rotation is None:
        return None
    step = _step_entry(
        action=StepAction.ROTATION_ONCALL,
        wait=timedelta(0),
        at=at,
        rotation=rotation,
        label=f"On call of {rotation}",
    )
    return {"policy_id": None, "name": f"{team.name}: new tier", "repeat": 0, "steps": [step]}


def _named_policy(team: Team, name: str) -> EscalationPolicy | None:
    return EscalationPolicy.objects.filter(team=team, name=name).first()


def tracks_for_engage(*, team: Team, at: datetime) -> list[Track]:
    """Engage development (handbook 000): the veteran walk, and the new tier once."""
    tracks: list[Track] = []
    veteran = _named_policy(team, settings.ENGAGE_VETERAN_POLICY)
    if veteran is not None:
        tracks.append(Track("veteran", veteran, snapshot_policy(policy=veteran, at=at)))
    elif (snapshot := veteran_snapshot(team=team, at=at)) is not None:
        tracks.append(Track("veteran", None, snapshot))
    new = _named_policy(team, settings.ENGAGE_NEW_TIER_POLICY)
    if new is not None:
        tracks.append(Track("new", new, snapshot_policy(policy=new, at=at)))
    elif (snapshot := new_tier_snapshot(team=team, at=at)) is not None:
        tracks.append(Track("new", None, snapshot))
    return tracks


def tracks_for_incident(
    *, incident: Incident, severity_policy: SeverityPolicy | None, at: datetime
) -> list[Track]:
    """A declared incident: its policy (given, the severity's, the team's first), else the
    team's veteran list; plus the new tier when the severity pages both tiers."""
    policy = incident.escalation_policy or (
        severity_policy.escalation_policy if severity_policy else None
    )
    team = incident.team
    if policy is None and team is not None:
        policy = team.escalation_policies.order_by("name").first()
    tracks: list[Track] = []
    if policy is not None:
        tracks.append(Track("main", policy, snapshot_policy(policy=policy, at=at)))
    elif team is not None and (snapshot := veteran_snapshot(team=team, at=at)) is not None:
        tracks.append(Track("main", None, snapshot))
    both = team is not None and severity_policy is not None and severity_policy.page_both_tiers
    if both and team is not None and (snapshot := new_tier_snapshot(team=team, at=at)):
        tracks.append(Track("new", None, snapshot))
    return tracks


def track_for_users(*, users: list[User], at: datetime) -> Track:
    step = _step_entry(
        action=StepAction.USERS,
        wait=timedelta(0),
        at=at,
        targets=[(u, "assigned to the incident") for u in users],
        label="Assigned",
    )
    return Track(
        "assigned", None, {"policy_id": None, "name": "Assigned", "repeat": 0, "steps": [step]}
    )


# --- starting and stopping ----------------------------------------------------------------


def enqueue_step(*, state_id: int, token: uuid.UUID, eta: datetime) -> None:
    """Send the step task (call it on commit); the sweeper covers a lost one."""
    countdown = max(0.0, (eta - timezone.now()).total_seconds())
    celery_app.send_task(
        STEP_TASK, args=[state_id, str(token)], queue="escalation", countdown=countdown or None
    )


def _schedule(state: EscalationState) -> None:
    token, due = state.guard_token, state.next_action_at
    assert token is not None
    assert due is not None
    transaction.on_commit(lambda: enqueue_step(state_id=state.pk, token=token, eta=due))


def escalation_start(
    *, incident: Incident, tracks: list[Track], at: datetime
) -> list[EscalationState]:
    """Write one active state per track, due at `at`; call inside the caller's transaction."""
    generation = 1 + max((s.generation for s in incident.escalation_states.all()), default=0)
    states = []
    for track in tracks:
        state = EscalationState(
            incident=incident,
            track=track.name,
            generation=generation,
            policy=track.policy,
            snapshot=track.snapshot,
            triggered_at=at,
            next_action_at=at,
            guard_token=uuid.uuid4(),
        )
        state.full_clean(exclude=["incident", "policy"])
        state.save()
        _schedule(state)
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
        state.status = EscalationStatus.STOPPED
        state.guard_token = None
        state.next_action_at = None
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
        _schedule(state)
    return states


# --- running due steps (in batches) -------------------------------------------------------

# How many due states one transaction claims, and how long one drain (a woken step task or
# the sweeper) keeps claiming batches before it leaves the rest to the next one.
DUE_BATCH = 500
DRAIN_SECONDS = 30.0
# A state whose step raised is tried again this much later instead of blocking every batch.
RETRY_AFTER = timedelta(seconds=30)
# Errors of the connection or of the transaction (a restart, a deadlock): the whole claim
# rolls back and the states stay due for the next drain.
_FATAL = (OperationalError, InterfaceError)


def page_content(incident: Incident) -> dict[str, Any]:
    body = "\n\n".join(p for p in (incident.description, incident.body) if p)
    if incident.bridge and incident.bridge not in body:
        body = f"{body}\n\nBridge: {incident.bridge}".strip()
    return {
        "subject": f"[{incident.severity}] {incident.number}: {incident.title}",
        "body": body,
        "data": {
            "incident_id": incident.pk,
            "number": incident.number,
            "severity": incident.severity,
            "title": incident.title,
            "url": f"{settings.SITE_URL}/incidents/{incident.pk}/",
        },
    }


class _Batch:
    """What a set of due steps reads, loaded once for all of them (people, the rotations'
    on-call, each severity's urgency), and what they write, in the order one-by-one runs
    would have written it: pages (outbox rows) and timeline rows."""

    def __init__(self, running: list[tuple[EscalationState, Incident]], now: datetime) -> None:
        self.now = now
        self.events: list[TimelineEvent] = []
        self.pages: list[tuple[Page, TimelineEvent]] = []
        self._content: dict[int, dict[str, Any]] = {}
        user_ids: set[int] = set()
        rotation_ids: set[int] = set()
        for state, _ in running:
            for step in state.snapshot["steps"]:
                user_ids.update(uid for uid, _ in step["targets"] if uid)
                user_ids.update(uid for uid, _ in step["walk"] if uid)
                if step["action"] == StepAction.ROTATION_ONCALL and step["rotation_id"]:
                    rotation_ids.add(step["rotation_id"])
        self.users: dict[int, User] = User.objects.in_bulk(list(user_ids)) if user_ids else {}
        self.rotations: dict[int, Rotation] = {}
        self.overrides: dict[int, list[Any]] = {}
        if rotation_ids:
            rotations = rotations_with_members().filter(pk__in=rotation_ids)
            self.rotations = {r.pk: r for r in rotations}
            self.overrides = overrides_between(list(self.rotations), now, now + _INSTANT)
        severities = {incident.severity for _, incident in running}
        self.urgency: dict[str, str] = dict(
            SeverityPolicy.objects.filter(level__in=severities).values_list("level", "urgency")
        )

    def content(self, incident: Incident) -> dict[str, Any]:
        if incident.pk not in self._content:
            self._content[incident.pk] = page_content(incident)
        return self._content[incident.pk]

    def targets(
        self, state: EscalationState, step: dict[str, Any]
    ) -> list[tuple[User | None, str]]:
        """Whom this step pages now, from the snapshot (a rotation's on-call at this instant)."""
        action = step["action"]
        if action == StepAction.ROTATION_ONCALL:
            rotation = self.rotations.get(step["rotation_id"])
            if rotation is None:
                return [(None, f"the rotation of step '{step['label']}' no longer exists")]
            return [rotation_oncall_target(rotation, self.overrides[rotation.pk], self.now)]
        if action == StepAction.WALK_ROTATION:
            walk = step["walk"]
            if state.walk_position >= len(walk):
                return []
            uid, why = walk[state.walk_position]
            user = self.users.get(uid)
            return [(user, why if user else "the next person on the list no longer exists")]
        return [(self.users.get(uid) if uid else None, why) for uid, why in step["targets"]]

    def event(
        self, incident: Incident, kind: TimelineKind, message: str, data: dict[str, Any]
    ) -> TimelineEvent:
        event = TimelineEvent(
            incident=incident, kind=kind, via=Via.SYSTEM, at=self.now, data=data, message=message
        )
        self.events.append(event)
        return event

    def page(
        self, incident: Incident, user: User, key: str, why: str, event: TimelineEvent
    ) -> None:
        page = Page(
            user=user,
            urgency=self.urgency.get(incident.severity, Urgency.HIGH),
            subject_type=SUBJECT_TYPE,
            subject_id=incident.pk,
            key=key,
            reason=why,
            **self.content(incident),
        )
        self.pages.append((page, event))

    def write(self) -> None:
        """The outbox rows of every page (one INSERT), then the timeline (one INSERT)."""
        rows = notifications_page_many([page for page, _ in self.pages])
        for (_, event), paged in zip(self.pages, rows, strict=True):
            event.data["notifications"] = [r.pk for r in paged]
            event.data["channels"] = [r.channel for r in paged]
        timeline_write_many(self.events)


def _page_step(
    state: EscalationState, incident: Incident, step: dict[str, Any], batch: _Batch
) -> int:
    """Page the step's targets; returns how many people were paged."""
    number = state.step_index + 1
    paged = 0
    for user, why in batch.targets(state, step):
        if user is None:
            batch.event(
                incident,
                TimelineKind.ESCALATION,
                f"{state.track}: step {number} has nobody to page ({why})",
                {"track": state.track, "step": number, "warning": why},
            )
            continue
        key = (
            f"{state.key_prefix}:r{state.repeat_index}:s{state.step_index}"
            f":w{state.walk_position}:u{user.pk}"
        )
        event = batch.event(
            incident,
            TimelineKind.PAGED,
            f"Paged {user} ({why})",
            {
                "track": state.track,
                "step": number,
                "repeat": state.repeat_index,
                "walk": state.walk_position,
                "user_id": user.pk,
            },
        )
        batch.page(incident, user, key, why, event)
        paged += 1
    return paged


def _advance_once(state: EscalationState, incident: Incident, batch: _Batch) -> bool:
    """Run the current step and move the position on; True when somebody was paged."""
    steps = state.snapshot["steps"]
    step = steps[state.step_index]
    paged = _page_step(state, incident, step, batch)
    if step["action"] == StepAction.WALK_ROTATION and state.walk_position + 1 < len(step["walk"]):
        state.walk_position += 1
    else:
        state.step_index += 1
        state.walk_position = 0
    state.next_action_at = batch.now + timedelta(seconds=step["wait"])
    return paged > 0


def _finish_or_repeat(state: EscalationState, incident: Incident, batch: _Batch) -> bool:
    """At the end of the steps: start the next repeat (True) or finish the track (False)."""
    if state.repeat_index < state.snapshot["repeat"]:
        state.repeat_index += 1
        state.step_index = 0
        state.walk_position = 0
        batch.event(
            incident,
            TimelineKind.ESCALATION,
            f"{state.track}: nobody acknowledged; repeating the policy "
            f"({state.repeat_index} of {state.snapshot['repeat']})",
            {"track": state.track, "repeat": state.repeat_index},
        )
        return True
    state.status = EscalationStatus.DONE
    state.next_action_at = None
    state.guard_token = None
    batch.event(
        incident,
        TimelineKind.ESCALATION,
        f"{state.track}: every step has run",
        {"track": state.track},
    )
    return False


def _run(state: EscalationState, incident: Incident, batch: _Batch) -> None:
    steps = state.snapshot["steps"]
    # Steps with nobody to page are skipped at once; the bound only guards against loops.
    for _ in range((len(steps) + 1) * (state.snapshot["repeat"] + 1) + 1):
        if state.step_index >= len(steps) and not _finish_or_repeat(state, incident, batch):
            return
        if _advance_once(state, incident, batch):
            last = state.step_index >= len(steps)
            if last and state.repeat_index >= state.snapshot["repeat"]:
                # The last page of the last pass: nothing more will be sent.
                _finish_or_repeat(state, incident, batch)
            return
    state.next_action_at = batch.now


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


def _run_states(states: list[EscalationState], now: datetime) -> None:
    """Run the due step of each state: the caller holds their row locks and has checked
    that they are active and due. Tracks of incidents no longer triggered stop."""
    incidents = Incident.objects.select_related("team").in_bulk({s.incident_id for s in states})
    running: list[tuple[EscalationState, Incident]] = []
    for state in states:
        incident = incidents[state.incident_id]
        state.incident = incident
        if incident.status != Status.TRIGGERED:
            state.status = EscalationStatus.STOPPED
            state.guard_token = None
            state.next_action_at = None
        else:
            running.append((state, incident))
    batch = _Batch(running, now)
    for state, incident in running:
        _run(state, incident, batch)
    batch.write()
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
                _schedule(state)
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
        except _FATAL:
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
        except _FATAL:
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
        .values_list("guard_token", "status", "next_action_at")
        .first()
    )
    if row is not None and str(row[0]) == str(token) and row[1] == EscalationStatus.ACTIVE:
        due = row[2]
        if row[0] is not None and due is not None and due > now:
            enqueue_step(state_id=state_id, token=row[0], eta=due)
            return "not due"
    return f"ran {escalation_drain()} due steps"


def escalation_sweep(*, now: datetime | None = None, limit: int = DUE_BATCH) -> int:
    """Run every overdue state nobody else is running (lost ETA, dead worker, flushed Redis)."""
    return escalation_drain(now=now or timezone.now(), limit=limit)
