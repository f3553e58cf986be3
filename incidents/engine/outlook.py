"""What happens next on each escalation track, in plain words, read from its frozen snapshot.

The incident page tells people who is paged next and when ("If nobody acknowledges by
10:45, Alice Moreau is paged"). This walks the rest of a track the way the batch runner
(`batch._run`) will: a step with nobody to page is skipped at once, a step that pages
someone waits its `wait` before the next one, a walk pages the next person on the frozen
list, and repeats start the steps over. A rotation's on-call is looked up at the time the
step would run, as the runner does. Nothing here writes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incidents.models import EscalationState, EscalationStatus
from oncall.models import User
from rotations.escalation import (
    PLAN_HORIZON,
    contact_words,
    people_words,
    rotation_oncall_target,
    step_words,
)
from rotations.models import Override, Rotation, StepAction
from rotations.selectors import overrides_between, rotations_with_members

# How many coming pages a track lists; the rest is summed up as "and more".
UPCOMING_SHOWN = 4
# The runner's own bound: a policy cannot page more often than this without a wait.
_MAX_WALK = 1000


@dataclass(frozen=True)
class UpcomingPage:
    at: datetime
    people: str  # "Alice Moreau", "the CPE manager Morgan Lee", "Alice Moreau and Bob Okafor"
    count: int  # how many people ("is paged" or "are paged")
    step: int  # 1-based
    repeat: int  # 0 on the first pass


@dataclass(frozen=True)
class TrackOutlook:
    steps: list[str]  # the frozen policy's steps in plain words
    upcoming: list[UpcomingPage] = field(default_factory=list)
    more: bool = False  # pages beyond those listed will follow
    exhausted: bool = False  # the last listed page (or none) is the end of the policy


@dataclass
class OutlookRows:
    """What the outlooks of some tracks read, loaded once: people named in their snapshots,
    the rotations they name (with members) and those rotations' overrides."""

    users: dict[int, User]
    rotations: dict[int, Rotation]
    overrides: dict[int, list[Override]]
    team_name: str


def outlook_rows(
    states: Iterable[EscalationState], *, team_name: str, now: datetime
) -> OutlookRows:
    """What the active tracks among `states` need: at most four queries, however many
    tracks and steps, and none when no track is active (a stopped track is not described)."""
    user_ids: set[int] = set()
    rotation_ids: set[int] = set()
    for state in states:
        if state.status != EscalationStatus.ACTIVE:
            continue
        for step in state.snapshot.get("steps", []):
            user_ids.update(uid for uid, _ in step.get("targets", []) if uid)
            user_ids.update(uid for uid, _ in step.get("walk", []) if uid)
            if step.get("rotation_id"):
                rotation_ids.add(step["rotation_id"])
    users = User.objects.in_bulk(list(user_ids)) if user_ids else {}
    rotations: dict[int, Rotation] = {}
    if rotation_ids:
        rotations = {
            r.pk: r for r in rotations_with_members(Rotation.objects.filter(pk__in=rotation_ids))
        }
    overrides = overrides_between(list(rotations), now, now + PLAN_HORIZON) if rotations else {}
    return OutlookRows(users, rotations, overrides, team_name)


def _name(rows: OutlookRows, uid: int | None) -> str | None:
    user = rows.users.get(uid) if uid else None
    return user.name if user else None


def snapshot_step_words(step: dict[str, Any], rows: OutlookRows) -> str:
    """One frozen step in the same words as the policy's (rotations.escalation.step_words)."""
    rotation = rows.rotations.get(step.get("rotation_id") or 0)
    named = [n for n in (_name(rows, uid) for uid, _ in step.get("targets", [])) if n]
    return step_words(
        action=step["action"],
        wait=timedelta(seconds=step.get("wait", 0)),
        rotation=str(rotation) if rotation else None,
        people=named,
        team=rows.team_name,
        contact=named[0] if named else None,
    )


def _paged_at(step: dict[str, Any], walk: int, at: datetime, rows: OutlookRows) -> list[str]:
    """Who the step pages when it runs at `at` (names; empty when nobody)."""
    action = step["action"]
    if action == StepAction.ROTATION_ONCALL:
        rotation = rows.rotations.get(step.get("rotation_id") or 0)
        if rotation is None:
            return []
        user, _ = rotation_oncall_target(rotation, rows.overrides.get(rotation.pk, []), at)
        return [user.name] if user else []
    if action == StepAction.WALK_ROTATION:
        entries = step.get("walk", [])
        name = _name(rows, entries[walk][0]) if walk < len(entries) else None
        return [name] if name else []
    names = [n for n in (_name(rows, uid) for uid, _ in step.get("targets", [])) if n]
    if action == StepAction.ESCALATION_CONTACT:
        return [contact_words(name) for name in names[:1]]
    return names


def track_outlook(state: EscalationState, rows: OutlookRows, *, now: datetime) -> TrackOutlook:
    """While the track is active: its steps in words and the next pages and when."""
    if state.status != EscalationStatus.ACTIVE or state.next_action_at is None:
        return TrackOutlook([], exhausted=state.status == EscalationStatus.DONE)
    steps: list[dict[str, Any]] = state.snapshot.get("steps", [])
    words = [snapshot_step_words(step, rows) for step in steps]
    repeats = int(state.snapshot.get("repeat", 0))
    repeat, index, walk = state.repeat_index, state.step_index, state.walk_position
    # A step already due runs at the next sweep, i.e. now; later ones follow from then.
    at = max(state.next_action_at, now)
    upcoming: list[UpcomingPage] = []
    exhausted = False
    for _ in range((len(steps) + _MAX_WALK) * (repeats + 1)):
        if index >= len(steps):
            if repeat >= repeats:
                exhausted = True
                break
            repeat, index, walk = repeat + 1, 0, 0
            continue
        step = steps[index]
        who = _paged_at(step, walk, at, rows)
        if who:
            if len(upcoming) == UPCOMING_SHOWN:
                break
            upcoming.append(UpcomingPage(at, people_words(who), len(who), index + 1, repeat))
        if step["action"] == StepAction.WALK_ROTATION and walk + 1 < len(step.get("walk", [])):
            walk += 1
        else:
            index, walk = index + 1, 0
        if who:  # the runner waits only after a step that paged somebody
            at += timedelta(seconds=step.get("wait", 0))
    return TrackOutlook(words, upcoming, more=not exhausted, exhausted=exhausted)
