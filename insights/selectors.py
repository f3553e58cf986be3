"""The insights figures (issue 17): how incidents were answered, who was interrupted and when,
the veteran tier against the new tier, per person — for a range and filters, aggregated in
the database in a fixed number of queries whatever the history's size.

Definitions (shown on the page and in the API schema, `DEFINITIONS`):
- time to acknowledge / resolve: `triggered_at` → `acknowledged_at` / `resolved_at`, over the
  incidents triggered in the range that were acknowledged / resolved; mean, median, p90
  (`insights.figures`, PostgreSQL's `percentile_cont`).
- time to triage: triggered (declared) → severity and 5Ws confirmed (`triage_confirmed_at`).
- escalated: an incident with a page beyond its first step (a later step, a repeat of the
  policy, or the next person of a walk): its outbox keys (`inc<id>:<track>:r<repeat>:s<step>:
  w<walk>:u<user>:…`) are not all `r0:s0:w0` — kept per incident with the pages
  (`incidents.pagefacts`), as are the tiers' facts below.
- interruptions: incident pages by SMS or voice that were sent (email, Slack and webhooks do
  not interrupt), at most one per person, incident and minute (UTC minute of `sent_at`),
  split business / off / sleep by `reports.stats.hour_kind` in the recipient's zone and
  working hours (those of the first rotation with working hours they are a member of, else
  09–17 Monday–Friday in their zone); read from their rollup (`incidents.interruptions`,
  one row per person, incident and minute, kept as pages reach or leave sent).
- noise: incidents resolved within 5 minutes without an acknowledgement, and incidents whose
  responder answered "not actionable".
- tiers: a page's tier is its escalation track's: the `new` track (engage's new-tier policy or
  the new tier's on-call, or a severity that pages both tiers) is the new tier; every other
  track (the team's policy, its veteran list) the veteran tier. `acknowledged`: incidents
  acknowledged by someone that tier paged for them; `ended_with_veteran` (new tier): incidents
  the new tier was paged for and that someone the new tier did not page acknowledged.

Queries (PostgreSQL): the headline of this period and the previous one with the page facts
(one query, FILTER clauses), the weekly trend, interruptions with the hour-of-week heatmap
(one query over the rollup, grouping sets), acknowledgements per person, rotations with
members (two), overrides, people.
"""

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncWeek

from incidents.models import Incident, Interruption, Status
from insights.figures import Median, Percentile90, whole_seconds
from oncall.models import User
from reports.hours import hours_oncall
from reports.stats import BUSINESS, HOUR_KINDS, OFF, SLEEP, business_hours, hour_kind
from rotations import resolver
from rotations.models import Rotation, RotationMember

QUICK_RESOLVE = timedelta(minutes=5)
TIERS = ("veteran", "new")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

DEFINITIONS: dict[str, str] = {
    "mtta": "Time to acknowledge: triggered to first acknowledgement, over the incidents "
    "triggered in the range that were acknowledged. MTTA is its mean; the median and the 90th "
    "percentile stand beside it.",
    "mttr": "Time to resolve: triggered to resolved, over the incidents triggered in the range "
    "that were resolved; mean (MTTR), median and 90th percentile.",
    "triage": "Time to triage: declared to severity and 5Ws confirmed (mean), over the "
    "incidents whose triage was confirmed.",
    "escalated": "Escalated: an incident that paged beyond its first step (a later step, a "
    "repeat of the policy, or the next person of a walk).",
    "interruptions": "Interruptions: pages by SMS or voice that were sent (email, Slack and "
    "webhooks do not interrupt), at most one per person and incident per minute, split into "
    "business, off and sleep hours in the recipient's own time zone and working hours (sleep "
    "is 22:00–08:00; business the rotation's working hours, else 09:00–17:00 Monday–Friday), "
    "as the on-call reports split them.",
    "noise": "Noise: incidents resolved within 5 minutes without an acknowledgement, and "
    "incidents the responder marked not actionable.",
    "tiers": "Tiers: a page's tier is its escalation track's (the new tier's track, or the "
    "veteran tier for every other). Acknowledged: incidents acknowledged by someone that tier "
    "paged. Ended with a veteran: incidents the new tier was paged for that someone the new "
    "tier did not page acknowledged.",
}


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    team_id: int | None = None
    severity: str = ""
    integration_id: int | None = None
    tier: str = ""  # "", "veteran" or "new"

    @property
    def previous(self) -> tuple[datetime, datetime]:
        """The period of the same length just before."""
        return self.start - (self.end - self.start), self.start

    @property
    def narrows_incidents(self) -> bool:
        return bool(self.team_id or self.severity or self.integration_id)


