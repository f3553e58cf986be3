"""On-call resolution: who is on call when, for one rotation plus its overrides.

Pure Python (no Django) so it can be property-tested in isolation and shared by views,
escalation and notification code. Every instant returned is an aware UTC datetime; every
instant accepted may be aware in any timezone, and naive datetimes raise ``ValueError``.

Model (replaces the old spreadsheet: "the name at the top of the list is on call"):

* Handoff ``k`` happens at ``shift_boundary(spec, k)``. Shift ``k`` covers
  ``[boundary(k), boundary(k + 1))`` and belongs to ``members[k % len(members)]``.
* Whole-day shift lengths hand off at the local wall-clock ``handoff_time`` (a weekly shift
  spanning a DST change lasts 167 or 169 hours); other lengths are fixed elapsed durations.
* Working hours, when set, restrict the rotation to local windows; outside them is a gap.
* Overrides beat the rotation for exactly their window (even outside working hours or before
  the rotation starts); where overrides overlap, the one later in the sequence wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)
Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class WorkingHours:
    weekdays: frozenset[int]  # 0=Monday .. 6=Sunday
    start: time  # local wall-clock start (inclusive)
    end: time  # local wall-clock end (exclusive), same day
    tz: ZoneInfo

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError("working hours need end > start (overnight windows unsupported)")
        if not set(self.weekdays) <= set(range(7)):
            raise ValueError(f"weekdays must be within 0..6, got {sorted(self.weekdays)}")


@dataclass(frozen=True, slots=True)
class RotationSpec:
    members: tuple[int, ...]  # ordered; empty means nobody is ever on call
    start_date: date  # first handoff happens on this local date at handoff_time
    handoff_time: time
    tz: ZoneInfo
    shift_length: timedelta
    working_hours: WorkingHours | None = None

    def __post_init__(self) -> None:
        if self.shift_length <= timedelta(0):
            raise ValueError("shift_length must be positive")


@dataclass(frozen=True, slots=True)
class OverrideSpec:
    start: datetime
    end: datetime
    user: int  # who covers
    replaces: int | None = None  # informational only
    id: int | None = None

    def __post_init__(self) -> None:
        if _utc(self.end, "override end") <= _utc(self.start, "override start"):
            raise ValueError("override end must be after its start")


@dataclass(frozen=True, slots=True)
class Shift:
    user: int
    start: datetime  # aware UTC
    end: datetime  # aware UTC
    override: bool  # True when an override put the user there
    index: int | None  # rotation shift number k; None for override segments
    override_id: int | None = None


def _utc(value: datetime, name: str = "datetime") -> datetime:
    """Validate awareness and normalise to UTC.

    Everything internal is UTC because aware datetimes sharing one ZoneInfo compare and
    subtract by wall clock (ignoring fold/offset), which is wrong across DST changes.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def _local_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Wall-clock ``wall`` on ``day`` in ``tz``, as UTC.

    Uses fold=0: an ambiguous (fall-back) time resolves to its first occurrence, and a
    non-existent (spring-forward) time uses the pre-transition offset, i.e. it lands as far
    past the gap as it was into it (02:30 in a 02:00->03:00 gap becomes 03:30). Either way the
    result moves by less than a day, so daily-or-longer handoffs stay strictly increasing.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _whole_days(spec: RotationSpec) -> int | None:
    """Shift length in days when it is a whole number of days (wall-clock handoffs)."""
    return None if spec.shift_length % _DAY else spec.shift_length.days


def shift_boundary(spec: RotationSpec, k: int) -> datetime:
    """UTC instant of handoff ``k`` (k=0 is the rotation start)."""
    days = _whole_days(spec)
    if days is None:
        first = _local_to_utc(spec.start_date, spec.handoff_time, spec.tz)
        return first + k * spec.shift_length
    return _local_to_utc(spec.start_date + timedelta(days=k * days), spec.handoff_time, spec.tz)


