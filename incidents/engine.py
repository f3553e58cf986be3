"""The escalation engine: the database is the truth, Celery the executor.

- `tracks_for_*` decide which tracks an incident escalates on and freeze each policy into a
  snapshot (steps with their resolved targets, waits in seconds, repeat).
- `escalation_start` writes one `EscalationState` per track with `next_action_at` and a guard
  token in the caller's transaction, and queues the step task on commit.
- `escalation_step_run` is the one function that runs a due step, called by the ETA task
  (with its token) and by the sweeper (claiming rows with SKIP LOCKED). It locks the state,
  returns unless the token, status and deadline still match, pages the step's targets through
  the outbox (idempotency key per incident/track/repeat/step/walk/user), writes the timeline,
  and moves the state on with a new token and the next task queued on commit.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.models import (
    EscalationState,
    EscalationStatus,
    Incident,
    SeverityPolicy,
    Status,
    TimelineKind,
)
from incidents.timeline import timeline_write
from notifications.models import Urgency
from notifications.services import notifications_page
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


# --- running a step -----------------------------------------------------------------------


def _users(ids: list[int]) -> dict[int, User]:
    return User.objects.in_bulk([i for i in ids if i is not None])


def _step_targets(
    state: EscalationState, step: dict[str, Any], now: datetime
) -> list[tuple[User | None, str]]:
    """Whom this step pages now, from the snapshot (a rotation's on-call at this instant)."""
    action = step["action"]
    if action == StepAction.ROTATION_ONCALL:
        rotation = rotations_with_members().filter(pk=step["rotation_id"]).first()
        if rotation is None:
            return [(None, f"the rotation of step '{step['label']}' no longer exists")]
        overrides = overrides_between([rotation.pk], now, now + _INSTANT)[rotation.pk]
        return [rotation_oncall_target(rotation, overrides, now)]
    if action == StepAction.WALK_ROTATION:
        walk = step["walk"]
        if state.walk_position >= len(walk):
            return []
        uid, why = walk[state.walk_position]
        user = _users([uid]).get(uid)
        return [(user, why if user else "the next person on the list no longer exists")]
    targets = step["targets"]
    users = _users([uid for uid, _ in targets])
    return [(users.get(uid) if uid else None, why) for uid, why in targets]


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


def _urgency(incident: Incident) -> str:
    policy = SeverityPolicy.objects.filter(level=incident.severity).first()
    return policy.urgency if policy else Urgency.HIGH


def _page_step(
    state: EscalationState, incident: Incident, step: dict[str, Any], now: datetime
) -> int:
    """Page the step's targets; returns how many people were paged."""
    content = page_content(incident)
    urgency = _urgency(incident)
    number = state.step_index + 1
    paged = 0
    for user, why in _step_targets(state, step, now):
        if user is None:
            timeline_write(
                incident=incident,
                kind=TimelineKind.ESCALATION,
                message=f"{state.track}: step {number} has nobody to page ({why})",
                data={"track": state.track, "step": number, "warning": why},
                at=now,
            )
            continue
        key = (
            f"{state.key_prefix}:r{state.repeat_index}:s{state.step_index}"
            f":w{state.walk_position}:u{user.pk}"
        )
        rows = notifications_page(
            user=user,
            urgency=urgency,
            subject_type=SUBJECT_TYPE,
            subject_id=incident.pk,
            key=key,
            reason=why,
            **content,
        )
        timeline_write(
            incident=incident,
            kind=TimelineKind.PAGED,
            message=f"Paged {user} ({why})",
            data={
                "track": state.track,
                "step": number,
                "repeat": state.repeat_index,
                "walk": state.walk_position,
                "user_id": user.pk,
                "notifications": [r.pk for r in rows],
                "channels": [r.channel for r in rows],
            },
            at=now,
        )
        paged += 1
    return paged


def _advance_once(state: EscalationState, incident: Incident, now: datetime) -> bool:
    """Run the current step and move the position on; True when somebody was paged."""
    steps = state.snapshot["steps"]
    step = steps[state.step_index]
    paged = _page_step(state, incident, step, now)
    if step["action"] == StepAction.WALK_ROTATION and state.walk_position + 1 < len(step["walk"]):
        state.walk_position += 1
    else:
        state.step_index += 1
        state.walk_position = 0
    state.next_action_at = now + timedelta(seconds=step["wait"])
    return paged > 0


def _finish_or_repeat(state: EscalationState, incident: Incident, now: datetime) -> bool:
    """At the end of the steps: start the next repeat (True) or finish the track (False)."""
    if state.repeat_index < state.snapshot["repeat"]:
        state.repeat_index += 1
        state.step_index = 0
        state.walk_position = 0
        timeline_write(
            incident=incident,
            kind=TimelineKind.ESCALATION,
            message=f"{state.track}: nobody acknowledged; repeating the policy "
            f"({state.repeat_index} of {state.snapshot['repeat']})",
            data={"track": state.track, "repeat": state.repeat_index},
            at=now,
        )
        return True
    state.status = EscalationStatus.DONE
    state.next_action_at = None
    state.guard_token = None
    timeline_write(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        message=f"{state.track}: every step has run",
        data={"track": state.track},
        at=now,
    )
    return False


def _run(state: EscalationState, incident: Incident, now: datetime) -> None:
    steps = state.snapshot["steps"]
    # Steps with nobody to page are skipped at once; the bound only guards against loops.
    for _ in range((len(steps) + 1) * (state.snapshot["repeat"] + 1) + 1):
        if state.step_index >= len(steps) and not _finish_or_repeat(state, incident, now):
            return
        if _advance_once(state, incident, now):
            last = state.step_index >= len(steps)
            if last and state.repeat_index >= state.snapshot["repeat"]:
                # The last page of the last pass: nothing more will be sent.
                _finish_or_repeat(state, incident, now)
            return
    state.next_action_at = now


def escalation_step_run(
    *,
    state_id: int,
    token: str | uuid.UUID | None = None,
    now: datetime | None = None,
    skip_locked: bool = False,
) -> str:
    """Run a due step of one track. Safe to call twice, from any number of workers.

    `token` is the guard the task carries (None from the sweeper, which only requires the
    state to be due). Returns what happened, for the logs.
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
        incident = Incident.objects.select_related("team").get(pk=state.incident_id)
        if incident.status != Status.TRIGGERED:
            state.status = EscalationStatus.STOPPED
            state.guard_token = None
            state.next_action_at = None
            state.save(update_fields=["status", "guard_token", "next_action_at", "updated_at"])
            return f"incident {incident.status}"
        _run(state, incident, now)
        if state.status == EscalationStatus.ACTIVE:
            state.guard_token = uuid.uuid4()
            _schedule(state)
        state.save()
        return "ran"


def escalation_sweep(*, now: datetime | None = None, limit: int = 200) -> int:
    """Run every overdue state nobody else is running (lost ETA, dead worker, flushed Redis)."""
    now = now or timezone.now()
    due = list(
        EscalationState.objects.filter(status=EscalationStatus.ACTIVE, next_action_at__lte=now)
        .order_by("next_action_at")
        .values_list("pk", flat=True)[:limit]
    )
    ran = 0
    for state_id in due:
        if escalation_step_run(state_id=state_id, now=now, skip_locked=True) == "ran":
            ran += 1
    return ran