@dataclass(frozen=True)
class Headline:
    incidents: int
    acknowledged: int
    resolved: int
    escalated: int
    mtta: timedelta | None
    mtta_median: timedelta | None
    mtta_p90: timedelta | None
    mttr: timedelta | None
    mttr_median: timedelta | None
    mttr_p90: timedelta | None
    triage: timedelta | None
    unacknowledged_quick_resolves: int
    not_actionable: int

    @property
    def noise(self) -> int:
        return self.unacknowledged_quick_resolves + self.not_actionable


@dataclass(frozen=True)
class Change:
    """A headline figure with the previous period's beside it."""

    name: str
    label: str
    now: Any
    before: Any
    lower_is_better: bool = True

    @property
    def delta(self) -> Any:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before

    @property
    def direction(self) -> str:
        """ "up", "down" or "same" (words, not colour, carry it on the page)."""
        delta = self.delta
        if delta is None:
            return ""
        zero = timedelta(0) if isinstance(delta, timedelta) else 0
        return "up" if delta > zero else "down" if delta < zero else "same"


@dataclass(frozen=True)
class TierFigures:
    pages: int
    acknowledged: int
    ended_with_veteran: int | None


@dataclass(frozen=True)
class WeekRow:
    week: datetime  # Monday 00:00 in the viewer's zone
    incidents: int
    mtta: timedelta | None
    mttr: timedelta | None


@dataclass
class PersonRow:
    user: User
    pages: int = 0
    business: int = 0
    off_hours: int = 0
    sleep_hours: int = 0
    acknowledged: int = 0
    hours_on_call: timedelta = timedelta(0)


@dataclass(frozen=True)
class Insights:
    filters: Filters
    headline: Headline
    previous: Headline
    weeks: list[WeekRow]
    interruptions: dict[str, int]
    heatmap: list[list[int]]  # [weekday 0=Mon][hour] in the viewer's zone
    tiers: dict[str, TierFigures]
    people: list[PersonRow]
    zone: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("UTC"))

    @property
    def changes(self) -> list[Change]:
        h, p = self.headline, self.previous
        return [
            Change("incidents", "Incidents", h.incidents, p.incidents),
            Change("mtta", "MTTA", h.mtta, p.mtta),
            Change("mtta_p90", "p90 to acknowledge", h.mtta_p90, p.mtta_p90),
            Change("mttr", "MTTR", h.mttr, p.mttr),
            Change("escalated", "Escalated", h.escalated, p.escalated),
            Change("noise", "Noise", h.noise, p.noise),
        ]

    @property
    def interruptions_total(self) -> int:
        return sum(self.interruptions.values())


# --- incidents -----------------------------------------------------------------------------


def filtered_incidents(filters: Filters) -> QuerySet[Incident]:
    """Incidents of the filters, whenever triggered."""
    incidents = Incident.objects.all()
    if filters.team_id:
        incidents = incidents.filter(team_id=filters.team_id)
    if filters.severity:
        incidents = incidents.filter(severity=filters.severity)
    if filters.integration_id:
        incidents = incidents.filter(alert_group__integration_id=filters.integration_id)
    if filters.tier == "new":
        incidents = incidents.filter(page_facts__paged_new=True)
    elif filters.tier:
        incidents = incidents.filter(page_facts__paged_veteran=True)
    return incidents


def _between(start: datetime, end: datetime) -> Q:
    return Q(triggered_at__gte=start, triggered_at__lt=end)


def _span(a: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(a) - F("triggered_at"), output_field=DurationField())