def shift_index_at(spec: RotationSpec, at: datetime) -> int | None:
    """The shift number ``k`` with ``boundary(k) <= at < boundary(k + 1)``; None before start.

    O(1): arithmetic estimate, then a correction of at most a step or two, so a rotation
    started years ago costs the same as one started yesterday.
    """
    at = _utc(at, "at")
    first = shift_boundary(spec, 0)
    if at < first:
        return None
    days = _whole_days(spec)
    if days is None:
        return (at - first) // spec.shift_length
    # Estimate from the local calendar date; the time of day of the handoff (and DST) can
    # only put the estimate off by one shift, which the loops below fix.
    elapsed_days = (at.astimezone(spec.tz).date() - spec.start_date).days
    k = max(elapsed_days // days, 0)
    while shift_boundary(spec, k) > at:
        k -= 1
    while shift_boundary(spec, k + 1) <= at:
        k += 1
    return k


def working_windows(hours: WorkingHours, lo: datetime, hi: datetime) -> list[Interval]:
    """Working windows intersecting ``[lo, hi)`` as sorted, disjoint UTC intervals, clipped."""
    out: list[Interval] = []
    first = lo.astimezone(hours.tz).date() - _DAY  # one day of slack each side for offsets
    span = (hi.astimezone(hours.tz).date() - first).days + 1
    for offset in range(span + 1):
        day = first + timedelta(days=offset)
        if day.weekday() not in hours.weekdays:
            continue
        start = max(_local_to_utc(day, hours.start, hours.tz), lo)
        end = min(_local_to_utc(day, hours.end, hours.tz), hi)
        if start >= end:  # outside [lo, hi), or a window swallowed by a DST gap
            continue
        if out and start <= out[-1][1]:  # touching/overlapping (DST quirks): one window
            prev_start, prev_end = out.pop()
            start, end = prev_start, max(prev_end, end)
        out.append((start, end))
    return out


def _intersect[T](
    pieces: list[tuple[datetime, datetime, T]], windows: list[Interval]
) -> list[tuple[datetime, datetime, T]]:
    """Clip tagged, sorted, disjoint pieces to sorted, disjoint windows (two-pointer merge)."""
    out: list[tuple[datetime, datetime, T]] = []
    i = j = 0
    while i < len(pieces) and j < len(windows):
        (p_start, p_end, tag), (w_start, w_end) = pieces[i], windows[j]
        start, end = max(p_start, w_start), min(p_end, w_end)
        if start < end:
            out.append((start, end, tag))
        if p_end <= w_end:
            i += 1
        else:
            j += 1
    return out


def _complement(
    covered: Sequence[tuple[datetime, datetime, object]], lo: datetime, hi: datetime
) -> list[Interval]:
    """Maximal sub-intervals of ``[lo, hi)`` not covered by the sorted, disjoint ``covered``."""
    gaps: list[Interval] = []
    cursor = lo
    for start, end, _ in covered:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < hi:
        gaps.append((cursor, hi))
    return gaps


def _base_pieces(
    spec: RotationSpec, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, int]]:
    """Covered parts of rotation shifts within ``[lo, hi)``, tagged with the shift index."""
    if not spec.members:
        return []
    k = shift_index_at(spec, lo) or 0  # before the start: begin with shift 0
    pieces: list[tuple[datetime, datetime, int]] = []
    start = shift_boundary(spec, k)
    while start < hi:
        end = shift_boundary(spec, k + 1)
        if max(start, lo) < min(end, hi):
            pieces.append((max(start, lo), min(end, hi), k))
        k, start = k + 1, end
    if spec.working_hours is None:
        return pieces
    return _intersect(pieces, working_windows(spec.working_hours, lo, hi))


def _override_pieces(
    overrides: Sequence[OverrideSpec], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, int]]:
    """Visible parts of overrides within ``[lo, hi)``, tagged with their position.

    Later overrides win, so one override may show as several pieces (e.g. when a later one
    sits in its middle). Quadratic in the number of overrides, which is small per window.
    """
    clipped = [(max(_utc(o.start), lo), min(_utc(o.end), hi), i) for i, o in enumerate(overrides)]
    clipped = [c for c in clipped if c[0] < c[1]]
    points = sorted({p for start, end, _ in clipped for p in (start, end)})
    out: list[tuple[datetime, datetime, int]] = []
    for a, b in pairwise(points):
        winner = max((i for start, end, i in clipped if start <= a and b <= end), default=None)
        if winner is None:
            continue
        if out and out[-1][2] == winner and out[-1][1] == a:
            out[-1] = (out[-1][0], b, winner)
        else:
            out.append((a, b, winner))
    return out


