"""Reads: who is on call (now or at any instant), shifts, gaps, feeds — with their joins.

Each function fetches what it needs in a fixed number of queries and hands the pure
resolver (rotations.resolver) plain values.
"""

import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q, QuerySet

from oncall.models import User
from rotations import resolver
from rotations.models import (
    Override,
    OverrideRequest,
    OverrideRequestStatus,
    Rotation,
    RotationMember,
    Team,
)


@dataclass(frozen=True)
class OnCall:
    """A rotation's on-call at an instant, with the person resolved to a user."""

    rotation: Rotation
    user: User | None
    start: datetime | None
    end: datetime | None
    override: bool

    @property
    def is_gap(self) -> bool:
        return self.user is None


@dataclass(frozen=True)
class ShiftView:
    """One segment of a rotation's timeline with its user."""

    rotation: Rotation
    user: User
    start: datetime
    end: datetime
    override: bool
    index: int | None
    override_id: int | None

    @property
    def uid(self) -> str:
        """Stable identity of the shift (iCal UID): the rotation, its shift number or override."""
        if self.override_id is not None:
            return f"override-{self.override_id}@oncall"
        return f"rotation-{self.rotation.pk}-shift-{self.index}-{self.start:%Y%m%dT%H%M%SZ}@oncall"


# The user columns pages, feeds, the API and the engine read; loading only these keeps
# "who is on call" cheap for long lists (no password hashes, no permission columns).
USER_FIELDS = (
    "id",
    "username",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "phone",
    "timezone",
    "is_active",
)


def rotations_with_members(queryset: QuerySet[Rotation] | None = None) -> QuerySet[Rotation]:
    """Rotations with team and ordered members (and their users) in three queries."""
    queryset = queryset if queryset is not None else Rotation.objects.all()
    return queryset.select_related("team").prefetch_related(
        Prefetch(
            "members",
            queryset=RotationMember.objects.select_related("user")
            .only("rotation_id", "position", *(f"user__{f}" for f in USER_FIELDS))
            .order_by("position", "id"),
            to_attr="ordered_members",
        )
    )


def rotation_spec(rotation: Rotation) -> resolver.RotationSpec:
    """The resolver's view of a rotation (uses `ordered_members` when prefetched)."""
    members = getattr(rotation, "ordered_members", None)
    if members is None:
        members = list(rotation.members.select_related("user").order_by("position", "id"))
    hours = None
    if rotation.working_hours_start is not None and rotation.working_hours_end is not None:
        hours = resolver.WorkingHours(
            weekdays=frozenset(rotation.working_days or range(7)),
            start=rotation.working_hours_start,
            end=rotation.working_hours_end,
            tz=zoneinfo.ZoneInfo(rotation.working_hours_timezone or rotation.timezone),
        )
    return resolver.RotationSpec(
        members=tuple(m.user_id for m in members),
        start_date=rotation.start_date,
        handoff_time=rotation.handoff_time,
        tz=zoneinfo.ZoneInfo(rotation.timezone),
        shift_length=rotation.shift_length,
        working_hours=hours,
    )


def override_specs(overrides: Iterable[Override]) -> list[resolver.OverrideSpec]:
    # Oldest first: where overrides overlap, the one made last wins.
    ordered = sorted(overrides, key=lambda o: (o.created_at, o.pk))
    return [
        resolver.OverrideSpec(
            start=o.start, end=o.end, user=o.user_id, replaces=o.replaces_id, id=o.pk
        )
        for o in ordered
    ]


def overrides_between(
    rotation_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, list[Override]]:
    """Overrides of these rotations that overlap [start, end), by rotation id (one query)."""
    by_rotation: dict[int, list[Override]] = {rid: [] for rid in rotation_ids}
    rows = Override.objects.filter(
        rotation_id__in=rotation_ids, start__lt=end, end__gt=start
    ).select_related("user")
    for override in rows:
        by_rotation[override.rotation_id].append(override)
    return by_rotation


def users_of(rotation: Rotation, overrides: Iterable[Override]) -> dict[int, User]:
    users = {m.user_id: m.user for m in getattr(rotation, "ordered_members", [])}
    users.update({o.user_id: o.user for o in overrides})
    return users


