"""The insights page (`/insights/`) and the CSV of each of its charts. Everyone signed in
reads them (as the hours report)."""

import csv
from datetime import timedelta
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from insights.forms import InsightsForm, today_in
from insights.selectors import DEFINITIONS, WEEKDAYS, Insights, insights
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from reports.stats import BUSINESS, OFF, SLEEP

CHARTS = ("headline", "weeks", "interruptions", "heatmap", "tiers", "people")


def minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def hours(value: timedelta) -> float:
    return round(value.total_seconds() / 3600, 2)


def chart_data(found: Insights) -> dict[str, Any]:
    """What the charts draw (passed with `json_script`): the same numbers as the tables."""
    return {
        "weeks": {
            "labels": [row.week.strftime("%d %b %Y") for row in found.weeks],
            "incidents": [row.incidents for row in found.weeks],
            "mtta": [minutes(row.mtta) for row in found.weeks],
            "mttr": [minutes(row.mttr) for row in found.weeks],
        },
        "people": {
            "labels": [row.user.name for row in found.people if row.pages],
            "business": [row.business for row in found.people if row.pages],
            "off": [row.off_hours for row in found.people if row.pages],
            "sleep": [row.sleep_hours for row in found.people if row.pages],
        },
        "tiers": {
            "labels": ["Veteran tier", "New tier"],
            "pages": [found.tiers["veteran"].pages, found.tiers["new"].pages],
            "acknowledged": [found.tiers["veteran"].acknowledged, found.tiers["new"].acknowledged],
            "ended_with_veteran": [0, found.tiers["new"].ended_with_veteran or 0],
        },
    }


def _heat_level(count: int, top: int) -> int:
    return 0 if not count or not top else 1 + min(4, (count * 5 - 1) // top)


def _query(request: HtmxHttpRequest) -> tuple[InsightsForm, Insights | None]:
    zone = signed_in_user(request).tzinfo
    form = InsightsForm(request.GET, today=today_in(zone))
    if not form.is_valid():
        return form, None
    return form, insights(form.filters(zone), zone=zone)


@require_GET
@in_viewer_timezone
def page(request: HtmxHttpRequest) -> HttpResponse:
    form, found = _query(request)
    context: dict[str, Any] = {"form": form, "found": found, "definitions": DEFINITIONS}
    if found is not None:
        top = max((max(row) for row in found.heatmap), default=0)
        context.update(
            chart_data=chart_data(found),
            heatmap=[
                (WEEKDAYS[day], [(n, _heat_level(n, top)) for n in row])
                for day, row in enumerate(found.heatmap)
            ],
            hours_of_day=range(24),
            query=request.GET.urlencode(),
            last_day=found.filters.end - timedelta(days=1),
        )
    return render(request, "insights/page.html", context, status=200 if found else 400)


def _rows(found: Insights, chart: str) -> list[list[Any]]:
    if chart == "headline":
        h, p = found.headline, found.previous
        names = [
            "incidents",
            "acknowledged",
            "resolved",
            "escalated",
            "mtta",
            "mtta_median",
            "mtta_p90",
            "mttr",
            "mttr_median",
            "mttr_p90",
            "triage",
            "unacknowledged_quick_resolves",
            "not_actionable",
        ]
        return [["figure", "this_period", "previous_period"]] + [
            [n, *(_cell(getattr(x, n)) for x in (h, p))] for n in names
        ]
    if chart == "weeks":
        return [["week", "incidents", "mtta_minutes", "mttr_minutes"]] + [
            [r.week.date().isoformat(), r.incidents, minutes(r.mtta), minutes(r.mttr)]
            for r in found.weeks
        ]
    if chart == "interruptions":
        return [["kind", "interruptions"]] + [
            [kind, found.interruptions[kind]] for kind in (BUSINESS, OFF, SLEEP)
        ]
    if chart == "heatmap":
        return [["weekday", *(f"{h:02d}" for h in range(24))]] + [
            [WEEKDAYS[day], *row] for day, row in enumerate(found.heatmap)
        ]
    if chart == "tiers":
        return [["tier", "pages", "acknowledged", "ended_with_veteran"]] + [
            [
                name,
                t.pages,
                t.acknowledged,
                "" if t.ended_with_veteran is None else t.ended_with_veteran,
            ]
            for name, t in found.tiers.items()
        ]
    return [
        [
            "person",
            "username",
            "pages",
            "business_hours_pages",
            "off_hours_pages",
            "sleep_hours_pages",
            "acknowledged",
            "hours_on_call",
        ]
    ] + [
        [
            r.user.name,
            r.user.username,
            r.pages,
            r.business,
            r.off_hours,
            r.sleep_hours,
            r.acknowledged,
            f"{hours(r.hours_on_call):.2f}",
        ]
        for r in found.people
    ]


def _cell(value: Any) -> Any:
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    return "" if value is None else value


@require_GET
@in_viewer_timezone
def chart_csv(request: HtmxHttpRequest, chart: str) -> HttpResponse:
    """One chart's numbers as CSV (durations in seconds for the headline, minutes for weeks)."""
    if chart not in CHARTS:
        return HttpResponse(
            f"chart: one of {', '.join(CHARTS)}.",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    form, found = _query(request)
    if found is None:
        problems = "; ".join(
            f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
        )
        return HttpResponse(problems, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localdate(found.filters.start, found.zone).isoformat()
    response["Content-Disposition"] = f'attachment; filename="insights-{chart}-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerows(_rows(found, chart))
    return response
