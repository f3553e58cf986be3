"""The facts of a shift, computed from the record: incidents, pages by the hour they came,
time engaged.

`hour_kind` and `hours_split` are the one classifier of business / off / sleep hours (issue
17's insights reuse them): business is the rotation's working hours when it has them, else
09:00–17:00 Monday–Friday in the person's own zone; sleep is 22:00–08:00 in the person's own
zone; off is the rest. Business hours win where they overlap sleep.
"""

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, TimelineEvent, TimelineKind
from rotations import resolver
from rotations.models import Rotation

BUSINESS = "business"
OFF = "off"
SLEEP = "sleep"
HOUR_KINDS = (BUSINESS, OFF, SLEEP)

DEFAULT_BUSINESS_DAYS = frozenset(range(5))
DEFAULT_BUSINESS_START = time(9)
DEFAULT_BUSINESS_END = time(17)
SLEEP_START = time(22)
SLEEP_END = time(8)


def business_hours(rotation: Rotation | None, person_tz: ZoneInfo) -> resolver.WorkingHours:
    """The rotation's working hours (in their own zone) when it has them, else 09–17 Mon–Fri
    in the person's zone."""
    if rotation is not None and rotation.has_working_hours:
        assert rotation.working_hours_start is not None
        assert rotation.working_hours_end is not None
        return resolver.WorkingHours(
            weekdays=frozenset(rotation.working_days or range(7)),
            start=rotation.working_hours_start,
            end=rotation.working_hours_end,
            tz=ZoneInfo(rotation.working_hours_timezone or rotation.timezone),
        )
    return resolver.WorkingHours(
        weekdays=DEFAULT_BUSINESS_DAYS,
        start=DEFAULT_BUSINESS_START,
        end=DEFAULT_BUSINESS_END,
        tz=person_tz,
    )


def _in_business(at: datetime, hours: resolver.WorkingHours) -> bool:
    local = at.astimezone(hours.tz)
    return local.weekday() in hours.weekdays and hours.start <= local.time() < hours.end


def _in_sleep(at: datetime, person_tz: ZoneInfo) -> bool:
    wall = at.astimezone(person_tz).time()
    return wall >= SLEEP_START or wall < SLEEP_END


def hour_kind(at: datetime, *, person_tz: ZoneInfo, business: resolver.WorkingHours) -> str:
    """business, sleep or off for an aware instant (see the module's docstring)."""
    if _in_business(at, business):
        return BUSINESS
    if _in_sleep(at, person_tz):
        return SLEEP
    return OFF


def _local_midnights(lo: datetime, hi: datetime, tz: ZoneInfo) -> list[date]:
    first = lo.astimezone(tz).date() - timedelta(days=1)
    last = hi.astimezone(tz).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _wall(day: date, wall: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, wall).replace(tzinfo=tz).astimezone(UTC)


def hours_split(
    start: datetime, end: datetime, *, person_tz: ZoneInfo, business: resolver.WorkingHours
) -> dict[str, timedelta]:
    """How much of [start, end) is business, off and sleep time (elapsed time, so a night of
    a DST change is an hour shorter or longer)."""
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    split = dict.fromkeys(HOUR_KINDS, timedelta(0))
    if hi <= lo:
        return split
    # Every instant where the kind may change: edges of business windows and of nights.
    edges = {lo, hi}
    for window_start, window_end in resolver.working_windows(business, lo, hi):
        edges |= {window_start, window_end}
    for day in _local_midnights(lo, hi, person_tz):
        edges |= {_wall(day, SLEEP_START, person_tz), _wall(day, SLEEP_END, person_tz)}
    points = sorted(p for p in edges if lo <= p <= hi)
    for a, b in itertools.pairwise(points):
        split[hour_kind(a, person_tz=person_tz, business=business)] += b - a
    return split


# --- a shift's facts -----------------------------------------------------------------------

ROLES = ("paged", "acknowledged", "commanded", "resolved", "open")


@dataclass(frozen=True)
class ShiftWindow:
    """What stats are computed for: one person on one rotation in [start, end)."""

    key: Any
    rotation: Rotation
    user_id: int
    person_tz: ZoneInfo
    start: datetime
    end: datetime