def _oncall(rotation: Rotation, overrides: list[Override], at: datetime) -> OnCall:
    found = resolver.oncall_at(rotation_spec(rotation), override_specs(overrides), at)
    if found is None:
        return OnCall(rotation, None, None, None, False)
    return OnCall(
        rotation, users_of(rotation, overrides)[found.user], found.start, found.end, found.override
    )


def oncall_for_rotations(rotations: Sequence[Rotation], at: datetime) -> list[OnCall]:
    """Who is on call on each (prefetched) rotation at `at`: one query for the overrides."""
    overrides = overrides_between([r.pk for r in rotations], at, at + timedelta(microseconds=1))
    return [_oncall(rotation, overrides[rotation.pk], at) for rotation in rotations]


def team_oncall(*, team_slug: str, at: datetime) -> list[OnCall]:
    """Each tier × position of a team at `at` (three queries: rotations, members, overrides)."""
    rotations = list(rotations_with_members(Rotation.objects.filter(team__slug=team_slug)))
    return oncall_for_rotations(rotations, at)


@dataclass(frozen=True)
class TeamOnCall:
    team: Team
    now: list[OnCall]
    next: list[OnCall]  # at each rotation's next handoff (same order as `now`)


def next_handoff(current: OnCall, at: datetime) -> datetime:
    """When the on-call of `current` next changes hands: the shift's end, or the next boundary."""
    if current.end is not None:
        return current.end
    spec = rotation_spec(current.rotation)
    k = resolver.shift_index_at(spec, at)
    return resolver.shift_boundary(spec, 0 if k is None else k + 1)


def oncall_overview(*, at: datetime) -> list[TeamOnCall]:
    """Every team: who is on call now and who takes over at the next handoff (4 queries)."""
    teams = list(Team.objects.prefetch_related("direct_numbers").order_by("name"))
    rotations = list(rotations_with_members())
    now = oncall_for_rotations(rotations, at)
    handoffs = [next_handoff(current, at) for current in now]
    horizon = max(handoffs, default=at) + timedelta(microseconds=1)
    overrides = overrides_between([r.pk for r in rotations], at, horizon)
    by_team: dict[int, tuple[list[OnCall], list[OnCall]]] = {t.pk: ([], []) for t in teams}
    for current, handoff in zip(now, handoffs, strict=True):
        rotation = current.rotation
        by_team[rotation.team_id][0].append(current)
        by_team[rotation.team_id][1].append(_oncall(rotation, overrides[rotation.pk], handoff))
    return [TeamOnCall(team, *by_team[team.pk]) for team in teams]


def rotation_shifts(*, rotation: Rotation, start: datetime, end: datetime) -> list[ShiftView]:
    """The timeline of one rotation in [start, end), overrides applied."""
    if not hasattr(rotation, "ordered_members"):
        rotation = rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).get()
    overrides = overrides_between([rotation.pk], start, end)[rotation.pk]
    users = users_of(rotation, overrides)
    segments = resolver.shifts_between(
        rotation_spec(rotation), override_specs(overrides), start, end
    )
    return [
        ShiftView(rotation, users[s.user], s.start, s.end, s.override, s.index, s.override_id)
        for s in segments
    ]


