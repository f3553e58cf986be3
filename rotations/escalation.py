"""What an escalation policy would do if nobody acknowledged: the dry run managers read.

The escalation engine (incidents) runs policies step by step from a snapshot; this module
computes the whole plan up front from the same rules, so a manager can check a policy.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.models import User
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

# A plan never grows without bound even for a long list with many repeats.
MAX_PLANNED_PAGES = 500
# Overrides further out than this cannot matter to a plan that people read in minutes.
PLAN_HORIZON = timedelta(days=31)


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
    """Every page the policy would send from `at` if nobody ever acknowledges."""
    steps = list(
        policy.steps.select_related(
            "rotation__team", "policy__team__escalation_contact"
        ).prefetch_related("users")
    )
    rotation_ids = {s.rotation_id for s in steps if s.rotation_id}
    rotations = {r.pk: r for r in rotations_with_members().filter(pk__in=rotation_ids)}
    team_members = list(policy.team.members.all())
    overrides = overrides_between(list(rotation_ids), at, at + PLAN_HORIZON)
    plan: list[PlannedPage] = []
    offset = timedelta()
    for repeat in range(policy.repeat + 1):
        for number, step in enumerate(steps, start=1):
            for user, reason in _step_targets(
                step, rotations, overrides, team_members, at + offset
            ):
                if len(plan) >= MAX_PLANNED_PAGES:
                    return plan
                plan.append(PlannedPage(offset, user, number, repeat, reason))
                if step.action == StepAction.WALK_ROTATION:
                    offset += step.wait
            if step.action != StepAction.WALK_ROTATION:
                offset += step.wait
    return plan


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


def _step_targets(
    step: EscalationStep,
    rotations: dict[int, Rotation],
    overrides: dict[int, list[Override]],
    team_members: list[User],
    when: datetime,
) -> list[tuple[User | None, str]]:
    if step.action in (StepAction.ROTATION_ONCALL, StepAction.WALK_ROTATION):
        assert step.rotation_id is not None  # EscalationStep.clean requires it for these actions
        rotation = rotations[step.rotation_id]
        if step.action == StepAction.ROTATION_ONCALL:
            return [rotation_oncall_target(rotation, overrides[rotation.pk], when)]
        return list(rotation_walk(rotation, overrides[rotation.pk], when))
    if step.action == StepAction.USERS:
        return [(u, "named in the policy") for u in step.users.all()]
    if step.action == StepAction.TEAM:
        return [(u, f"member of {step.policy.team.name}") for u in team_members]
    return [escalation_contact_target(step.policy.team)]


# --- the same steps in plain words (the incident page, the team page, the admin) -----------

ESCALATION_CONTACT_ROLE = "the CPE manager"


def wait_words(wait: timedelta) -> str:
    """10 minutes, 1 hour 30 minutes, 45 seconds: a step's wait as people say it."""
    total = int(wait.total_seconds())
    if total <= 0:
        return "no wait"
    parts = []
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts)


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
