"""The weekly postmortem review of one ISO week, computed once for the page and the API.

A week runs from Monday 00:00 to the next Monday 00:00 in `COMPANY_TIME_ZONE` (167 or 169
hours across a DST change). Everything is read in a fixed number of queries: figures are
computed from one narrow read of the week's incidents (`postmortems.figures`), and every
list is capped per group with a window function that also counts what was left out ("and N
more"). The rows listed are plain values (`values_list` into the frozen rows below), not
model instances: building those, with their joins, cost more than reading them.

Overdue means as of the earlier of now and the week's end (`WeeklyReview.cutoff`): a
postmortem not published (now) whose due time is before it, an action item open or in
progress (now) due before the cutoff's day in the company's zone. Postmortems to review are
those in review now, and those published during the week.
"""

import hashlib
import re
import threading
import zoneinfo
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import islice
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.safestring import SafeString

from incidents.models import Category, Incident, Severity, Status
from insights.selectors import HEADLINE_COLUMNS, Filters, Headline, headline_of, headline_spans
from oncall.markup import markdown_safe
from oncall.models import User
from oncall.validators import EARLIEST_INSTANT, LATEST_INSTANT
from postmortems.figures import ResponseFigures, response_figures_split
from postmortems.models import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItem,
    ActionItemStatus,
    Postmortem,
    PostmortemSection,
    PostmortemStatus,
    ReviewMeeting,
)
from postmortems.stamp import ReviewTokens, review_tokens

WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")
# Rows listed per group before "and N more".
INCIDENTS_PER_SEVERITY = 10
POSTMORTEMS_TO_REVIEW = 25  # a meeting walks through a few; the rest are one link away
OVERDUE_PER_OWNER = 3
OVERDUE_OWNERS = 12  # the people with the most overdue first; the rest are counted
ITEMS_LISTED = 25
COUNCIL_DECISIONS_LISTED = 100
# Read before the viewer's visibility is applied: a week's decisions are a handful.
COUNCIL_DECISIONS_READ = 1000

# Handbook 004's weekly checklist: (label, the postmortem section that answers it).
CHECKLIST = (
    ("Root cause found", "contributing_factors"),
    ("What went well", "what_went_well"),
    ("What went badly", "what_went_badly"),
    ("New metrics", "new_metrics"),
    ("Alarm thresholds", "alarm_thresholds"),
    ("Playbook entries", "playbook_entries"),
    ("Docs updated", "docs_updated"),
)
REVIEW_SECTION_KEYS = ("summary", *(key for _, key in CHECKLIST))


def company_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.COMPANY_TIME_ZONE)


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO week of the years the portal keeps (2000–2199)."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> "IsoWeek | None":
        """ "2026-W11" → IsoWeek(2026, 11); None for anything else (W00, W54, W53 of a
        52-week year, years outside 2000–2199)."""
        match = WEEK_PATTERN.fullmatch(text or "")
        if match is None:
            return None
        year, week = int(match[1]), int(match[2])
        if not EARLIEST_INSTANT.year <= year < LATEST_INSTANT.year:
            return None
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            return None
        found = cls(year, week)
        return found if found.in_range() else None

    @classmethod
    def of(cls, instant: datetime) -> "IsoWeek":
        """The week an instant falls in, in the company's zone."""
        year, week, _ = instant.astimezone(company_zone()).isocalendar()
        return cls(year, week)

    @classmethod
    def current(cls) -> "IsoWeek":
        return cls.of(timezone.now())

    @classmethod
    def of_monday(cls, monday: date) -> "IsoWeek":
        year, week, _ = monday.isocalendar()
        return cls(year, week)

    def in_range(self) -> bool:
        return self.start >= EARLIEST_INSTANT and self.end <= LATEST_INSTANT

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @cached_property
    def start(self) -> datetime:
        """Monday 00:00 in the company's zone, as a UTC instant (aware datetimes in one zone
        subtract as wall clocks: a DST week would seem 168 hours long)."""
        return datetime.combine(self.monday, time(0), tzinfo=company_zone()).astimezone(UTC)

    @cached_property
    def end(self) -> datetime:
        """The next Monday 00:00 there (not start + 7 days: DST weeks are 167 or 169 h)."""
        monday = self.monday + timedelta(days=7)
        return datetime.combine(monday, time(0), tzinfo=company_zone()).astimezone(UTC)

    def shifted(self, weeks: int) -> "IsoWeek | None":
        moved = IsoWeek.of_monday(self.monday + timedelta(weeks=weeks))
        return moved if moved.in_range() else None

    @property
    def previous(self) -> "IsoWeek | None":
        return self.shifted(-1)

    @property
    def next(self) -> "IsoWeek | None":
        return self.shifted(1)