def rotation_gaps(
    *, rotation: Rotation, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Stretches in [start, end) when nobody covers the rotation."""
    if not hasattr(rotation, "ordered_members"):
        rotation = rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).get()
    overrides = overrides_between([rotation.pk], start, end)[rotation.pk]
    return resolver.coverage_gaps(rotation_spec(rotation), override_specs(overrides), start, end)


def user_shifts(*, user: User, start: datetime, end: datetime) -> list[ShiftView]:
    """A person's own shifts across every rotation they are in or cover by override."""
    rotation_ids = set(
        RotationMember.objects.filter(user=user).values_list("rotation_id", flat=True)
    )
    rotation_ids |= set(
        Override.objects.filter(user=user, start__lt=end, end__gt=start).values_list(
            "rotation_id", flat=True
        )
    )
    shifts: list[ShiftView] = []
    for rotation in rotations_with_members(Rotation.objects.filter(pk__in=rotation_ids)):
        shifts += [
            s
            for s in rotation_shifts(rotation=rotation, start=start, end=end)
            if s.user.pk == user.pk
        ]
    return sorted(shifts, key=lambda s: (s.start, s.rotation.pk))


def user_holds_window(
    *,
    user_id: int,
    rotation: Rotation,
    start: datetime,
    end: datetime,
    ignore_override_ids: Sequence[int] = (),
) -> bool:
    """Whether `user_id` is on call on `rotation` for the whole of [start, end), overrides
    applied (ignoring the ones named, e.g. the override being changed); two queries."""
    if end <= start:
        return False
    if not hasattr(rotation, "ordered_members"):
        rotation = rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).get()
    overrides = [
        o
        for o in overrides_between([rotation.pk], start, end)[rotation.pk]
        if o.pk not in ignore_override_ids
    ]
    segments = resolver.shifts_between(
        rotation_spec(rotation), override_specs(overrides), start, end
    )
    covered_until = start
    for segment in segments:
        if segment.user != user_id or segment.start > covered_until:
            return False
        covered_until = max(covered_until, segment.end)
    return covered_until >= end


def next_member(*, rotation: Rotation, user_id: int) -> User | None:
    """The person after `user_id` in the rotation's list ("call the next person")."""
    if not hasattr(rotation, "ordered_members"):
        rotation = rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).get()
    after = resolver.next_member(rotation_spec(rotation), user_id)
    members: list[RotationMember] = getattr(rotation, "ordered_members", [])
    return next((m.user for m in members if m.user_id == after), None)


@dataclass(frozen=True)
class DoubleBooking:
    """A person already on call elsewhere in the team during part of a proposed override."""

    rotation: Rotation
    start: datetime
    end: datetime


def team_bookings_of(
    *,
    user_id: int,
    rotation: Rotation,
    start: datetime,
    end: datetime,
    ignore_override_ids: Sequence[int] = (),
) -> list[DoubleBooking]:
    """Where `user_id` is on call in the other rotations of `rotation`'s team in [start, end).

    Overrides applied (ignoring the ones named, e.g. the override being changed); three
    queries however many rotations the team has.
    """
    others = list(
        rotations_with_members(
            Rotation.objects.filter(team_id=rotation.team_id).exclude(pk=rotation.pk)
        )
    )
    overrides = overrides_between([r.pk for r in others], start, end)
    found: list[DoubleBooking] = []
    for other in others:
        kept = [o for o in overrides[other.pk] if o.pk not in ignore_override_ids]
        segments = resolver.shifts_between(rotation_spec(other), override_specs(kept), start, end)
        found += [DoubleBooking(other, s.start, s.end) for s in segments if s.user == user_id]
    return sorted(found, key=lambda booking: booking.start)


def team_now_and_next(*, team: Team, at: datetime) -> TeamOnCall:
    """One team: each rotation's on-call now and at its next handoff (3 queries)."""
    rotations = list(rotations_with_members(Rotation.objects.filter(team=team)))
    now = oncall_for_rotations(rotations, at)
    handoffs = [next_handoff(current, at) for current in now]
    horizon = max(handoffs, default=at) + timedelta(microseconds=1)
    overrides = overrides_between([r.pk for r in rotations], at, horizon)
    coming = [
        _oncall(current.rotation, overrides[current.rotation.pk], handoff)
        for current, handoff in zip(now, handoffs, strict=True)
    ]
    return TeamOnCall(team, now, coming)


def open_override_requests(*, user: User, now: datetime) -> QuerySet[OverrideRequest]:
    """Pending requests `user` sent or received whose shifts have not begun (one query)."""
    return (
        OverrideRequest.objects.filter(status=OverrideRequestStatus.PENDING)
        .filter(Q(requester=user) | Q(recipient=user))
        .exclude(Q(start__lte=now) | Q(swap_start__lte=now))
        .select_related("rotation__team", "requester", "recipient")
        .order_by("start", "id")
    )
