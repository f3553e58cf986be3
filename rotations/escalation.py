"""What an escalation policy would do if nobody acknowledged: the dry run managers read,
and the frozen copy of a policy the engine (incidents) escalates from.

Both walk the policy with `rotations.stepping`: the dry run freezes the policy at `at`
exactly as a trigger does (`policy_snapshot`) and steps it as the engine will, so the plan
shows the pages the engine sends, person for person and second for second.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.memo import memoized
from oncall.models import User
from oncall.words import duration_words
from rotations import resolver
from rotations.models import (
    EscalationPolicy,
    EscalationStep,
    Override,
    Rotation,
    StepAction,
    Team,
)
from rotations.selectors import (
    override_specs,
    overrides_between,
    rotation_spec,
    rotations_with_members,
    users_of,
)
from rotations.stepping import (
    FrozenStep,
    Nobody,
    Paged,
    PolicySnapshot,
    Position,
    Target,
    step_plan,
)

# A plan never grows without bound even for a long list with many repeats.
MAX_PLANNED_PAGES = 500
# Overrides further out than this cannot matter to a plan that people read in minutes.
PLAN_HORIZON = timedelta(days=31)
# The instant used to ask "who covers at t" of the overrides.
INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class PlannedPage:
    offset: timedelta
    user: User | None  # None: the step has nobody to page (shown as a warning)
    step: int  # 1-based step number
    repeat: int  # 0 for the first pass
    reason: str

    @property
    def minute(self) -> float:
        return self.offset.total_seconds() / 60


def policy_plan(*, policy: EscalationPolicy, at: datetime) -> list[PlannedPage]:
    """Every page the policy would send from `at` if nobody ever acknowledges: the policy
    frozen at `at` as a trigger freezes it, then stepped as the engine steps it."""
    rows = _policy_rows(policy)
    overrides = overrides_between(list(rows.rotations), at, at + PLAN_HORIZON)
    snapshot = _freeze(policy, rows, overrides, at)
    people = {u.pk: u for u in rows.people()}
    for rotation_overrides in overrides.values():
        people.update({o.user_id: o.user for o in rotation_overrides})
    directory = RotaDirectory(people, rows.rotations, overrides)
    plan: list[PlannedPage] = []
    for run in step_plan(snapshot, Position(), at, directory):
        for happening in run.happened:
            if isinstance(happening, Paged | Nobody):
                if len(plan) >= MAX_PLANNED_PAGES:
                    return plan
                user = people[happening.user_id] if isinstance(happening, Paged) else None
                where = happening.position
                plan.append(
                    PlannedPage(run.at - at, user, where.step + 1, where.repeat, happening.reason)
                )
    return plan


# --- the policy frozen at trigger -----------------------------------------------------------


@dataclass(frozen=True)
class _PolicyRows:
    """What a snapshot reads of a policy: its steps (with their people), the rotations they
    name (with ordered members), its team and, when a step pages the team, its members."""

    steps: list[EscalationStep]
    rotations: dict[int, Rotation]
    team: Team
    team_members: list[User]

    def people(self) -> Iterable[User]:
        for step in self.steps:
            yield from step.users.all()
        yield from self.team_members
        if self.team.escalation_contact is not None:
            yield self.team.escalation_contact
        for rotation in self.rotations.values():
            yield from (m.user for m in getattr(rotation, "ordered_members", []))


def _policy_rows(policy: EscalationPolicy) -> _PolicyRows:
    def read() -> _PolicyRows:
        steps = list(
            policy.steps.select_related("policy__team__escalation_contact").prefetch_related(
                "users"
            )
        )
        rotation_ids = {s.rotation_id for s in steps if s.rotation_id}
        rotations = (
            {r.pk: r for r in rotations_with_members().filter(pk__in=rotation_ids)}
            if rotation_ids
            else {}
        )
        team = steps[0].policy.team if steps else policy.team
        pages_team = any(s.action == StepAction.TEAM for s in steps)
        members = list(team.members.all()) if pages_team else []
        return _PolicyRows(steps, rotations, team, members)

    return memoized(("policy_rows", policy.pk), read)


def frozen_step(
    *,
    action: str,
    wait: timedelta,
    at: datetime,
    rotation: Rotation | None = None,
    overrides: list[Override] | None = None,
    targets: list[tuple[User | None, str]] | None = None,
    label: str = "",
) -> FrozenStep:
    """One frozen step. Walks and named people are resolved now; a rotation's on-call is
    resolved when the step runs (whoever is on call at that instant). `overrides`: the
    rotation's overrides around `at` (read here when not given)."""
    walk: tuple[Target, ...] = ()
    frozen: tuple[Target, ...] = ()
    if action == StepAction.WALK_ROTATION and rotation is not None:
        if overrides is None:
            overrides = overrides_between([rotation.pk], at, at + INSTANT)[rotation.pk]
        walk = tuple(Target(u.pk, why) for u, why in rotation_walk(rotation, overrides, at))
    elif targets is not None:
        frozen = tuple(Target(u.pk if u else None, why) for u, why in targets)
    return FrozenStep(
        action=action,
        wait=wait,
        rotation_id=rotation.pk if rotation else None,
        targets=frozen,
        walk=walk,
        label=label,
    )


