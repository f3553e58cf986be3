"""Response figures of a set of incidents: counts, mean, median and 90th percentile of the
time to acknowledge and to resolve, aggregated in the database (one query per grouping,
whatever the number of rows), or from times already read (`response_figures_of`, the same
figures computed in Python for a caller that groups one read several ways).

The one implementation of these figures: the insights page and API (`insights.selectors`)
and the weekly review (`postmortems.review`, through `postmortems.figures`) read them here.
Times run from `triggered_at`; an incident not yet acknowledged (or resolved) counts in
`count` but not in that mean or percentile.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import (
    Aggregate,
    Avg,
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    QuerySet,
)
from django.dispatch import receiver

from incidents.models import Incident

SQLITE_MEDIAN = "oncall_median"
SQLITE_P90 = "oncall_p90"


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's `percentile_cont`: linear interpolation between the two nearest ranks
    (the median of an even count is the mean of the middle two)."""
    if not values:
        return None
    ordered = sorted(values)
    place = (len(ordered) - 1) * fraction
    low = math.floor(place)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (place - low)


class Median(Aggregate):
    """The median of a column (PostgreSQL's `percentile_cont(0.5)`; on SQLite a Python
    aggregate registered on each connection)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    fraction = "0.5"
    sqlite_function = SQLITE_MEDIAN
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        return super().as_sql(compiler, connection, fraction=self.fraction, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return super().as_sql(
            compiler,
            connection,
            function=self.sqlite_function,
            template="%(function)s(%(expressions)s)%(filter)s",
            **extra,
        )


class Percentile90(Median):
    """The 90th percentile, as `percentile_cont(0.9)`."""

    name = "Percentile90"
    fraction = "0.9"
    sqlite_function = SQLITE_P90


class _SqlitePercentile:
    """sqlite3's aggregate protocol: step(value) for each row, finalize() at the end."""

    fraction = 0.5

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return percentile_cont(self.values, self.fraction)


class _SqliteP90(_SqlitePercentile):
    fraction = 0.9


@receiver(connection_created)
def _sqlite_median(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate(SQLITE_MEDIAN, 1, _SqlitePercentile)
        connection.connection.create_aggregate(SQLITE_P90, 1, _SqliteP90)


@dataclass(frozen=True)
class ResponseFigures:
    """How a set of incidents was answered."""

    count: int
    acknowledged: int
    resolved: int
    ack_mean: timedelta | None
    ack_median: timedelta | None
    resolve_mean: timedelta | None
    resolve_median: timedelta | None


def _to_ack() -> ExpressionWrapper:
    return ExpressionWrapper(F("acknowledged_at") - F("triggered_at"), output_field=DurationField())


def _to_resolve() -> ExpressionWrapper:
    return ExpressionWrapper(F("resolved_at") - F("triggered_at"), output_field=DurationField())


FIGURES: dict[str, Any] = {
    "count": Count("id"),
    "acknowledged": Count("acknowledged_at"),
    "resolved": Count("resolved_at"),
}


def _aggregates() -> dict[str, Any]:
    return {
        **FIGURES,
        "ack_mean": Avg(_to_ack(), output_field=DurationField()),
        "ack_median": Median(_to_ack(), output_field=DurationField()),
        "resolve_mean": Avg(_to_resolve(), output_field=DurationField()),
        "resolve_median": Median(_to_resolve(), output_field=DurationField()),
    }


def whole_seconds(value: Any) -> timedelta | None:
    return _duration(value)


def _duration(value: Any) -> timedelta | None:
    """A whole-second duration (the database's microseconds mean nothing to a reader)."""
    if value is None:
        return None
    if not isinstance(value, timedelta):  # SQLite may hand back microseconds
        value = timedelta(microseconds=float(value))
    return timedelta(seconds=round(value.total_seconds()))


def _figures(row: dict[str, Any]) -> ResponseFigures:
    return ResponseFigures(
        count=row["count"] or 0,
        acknowledged=row["acknowledged"] or 0,
        resolved=row["resolved"] or 0,
        ack_mean=_duration(row["ack_mean"]),
        ack_median=_duration(row["ack_median"]),
        resolve_mean=_duration(row["resolve_mean"]),
        resolve_median=_duration(row["resolve_median"]),
    )


def incident_response_figures(incidents: QuerySet[Incident]) -> ResponseFigures:
    """The figures of all these incidents together (one query)."""
    return _figures(incidents.order_by().aggregate(**_aggregates()))


class Microseconds(Func):
    """A duration as a whole number of microseconds: a few thousand integers are read much
    faster than the timestamps they come from (psycopg parses each timestamp with its zone).
    `date_part` works in double precision, exact to the microsecond for spans up to some 285
    years, where `EXTRACT` works in numeric, which cost the weekly review's read of a busy week
    a third of its time (`tests/insights/test_figures.py` pins the two equal)."""

    template = "CAST(date_part('epoch', %(expressions)s) * 1000000 AS bigint)"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return compiler.compile(self.source_expressions[0])  # SQLite's are microseconds


# What `response_figures_of` reads of each incident: its times to acknowledge and to resolve
# (None when not yet) in microseconds, e.g. `incidents.values_list(*SPANS.values())`.
SPANS: dict[str, Any] = {
    "to_ack_us": Microseconds(_to_ack()),
    "to_resolve_us": Microseconds(_to_resolve()),
}


def response_figures_of(spans: Iterable[tuple[int | None, int | None]]) -> ResponseFigures:
    """The same figures from incidents' times to acknowledge and to resolve already read
    (`SPANS`), computed here: a page that groups one read several ways (the weekly review's
    totals, by severity, by team) asks the database once. Averaged and interpolated in
    whole microseconds as PostgreSQL's `avg` and `percentile_cont` of intervals are, then
    rounded to the second like the database's figures."""
    spans = list(spans)
    return response_figures_split(
        len(spans),
        [acknowledged for acknowledged, _ in spans if acknowledged is not None],
        [resolved for _, resolved in spans if resolved is not None],
    )


def response_figures_split(
    count: int, to_ack: Sequence[float], to_resolve: Sequence[float]
) -> ResponseFigures:
    """`response_figures_of` from the times already split: how many incidents, the times to
    acknowledge of those acknowledged and to resolve of those resolved (a caller grouping
    rows reads them straight from its rows, without a pair per incident)."""
    return ResponseFigures(
        count=count,
        acknowledged=len(to_ack),
        resolved=len(to_resolve),
        ack_mean=_duration(sum(to_ack) / len(to_ack)) if to_ack else None,
        ack_median=_duration(percentile_cont(to_ack, 0.5)),
        resolve_mean=_duration(sum(to_resolve) / len(to_resolve)) if to_resolve else None,
        resolve_median=_duration(percentile_cont(to_resolve, 0.5)),
    )
