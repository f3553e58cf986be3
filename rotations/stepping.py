"""How an escalation policy is walked: the one stepping rule the engine, the incident page's
forecast and the admin's dry run all use.

Pure Python (no database), like `rotations.resolver`. A policy is frozen into a
`PolicySnapshot` when an incident triggers (walks and named people resolved then; a
rotation's on-call is asked of a `Directory` when the step runs). `step_run` takes the
snapshot, the current `Position` and "now" and says what happens now and when the next step
is due:

* a step pages its targets; a walk pages the next person on its frozen list, one per run;
* a step (or walk entry) with nobody to page is skipped at once: it costs no time;
* a step that paged somebody waits its `wait` before the next one runs;
* after the last step the policy starts over `repeat` times, then the track is done (at
  once after the last page of the last pass: nothing more will be sent).

`step_plan` repeats `step_run` from a position, as if nobody ever acknowledged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

# The actions of rotations.models.StepAction (kept as strings: this module imports no Django).
ROTATION_ONCALL = "rotation_oncall"
WALK_ROTATION = "walk_rotation"
USERS = "users"
TEAM = "team"
ESCALATION_CONTACT = "escalation_contact"


@dataclass(frozen=True, slots=True)
class Target:
    """A person a step pages (None: nobody, and `reason` says why) and why them."""

    user_id: int | None
    reason: str

    def to_json(self) -> list[Any]:
        return [self.user_id, self.reason]

    @classmethod
    def from_json(cls, data: Any) -> Target:
        """`[user_id, reason]` as stored; a bare id or a dict are read too."""
        if isinstance(data, Mapping):
            return cls(_user_id(data.get("user_id")), str(data.get("reason", "")))
        if isinstance(data, list | tuple):
            user = data[0] if data else None
            return cls(_user_id(user), str(data[1]) if len(data) > 1 else "")
        return cls(_user_id(data), "")


def _user_id(value: Any) -> int | None:
    return int(value) if value not in (None, "", 0) else None


@dataclass(frozen=True, slots=True)
class FrozenStep:
    action: str
    wait: timedelta
    rotation_id: int | None = None
    targets: tuple[Target, ...] = ()  # named people, the team, the escalation contact
    walk: tuple[Target, ...] = ()  # a walk's list in paging order, frozen at trigger
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "wait": self.wait.total_seconds(),
            "rotation_id": self.rotation_id,
            "targets": [t.to_json() for t in self.targets],
            "walk": [t.to_json() for t in self.walk],
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FrozenStep:
        targets = data.get("targets")
        if targets is None and "user_ids" in data:  # the first snapshots' documented key
            targets = [[uid, "named in the policy"] for uid in data["user_ids"] or []]
        return cls(
            action=str(data.get("action", "")),
            wait=timedelta(seconds=float(data.get("wait") or 0)),
            rotation_id=_user_id(data.get("rotation_id")),
            targets=tuple(Target.from_json(t) for t in targets or []),
            walk=tuple(Target.from_json(t) for t in data.get("walk") or []),
            label=str(data.get("label") or ""),
        )

    @property
    def moves(self) -> int:
        """How many runs the step can take (a walk: one per person on its list)."""
        return max(len(self.walk), 1) if self.action == WALK_ROTATION else 1


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """A policy frozen at trigger: what `EscalationState.snapshot` holds (as JSON)."""

    name: str
    steps: tuple[FrozenStep, ...]
    repeat: int = 0
    policy_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "name": self.name,
            "repeat": self.repeat,
            "steps": [s.to_json() for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> PolicySnapshot:
        """Tolerant of every stored shape: missing keys take their defaults."""
        data = data or {}
        return cls(
            name=str(data.get("name") or ""),
            steps=tuple(FrozenStep.from_json(s) for s in data.get("steps") or []),
            repeat=max(int(data.get("repeat") or 0), 0),
            policy_id=_user_id(data.get("policy_id")),
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Where a track stands: the next step to run (0-based), the pass, the place in a walk."""

    step: int = 0
    repeat: int = 0
    walk: int = 0