def _headline_aggregates(prefix: str, when: Q) -> dict[str, Any]:
    ack, res = _span("acknowledged_at"), _span("resolved_at")
    quick = Q(
        resolved_at__isnull=False,
        acknowledged_at__isnull=True,
        resolved_at__lte=F("triggered_at") + QUICK_RESOLVE,
    )
    d = DurationField()
    return {
        f"{prefix}incidents": Count("id", filter=when),
        f"{prefix}acknowledged": Count("acknowledged_at", filter=when),
        f"{prefix}resolved": Count("resolved_at", filter=when),
        f"{prefix}mtta": Avg(ack, filter=when, output_field=d),
        f"{prefix}mtta_median": Median(ack, filter=when, output_field=d),
        f"{prefix}mtta_p90": Percentile90(ack, filter=when, output_field=d),
        f"{prefix}mttr": Avg(res, filter=when, output_field=d),
        f"{prefix}mttr_median": Median(res, filter=when, output_field=d),
        f"{prefix}mttr_p90": Percentile90(res, filter=when, output_field=d),
        f"{prefix}triage": Avg(_span("triage_confirmed_at"), filter=when, output_field=d),
        f"{prefix}quick": Count("id", filter=when & quick),
        f"{prefix}not_actionable": Count("id", filter=when & Q(actionable=False)),
        f"{prefix}escalated": Count("id", filter=when & Q(page_facts__escalated=True)),
    }


def _tier_aggregates(when: Q) -> dict[str, Any]:
    """The tiers' acknowledgements (`incidents.pagefacts`): by someone the veteran / new tier
    paged, and new-tier incidents acknowledged by someone the new tier did not page."""
    return {
        "veteran_acknowledged": Count(
            "id", filter=when & Q(page_facts__acknowledger_paged_veteran=True)
        ),
        "new_acknowledged": Count("id", filter=when & Q(page_facts__acknowledger_paged_new=True)),
        "new_ended_with_veteran": Count(
            "id",
            filter=when
            & Q(
                page_facts__paged_new=True,
                page_facts__acknowledger_paged_new=False,
                acknowledged_by__isnull=False,
            ),
        ),
    }


def _headline(row: dict[str, Any], prefix: str) -> Headline:
    return Headline(
        incidents=row[f"{prefix}incidents"] or 0,
        acknowledged=row[f"{prefix}acknowledged"] or 0,
        resolved=row[f"{prefix}resolved"] or 0,
        escalated=row[f"{prefix}escalated"] or 0,
        mtta=whole_seconds(row[f"{prefix}mtta"]),
        mtta_median=whole_seconds(row[f"{prefix}mtta_median"]),
        mtta_p90=whole_seconds(row[f"{prefix}mtta_p90"]),
        mttr=whole_seconds(row[f"{prefix}mttr"]),
        mttr_median=whole_seconds(row[f"{prefix}mttr_median"]),
        mttr_p90=whole_seconds(row[f"{prefix}mttr_p90"]),
        triage=whole_seconds(row[f"{prefix}triage"]),
        unacknowledged_quick_resolves=row[f"{prefix}quick"] or 0,
        not_actionable=row[f"{prefix}not_actionable"] or 0,
    )


def headline_figures(filters: Filters) -> tuple[Headline, Headline, dict[str, int]]:
    """This period's headline and the previous period's, and the tiers' acknowledgements
    (one query over the incidents and their page facts)."""
    prev_start, prev_end = filters.previous
    now_q, before_q = _between(filters.start, filters.end), _between(prev_start, prev_end)
    aggregates = {
        **_headline_aggregates("", now_q),
        **_headline_aggregates("p_", before_q),
        **_tier_aggregates(now_q),
    }
    # Naming every status lets PostgreSQL use the (status, triggered_at) index.
    row = (
        filtered_incidents(filters)
        .filter(
            status__in=Status.values, triggered_at__gte=prev_start, triggered_at__lt=filters.end
        )
        .order_by()
        .aggregate(**aggregates)
    )
    tiers = {name: row[name] or 0 for name in _tier_aggregates(now_q)}
    return _headline(row, ""), _headline(row, "p_"), tiers


