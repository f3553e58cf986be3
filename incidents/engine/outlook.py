"""What happens next on each escalation track, in plain words, read from its frozen snapshot.

The incident page tells people who is paged next and when ("If nobody acknowledges by
10:45, Alice Moreau is paged"). This walks the rest of a track the way the batch runner
(`batch.batch_run`) will: a step with nobody to page is skipped at once, a step that pages
someone waits its `wait` before the next one, a walk pages the next person on the frozen
list, and repeats start the steps over. A rotation's on-call is looked up at the time the
step would run, as the runner does. Nothing here writes.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from incidents.models import EscalationState, EscalationStatus
from rotations.escalation import (
    PLAN_HORIZON,
    RotaDirectory,
    contact_words,
    people_words,
    rota_directory,
    step_words,
)
from rotations.models import StepAction
from rotations.stepping import FrozenStep, Position, step_plan

# How many coming pages a track lists; the rest is summed up as "and more".
UPCOMING_SHOWN = 4


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

    directory: RotaDirectory
    team_name: str


def outlook_rows(
    states: Iterable[EscalationState], *, team_name: str, now: datetime
) -> OutlookRows:
    """What the active tracks among `states` need: at most four queries, however many
    tracks and steps, and none when no track is active (a stopped track is not described)."""
    snapshots = [s.policy_snapshot for s in states if s.status == EscalationStatus.ACTIVE]
    directory = rota_directory(snapshots, start=now, until=now + PLAN_HORIZON, every_rotation=True)
    return OutlookRows(directory, team_name)


def _name(rows: OutlookRows, uid: int | None) -> str | None:
    user = rows.directory.users.get(uid) if uid else None
    return user.name if user else None


def snapshot_step_words(step: FrozenStep, rows: OutlookRows) -> str:
    """One frozen step in the same words as the policy's (rotations.escalation.step_words)."""
    rotation = rows.directory.rotations.get(step.rotation_id) if step.rotation_id else None
    named = [n for n in (_name(rows, t.user_id) for t in step.targets) if n]
    return step_words(
        action=step.action,
        wait=step.wait,
        rotation=str(rotation) if rotation else None,
        people=named,
        team=rows.team_name,
        contact=named[0] if named else None,
    )


def track_outlook(state: EscalationState, rows: OutlookRows, *, now: datetime) -> TrackOutlook:
    """While the track is active: its steps in words and the next pages and when, stepped
    by the engine's own rule (`rotations.stepping.step_run`)."""
    if state.status != EscalationStatus.ACTIVE or state.next_action_at is None:
        return TrackOutlook([], exhausted=state.status == EscalationStatus.DONE)
    snapshot = state.policy_snapshot
    words = [snapshot_step_words(step, rows) for step in snapshot.steps]
    here = Position(state.step_index, state.repeat_index, state.walk_position)
    # A step already due runs at the next sweep, i.e. now; later ones follow from then.
    start = max(state.next_action_at, now)
    upcoming: list[UpcomingPage] = []
    exhausted = False
    for run in step_plan(snapshot, here, start, rows.directory):
        paged = run.paged
        if paged:
            if len(upcoming) == UPCOMING_SHOWN:
                break
            where = paged[0].position
            names = [rows.directory.users[p.user_id].name for p in paged]
            if snapshot.steps[where.step].action == StepAction.ESCALATION_CONTACT:
                names = [contact_words(name) for name in names[:1]]
            upcoming.append(
                UpcomingPage(run.at, people_words(names), len(names), where.step + 1, where.repeat)
            )
        if run.done:
            exhausted = True
            break
    return TrackOutlook(words, upcoming, more=not exhausted, exhausted=exhausted)
