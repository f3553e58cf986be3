"""Hours on call for pay and fairness (issue 15 point 7): per person and rotation over a
range, split business / off / sleep by `reports.stats.hours_split` (the one classifier),
with the pages they received and the incidents those were about while on call, and the
hours they covered by override (counted for whoever covered).

A read: rotations and members, overrides, pages — three queries (plus the rotations'
members) whatever the range or the number of rotations.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incidents.models import TimelineEvent, TimelineKind
from oncall.models import User
from reports.stats import BUSINESS, OFF, SLEEP, business_hours, hours_split
from rotations import resolver
from rotations.models import Rotation
from rotations.selectors import (
    override_specs,
    overrides_between,
    rotation_spec,
    rotations_with_members,
    users_of,
)

# The longest range asked for at once (a year, a leap day included).
HOURS_RANGE_MAX_DAYS = 366


@dataclass
class HoursRow:
    user: User
    rotation: Rotation
    total: timedelta = timedelta(0)
    business: timedelta = timedelta(0)
    off: timedelta = timedelta(0)
    sleep: timedelta = timedelta(0)
    override: timedelta = timedelta(0)
    pages: int = 0
    incident_ids: set[int] = field(default_factory=set)

    @property
    def incidents(self) -> int:
        return len(self.incident_ids)


def _pages(
    user_ids: Iterable[int], lo: datetime, hi: datetime
) -> dict[int, list[tuple[datetime, int]]]:
    by_user: dict[int, list[tuple[datetime, int]]] = {}
    rows = TimelineEvent.objects.filter(
        kind=TimelineKind.PAGED, at__gte=lo, at__lt=hi, data__user_id__in=list(user_ids)
    ).values_list("at", "incident_id", "data__user_id")
    for at, incident_id, user_id in rows:
        by_user.setdefault(int(user_id), []).append((at, incident_id))
    return by_user


def hours_oncall(
    *,
    start: datetime,
    end: datetime,
    team_id: int | None = None,
    rotations: list[Rotation] | None = None,
    with_pages: bool = True,
    with_split: bool = True,
) -> list[HoursRow]:
    """Each (person, rotation) on call within [start, end), sorted by person and rotation.

    `rotations`: already read with their members (`rotations_with_members`), else read here;
    `with_pages=False` leaves the pages out (insights counts its own, one query fewer);
    `with_split=False` leaves business / off / sleep at zero (insights needs the totals)."""
    if rotations is not None:
        found = [r for r in rotations if team_id is None or r.team_id == team_id]
    else:
        queryset = Rotation.objects.select_related("team")
        if team_id is not None:
            queryset = queryset.filter(team_id=team_id)
        found = list(rotations_with_members(queryset))
    overrides = overrides_between([r.pk for r in found], start, end)
    rows: dict[tuple[int, int], HoursRow] = {}
    segments: list[tuple[HoursRow, resolver.Shift]] = []
    for rotation in found:
        people = users_of(rotation, overrides[rotation.pk])
        spec = rotation_spec(rotation)
        for seg in resolver.shifts_between(
            spec, override_specs(overrides[rotation.pk]), start, end
        ):
            person = people.get(seg.user)
            if person is None:
                continue
            row = rows.setdefault((person.pk, rotation.pk), HoursRow(person, rotation))
            if with_split:
                split = hours_split(
                    seg.start,
                    seg.end,
                    person_tz=person.tzinfo,
                    business=business_hours(rotation, person.tzinfo),
                )
                row.business += split[BUSINESS]
                row.off += split[OFF]
                row.sleep += split[SLEEP]
            row.total += seg.end - seg.start
            if seg.override:
                row.override += seg.end - seg.start
            segments.append((row, seg))
    pages = _pages({user_id for user_id, _ in rows}, start, end) if with_pages else {}
    for row, seg in segments:
        for at, incident_id in pages.get(row.user.pk, []):
            if seg.start <= at < seg.end:
                row.pages += 1
                row.incident_ids.add(incident_id)
    return sorted(rows.values(), key=lambda r: (r.user.name.lower(), r.rotation.label))


def hours_number(value: timedelta) -> str:
    """Hours with two decimals (the CSV's and the page's unit)."""
    return f"{value.total_seconds() / 3600:.2f}"