def weekly_trend(filters: Filters, zone: zoneinfo.ZoneInfo) -> list[WeekRow]:
    """Incidents per week (Monday 00:00 in the viewer's zone) with MTTA and MTTR (one query)."""
    d = DurationField()
    rows = (
        filtered_incidents(filters)
        .filter(
            status__in=Status.values, triggered_at__gte=filters.start, triggered_at__lt=filters.end
        )
        .order_by()
        .annotate(week=TruncWeek("triggered_at", tzinfo=zone))
        .values("week")
        .annotate(
            n=Count("id"),
            mtta=Avg(_span("acknowledged_at"), output_field=d),
            mttr=Avg(_span("resolved_at"), output_field=d),
        )
        .order_by("week")
    )
    return [
        WeekRow(row["week"], row["n"], whole_seconds(row["mtta"]), whole_seconds(row["mttr"]))
        for row in rows
    ]


def acknowledgements_by_person(filters: Filters) -> dict[int, int]:
    rows = (
        filtered_incidents(filters)
        .filter(
            status__in=Status.values,
            triggered_at__gte=filters.start,
            triggered_at__lt=filters.end,
            acknowledged_by__isnull=False,
        )
        .order_by()
        .values("acknowledged_by_id")
        .annotate(n=Count("id"))
    )
    return {row["acknowledged_by_id"]: row["n"] for row in rows}


# --- interruptions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Business:
    """A person's zone and business hours (for `hour_kind`)."""

    person_tz: zoneinfo.ZoneInfo
    hours: resolver.WorkingHours

    @property
    def whole_hours(self) -> bool:
        return self.hours.start.minute == 0 and self.hours.end.minute == 0


def rotations_with_members_at_once() -> list[Rotation]:
    """Every rotation that has members, with its team and `ordered_members` (as
    `rotations_with_members` gives them) in one query instead of two."""
    members = RotationMember.objects.select_related("rotation__team", "user").order_by(
        "rotation_id", "position", "id"
    )
    rotations: dict[int, Rotation] = {}
    for member in members:
        rotation = rotations.setdefault(member.rotation_id, member.rotation)
        if not hasattr(rotation, "ordered_members"):
            rotation.ordered_members = []  # type: ignore[attr-defined]
        rotation.ordered_members.append(member)  # type: ignore[attr-defined]
    return list(rotations.values())


def business_of(rotations: Iterable[Rotation]) -> dict[int, Rotation]:
    """Each member's first rotation (by id) with working hours."""
    found: dict[int, Rotation] = {}
    for rotation in sorted(rotations, key=lambda r: r.pk):
        if not rotation.has_working_hours:
            continue
        for member in getattr(rotation, "ordered_members", []):
            found.setdefault(member.user_id, rotation)
    return found


def _business(user_id: int, tz_name: str, working: dict[int, Rotation]) -> Business:
    person_tz = _zone(tz_name)
    return Business(person_tz, business_hours(working.get(user_id), person_tz))


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def interruption_slots(filters: Filters) -> QuerySet[Interruption, tuple[Any, ...]]:
    """The interruptions of the filters (`incidents.interruptions`, one row per person,
    incident and UTC minute) as (person id, minute, whether it counts for the new tier, the
    person's zone). The range's bounds are local midnights, whole minutes, so a minute is in
    it when its pages are."""
    slots = Interruption.objects.filter(minute__gte=filters.start, minute__lt=filters.end)
    if filters.narrows_incidents or filters.tier:
        narrowed = Filters(
            filters.start,
            filters.end,
            filters.team_id,
            filters.severity,
            filters.integration_id,
        )
        slots = slots.filter(incident_id__in=filtered_incidents(narrowed).values("pk"))
    # Filtered to a tier, a minute is that tier's when one of its pages was (as the pages
    # were filtered to the tier's before); unfiltered, a minute the new tier paged in is new.
    new: Any = F("is_new")
    if filters.tier == "new":
        slots, new = slots.filter(is_new=True), Value(True)
    elif filters.tier:
        slots, new = slots.filter(is_veteran=True), Value(False)
    return (
        slots.order_by()
        .annotate(new=new)
        .values_list("recipient_id", "minute", "new", "recipient__timezone")
    )