# The review's rows are plain values read with `values_list` (no model instances: building
# a few hundred of them, with their joins, cost more than reading them), named as the models
# name them so the page and the API read them alike.
PERSON = ("username", "first_name", "last_name", "display_name")


def _people(prefix: str = "owner__") -> tuple[str, ...]:
    """The columns `_person` needs, reached through `prefix`."""
    return (f"{prefix}id", *(f"{prefix}{name}" for name in PERSON))


def _person(values: tuple[Any, ...], known: dict[int, User]) -> User | None:
    """A person from `_people()`'s columns (only their name is shown), one object per id."""
    pk = values[0]
    if pk is None:
        return None
    person = known.get(pk)
    if person is None:
        person = known[pk] = User.from_db(None, ["id", *PERSON], values)
    return person


@dataclass(frozen=True, slots=True)
class IncidentRow:
    pk: int
    title: str
    severity: str

    @property
    def id(self) -> int:
        return self.pk

    @property
    def number(self) -> str:
        return f"INC-{self.pk}"


class _Owned:
    """A row's `id` and `owner_id`, as its model names them."""

    __slots__ = ()
    pk: int
    owner: User | None

    @property
    def id(self) -> int:
        return self.pk

    @property
    def owner_id(self) -> int | None:
        return self.owner.pk if self.owner else None


@dataclass(frozen=True, slots=True)
class PostmortemRow(_Owned):
    pk: int
    title: str
    status: str
    owner: User | None
    due_at: datetime | None
    published_at: datetime | None
    incident: IncidentRow
    team_name: str | None  # the incident's team

    def get_status_display(self) -> str:
        return PostmortemStatus(self.status).label


# An action item's columns, in ActionItemRow's order (then the owner's, `_people()`).
ITEM_COLUMNS = (
    *("pk", "postmortem_id", "postmortem__incident_id", "title", "description", "kind"),
    *("priority", "status", "due_date", "ticket_url", "created_at", "completed_at"),
)


@dataclass(frozen=True, slots=True)
class ActionItemRow(_Owned):
    pk: int
    postmortem_id: int
    incident_id: int  # its postmortem's
    title: str
    description: str
    kind: str
    priority: str
    status: str
    due_date: date
    ticket_url: str
    created_at: datetime
    completed_at: datetime | None
    owner: User | None

    @property
    def incident_number(self) -> str:
        return f"INC-{self.incident_id}"

    def get_status_display(self) -> str:
        return ActionItemStatus(self.status).label


def _item(values: tuple[Any, ...], known: dict[int, User]) -> ActionItemRow:
    """An ActionItemRow from ITEM_COLUMNS and the owner's columns."""
    count = len(ITEM_COLUMNS)
    make: Callable[..., ActionItemRow] = ActionItemRow  # the columns are in its order
    return make(*values[:count], _person(values[count:], known))


@dataclass(frozen=True)
class IncidentGroup:
    """Incidents of one severity or one team: their figures and (for severities) the first
    of them, in the order they were triggered."""

    key: str  # the severity, or the team's slug ("" for no team)
    label: str
    figures: ResponseFigures
    incidents: list[IncidentRow]

    @property
    def more(self) -> int:
        return max(self.figures.count - len(self.incidents), 0)


@dataclass(frozen=True)
class CheckItem:
    label: str
    key: str
    filled: bool