def _freeze(
    policy: EscalationPolicy,
    rows: _PolicyRows,
    overrides: dict[int, list[Override]],
    at: datetime,
) -> PolicySnapshot:
    team = rows.team
    steps = []
    for step in rows.steps:
        rotation = rows.rotations.get(step.rotation_id) if step.rotation_id else None
        targets: list[tuple[User | None, str]] | None = None
        if step.action == StepAction.USERS:
            targets = [(u, "named in the policy") for u in step.users.all()]
        elif step.action == StepAction.TEAM:
            targets = [(u, f"member of {team.name}") for u in rows.team_members]
        elif step.action == StepAction.ESCALATION_CONTACT:
            targets = [escalation_contact_target(team)]
        steps.append(
            frozen_step(
                action=step.action,
                wait=step.wait,
                at=at,
                rotation=rotation,
                overrides=overrides.get(rotation.pk, []) if rotation else None,
                targets=targets,
                label=str(step),
            )
        )
    return PolicySnapshot(
        name=policy.name, steps=tuple(steps), repeat=policy.repeat, policy_id=policy.pk
    )


def policy_snapshot(*, policy: EscalationPolicy, at: datetime) -> PolicySnapshot:
    """Freeze a policy's steps at `at` (the trigger)."""
    rows = _policy_rows(policy)
    walked = [
        s.rotation_id
        for s in rows.steps
        if s.action == StepAction.WALK_ROTATION and s.rotation_id in rows.rotations
    ]
    overrides = overrides_between(walked, at, at + INSTANT) if walked else {}
    return _freeze(policy, rows, overrides, at)


# --- who is there when a step runs ------------------------------------------------------------


class RotaDirectory:
    """`rotations.stepping.Directory` over loaded rows: people by id, rotations (with their
    members) and their overrides. People found on call are added to `users`."""

    def __init__(
        self,
        users: dict[int, User],
        rotations: dict[int, Rotation],
        overrides: dict[int, list[Override]],
    ) -> None:
        self.users = users
        self.rotations = rotations
        self.overrides = overrides

    def on_call(self, rotation_id: int, at: datetime) -> Target | None:
        rotation = self.rotations.get(rotation_id)
        if rotation is None:
            return None
        user, why = rotation_oncall_target(rotation, self.overrides.get(rotation_id, []), at)
        if user is None:
            return Target(None, why)
        self.users.setdefault(user.pk, user)
        return Target(user.pk, why)

    def present(self, user_id: int) -> bool:
        return user_id in self.users


def rota_directory(
    snapshots: Iterable[PolicySnapshot],
    *,
    start: datetime,
    until: datetime,
    every_rotation: bool = False,
) -> RotaDirectory:
    """The people the snapshots name, the rotations whose on-call they ask for (or, with
    `every_rotation`, every rotation they name) and those rotations' overrides overlapping
    [start, until): at most four queries, however many snapshots."""
    user_ids: set[int] = set()
    rotation_ids: set[int] = set()
    for snapshot in snapshots:
        for step in snapshot.steps:
            user_ids.update(t.user_id for t in step.targets if t.user_id)
            user_ids.update(t.user_id for t in step.walk if t.user_id)
            asks = every_rotation or step.action == StepAction.ROTATION_ONCALL
            if asks and step.rotation_id:
                rotation_ids.add(step.rotation_id)
    users: dict[int, User] = User.objects.in_bulk(list(user_ids)) if user_ids else {}
    rotations: dict[int, Rotation] = {}
    overrides: dict[int, list[Override]] = {}
    if rotation_ids:
        rotations = {r.pk: r for r in rotations_with_members().filter(pk__in=rotation_ids)}
        overrides = overrides_between(list(rotations), start, until) if rotations else {}
    return RotaDirectory(users, rotations, overrides)