@dataclass
class Interruptions:
    by_person: dict[int, dict[str, int]]  # user id → {business, off, sleep}
    by_tier: dict[str, int]
    heatmap: list[list[int]]


def _empty_heatmap() -> list[list[int]]:
    return [[0] * 24 for _ in range(7)]


def _add(result: Interruptions, user_id: int, kind: str, is_new: bool, count: int) -> None:
    person = result.by_person.setdefault(user_id, dict.fromkeys(HOUR_KINDS, 0))
    person[kind] += count
    result.by_tier["new" if is_new else "veteran"] += count


def _interruptions_python(
    slots: QuerySet[Interruption, tuple[Any, ...]],
    working: dict[int, Rotation],
    zone: zoneinfo.ZoneInfo,
) -> Interruptions:
    """Any database: each interruption read and classified here."""
    result = Interruptions({}, dict.fromkeys(TIERS, 0), _empty_heatmap())
    spec: dict[int, Business] = {}
    for user_id, minute, is_new, tz_name in slots:
        who = spec.get(user_id) or spec.setdefault(user_id, _business(user_id, tz_name, working))
        kind = hour_kind(minute, person_tz=who.person_tz, business=who.hours)
        _add(result, user_id, kind, bool(is_new), 1)
        local = minute.astimezone(zone)
        result.heatmap[local.weekday()][local.hour] += 1
    return result


_INTERRUPTIONS_SQL = """
WITH local AS (
    -- Wall-clock seconds in the person's, the business hours' and the viewer's zone.
    SELECT d.uid, d.is_new, d.m, d.tz, COALESCE(b.fine, false) AS fine,
           date_part('epoch', d.m AT TIME ZONE d.tz) AS pe,
           CASE WHEN b.btz IS NULL OR b.btz = d.tz THEN NULL
                ELSE date_part('epoch', d.m AT TIME ZONE b.btz) END AS be,
           date_part('epoch', d.m AT TIME ZONE %s) AS ve
    FROM ({slots}) AS d(uid, m, is_new, tz)
    LEFT JOIN (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::boolean[]))
        AS b(uid, btz, fine) ON b.uid = d.uid
)
SELECT uid, tz, pk, bk, vk, count(*) FILTER (WHERE is_new), count(*),
       date_part('epoch', min(m)), GROUPING(uid) AS g
FROM (
    -- Hour of the week from Monday 00:00 (1970-01-01 was a Thursday: 72 hours in).
    SELECT uid, is_new, tz, m,
           (floor(pe / 3600)::int + 72) %% 168 AS pk,
           CASE WHEN be IS NULL THEN 0 ELSE (floor(be / 3600)::int + 72) %% 168 + 1 END * 100
               + CASE WHEN fine THEN floor(COALESCE(be, pe) / 60)::int %% 60 ELSE 0 END AS bk,
           (floor(ve / 3600)::int + 72) %% 168 AS vk
    FROM local
) q
GROUP BY GROUPING SETS ((uid, tz, pk, bk), (vk))
"""