def oncall_at(spec: RotationSpec, overrides: Sequence[OverrideSpec], at: datetime) -> Shift | None:
    """Who is on call at ``at``, or None during a gap.

    Returns the source interval: the winning override's whole window, or the rotation shift
    clipped to the working window containing ``at`` (not cut around overrides elsewhere in
    that shift; ``shifts_between`` gives the visible timeline).
    """
    at = _utc(at, "at")
    for o in reversed(overrides):  # later overrides win
        if _utc(o.start) <= at < _utc(o.end):
            return Shift(o.user, _utc(o.start), _utc(o.end), True, None, o.id)
    k = shift_index_at(spec, at)
    if k is None or not spec.members:
        return None
    start, end = shift_boundary(spec, k), shift_boundary(spec, k + 1)
    if spec.working_hours is not None:
        window = next(
            (w for w in working_windows(spec.working_hours, start, end) if w[0] <= at < w[1]),
            None,
        )
        if window is None:
            return None
        start, end = window
    return Shift(spec.members[k % len(spec.members)], start, end, False, k)


def shifts_between(
    spec: RotationSpec, overrides: Sequence[OverrideSpec], start: datetime, end: datetime
) -> list[Shift]:
    """The on-call timeline within ``[start, end)``: ordered, non-overlapping segments.

    One segment per (shift, working window) piece and per visible override piece; rotation
    pieces are cut around overrides. Adjacent segments are never merged.
    """
    lo, hi = _utc(start, "start"), _utc(end, "end")
    if hi <= lo:
        return []
    visible = _override_pieces(overrides, lo, hi)
    base = _intersect(_base_pieces(spec, lo, hi), _complement(visible, lo, hi))
    n = len(spec.members)
    segments = [Shift(spec.members[k % n], s, e, False, k) for s, e, k in base]
    segments += [Shift(overrides[i].user, s, e, True, None, overrides[i].id) for s, e, i in visible]
    segments.sort(key=lambda seg: seg.start)
    return segments


def intended_gaps(
    spec: RotationSpec, overrides: Sequence[OverrideSpec], start: datetime, end: datetime
) -> list[Interval]:
    """Gaps in [start, end) inside the hours the rotation is meant to cover.

    Nights and weekends of a working-hours rotation are by design, not gaps; without
    working hours this is every gap.
    """
    gaps = coverage_gaps(spec, overrides, start, end)
    if spec.working_hours is None:
        return gaps
    windows = working_windows(spec.working_hours, _utc(start), _utc(end))
    return [(lo, hi) for lo, hi, _ in _intersect([(lo, hi, None) for lo, hi in gaps], windows)]


def coverage_gaps(
    spec: RotationSpec, overrides: Sequence[OverrideSpec], start: datetime, end: datetime
) -> list[Interval]:
    """Maximal intervals within ``[start, end)`` where nobody is on call."""
    segments = shifts_between(spec, overrides, start, end)
    lo, hi = _utc(start, "start"), _utc(end, "end")
    if hi <= lo:
        return []
    return _complement([(s.start, s.end, None) for s in segments], lo, hi)


def next_member(spec: RotationSpec, user: int) -> int | None:
    """The member after ``user`` in list order, wrapping ("call the next person on the list").

    Uses the first occurrence if ``user`` is listed twice; a sole member is followed by
    themself. None if ``user`` is not a member.
    """
    if user not in spec.members:
        return None
    return spec.members[(spec.members.index(user) + 1) % len(spec.members)]


def members_from(spec: RotationSpec, at: datetime) -> list[int]:
    """Escalation walk order: the base rotation's member at ``at``, then the following
    members in list order (wrapping), each once.

    Ignores overrides and working hours (it is about list order, not coverage); before the
    rotation starts the walk begins at the top of the list.
    """
    k = shift_index_at(spec, at)
    if not spec.members:
        return []
    first = 0 if k is None else k % len(spec.members)
    ordered = spec.members[first:] + spec.members[:first]
    return list(dict.fromkeys(ordered))
