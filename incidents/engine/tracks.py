"""Which tracks an incident escalates on, each policy frozen into a snapshot
(`rotations.stepping.PolicySnapshot`, built by `rotations.escalation`)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings

from incidents.models import (
    Incident,
    SeverityPolicy,
)
from oncall.memo import memoized
from oncall.models import User
from rotations.escalation import escalation_contact_target, frozen_step, policy_snapshot
from rotations.models import (
    EscalationPolicy,
    Position,
    Rotation,
    StepAction,
    Team,
    TeamKind,
    Tier,
)
from rotations.selectors import rotations_with_members
from rotations.stepping import PolicySnapshot

logger = logging.getLogger(__name__)


STEP_TASK = "incidents.escalation_step"
SUBJECT_TYPE = "incident"

Snapshot = PolicySnapshot


@dataclass(frozen=True)
class Track:
    name: str
    policy: EscalationPolicy | None
    snapshot: PolicySnapshot


# --- snapshots ----------------------------------------------------------------------------


def snapshot_policy(*, policy: EscalationPolicy, at: datetime) -> PolicySnapshot:
    """Freeze a policy's steps at `at` (the trigger)."""
    return policy_snapshot(policy=policy, at=at)


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


def veteran_snapshot(*, team: Team, at: datetime) -> PolicySnapshot | None:
    """Walk the veteran primary list, each after the wait; then the escalation contact.
    A support team's list is its first tier on duty (handbook 004)."""
    first = Tier.FIRST if team.kind == TeamKind.SUPPORT else Tier.VETERAN
    rotation = _team_rotation(team, first) or _team_rotation(team, Tier.NONE)
    wait = timedelta(seconds=settings.ENGAGE_WALK_WAIT_SECONDS)
    steps = []
    if rotation is not None:
        steps.append(
            frozen_step(
                action=StepAction.WALK_ROTATION,
                wait=wait,
                at=at,
                rotation=rotation,
                label=f"Walk {rotation}",
            )
        )
    steps.append(
        frozen_step(
            action=StepAction.ESCALATION_CONTACT,
            wait=wait,
            at=at,
            targets=[escalation_contact_target(team)],
            label="Escalation contact",
        )
    )
    return PolicySnapshot(name=f"{team.name}: veteran list", steps=tuple(steps))


def new_tier_snapshot(*, team: Team, at: datetime) -> PolicySnapshot | None:
    """The new tier's on-call, paged once."""
    rotation = _team_rotation(team, Tier.NEW)
    if rotation is None:
        return None
    step = frozen_step(
        action=StepAction.ROTATION_ONCALL,
        wait=timedelta(0),
        at=at,
        rotation=rotation,
        label=f"On call of {rotation}",
    )
    return PolicySnapshot(name=f"{team.name}: new tier", steps=(step,))


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
    step = frozen_step(
        action=StepAction.USERS,
        wait=timedelta(0),
        at=at,
        targets=[(u, "assigned to the incident") for u in users],
        label="Assigned",
    )
    return Track("assigned", None, PolicySnapshot(name="Assigned", steps=(step,)))
