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
  one row per person, incident and minute, kept as pages reach or leave sent), each row with
  its kind as the person's classifier of the moment gives it (`insights.classify`).
- noise: incidents resolved within 5 minutes without an acknowledgement, and incidents whose
  responder answered "not actionable".
- tiers: a page's tier is its escalation track's: the `new` track (engage's new-tier policy or
  the new tier's on-call, or a severity that pages both tiers) is the new tier; every other
  track (the team's policy, its veteran list) the veteran tier. `acknowledged`: incidents
  acknowledged by someone that tier paged for them; `ended_with_veteran` (new tier): incidents
  the new tier was paged for and that someone the new tier did not page acknowledged.

Queries (PostgreSQL): the headline of this period and the previous one with the page facts
(one query, FILTER clauses), the weekly trend, interruptions by person and stored kind with
the heatmap's UTC slots of the week (one query over the rollup, grouping sets; rows another
classifier gave read again), acknowledgements per person, rotations with members (two),
overrides, people.
"""

import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cached_property
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import TruncWeek

from incidents.models import Incident, Interruption, PageFacts, Status
from insights.classify import (
    CODE_KINDS,
    KIND_CODES,
    Business,
    business_for,
    business_of,
    classifiers,
    rotations_with_members_at_once,
    write_back,
)
from insights.figures import (
    SPANS,
    Median,
    Microseconds,
    Percentile90,
    percentile_cont,
    response_figures_split,
    whole_seconds,
)
from oncall.models import User
from reports.hours import hours_oncall
from reports.stats import BUSINESS, HOUR_KINDS, OFF, SLEEP
from rotations.models import Rotation

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


def headline_spans(start: datetime, end: datetime) -> dict[str, Any]:
    """What `headline_of` reads of each incident triggered in [start, end):
    `incidents.annotate(**headline_spans(start, end)).values_list(*HEADLINE_COLUMNS)`, its
    times in microseconds (None when not yet)."""
    # The period's escalated incidents, read once through the page facts' partial index
    # (PostgreSQL hashes the few hundred ids): asking each incident for its page facts, or
    # joining them, cost a third of the read of a busy week.
    escalated = PageFacts.objects.filter(
        escalated=True, triggered_at__gte=start, triggered_at__lt=end
    ).values("incident_id")
    return {
        **SPANS,
        "to_triage_us": Microseconds(_span("triage_confirmed_at")),
        "paged_beyond_first_step": ExpressionWrapper(
            Q(pk__in=escalated), output_field=BooleanField()
        ),
    }


HEADLINE_COLUMNS = (*SPANS, "to_triage_us", "paged_beyond_first_step", "actionable")


def headline_of(rows: Iterable[Sequence[Any]], at: int = 0) -> Headline:
    """`headline_figures`'s headline of incidents already read (HEADLINE_COLUMNS, from column
    `at` of each row), computed here for a caller that reads those incidents anyway (the
    weekly review reads its week and the week before once, for its own figures and the
    headline): averaged and interpolated in whole microseconds as PostgreSQL's `avg` and
    `percentile_cont` are, then rounded to the second. `tests/insights/test_figures.py` pins
    it to the database's. One comprehension per figure: a few thousand rows pass each faster
    than one loop doing all."""
    rows = rows if isinstance(rows, list) else list(rows)
    ack, resolve, triage, paged_beyond, actionable = range(at, at + len(HEADLINE_COLUMNS))
    quick = QUICK_RESOLVE // timedelta(microseconds=1)
    count = len(rows)
    # Sorted once here: each median and percentile below sorts again, which costs next to
    # nothing on sorted times.
    to_ack = sorted([row[ack] for row in rows if row[ack] is not None])
    to_resolve = sorted([row[resolve] for row in rows if row[resolve] is not None])
    to_triage = [row[triage] for row in rows if row[triage] is not None]
    quick_resolves = sum(
        1 for row in rows if row[ack] is None and row[resolve] is not None and row[resolve] <= quick
    )
    # Compared as values, not as objects: a raw read from SQLite hands back 0 and 1.
    escalated = sum(1 for row in rows if row[paged_beyond])
    not_actionable = sum(1 for row in rows if row[actionable] is not None and not row[actionable])
    figures = response_figures_split(count, to_ack, to_resolve)
    return Headline(
        incidents=count,
        acknowledged=figures.acknowledged,
        resolved=figures.resolved,
        escalated=escalated,
        mtta=figures.ack_mean,
        mtta_median=figures.ack_median,
        mtta_p90=whole_seconds(percentile_cont(to_ack, 0.9)),
        mttr=figures.resolve_mean,
        mttr_median=figures.resolve_median,
        mttr_p90=whole_seconds(percentile_cont(to_resolve, 0.9)),
        triage=whole_seconds(sum(to_triage) / len(to_triage)) if to_triage else None,
        unacknowledged_quick_resolves=quick_resolves,
        not_actionable=not_actionable,
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


def interruption_slots(filters: Filters) -> QuerySet[Any]:
    """The interruptions of the filters (`incidents.interruptions`, one row per person,
    incident and UTC minute), each with `new`: whether it counts for the new tier. The
    range's bounds are local midnights, whole minutes, so a minute is in it when its pages
    are."""
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
    return slots.order_by().annotate(new=new)


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
    slots: QuerySet[Any],
    working: dict[int, Rotation],
    zone: zoneinfo.ZoneInfo,
) -> Interruptions:
    """Any database: each interruption read and classified here."""
    result = Interruptions({}, dict.fromkeys(TIERS, 0), _empty_heatmap())
    spec: dict[int, Business] = {}
    rows = slots.values_list("recipient_id", "minute", "new", "recipient__timezone")
    for user_id, minute, is_new, tz_name in rows:
        who = spec.get(user_id) or spec.setdefault(user_id, business_for(user_id, tz_name, working))
        _add(result, user_id, who.kind(minute), bool(is_new), 1)
        local = minute.astimezone(zone)
        result.heatmap[local.weekday()][local.hour] += 1
    return result


MONDAY = 4320  # minutes from Monday 00:00 to 1970-01-01 00:00, a Thursday
WEEK = 10080  # minutes


@dataclass(frozen=True)
class ViewerClock:
    """The viewer's UTC offset over a range: the instants it changes (`bounds`), the offset
    of each stretch between them (minutes), and the heatmap's slot (a quarter of an hour, or
    a minute where an offset is not whole quarters)."""

    bounds: list[datetime]
    offsets: list[int]

    @cached_property
    def step(self) -> int:
        return 15 if all(offset % 15 == 0 for offset in self.offsets) else 1

    def hour_of_week(self, slot: int, stretch: int) -> int:
        """The viewer's hour of the week (0: Monday 00:00) of a UTC slot of the week in a
        stretch."""
        local = (slot * self.step + self.offsets[stretch] + WEEK) % WEEK
        return local // 60


def _offset(zone: zoneinfo.ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


def viewer_clock(zone: zoneinfo.ZoneInfo, start: datetime, end: datetime) -> ViewerClock:
    """Where the zone's offset changes in [start, end), to the minute (stepping half a day:
    zones change at most twice a year)."""
    bounds = []
    at, before = start, _offset(zone, start)
    offsets = [int(before.total_seconds()) // 60]
    step, minute = timedelta(hours=12), timedelta(minutes=1)
    while at < end:
        later = min(at + step, end)
        after = _offset(zone, later)
        if after != before:
            low, high = at, later  # low has the old offset, high the new
            while high - low > minute:
                middle = low + minute * ((high - low) // minute // 2)
                low, high = (middle, high) if _offset(zone, middle) == before else (low, middle)
            bounds.append(high)
            offsets.append(int(after.total_seconds()) // 60)
            before = after
        at = later
    return ViewerClock(bounds, offsets)


_GROUPS_SQL = """
SELECT uid, kind, spec, slot, stretch, count(*) FILTER (WHERE is_new), count(*), GROUPING(uid)
FROM (
    SELECT d.uid, d.kind, d.spec, d.is_new,
           (floor(date_part('epoch', d.m) / {seconds})::int + {monday}) %% {week} AS slot,
           {stretch} AS stretch
    FROM ({slots}) AS d(uid, kind, spec, m, is_new)
) q
GROUP BY GROUPING SETS ((uid, kind, spec), (slot, stretch))
"""


def _interruptions_postgres(
    filters: Filters,
    slots: QuerySet[Any],
    working: dict[int, Rotation],
    zone: zoneinfo.ZoneInfo,
    users: Callable[[set[int]], Mapping[int, User]],
) -> Interruptions:
    """PostgreSQL: one query groups the interruptions by person and stored kind
    (`insights.classify`), and by UTC slot of the week for the viewer's heatmap. A person's
    groups classified by another classifier than theirs of the moment (new rows, or changed
    settings) are read again, classified here and written back."""
    clock = viewer_clock(zone, filters.start, filters.end)
    inner, params = slots.values_list(
        "recipient_id", "kind", "spec", "minute", "new"
    ).query.sql_with_params()
    sql = _GROUPS_SQL.format(
        slots=inner,
        seconds=clock.step * 60,
        monday=MONDAY // clock.step,
        week=WEEK // clock.step,
        stretch=" + ".join(["(d.m >= %s)::int"] * len(clock.bounds)) or "0",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*clock.bounds, *params])  # in the order of the text
        rows = cursor.fetchall()
    result = Interruptions({}, dict.fromkeys(TIERS, 0), _empty_heatmap())
    groups = []
    for uid, code, spec, slot, stretch, new, count, grouping in rows:
        if grouping:  # the heatmap's grouping set
            hour = clock.hour_of_week(slot, stretch)
            result.heatmap[hour // 24][hour % 24] += count
        else:
            groups.append((uid, code, spec, new, count))
    people = users({uid for uid, *_ in groups})
    who = classifiers({uid: people[uid].timezone for uid, *_ in groups}, working)
    stale = set()
    for uid, code, spec, new, count in groups:
        if spec != who[uid].spec:
            stale.add(uid)
            continue
        if new:
            _add(result, uid, CODE_KINDS[code], True, new)
        if count > new:
            _add(result, uid, CODE_KINDS[code], False, count - new)
    if stale:
        _count_stale(result, slots, {uid: who[uid] for uid in stale})
    return result


def _count_stale(result: Interruptions, slots: QuerySet[Any], who: dict[int, Business]) -> None:
    """Count the rows of these people that their classifier has not classified, and store
    their kinds for the next reader (`insights.classify.write_back`)."""
    stale = Q()
    for uid in sorted(who):
        stale |= Q(recipient_id=uid) & ~Q(spec=who[uid].spec)
    rows = slots.filter(stale).values_list("pk", "recipient_id", "minute", "new")
    found = []
    for pk, uid, minute, is_new in rows:
        kind = who[uid].kind(minute)
        _add(result, uid, kind, bool(is_new), 1)
        found.append((pk, KIND_CODES[kind], who[uid].spec))
    write_back(found)


def interruptions(
    filters: Filters,
    working: dict[int, Rotation],
    zone: zoneinfo.ZoneInfo,
    users: Callable[[set[int]], Mapping[int, User]],
) -> Interruptions:
    """`users(ids)`: these people (with their zones), as the caller reads them anyway."""
    slots = interruption_slots(filters)
    if connection.vendor == "postgresql":
        return _interruptions_postgres(filters, slots, working, zone, users)
    return _interruptions_python(slots, working, zone)


# --- everything ----------------------------------------------------------------------------


def insights(filters: Filters, *, zone: zoneinfo.ZoneInfo) -> Insights:
    """The page's and the API's figures (9 queries on PostgreSQL, a few more for people)."""
    headline, previous, tier_acks = headline_figures(filters)
    weeks = weekly_trend(filters, zone)
    rotations = rotations_with_members_at_once()
    working = business_of(rotations)
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

    def with_people(ids: set[int]) -> dict[int, User]:
        """`people` with these and everyone acknowledging (one query for those missing)."""
        wanted = (ids | set(acks)) - set(people)
        if wanted:
            people.update(User.objects.in_bulk(list(wanted)))
        return people

    found = interruptions(filters, working, zone, with_people)
    with_people(set(found.by_person))
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
