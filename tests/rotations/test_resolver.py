"""Tests for the pure on-call resolver (no Django, no DB)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from time import perf_counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rotations.resolver import (
    OverrideSpec,
    RotationSpec,
    Shift,
    WorkingHours,
    coverage_gaps,
    intended_gaps,
    members_from,
    next_member,
    oncall_at,
    shift_boundary,
    shift_index_at,
    shifts_between,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
WEEK = timedelta(days=7)
US = timedelta(microseconds=1)
MON_FRI = frozenset(range(5))


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def weekly_ny(members: tuple[int, ...] = (1, 2, 3)) -> RotationSpec:
    """Weekly Monday 09:00 America/New_York rotation starting Monday 2026-01-05."""
    return RotationSpec(members, date(2026, 1, 5), time(9), NY, WEEK)


# --------------------------------------------------------------------------- examples


def test_weekly_handoff_stays_at_local_0900_across_both_2026_dst_changes() -> None:
    spec = weekly_ny()
    # March 8 2026: EST -> EDT. Mon Mar 2 is shift 8, Mon Mar 9 is shift 9.
    assert shift_boundary(spec, 8) == utc(2026, 3, 2, 14)
    assert shift_boundary(spec, 9) == utc(2026, 3, 9, 13)
    assert shift_boundary(spec, 9) - shift_boundary(spec, 8) == timedelta(hours=167)
    # November 1 2026: EDT -> EST. Shifts 42 (Oct 26) and 43 (Nov 2).
    assert shift_boundary(spec, 42) == utc(2026, 10, 26, 13)
    assert shift_boundary(spec, 43) == utc(2026, 11, 2, 14)
    assert shift_boundary(spec, 43) - shift_boundary(spec, 42) == timedelta(hours=169)
    for k in (8, 9, 42, 43):
        local = shift_boundary(spec, k).astimezone(NY)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
    # Handoff exactly at 09:00 EDT, i.e. 13:00 UTC: the previous member until then.
    before = oncall_at(spec, [], utc(2026, 3, 9, 12, 59))
    after = oncall_at(spec, [], utc(2026, 3, 9, 13))
    assert before is not None
    assert after is not None
    assert (before.index, before.user, after.index, after.user) == (8, 3, 9, 1)
    assert before.end == after.start == utc(2026, 3, 9, 13)


def test_fourteen_day_sprint_rotation() -> None:
    spec = RotationSpec((10, 20, 30), date(2026, 1, 5), time(10), LONDON, timedelta(days=14))
    start = utc(2026, 1, 5, 10)
    expected = [(0, 10), (13, 10), (14, 20), (27, 20), (28, 30), (42, 10), (56, 20)]
    for day, user in expected:
        shift = oncall_at(spec, [], start + timedelta(days=day, hours=1))
        assert shift is not None
        assert shift.user == user, day
        assert shift.index == (day // 14)
        assert shift.end - shift.start == timedelta(days=14)


def test_twelve_hour_rotation_is_fixed_elapsed_across_dst() -> None:
    spec = RotationSpec((1, 2), date(2026, 3, 7), time(8), NY, timedelta(hours=12))
    b0 = shift_boundary(spec, 0)
    assert b0 == utc(2026, 3, 7, 13)
    assert shift_boundary(spec, 2) == b0 + timedelta(hours=24)
    # After the spring-forward the elapsed handoff lands at 09:00 local, not 08:00.
    assert shift_boundary(spec, 2).astimezone(NY).hour == 9
    users = [oncall_at(spec, [], b0 + timedelta(hours=h)) for h in (0, 11.99, 12, 24, 36)]
    assert [s.user if s else None for s in users] == [1, 1, 2, 1, 2]


def test_before_start_nobody_is_on_call() -> None:
    spec = weekly_ny()
    assert oncall_at(spec, [], ny(2026, 1, 5, 8, 59)) is None
    assert shift_index_at(spec, ny(2026, 1, 5, 8, 59)) is None
    assert shift_index_at(spec, ny(2026, 1, 5, 9)) == 0
    first = oncall_at(spec, [], ny(2026, 1, 5, 9))
    assert first is not None
    assert first.user == 1
    assert coverage_gaps(spec, [], ny(2026, 1, 1), ny(2026, 1, 6)) == [
        (ny(2026, 1, 1).astimezone(UTC), utc(2026, 1, 5, 14))
    ]


def test_spring_forward_and_fall_back_handoff_times_are_deterministic() -> None:
    gap = RotationSpec((1, 2), date(2026, 3, 6), time(2, 30), NY, timedelta(days=1))
    # 02:30 does not exist on 2026-03-08: fold=0 puts it at 03:30 EDT.
    assert shift_boundary(gap, 2) == utc(2026, 3, 8, 7, 30)
    assert shift_boundary(gap, 3) == utc(2026, 3, 9, 6, 30)
    fold = RotationSpec((1, 2), date(2026, 10, 30), time(1, 30), NY, timedelta(days=1))
    # 01:30 happens twice on 2026-11-01: the first (EDT) occurrence is used.
    assert shift_boundary(fold, 2) == utc(2026, 11, 1, 5, 30)
    for spec in (gap, fold):
        bounds = [shift_boundary(spec, k) for k in range(6)]
        assert all(a < b for a, b in pairwise(bounds))
        assert [shift_index_at(spec, b) for b in bounds] == list(range(6))


def test_next_member_wraps() -> None:
    spec = weekly_ny((1, 2, 3))
    assert [next_member(spec, u) for u in (1, 2, 3)] == [2, 3, 1]
    assert next_member(spec, 99) is None
    assert next_member(weekly_ny(()), 1) is None
    assert next_member(weekly_ny((5,)), 5) == 5


def test_members_from_starts_with_the_oncall_member() -> None:
    spec = weekly_ny((1, 2, 3, 4))
    assert members_from(spec, shift_boundary(spec, 5) + timedelta(days=3)) == [2, 3, 4, 1]
    assert members_from(spec, shift_boundary(spec, 3)) == [4, 1, 2, 3]
    assert members_from(spec, ny(2025, 12, 1)) == [1, 2, 3, 4]  # before start: top of list
    assert members_from(weekly_ny(()), ny(2026, 6, 1)) == []
    dup = weekly_ny((1, 2, 1, 3))
    assert members_from(dup, shift_boundary(dup, 1)) == [2, 1, 3]


def test_working_hours_mon_fri_nine_to_five_new_york() -> None:
    # Rotation in London with Monday-midnight handoffs, working hours in New York.
    hours = WorkingHours(MON_FRI, time(9), time(17), NY)
    spec = RotationSpec((1, 2), date(2026, 1, 5), time(0), LONDON, WEEK, hours)
    assert oncall_at(spec, [], ny(2026, 1, 10, 12)) is None  # Saturday
    tuesday = oncall_at(spec, [], ny(2026, 1, 6, 10))
    assert tuesday == Shift(
        1, ny(2026, 1, 6, 9).astimezone(UTC), ny(2026, 1, 6, 17).astimezone(UTC), False, 0
    )
    assert oncall_at(spec, [], ny(2026, 1, 6, 9)) == tuesday
    assert oncall_at(spec, [], ny(2026, 1, 6, 17)) is None
    assert oncall_at(spec, [], ny(2026, 1, 6, 18)) is None
    assert oncall_at(spec, [], ny(2026, 1, 6, 8, 59)) is None


def test_intended_gaps_are_only_the_uncovered_working_hours() -> None:
    hours = WorkingHours(MON_FRI, time(9), time(17), NY)
    # Nobody on the list: every working window is a gap, nights and the weekend are not.
    empty = RotationSpec((), date(2025, 12, 1), time(9), NY, WEEK, hours)
    lo, hi = ny(2026, 1, 5), ny(2026, 1, 12)
    expected = [
        (ny(2026, 1, d, 9).astimezone(UTC), ny(2026, 1, d, 17).astimezone(UTC))
        for d in range(5, 10)
    ]
    assert intended_gaps(empty, [], lo, hi) == expected
    # Staffed and covered: no intended gaps, though nights are still coverage gaps.
    staffed = RotationSpec((1, 2), date(2025, 12, 1), time(9), NY, WEEK, hours)
    assert intended_gaps(staffed, [], lo, hi) == []
    assert coverage_gaps(staffed, [], lo, hi) != []
    # Without working hours every gap counts: here the days before the rotation starts.
    late = RotationSpec((1,), date(2026, 1, 7), time(9), NY, WEEK)
    assert intended_gaps(late, [], lo, hi) == [
        (lo.astimezone(UTC), ny(2026, 1, 7, 9).astimezone(UTC))
    ]


def test_working_hours_week_has_five_night_gaps_and_a_weekend() -> None:
    hours = WorkingHours(MON_FRI, time(9), time(17), NY)
    spec = RotationSpec((1, 2), date(2025, 12, 1), time(9), NY, WEEK, hours)
    lo, hi = ny(2026, 1, 5), ny(2026, 1, 12)  # Monday 00:00 to next Monday 00:00
    gaps = coverage_gaps(spec, [], lo, hi)
    expected = [(lo, ny(2026, 1, 5, 9))]
    expected += [(ny(2026, 1, d, 17), ny(2026, 1, d + 1, 9)) for d in (5, 6, 7, 8)]
    expected += [(ny(2026, 1, 9, 17), hi)]  # Friday evening through the weekend
    assert gaps == [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in expected]
    segments = shifts_between(spec, [], lo, hi)
    assert [(s.start, s.end) for s in segments] == [
        (ny(2026, 1, d, 9).astimezone(UTC), ny(2026, 1, d, 17).astimezone(UTC))
        for d in range(5, 10)
    ]
    assert {s.user for s in segments} == {2}
    assert {s.index for s in segments} == {5}


def test_working_windows_found_when_local_and_utc_dates_differ() -> None:
    # Evening window in New York: 21:00 NY is already the next day in UTC.
    evening = WorkingHours(frozenset(range(7)), time(18), time(23), NY)
    spec = RotationSpec((1,), date(2026, 1, 1), time(0), NY, WEEK, evening)
    segments = shifts_between(spec, [], ny(2026, 1, 6, 21), ny(2026, 1, 7, 12))
    assert [(s.start, s.end) for s in segments] == [(utc(2026, 1, 7, 2), utc(2026, 1, 7, 4))]
    # Early-morning window in Kolkata: 03:00 IST is still the previous day in UTC.
    kolkata = ZoneInfo("Asia/Kolkata")
    early = WorkingHours(frozenset(range(7)), time(1), time(4), kolkata)
    spec = RotationSpec((1,), date(2026, 1, 1), time(0), kolkata, WEEK, early)
    lo, hi = datetime(2026, 1, 6, tzinfo=kolkata), datetime(2026, 1, 6, 3, tzinfo=kolkata)
    segments = shifts_between(spec, [], lo, hi)
    assert [(s.start, s.end) for s in segments] == [(utc(2026, 1, 5, 19, 30), hi.astimezone(UTC))]


def test_handoff_inside_a_working_window_splits_it() -> None:
    hours = WorkingHours(MON_FRI, time(9), time(17), NY)
    spec = RotationSpec((1, 2), date(2026, 1, 7), time(12), NY, WEEK, hours)
    segments = shifts_between(spec, [], ny(2026, 1, 14), ny(2026, 1, 15))
    assert [
        (s.user, s.index, s.start.astimezone(NY).hour, s.end.astimezone(NY).hour) for s in segments
    ] == [(1, 0, 9, 12), (2, 1, 12, 17)]


def test_override_in_the_middle_of_a_shift() -> None:
    spec = RotationSpec((1, 2), date(2026, 1, 5), time(9), NY, timedelta(days=1))
    ov = OverrideSpec(ny(2026, 1, 5, 12), ny(2026, 1, 5, 14), user=9, replaces=1, id=77)
    probes = ((11, 0), (12, 0), (13, 59), (14, 0))
    before, inside, last, after = (oncall_at(spec, [ov], ny(2026, 1, 5, h, m)) for h, m in probes)
    assert before is not None
    assert (before.user, before.override, before.index) == (1, False, 0)
    expected = Shift(9, utc(2026, 1, 5, 17), utc(2026, 1, 5, 19), True, None, 77)
    assert inside == last == expected
    assert after == before
    segments = shifts_between(spec, [ov], ny(2026, 1, 5, 9), ny(2026, 1, 6, 9))
    assert [(s.user, s.index, s.override_id, s.start, s.end) for s in segments] == [
        (1, 0, None, utc(2026, 1, 5, 14), utc(2026, 1, 5, 17)),
        (9, None, 77, utc(2026, 1, 5, 17), utc(2026, 1, 5, 19)),
        (1, 0, None, utc(2026, 1, 5, 19), utc(2026, 1, 6, 14)),
    ]


def test_overlapping_overrides_later_wins() -> None:
    spec = RotationSpec((1,), date(2026, 1, 1), time(0), ZoneInfo("UTC"), timedelta(days=1))
    a = OverrideSpec(utc(2026, 2, 1, 10), utc(2026, 2, 1, 14), user=7, id=1)
    b = OverrideSpec(utc(2026, 2, 1, 12), utc(2026, 2, 1, 16), user=8, id=2)
    lo, hi = utc(2026, 2, 1, 10), utc(2026, 2, 1, 16)

    def users(ovs: list[OverrideSpec]) -> list[int | None]:
        return [
            getattr(oncall_at(spec, ovs, utc(2026, 2, 1, h)), "user", None) for h in (11, 13, 15)
        ]

    def timeline(ovs: list[OverrideSpec]) -> list[tuple[int, int, int]]:
        return [(s.user, s.start.hour, s.end.hour) for s in shifts_between(spec, ovs, lo, hi)]

    assert users([a, b]) == [7, 8, 8]
    assert timeline([a, b]) == [(7, 10, 12), (8, 12, 16)]
    assert users([b, a]) == [7, 7, 8]
    assert timeline([b, a]) == [(7, 10, 14), (8, 14, 16)]
    inner = OverrideSpec(utc(2026, 2, 1, 12), utc(2026, 2, 1, 13), user=5, id=3)
    outer = OverrideSpec(lo, hi, user=6, id=4)
    assert timeline([outer, inner]) == [(6, 10, 12), (5, 12, 13), (6, 13, 16)]
    assert timeline([inner, outer]) == [(6, 10, 16)]


def test_overrides_cover_before_start_and_outside_working_hours() -> None:
    hours = WorkingHours(MON_FRI, time(9), time(17), NY)
    spec = RotationSpec((1,), date(2026, 1, 5), time(9), NY, WEEK, hours)
    early = OverrideSpec(ny(2026, 1, 1, 0), ny(2026, 1, 2, 0), user=4, id=1)
    weekend = OverrideSpec(ny(2026, 1, 10, 0), ny(2026, 1, 11, 0), user=5, id=2)
    assert getattr(oncall_at(spec, [early, weekend], ny(2026, 1, 1, 12)), "user", None) == 4
    assert getattr(oncall_at(spec, [early, weekend], ny(2026, 1, 10, 3)), "user", None) == 5
    gaps = coverage_gaps(spec, [weekend], ny(2026, 1, 9, 17), ny(2026, 1, 12, 9))
    assert gaps == [
        (ny(2026, 1, 9, 17).astimezone(UTC), ny(2026, 1, 10).astimezone(UTC)),
        (ny(2026, 1, 11).astimezone(UTC), ny(2026, 1, 12, 9).astimezone(UTC)),
    ]


def test_empty_members_only_overrides_cover() -> None:
    spec = weekly_ny(())
    lo, hi = ny(2026, 3, 1), ny(2026, 3, 8)
    assert oncall_at(spec, [], ny(2026, 3, 2, 12)) is None
    assert shifts_between(spec, [], lo, hi) == []
    assert coverage_gaps(spec, [], lo, hi) == [(lo.astimezone(UTC), hi.astimezone(UTC))]
    ov = OverrideSpec(ny(2026, 3, 2), ny(2026, 3, 3), user=3)
    assert [s.user for s in shifts_between(spec, [ov], lo, hi)] == [3]


def test_naive_datetimes_and_bad_specs_raise() -> None:
    spec = weekly_ny()
    naive = datetime(2026, 1, 6, 12)
    aware = ny(2026, 1, 6, 12)
    with pytest.raises(ValueError, match="aware"):
        oncall_at(spec, [], naive)
    with pytest.raises(ValueError, match="aware"):
        shift_index_at(spec, naive)
    with pytest.raises(ValueError, match="aware"):
        shifts_between(spec, [], naive, aware)
    with pytest.raises(ValueError, match="aware"):
        coverage_gaps(spec, [], aware, naive)
    with pytest.raises(ValueError, match="aware"):
        members_from(spec, naive)
    with pytest.raises(ValueError, match="aware"):
        OverrideSpec(naive, aware, user=1)
    with pytest.raises(ValueError, match="after"):
        OverrideSpec(aware, aware, user=1)
    with pytest.raises(ValueError, match="positive"):
        RotationSpec((1,), date(2026, 1, 1), time(9), NY, timedelta(0))
    with pytest.raises(ValueError, match="end > start"):
        WorkingHours(MON_FRI, time(17), time(9), NY)


def test_index_lookup_is_constant_time_for_old_rotations() -> None:
    # 30 years of 6-hour and daily shifts: a linear walk would take seconds per lookup.
    at = datetime(2030, 6, 1, 12, 34, tzinfo=LONDON)
    for length in (timedelta(hours=6), timedelta(days=1)):
        spec = RotationSpec(tuple(range(50)), date(2000, 1, 1), time(9), NY, length)
        began = perf_counter()
        for _ in range(500):
            k = shift_index_at(spec, at)
        assert perf_counter() - began < 0.5
        assert k is not None
        assert shift_boundary(spec, k) <= at < shift_boundary(spec, k + 1)
        assert k > 40_000 if length < timedelta(days=1) else k > 10_000


def test_results_are_utc() -> None:
    spec = weekly_ny()
    shift = oncall_at(spec, [], ny(2026, 2, 1))
    assert shift is not None
    ov = OverrideSpec(ny(2026, 2, 2), ny(2026, 2, 3), user=9)
    covered = oncall_at(spec, [ov], ny(2026, 2, 2, 12))
    assert covered is not None
    stamps = [shift.start, shift.end, covered.start, covered.end]
    for seg in shifts_between(spec, [], ny(2026, 2, 1), ny(2026, 3, 1)):
        stamps += [seg.start, seg.end]
    assert len(stamps) > 4
    assert all(stamp.tzinfo is UTC for stamp in stamps)


# --------------------------------------------------------------------------- properties

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "UTC",
]
LENGTHS = [timedelta(days=d) for d in (1, 7, 14)] + [timedelta(hours=h) for h in (6, 8, 12, 36)]
PROPS = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
zones = st.sampled_from(ZONES).map(ZoneInfo)
wall_times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))


@st.composite
def specs(
    draw: st.DrawFn, hours: bool | None = None, whole_days: bool | None = None
) -> RotationSpec:
    members = tuple(draw(st.lists(st.integers(1, 10_000), min_size=1, max_size=8, unique=True)))
    lengths = (
        LENGTHS
        if whole_days is None
        else [
            length
            for length in LENGTHS
            if (length % timedelta(days=1) == timedelta(0)) == whole_days
        ]
    )
    working = None
    if hours if hours is not None else draw(st.booleans()):
        begin = draw(st.integers(0, 22))
        working = WorkingHours(
            frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
            time(begin, draw(st.sampled_from([0, 30]))),
            time(draw(st.integers(begin + 1, 23)), draw(st.sampled_from([0, 30]))),
            draw(zones),
        )
    return RotationSpec(
        members,
        draw(st.dates(date(2020, 1, 1), date(2030, 12, 31))),
        draw(wall_times),
        draw(zones),
        draw(st.sampled_from(lengths)),
        working,
    )


def draw_window(
    data: st.DataObject, spec: RotationSpec, min_offset: int = -20 * 86400
) -> tuple[datetime, datetime]:
    """A window near the rotation start (possibly before it), expressed in a random tz."""
    base = shift_boundary(spec, 0)
    lo = base + timedelta(seconds=data.draw(st.integers(min_offset, 400 * 86400)))
    hi = lo + timedelta(seconds=data.draw(st.integers(1, 21 * 86400)))
    tz = data.draw(zones)
    return lo.astimezone(tz), hi.astimezone(tz)


def draw_override(data: st.DataObject, lo: datetime, hi: datetime, oid: int) -> OverrideSpec:
    span = int((hi - lo).total_seconds())
    start = lo + timedelta(seconds=data.draw(st.integers(-86400, span + 86400)))
    end = start + timedelta(seconds=data.draw(st.integers(1, 3 * 86400)))
    return OverrideSpec(start, end, user=-oid, id=oid)  # negative users: never members


def covering(segments: list[Shift], t: datetime) -> Shift | None:
    hits = [s for s in segments if s.start <= t < s.end]
    assert len(hits) <= 1
    return hits[0] if hits else None


@PROPS
@given(spec=specs(), data=st.data())
def test_property_segments_and_gaps_tile_the_window(
    spec: RotationSpec, data: st.DataObject
) -> None:
    lo, hi = draw_window(data, spec)
    overrides = [draw_override(data, lo, hi, i) for i in range(data.draw(st.integers(0, 3)))]
    segments = shifts_between(spec, overrides, lo, hi)
    gaps = coverage_gaps(spec, overrides, lo, hi)
    for a, b in pairwise(segments):
        assert a.end <= b.start  # ordered, never overlapping
    for gap, next_gap in pairwise(gaps):
        assert gap[1] < next_gap[0]  # gaps are maximal: two gaps never touch
    pieces = sorted([(s.start, s.end) for s in segments] + gaps)
    assert all(start < end for start, end in pieces)
    assert all(p.tzinfo is UTC for piece in pieces for p in piece)
    assert pieces[0][0] == lo
    assert pieces[-1][1] == hi
    for piece, next_piece in pairwise(pieces):
        assert piece[1] == next_piece[0]
    if spec.working_hours is None and lo >= shift_boundary(spec, 0):
        assert gaps == []
        for a, b in pairwise(segments):
            assert a.end == b.start


@PROPS
@given(spec=specs(hours=False), k0=st.integers(0, 2000))
def test_property_every_member_gets_a_turn_in_order(spec: RotationSpec, k0: int) -> None:
    n = len(spec.members)
    rotated = list(spec.members[k0 % n :] + spec.members[: k0 % n])
    turns = [oncall_at(spec, [], shift_boundary(spec, k0 + i)) for i in range(n)]
    assert [t.user if t else None for t in turns] == rotated
    segments = shifts_between(spec, [], shift_boundary(spec, k0), shift_boundary(spec, k0 + n))
    assert [s.user for s in segments] == rotated
    assert [s.index for s in segments] == list(range(k0, k0 + n))
    assert [(s.start, s.end) for s in segments] == [
        (shift_boundary(spec, k), shift_boundary(spec, k + 1)) for k in range(k0, k0 + n)
    ]


def in_working_hours(spec: RotationSpec, t: datetime, slack: timedelta) -> bool | None:
    """Independent wall-clock oracle: is ``t`` inside a working window widened by ``slack``?

    None when the rotation has no working hours. The slack absorbs DST edge cases
    (non-existent or repeated local times near window edges).
    """
    hours = spec.working_hours
    if hours is None:
        return None
    wall = t.astimezone(hours.tz).replace(tzinfo=None)
    days = (wall.date() + timedelta(days=d) for d in (-1, 0, 1))
    return any(
        day.weekday() in hours.weekdays
        and datetime.combine(day, hours.start) - slack
        <= wall
        < datetime.combine(day, hours.end) + slack
        for day in days
    )


@PROPS
@given(spec=specs(), data=st.data())
def test_property_oncall_at_agrees_with_the_timeline(
    spec: RotationSpec, data: st.DataObject
) -> None:
    lo, hi = draw_window(data, spec)
    overrides = [draw_override(data, lo, hi, i) for i in range(data.draw(st.integers(0, 2)))]
    segments = shifts_between(spec, overrides, lo, hi)
    gaps = coverage_gaps(spec, overrides, lo, hi)
    span = (hi - lo) // US
    probes = [lo + US * data.draw(st.integers(0, span - 1)) for _ in range(5)]
    probes += [s.start for s in segments] + [s.end - US for s in segments]
    probes += [g[0] for g in gaps] + [g[1] - US for g in gaps]
    for t in probes:
        seg, got = covering(segments, t), oncall_at(spec, overrides, t)
        if seg is None:
            assert got is None, t
            # A gap after the start with no override must be outside working hours.
            if t >= shift_boundary(spec, 0) and not any(o.start <= t < o.end for o in overrides):
                assert in_working_hours(spec, t, slack=-timedelta(hours=1)) is False
            continue
        assert got is not None, t
        assert (got.user, got.override, got.index, got.override_id) == (
            seg.user,
            seg.override,
            seg.index,
            seg.override_id,
        )
        assert got.start <= seg.start
        assert seg.end <= got.end
        if not seg.override:
            assert in_working_hours(spec, t, slack=timedelta(hours=1)) is not False
        if not seg.override and not overrides:  # the timeline is the clipped shift piece
            assert (max(got.start, lo), min(got.end, hi)) == (seg.start, seg.end)


@PROPS
@given(spec=specs(), data=st.data())
def test_property_override_replaces_exactly_its_window(
    spec: RotationSpec, data: st.DataObject
) -> None:
    lo, hi = draw_window(data, spec)
    ov = draw_override(data, lo, hi, 42)
    probes = [ov.start - US, ov.start, ov.end - US, ov.end]
    probes += [lo + (hi - lo) * data.draw(st.floats(0, 1)) for _ in range(6)]
    for t in probes:
        got = oncall_at(spec, [ov], t)
        if ov.start <= t < ov.end:
            assert got is not None
            assert got.start.tzinfo is UTC
            assert got == Shift(
                -42, ov.start.astimezone(UTC), ov.end.astimezone(UTC), True, None, 42
            )
        else:
            assert got == oncall_at(spec, [], t)
    # In UTC: an aware datetime in an ambiguous (fall-back) hour never compares equal to one
    # in another zone (PEP 495), whatever instant it names.
    clip = (max(ov.start, lo).astimezone(UTC), min(ov.end, hi).astimezone(UTC))
    with_ov = shifts_between(spec, [ov], lo, hi)
    assert [(s.start, s.end) for s in with_ov if s.override] == (
        [clip] if clip[0] < clip[1] else []
    )
    without = [(s.start, s.end) for s in shifts_between(spec, [], lo, hi)]
    outside = [(s.start, s.end) for s in with_ov if not s.override]
    # Base segments outside the override are untouched or only cut at its edges.
    for start, end in outside:
        assert end <= clip[0] or start >= clip[1]
        assert any(a <= start and end <= b for a, b in without)


@PROPS
@given(spec=specs(), data=st.data())
def test_property_answers_do_not_depend_on_the_query_timezone(
    spec: RotationSpec, data: st.DataObject
) -> None:
    lo, hi = draw_window(data, spec)
    overrides = [draw_override(data, lo, hi, 1)]
    other = data.draw(zones)
    t = lo + (hi - lo) / 2
    moved = t.astimezone(other)
    assert oncall_at(spec, overrides, t) == oncall_at(spec, overrides, moved)
    assert shift_index_at(spec, t) == shift_index_at(spec, moved)
    assert members_from(spec, t) == members_from(spec, moved)
    assert shifts_between(spec, overrides, lo, hi) == shifts_between(
        spec, overrides, lo.astimezone(other), hi.astimezone(UTC)
    )
    assert coverage_gaps(spec, overrides, lo, hi) == coverage_gaps(
        spec, overrides, lo.astimezone(UTC), hi.astimezone(other)
    )


def local_time_exists(day: date, wall: time, tz: ZoneInfo) -> bool:
    naive = datetime.combine(day, wall)
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


@PROPS
@given(spec=specs(whole_days=True), k=st.integers(0, 1500))
def test_property_whole_day_rotations_hand_off_at_local_time(spec: RotationSpec, k: int) -> None:
    boundary = shift_boundary(spec, k)
    day = spec.start_date + k * spec.shift_length
    if local_time_exists(day, spec.handoff_time, spec.tz):
        local = boundary.astimezone(spec.tz)
        assert (local.date(), local.time()) == (day, spec.handoff_time)
    assert shift_boundary(spec, k + 1) > boundary
    assert shift_index_at(spec, boundary) == k
    assert shift_index_at(spec, boundary - US) == (k - 1 if k else None)


@PROPS
@given(spec=specs(), data=st.data())
def test_property_index_brackets_the_instant(spec: RotationSpec, data: st.DataObject) -> None:
    lo, _ = draw_window(data, spec, min_offset=0)
    k = shift_index_at(spec, lo)
    assert k is not None
    assert shift_boundary(spec, k) <= lo < shift_boundary(spec, k + 1)
    if spec.shift_length % timedelta(days=1):
        assert shift_boundary(spec, k + 1) - shift_boundary(spec, k) == spec.shift_length