# --- the people of a step ------------------------------------------------------------------


def rotation_oncall_target(
    rotation: Rotation, overrides: list[Override], when: datetime
) -> tuple[User | None, str]:
    """Who a "page the on-call" step pages at `when` (None in a gap), and why.

    `rotation` has its members prefetched (rotations_with_members); `overrides` are the
    rotation's overrides around `when`.
    """
    current = resolver.oncall_at(rotation_spec(rotation), override_specs(overrides), when)
    if current is None:
        return None, f"nobody is on call for {rotation} (a gap)"
    why = "covering by override" if current.override else "on call"
    return users_of(rotation, overrides)[current.user], f"{why} for {rotation}"


def rotation_walk(
    rotation: Rotation, overrides: list[Override], when: datetime
) -> list[tuple[User, str]]:
    """The order a "walk the list" step pages in from `when`: the on-call (an overriding
    person first), then the next people on the list, each once."""
    spec = rotation_spec(rotation)
    current = resolver.oncall_at(spec, override_specs(overrides), when)
    walk = resolver.members_from(spec, when)
    if current is not None and current.override:
        walk = [current.user, *[u for u in walk if u != current.user]]
    users = users_of(rotation, overrides)
    return [
        (users[uid], f"{'on call' if i == 0 else f'next on the list ({i + 1})'} for {rotation}")
        for i, uid in enumerate(walk)
    ]


def escalation_contact_target(team: Team) -> tuple[User | None, str]:
    contact = team.escalation_contact
    if contact is None:
        return None, f"{team.name} has no escalation contact"
    return contact, f"escalation contact of {team.name} (the list ran out)"


# --- the same steps in plain words (the incident page, the team page, the admin) -----------

ESCALATION_CONTACT_ROLE = "the CPE manager"


def wait_words(wait: timedelta) -> str:
    """10 minutes, 1 hour 30 minutes, 45 seconds: a step's wait as people say it."""
    return "no wait" if wait <= timedelta(0) else duration_words(wait)


def people_words(names: list[str]) -> str:
    """'Alice', 'Alice and Bob', 'Alice, Bob and Carol'."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def contact_words(name: str | None) -> str:
    return (
        f"{ESCALATION_CONTACT_ROLE} {name}" if name else f"{ESCALATION_CONTACT_ROLE} (nobody set)"
    )


def step_words(
    *,
    action: str,
    wait: timedelta,
    rotation: str | None = None,
    people: list[str] | None = None,
    team: str = "",
    contact: str | None = None,
) -> str:
    """One step of a policy in plain words, with what it waits for before the next step.

    Names are passed in (not rows), so the engine's frozen snapshots and the saved policy
    are described by the same sentence."""
    if action == StepAction.WALK_ROTATION:
        where = rotation or "a rotation that no longer exists"
        if wait > timedelta(0):
            return f"Page each person on the {where} list in turn, {wait_words(wait)} apart"
        return f"Page everyone on the {where} list at once"
    if action == StepAction.ROTATION_ONCALL:
        what = f"Page whoever is on call for {rotation or 'a rotation that no longer exists'}"
    elif action == StepAction.USERS:
        what = f"Page {people_words(people or []) or 'the named people (none left)'}"
    elif action == StepAction.TEAM:
        what = f"Page everyone on {team or 'the team'}"
    else:
        what = f"Page {contact_words(contact)}"
    if wait > timedelta(0):
        return f"{what}, then wait {wait_words(wait)}"
    return what


def policy_step_words(step: EscalationStep) -> str:
    """A saved step in words (steps read with rotation__team, users and the policy's team)."""
    team = step.policy.team
    contact = team.escalation_contact
    return step_words(
        action=step.action,
        wait=step.wait,
        rotation=str(step.rotation) if step.rotation_id and step.rotation else None,
        people=[u.name for u in step.users.all()],
        team=team.name,
        contact=contact.name if contact else None,
    )
