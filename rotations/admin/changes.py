"""The effect of an unsaved rotation edit on who is on call, in words, before it is saved.

The rotation's page posts its fields and its ordered members; the members formset hands the
unsaved values here, the pure resolver works out the timeline before and after (overrides
applied), and the differences come back as sentences: "Carol replaces Alice as Veteran
secondary now", "From Mon 7 Dec 09:00 EST: Dave instead of Erin (until Mon 14 Dec 09:00 EST)".
"""

from __future__ import annotations

import copy
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from oncall.models import User
from rotations import resolver
from rotations.models import Rotation, RotationMember
from rotations.selectors import (
    override_specs,
    overrides_between,
    rotation_spec,
    rotations_with_members,
)
from rotations.services import role_label

HORIZON = timedelta(weeks=4)
HORIZON_SHIFTS = 4
LONGEST_HORIZON = timedelta(weeks=26)
SENTENCES_SHOWN = 8


@dataclass(frozen=True)
class ChangePreview:
    role: str
    sentences: list[str]
    now_changes: bool  # the person on call right now would change: saving needs a confirmation
    horizon: timedelta

    @property
    def changes(self) -> bool:
        return bool(self.sentences)

    @property
    def horizon_text(self) -> str:
        weeks, days = divmod(self.horizon.days, 7)
        return f"{weeks} weeks" if not days else f"{self.horizon.days} days"


def _when(at: datetime, tz: zoneinfo.ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def _who_at(segments: Sequence[resolver.Shift], at: datetime) -> int | None:
    return next((s.user for s in segments if s.start <= at < s.end), None)


def _name(users: dict[int, User], user_id: int | None) -> str:
    return "nobody" if user_id is None else users[user_id].name


def _now_sentence(role: str, before: str, after: str) -> str:
    if before == "nobody":
        return f"{after} goes on call as {role} now (nobody is on call now)."
    if after == "nobody":
        return f"Nobody is on call as {role} now: {before} is taken off."
    return f"{after} replaces {before} as {role} now."


def rotation_change_preview(
    *, rotation: Rotation, members: Sequence[User], now: datetime
) -> ChangePreview:
    """Who is on call from `now` if `rotation` (unsaved values) had `members` in this order,
    compared with the saved rotation. Raises ValueError/ZoneInfoNotFoundError on bad data."""
    saved = rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).get()
    edited = copy.copy(rotation)
    edited.ordered_members = [  # type: ignore[attr-defined]
        RotationMember(rotation=rotation, user=user, position=i) for i, user in enumerate(members)
    ]
    before_spec, after_spec = rotation_spec(saved), rotation_spec(edited)
    longest = max(before_spec.shift_length, after_spec.shift_length)
    horizon = min(max(HORIZON, HORIZON_SHIFTS * longest), LONGEST_HORIZON)
    end = now + horizon
    overrides = overrides_between([rotation.pk], now, end)[rotation.pk]
    specs = override_specs(overrides)
    before = resolver.shifts_between(before_spec, specs, now, end)
    after = resolver.shifts_between(after_spec, specs, now, end)
    users: dict[int, User] = {m.user_id: m.user for m in saved.ordered_members}  # type: ignore[attr-defined]
    users.update({user.pk: user for user in members})
    users.update({o.user_id: o.user for o in overrides})

    points = sorted({now, end} | {p for s in [*before, *after] for p in (s.start, s.end)})
    changes: list[tuple[datetime, datetime, int | None, int | None]] = []
    for start, stop in pairwise(points):
        pair = (_who_at(before, start), _who_at(after, start))
        if changes and changes[-1][1] == start and changes[-1][2:] == pair:
            changes[-1] = (changes[-1][0], stop, *pair)
        else:
            changes.append((start, stop, *pair))
    differing = [c for c in changes if c[2] != c[3]]

    role = role_label(edited)
    tz = edited.tzinfo
    sentences: list[str] = []
    now_changes = bool(differing) and differing[0][0] == now
    for start, stop, was, becomes in differing[:SENTENCES_SHOWN]:
        old, new = _name(users, was), _name(users, becomes)
        if start == now:
            sentences.append(_now_sentence(role, old, new))
        else:
            sentences.append(
                f"From {_when(start, tz)}: {new} instead of {old} (until {_when(stop, tz)})."
            )
    if len(differing) > SENTENCES_SHOWN:
        sentences.append(f"… and {len(differing) - SENTENCES_SHOWN} more changes.")
    return ChangePreview(role, sentences, now_changes, horizon)
