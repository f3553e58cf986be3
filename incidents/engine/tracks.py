"""Which tracks an incident escalates on, each policy frozen into a snapshot."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from incidents.models import (
    Incident,
    SeverityPolicy,
)
from oncall.memo import memoized
from oncall.models import User
from rotations.escalation import escalation_contact_target, rotation_walk
from rotations.models import (
    EscalationPolicy,
    EscalationStep,
    Position,
    Rotation,
    StepAction,
    Team,
    Tier,
)
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


@dataclass(frozen=True)
class _PolicyRows:
    """What a snapshot reads of a policy: its steps (with their people), the rotations they
    name (with ordered members), its team and, when a step pages the team, its members."""

    steps: list[EscalationStep]
    rotations: dict[int, Rotation]
    team: Team
    team_members: list[User]


def _policy_rows(policy: EscalationPolicy) -> _PolicyRows:
    def read() -> _PolicyRows:
        steps = list(
            policy.steps.select_related("policy__team__escalation_contact").prefetch_related(
                "users"
            )
        )
        rotation_ids = {s.rotation_id for s in steps if s.rotation_id}
        rotations = {r.pk: r for r in rotations_with_members().filter(pk__in=rotation_ids)}
        team = steps[0].policy.team if steps else policy.team
        pages_team = any(s.action == StepAction.TEAM for s in steps)
        members = list(team.members.all()) if pages_team else []
        return _PolicyRows(steps, rotations, team, members)

    return memoized(("policy_rows", policy.pk), read)


def snapshot_policy(*, policy: EscalationPolicy, at: datetime) -> Snapshot:
    """Freeze a policy's steps at `at` (the trigger)."""
    rows = _policy_rows(policy)
    team = rows.team
    entries = []
    for step in rows.steps:
        rotation = rows.rotations.get(step.rotation_id) if step.rotation_id else None
        targets: list[tuple[User | None, str]] | None = None
        if step.action == StepAction.USERS:
            targets = [(u, "named in the policy") for u in step.users.all()]
        elif step.action == StepAction.TEAM:
            targets = [(u, f"member of {team.name}") for u in rows.team_members]
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
    return memoized(
        ("team_rotation", team.pk, tier),
        lambda: (
            rotations_with_members(Rotation.objects.filter(team=team, tier=tier))
            .order_by("position")
            .filter(position=Position.PRIMARY)
            .first()
        ),
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


def _policy_by_id(policy_id: int | None) -> EscalationPolicy | None:
    if policy_id is None:
        return None
    return memoized(
        ("policy", policy_id), lambda: EscalationPolicy.objects.filter(pk=policy_id).first()
    )


def team_default_policy(team: Team) -> EscalationPolicy | None:
    """The policy that pages the team's declared incidents: the one the team names, else
    its oldest (never chosen by name, so a rename changes nothing), else none (the veteran
    list pages)."""
    if team.default_policy_id is not None:
        return _policy_by_id(team.default_policy_id)
    return memoized(
        ("team_oldest_policy", team.pk),
        lambda: team.escalation_policies.order_by("pk").first(),
    )


def tracks_for_engage(*, team: Team, at: datetime) -> list[Track]:
    """Engage development (handbook 000): the team's engage (veteran) policy, else the walk
    of its veteran list; and its new-tier policy, else the new tier's on-call once."""
    tracks: list[Track] = []
    veteran = _policy_by_id(team.engage_policy_id)
    if veteran is not None:
        tracks.append(Track("veteran", veteran, snapshot_policy(policy=veteran, at=at)))
    elif (snapshot := veteran_snapshot(team=team, at=at)) is not None:
        tracks.append(Track("veteran", None, snapshot))
    new = _policy_by_id(team.new_tier_policy_id)
    if new is not None:
        tracks.append(Track("new", new, snapshot_policy(policy=new, at=at)))
    elif (snapshot := new_tier_snapshot(team=team, at=at)) is not None:
        tracks.append(Track("new", None, snapshot))
    return tracks


def tracks_for_incident(
    *, incident: Incident, severity_policy: SeverityPolicy | None, at: datetime
) -> list[Track]:
    """A declared incident: its policy (given, the severity's, the team's default), else the
    team's veteran list; plus the new tier when the severity pages both tiers."""
    policy = incident.escalation_policy or (
        severity_policy.escalation_policy if severity_policy else None
    )
    team = incident.team
    if policy is None and team is not None:
        policy = team_default_policy(team)
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