def _interruptions_postgres(
    slots: QuerySet[Interruption, tuple[Any, ...]],
    working: dict[int, Rotation],
    zone: zoneinfo.ZoneInfo,
) -> Interruptions:
    """PostgreSQL: grouped in the database by the person's local weekday and hour (and the
    business zone's, to the minute where business hours need it). Within a group the kind
    cannot change, so `hour_kind` classifies each group by its first minute: the one
    classifier still decides."""
    inner, params = slots.query.sql_with_params()
    uids, btzs, fines = [], [], []
    for uid, rotation in working.items():
        uids.append(uid)
        btzs.append(rotation.working_hours_timezone or rotation.timezone)
        assert rotation.working_hours_start is not None
        assert rotation.working_hours_end is not None
        fines.append(
            rotation.working_hours_start.minute != 0 or rotation.working_hours_end.minute != 0
        )
    sql = _INTERRUPTIONS_SQL.format(slots=inner)
    # The parameters in the order of the text: the viewer's zone, the interruptions' query,
    # the business hours' zones.
    args = [zone.key, *params, uids, btzs, fines]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    result = Interruptions({}, dict.fromkeys(TIERS, 0), _empty_heatmap())
    spec: dict[int, Business] = {}
    # People with the same zone and business hours share each group's kind: classified once.
    kinds: dict[tuple[Business, int, int], str] = {}
    for uid, tz_name, pk, bk, vk, new, count, first, grouping in rows:
        if grouping:  # the heatmap's grouping set: hour of the week in the viewer's zone
            result.heatmap[vk // 24][vk % 24] += count
            continue
        who = spec.get(uid) or spec.setdefault(uid, _business(uid, tz_name, working))
        kind = kinds.get((who, pk, bk))
        if kind is None:
            minute = datetime.fromtimestamp(first, UTC)
            kind = kinds[(who, pk, bk)] = hour_kind(
                minute, person_tz=who.person_tz, business=who.hours
            )
        if new:
            _add(result, uid, kind, True, new)
        if count > new:
            _add(result, uid, kind, False, count - new)
    return result


def interruptions(
    filters: Filters, working: dict[int, Rotation], zone: zoneinfo.ZoneInfo
) -> Interruptions:
    slots = interruption_slots(filters)
    if connection.vendor == "postgresql":
        return _interruptions_postgres(slots, working, zone)
    return _interruptions_python(slots, working, zone)


# --- everything ----------------------------------------------------------------------------


def insights(filters: Filters, *, zone: zoneinfo.ZoneInfo) -> Insights:
    """The page's and the API's figures (9 queries on PostgreSQL, a few more for people)."""
    headline, previous, tier_acks = headline_figures(filters)
    weeks = weekly_trend(filters, zone)
    rotations = rotations_with_members_at_once()
    working = business_of(rotations)
    found = interruptions(filters, working, zone)
    acks = acknowledgements_by_person(filters)
    hours = hours_oncall(
        start=filters.start,
        end=filters.end,
        team_id=filters.team_id,
        rotations=rotations,
        with_pages=False,
        with_split=False,
    )
    on_call: dict[int, timedelta] = {}
    people: dict[int, User] = {}
    for row in hours:
        on_call[row.user.pk] = on_call.get(row.user.pk, timedelta(0)) + row.total
        people[row.user.pk] = row.user
    wanted = (set(found.by_person) | set(acks)) - set(people)
    if wanted:
        people.update(User.objects.in_bulk(list(wanted)))
    rows = []
    for user_id, user in people.items():
        kinds = found.by_person.get(user_id, dict.fromkeys(HOUR_KINDS, 0))
        rows.append(
            PersonRow(
                user=user,
                pages=sum(kinds.values()),
                business=kinds[BUSINESS],
                off_hours=kinds[OFF],
                sleep_hours=kinds[SLEEP],
                acknowledged=acks.get(user_id, 0),
                hours_on_call=on_call.get(user_id, timedelta(0)),
            )
        )
    rows.sort(key=lambda r: (-r.pages, -r.sleep_hours, r.user.name.lower()))
    totals = dict.fromkeys(HOUR_KINDS, 0)
    for kinds in found.by_person.values():
        for kind, count in kinds.items():
            totals[kind] += count
    tiers = {
        "veteran": TierFigures(found.by_tier["veteran"], tier_acks["veteran_acknowledged"], None),
        "new": TierFigures(
            found.by_tier["new"], tier_acks["new_acknowledged"], tier_acks["new_ended_with_veteran"]
        ),
    }
    return Insights(
        filters=filters,
        headline=headline,
        previous=previous,
        weeks=weeks,
        interruptions=totals,
        heatmap=found.heatmap,
        tiers=tiers,
        people=rows,
        zone=zone,
    )


def day_start(day: Any, zone: zoneinfo.ZoneInfo) -> datetime:
    """00:00 of a date in a zone, as a UTC instant."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