@dataclass(frozen=True)
class PostmortemToReview:
    postmortem: PostmortemRow
    summary_html: SafeString
    checklist: list[CheckItem]

    @property
    def checked(self) -> int:
        return sum(item.filled for item in self.checklist)


@dataclass(frozen=True)
class OwnerGroup:
    """What one person (or nobody) owns that is overdue: the first few, and how many."""

    owner: User | None
    total: int
    rows: list[Any]

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class Overdue:
    """Overdue rows grouped by owner: the owners with the most first, and what was left out
    (people not listed, and their rows)."""

    groups: list[OwnerGroup]
    more_owners: int = 0
    more_rows: int = 0

    def __iter__(self) -> Iterator[OwnerGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class Capped:
    rows: list[Any]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class WeeklyReview:
    week: IsoWeek
    start: datetime
    end: datetime
    cutoff: datetime  # overdue as of this instant: the earlier of now and the week's end
    totals: ResponseFigures
    by_severity: list[IncidentGroup]
    by_team: list[IncidentGroup]
    # The insights headline of the week and of the period before it (the same length).
    headline: Headline
    headline_before: Headline
    to_review: list[PostmortemToReview]
    to_review_total: int
    overdue_postmortems: Overdue
    overdue_action_items: Overdue
    items_opened: Capped
    items_closed: Capped
    # The parts' tokens when they were read (`postmortems.stamp`): the page's cached
    # fragments are keyed by them. None: nothing is kept.
    tokens: ReviewTokens | None = None

    @property
    def to_review_more(self) -> int:
        return self.to_review_total - len(self.to_review)


def _incidents_in(start: datetime, end: datetime) -> QuerySet[Incident]:
    # Naming every status lets PostgreSQL read the range through the (status, triggered_at)
    # index `incident_open` instead of scanning every incident.
    return Incident.objects.filter(
        status__in=Status.values, triggered_at__gte=start, triggered_at__lt=end
    )


def _ranked(queryset: QuerySet[Any], partition: list[Any], order: list[Any]) -> QuerySet[Any]:
    """Each row's place in its group (`place`) and the group's size (`group_total`)."""
    return queryset.annotate(
        place=Window(RowNumber(), partition_by=partition, order_by=order),
        group_total=Window(Count("id"), partition_by=partition),
    )


def _by_owner(rows: Iterable[Any], totals: dict[int | None, int]) -> list[OwnerGroup]:
    groups: dict[int | None, OwnerGroup] = {}
    for row in rows:
        group = groups.get(row.owner_id)
        if group is None:
            group = groups[row.owner_id] = OwnerGroup(row.owner, totals[row.owner_id], [])
        group.rows.append(row)
    return sorted(
        groups.values(),
        key=lambda g: (-g.total, g.owner is None, g.owner.name.lower() if g.owner else ""),
    )


def _incident_figures(
    week: IsoWeek,
) -> tuple[ResponseFigures, list[IncidentGroup], list[IncidentGroup], Headline, Headline]:
    """The week's totals, its groups by severity (with their first incidents) and by team,
    and the insights headline of the week and of the period before it.

    One narrow read of the week's incidents and the week before's (a few thousand rows in a
    busy week) feeds the groupings and both headlines in Python, and the few incidents listed
    are read by id: the aggregates and a ranking over the same rows cost the database, and
    building their queries cost Django, more than the figures cost here."""
    # The headline's period before is insights' (the same length just before: a DST week's
    # is 167 or 169 hours), so the review shows the insights page's figures.
    before = Filters(start=week.start, end=week.end).previous[0]
    this_week = ExpressionWrapper(Q(triggered_at__gte=week.start), output_field=BooleanField())
    read = (
        _incidents_in(before, week.end)
        .annotate(**headline_spans(before, week.end), this_week=this_week)
        .order_by("triggered_at", "id")
        .values_list(
            "pk",
            "severity",
            "team__slug",
            "team__name",
            "category",
            "status",
            "this_week",
            *HEADLINE_COLUMNS,
        )
    )
    # Fetched with a cursor: Django would call int() on every duration the database already
    # hands back as an integer, which costs as much as the figures themselves.
    sql, params = read.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        read_rows = cursor.fetchall()
    # The week's rows come after the week before's (trigger order).
    split = next((n for n, row in enumerate(read_rows) if row[6]), len(read_rows))
    rows = read_rows[split:]
    headline = headline_of(rows, at=7)
    headline_before = headline_of(read_rows[:split], at=7)
    by_severity: defaultdict[str, list[Any]] = defaultdict(list)
    by_team: defaultdict[tuple[str | None, str | None], list[Any]] = defaultdict(list)
    for row in rows:
        by_severity[row[1]].append(row)
        by_team[row[2], row[3]].append(row)

    def figures(group: list[Any]) -> ResponseFigures:
        to_ack = [row[7] for row in group if row[7] is not None]
        return response_figures_split(
            len(group), to_ack, [row[8] for row in group if row[8] is not None]
        )

    # The first few of each severity (the rows come in trigger order). Counted, but an open
    # security incident's title is not listed: the review is for everyone, the incident only
    # for those working it until it is resolved.
    security, hidden = Category.SECURITY.value, {Status.TRIGGERED.value, Status.ACKNOWLEDGED.value}
    first_ids = [
        row[0]
        for group in by_severity.values()
        for row in islice(
            (r for r in group if r[4] != security or r[5] not in hidden), INCIDENTS_PER_SEVERITY
        )
    ]
    listed: dict[str, list[IncidentRow]] = {}
    if first_ids:
        chosen = Incident.objects.filter(pk__in=first_ids).order_by(
            "severity", "triggered_at", "id"
        )
        for values in chosen.values_list("pk", "title", "severity"):
            incident = IncidentRow(*values)
            listed.setdefault(incident.severity, []).append(incident)
    severities = [
        IncidentGroup(
            key=severity,
            label=Severity(severity).label,
            figures=figures(by_severity[severity]),
            incidents=listed.get(severity, []),
        )
        for severity in sorted(by_severity)
    ]
    # Teams in the order the database grouped them (slug, name; no team last), then the
    # busiest first.
    teams = [
        IncidentGroup(
            key=slug or "",
            label=name or "No team",
            figures=figures(by_team[slug, name]),
            incidents=[],
        )
        for slug, name in sorted(by_team, key=lambda t: (t[0] is None, t[0] or "", t[1] or ""))
    ]
    teams.sort(key=lambda g: (-g.figures.count, g.label.lower()))
    # The week's totals are its headline's (the same times: sorted and summed once).
    totals = ResponseFigures(
        count=headline.incidents,
        acknowledged=headline.acknowledged,
        resolved=headline.resolved,
        ack_mean=headline.mtta,
        ack_median=headline.mtta_median,
        resolve_mean=headline.mttr,
        resolve_median=headline.mttr_median,
    )
    return totals, severities, teams, headline, headline_before


# A postmortem's columns, in PostmortemRow's order (then the owner's, `_people()`).
POSTMORTEM_COLUMNS = (
    *("pk", "title", "status", "due_at", "published_at"),
    *("incident_id", "incident__title", "incident__severity", "incident__team__name"),
)


def _postmortem(values: tuple[Any, ...], known: dict[int, User]) -> PostmortemRow:
    """A PostmortemRow from POSTMORTEM_COLUMNS and the owner's columns."""
    pk, title, status, due_at, published_at, incident_id, incident_title, severity, team = values[
        :9
    ]
    return PostmortemRow(
        pk,
        title,
        status,
        owner=_person(values[9:], known),
        due_at=due_at,
        published_at=published_at,
        incident=IncidentRow(incident_id, incident_title, severity),
        team_name=team,
    )


def _to_review(week: IsoWeek) -> tuple[list[PostmortemToReview], int]:
    # The first few and how many there are: a count over every row, before the limit (no
    # ranking to filter on, which cost Django more to build than the database to run).
    ranked = list(
        Postmortem.objects.filter(
            Q(status=PostmortemStatus.IN_REVIEW)
            | Q(published_at__gte=week.start, published_at__lt=week.end)
        )
        .annotate(group_total=Window(Count("id")))
        .order_by("incident__severity", "id")
        .values_list(*POSTMORTEM_COLUMNS, *_people(), "group_total")[:POSTMORTEMS_TO_REVIEW]
    )
    known: dict[int, User] = {}
    rows = [_postmortem(values[:-1], known) for values in ranked]
    # The sections the review reads, as plain tuples (no model rows: there are eight each).
    bodies: dict[int, dict[str, str]] = {row.pk: {} for row in rows}
    for postmortem_id, key, body in PostmortemSection.objects.filter(
        postmortem_id__in=list(bodies), key__in=REVIEW_SECTION_KEYS
    ).values_list("postmortem_id", "key", "body"):
        bodies[postmortem_id][key] = body
    reviewed = []
    for postmortem in rows:
        texts = bodies[postmortem.pk]
        checklist = [
            CheckItem(label, key, bool(texts.get(key, "").strip())) for label, key in CHECKLIST
        ]
        reviewed.append(
            PostmortemToReview(postmortem, markdown_safe(texts.get("summary", "")), checklist)
        )
    return reviewed, ranked[0][-1] if ranked else 0


def _first_per_owner(
    overdue: QuerySet[Any],
    due: str,
    columns: tuple[str, ...],
    row: Callable[[tuple[Any, ...], dict[int, User]], Any],
) -> Overdue:
    """The first few overdue rows of the owners with the most, in two queries: the ranking
    reads only the rows' own table (joining first would join every overdue row of the whole
    history), then the chosen rows are read with their joins, as plain values (`row` makes
    one from `columns` and the owner's)."""
    order = [F(due).asc(), F("id").asc()]
    ranked = list(
        _ranked(overdue.order_by(), [F("owner_id")], order)
        .filter(place__lte=OVERDUE_PER_OWNER)
        .values_list("pk", "owner_id", "group_total")
    )
    totals = {owner_id: total for _, owner_id, total in ranked}
    listed = sorted(totals, key=lambda owner_id: (-totals[owner_id], owner_id is None, owner_id))
    listed = listed[:OVERDUE_OWNERS]
    chosen = [pk for pk, owner_id, _ in ranked if owner_id in listed]
    left = [totals[owner_id] for owner_id in totals if owner_id not in listed]
    if not chosen:
        return Overdue([])
    known: dict[int, User] = {}
    rows = [
        row(values, known)
        for values in overdue.model.objects.filter(pk__in=chosen)
        .order_by("owner_id", due, "id")
        .values_list(*columns, *_people())
    ]
    return Overdue(_by_owner(rows, totals), more_owners=len(left), more_rows=sum(left))


def _overdue_postmortems(cutoff: datetime) -> Overdue:
    overdue = Postmortem.objects.filter(
        status__in=(PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW), due_at__lt=cutoff
    )
    return _first_per_owner(overdue, "due_at", POSTMORTEM_COLUMNS, _postmortem)


def _overdue_items(day: date) -> Overdue:
    """Action items open or in progress, due before `day` (in the company's zone)."""
    overdue = ActionItem.objects.filter(status__in=OPEN_ACTION_ITEM_STATUSES, due_date__lt=day)
    return _first_per_owner(overdue, "due_date", ITEM_COLUMNS, _item)


def _items_opened_and_closed(week: IsoWeek) -> tuple[Capped, Capped]:
    """The first ITEMS_LISTED action items opened in the week and the first closed in it,
    with how many there are of each, in one query: each list's first ids are chosen on the
    items' own table (joining first joined every item of the week to its postmortem and
    incident), the totals are uncorrelated counts PostgreSQL runs once. An item opened and
    closed in the same week is read once and listed in both."""

    def of_week(field: str) -> QuerySet[ActionItem]:
        return ActionItem.objects.filter(**{f"{field}__gte": week.start, f"{field}__lt": week.end})

    def first(field: str) -> QuerySet[Any]:
        return of_week(field).order_by(field, "id").values("pk")[:ITEMS_LISTED]

    def total(field: str) -> QuerySet[Any]:
        return of_week(field).order_by().values(one=Value(1)).annotate(n=Count("id")).values("n")

    columns = tuple(
        "postmortem_incident" if column == "postmortem__incident_id" else column
        for column in ITEM_COLUMNS
    )
    read = (
        ActionItem.objects.filter(
            Q(pk__in=Subquery(first("created_at"))) | Q(pk__in=Subquery(first("completed_at")))
        )
        # The weeks' ranges again outside: PostgreSQL then reads the items through the two
        # indexes; from the subqueries alone it expects most items and joins every incident.
        .filter(
            Q(created_at__gte=week.start, created_at__lt=week.end)
            | Q(completed_at__gte=week.start, completed_at__lt=week.end)
        )
        .annotate(
            opened_total=Subquery(total("created_at")),
            closed_total=Subquery(total("completed_at")),
            # Asked per item (fifty at most): joined, PostgreSQL expects hundreds of items
            # and hashes every postmortem.
            postmortem_incident=Subquery(
                Postmortem.objects.filter(pk=OuterRef("postmortem_id")).values("incident_id")
            ),
        )
        .values_list(*columns, *_people(), "opened_total", "closed_total")
    )
    known: dict[int, User] = {}
    values = list(read)
    rows = [_item(row[:-2], known) for row in values]
    opened_total, closed_total = (values[0][-2] or 0, values[0][-1] or 0) if values else (0, 0)

    def listed(field: str, total: int) -> Capped:
        chosen = sorted(
            (r for r in rows if (at := getattr(r, field)) and week.start <= at < week.end),
            key=lambda r: (getattr(r, field), r.pk),
        )[:ITEMS_LISTED]
        return Capped(chosen, total)

    return listed("created_at", opened_total), listed("completed_at", closed_total)


# Reviews' parts kept per process: (database, part's token, what, of when) → content.
# Shared, read-only. Behind it, the default cache (Redis when there is one) shares them
# between processes: a part one web process read after a write, the others find.
KEPT_MAX = 96
KEPT_SECONDS = 86400
_kept: OrderedDict[tuple[str, ...], Any] = OrderedDict()
_kept_lock = threading.Lock()


def _kept_or(
    token: str | None,
    key: tuple[str, ...],
    compute: Callable[[], Any],
    still: Callable[[Any], bool] | None = None,
) -> Any:
    """`compute()`, kept while its part's token is `token` (read by the caller before any
    of the content: a write committed in between is then kept under the older token, which
    the next view no longer asks for; never the reverse) and, given `still`, while
    `still(kept)` holds: in this process, else in the default cache. Nothing is kept
    without a token."""
    if token is None:
        return compute()
    full = (str(connection.settings_dict["NAME"]), token, *key)
    with _kept_lock:
        found = _kept.get(full)
        if found is not None and (still is None or still(found)):
            _kept.move_to_end(full)
            return found
    shared = "postmortems.review:" + hashlib.sha256(repr(full).encode()).hexdigest()
    found = cache.get(shared)
    if found is not None and (still is None or still(found)):
        value = found
    else:
        value = compute()
        cache.set(shared, value, KEPT_SECONDS)
    with _kept_lock:
        _kept[full] = value
        while len(_kept) > KEPT_MAX:
            _kept.popitem(last=False)
    return value


@dataclass(frozen=True)
class _Until:
    """Overdue postmortems as of `since`, the same as of any instant up to `until` (the next
    due time of one not published: it is overdue just after)."""

    since: datetime
    until: datetime
    overdue: Overdue

    def holds_at(self, cutoff: datetime) -> bool:
        return self.since <= cutoff <= self.until


def _overdue_postmortems_until(cutoff: datetime, *, moving: bool) -> _Until:
    """`_overdue_postmortems(cutoff)` and until when it holds: a moving cutoff (now) reads
    the next due time (1 query); a fixed one (a week's end) holds at that instant."""
    until = cutoff
    if moving:
        next_due = Postmortem.objects.filter(
            status__in=(PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW), due_at__gte=cutoff
        ).aggregate(next=Min("due_at"))["next"]
        until = next_due or LATEST_INSTANT
    return _Until(cutoff, until, _overdue_postmortems(cutoff))


def weekly_review(week: IsoWeek, *, now: datetime | None = None) -> WeeklyReview:
    """Everything the review page and `GET /api/v1/reviews/<week>/` show, in 11 queries
    (12 for the current week; fewer when there is nothing to review or nothing overdue).
    Each part is kept while its token stays (`postmortems.stamp`; the incidents' token is
    this week's): a view after no write costs 1 query (the tokens), and after a write only
    the parts it changed are read again. The current week's overdue lists, as of now, are
    kept while no postmortem's due time passes and the company's day lasts."""
    now = now or timezone.now()
    cutoff = min(now, week.end)
    tokens = review_tokens(week)
    of_week = str(week)
    totals, by_severity, by_team, headline, headline_before = _kept_or(
        tokens.incidents, ("incidents", of_week), lambda: _incident_figures(week)
    )
    to_review, to_review_total = _kept_or(
        tokens.postmortems, ("to-review", of_week), lambda: _to_review(week)
    )
    items_opened, items_closed = _kept_or(
        tokens.items, ("items", of_week), lambda: _items_opened_and_closed(week)
    )
    # The overdue lists: a past week's as of its end; this week's as of now, kept while no
    # due time passes (postmortems) and the company's day lasts (action items).
    moving = cutoff < week.end
    overdue_postmortems = _kept_or(
        tokens.postmortems,
        ("overdue-postmortems", of_week),
        lambda: _overdue_postmortems_until(cutoff, moving=moving),
        still=lambda kept: kept.holds_at(cutoff),
    ).overdue
    day = cutoff.astimezone(company_zone()).date()
    overdue_items = _kept_or(
        tokens.items, ("overdue-items", day.isoformat()), lambda: _overdue_items(day)
    )
    return WeeklyReview(
        week=week,
        start=week.start,
        end=week.end,
        cutoff=cutoff,
        totals=totals,
        by_severity=by_severity,
        by_team=by_team,
        headline=headline,
        headline_before=headline_before,
        to_review=to_review,
        to_review_total=to_review_total,
        overdue_postmortems=overdue_postmortems,
        overdue_action_items=overdue_items,
        items_opened=items_opened,
        items_closed=items_closed,
        tokens=tokens,
    )


def review_meetings(week: IsoWeek) -> tuple[ReviewMeeting | None, ReviewMeeting | None]:
    """The week's meeting and the latest one before it (two queries with the attendees)."""
    latest_before = Subquery(
        ReviewMeeting.objects.filter(week__lt=week.monday).order_by("-week").values("week")[:1]
    )
    rows = list(
        ReviewMeeting.objects.filter(Q(week=week.monday) | Q(week=latest_before))
        .select_related("held_by")
        .prefetch_related("attendees")
    )
    this = next((m for m in rows if m.week == week.monday), None)
    before = next((m for m in rows if m.week < week.monday), None)
    return this, before


def council_decisions_of(week: IsoWeek, *, viewer: Any) -> list[Any]:
    """The engineering council's decisions recorded this week (handbook 004), newest first,
    on incidents the viewer may see: one query, and a second only when one of them is on an
    open security incident (asking every view's viewer through `incidents_visible_to` cost
    more than the decisions, which most weeks have none of)."""
    from incidents.models import CouncilDecision
    from incidents.selectors import incidents_visible_to

    decisions = list(
        CouncilDecision.objects.filter(decided_at__gte=week.start, decided_at__lt=week.end)
        .select_related("incident", "owner", "decided_by")
        .order_by("-decided_at", "-id")[:COUNCIL_DECISIONS_READ]
    )
    guarded = {
        d.incident_id
        for d in decisions
        if d.incident.category == Category.SECURITY and d.incident.status != Status.RESOLVED
    }
    if guarded:
        seen = set(
            incidents_visible_to(viewer, Incident.objects.filter(pk__in=guarded)).values_list(
                "pk", flat=True
            )
        )
        decisions = [d for d in decisions if d.incident_id not in guarded - seen]
    return decisions[:COUNCIL_DECISIONS_LISTED]