class Directory(Protocol):
    """What stepping asks of the world when a step runs."""

    def on_call(self, rotation_id: int, at: datetime) -> Target | None:
        """Who is on call for the rotation at `at` (user None in a gap; None: no such rotation)."""
        ...

    def present(self, user_id: int) -> bool:
        """Whether the person still exists (a deleted person is nobody to page)."""
        ...


# --- what happens when a step runs ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paged:
    user_id: int
    reason: str
    position: Position  # the position the page was sent from (part of its idempotency key)


@dataclass(frozen=True, slots=True)
class Nobody:
    """A step (or walk entry) with nobody to page: skipped, costing no time."""

    reason: str
    position: Position


@dataclass(frozen=True, slots=True)
class Repeated:
    """Every step ran and nobody acknowledged: the policy starts over (pass `repeat`)."""

    repeat: int


@dataclass(frozen=True, slots=True)
class Finished:
    """Every step has run: the track is done."""


Happening = Paged | Nobody | Repeated | Finished


@dataclass(frozen=True, slots=True)
class StepRun:
    at: datetime
    happened: tuple[Happening, ...]
    position: Position  # where the track stands after the run
    next_at: datetime | None  # when the next step is due; None when the track is done

    @property
    def paged(self) -> list[Paged]:
        return [h for h in self.happened if isinstance(h, Paged)]

    @property
    def done(self) -> bool:
        return self.next_at is None


def step_targets(step: FrozenStep, walk: int, at: datetime, directory: Directory) -> list[Target]:
    """Whom the step pages when it runs at `at` from walk position `walk` (user None: nobody)."""
    if step.action == ROTATION_ONCALL:
        oncall = directory.on_call(step.rotation_id, at) if step.rotation_id else None
        if oncall is None:
            return [Target(None, f"the rotation of step '{step.label}' no longer exists")]
        return [oncall]
    if step.action == WALK_ROTATION:
        if walk >= len(step.walk):
            return []
        entry = step.walk[walk]
        if entry.user_id is None or not directory.present(entry.user_id):
            return [Target(None, "the next person on the list no longer exists")]
        return [entry]
    return [
        t if t.user_id is None or directory.present(t.user_id) else Target(None, t.reason)
        for t in step.targets
    ]


def step_run(
    snapshot: PolicySnapshot, position: Position, now: datetime, directory: Directory
) -> StepRun:
    """Run what is due at `now`: steps with nobody to page are passed over at once, until a
    step pages somebody (then its wait starts) or the policy is done."""
    steps = snapshot.steps
    step_index, repeat, walk = position.step, position.repeat, position.walk
    happened: list[Happening] = []
    while True:
        if step_index >= len(steps):
            if repeat >= snapshot.repeat:
                happened.append(Finished())
                return StepRun(now, tuple(happened), Position(step_index, repeat, 0), None)
            repeat, step_index, walk = repeat + 1, 0, 0
            happened.append(Repeated(repeat))
            continue
        here = Position(step_index, repeat, walk)
        step = steps[step_index]
        paged = False
        for target in step_targets(step, walk, now, directory):
            if target.user_id is None:
                happened.append(Nobody(target.reason, here))
            else:
                happened.append(Paged(target.user_id, target.reason, here))
                paged = True
        if step.action == WALK_ROTATION and walk + 1 < len(step.walk):
            walk += 1
        else:
            step_index, walk = step_index + 1, 0
        if not paged:
            continue
        if step_index >= len(steps) and repeat >= snapshot.repeat:
            # The last page of the last pass: nothing more will be sent.
            happened.append(Finished())
            return StepRun(now, tuple(happened), Position(step_index, repeat, 0), None)
        return StepRun(now, tuple(happened), Position(step_index, repeat, walk), now + step.wait)


def step_plan(
    snapshot: PolicySnapshot,
    position: Position,
    start: datetime,
    directory: Directory,
    *,
    runs: int | None = None,
) -> Iterator[StepRun]:
    """Every run from `position` at `start` if nobody acknowledges (at most `runs`)."""
    at: datetime | None = start
    count = 0
    while at is not None and (runs is None or count < runs):
        run = step_run(snapshot, position, at, directory)
        yield run
        count += 1
        position, at = run.position, run.next_at