def _incident_row(incident: Incident, roles: Iterable[str]) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "roles": [r for r in ROLES if r in set(roles)],
    }


def _engaged(incident: Incident, lo: datetime, hi: datetime) -> timedelta:
    """Acknowledged to resolved (or to the end of the window), within the window."""
    if incident.acknowledged_at is None:
        return timedelta(0)
    start = max(incident.acknowledged_at, lo)
    end = min(incident.resolved_at or hi, hi)
    return max(end - start, timedelta(0))


def shifts_stats(
    windows: Sequence[ShiftWindow], *, now: datetime | None = None
) -> dict[Any, dict[str, Any]]:
    """The facts of each window, by its key, in three queries however many windows.

    A window still running counts up to `now`; "open" is every incident of the rotation's
    team triggered before the window's end and not resolved by then (or now).
    """
    now = now or timezone.now()
    if not windows:
        return {}
    lo = min(w.start for w in windows)
    hi = max(min(w.end, now) for w in windows)
    user_ids = {w.user_id for w in windows}
    team_ids = {w.rotation.team_id for w in windows}
    pages = list(
        TimelineEvent.objects.filter(
            kind=TimelineKind.PAGED, at__gte=lo, at__lt=hi, data__user_id__in=list(user_ids)
        ).values_list("incident_id", "at", "data__user_id")
    )
    involved_ids = {incident_id for incident_id, _, _ in pages}
    incidents = {
        i.pk: i
        for i in Incident.objects.filter(
            Q(pk__in=involved_ids)
            | Q(acknowledged_by__in=user_ids, acknowledged_at__gte=lo, acknowledged_at__lt=hi)
            | Q(resolved_by__in=user_ids, resolved_at__gte=lo, resolved_at__lt=hi)
            | Q(commander__in=user_ids, triggered_at__lt=hi)
            | (
                Q(team__in=team_ids, triggered_at__lt=hi)
                & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=lo))
            )
        ).only(
            "id",
            "title",
            "severity",
            "status",
            "team_id",
            "triggered_at",
            "acknowledged_at",
            "acknowledged_by_id",
            "resolved_at",
            "resolved_by_id",
            "commander_id",
        )
    }
    result: dict[Any, dict[str, Any]] = {}
    for w in windows:
        end = min(w.end, now)
        business = business_hours(w.rotation, w.person_tz)
        counts = dict.fromkeys(HOUR_KINDS, 0)
        roles: dict[int, set[str]] = {}
        for incident_id, at, user_id in pages:
            if int(user_id) == w.user_id and w.start <= at < end:
                counts[hour_kind(at, person_tz=w.person_tz, business=business)] += 1
                roles.setdefault(incident_id, set()).add("paged")
        engaged = timedelta(0)
        for incident in incidents.values():
            found = roles.setdefault(incident.pk, set())
            acked = incident.acknowledged_at
            if incident.acknowledged_by_id == w.user_id and acked and w.start <= acked < end:
                found.add("acknowledged")
                engaged += _engaged(incident, w.start, end)
            resolved = incident.resolved_at
            if incident.resolved_by_id == w.user_id and resolved and w.start <= resolved < end:
                found.add("resolved")
            if (
                incident.commander_id == w.user_id
                and incident.triggered_at < end
                and (resolved is None or resolved >= w.start)
            ):
                found.add("commanded")
            if (
                incident.team_id == w.rotation.team_id
                and incident.triggered_at < end
                and (resolved is None or resolved >= end)
            ):
                found.add("open")
        rows = [
            _incident_row(incidents[pk], found)
            for pk, found in sorted(roles.items())
            if found and pk in incidents
        ]
        result[w.key] = {
            "pages": sum(counts.values()),
            "business_hours_pages": counts[BUSINESS],
            "off_hours_pages": counts[OFF],
            "sleep_hours_pages": counts[SLEEP],
            "incidents": rows,
            "engaged_seconds": int(engaged.total_seconds()),
        }
    return result
