"""The postmortem list: filters (django-filter), a search over titles and sections, pages."""

from datetime import date, datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.models import TITLE_MAX, Severity
from oncall.http import HtmxHttpRequest, id_from_text, in_viewer_timezone
from oncall.models import User
from oncall.validators import EARLIEST_INSTANT, LATEST_INSTANT
from postmortems import selectors
from postmortems.models import Postmortem, PostmortemStatus
from postmortems.review import IsoWeek
from postmortems.views import address_up_to_id
from postmortems.widgets import Select
from rotations.models import Team

PAGE_SIZE = 50


def _day_start(day: date) -> datetime:
    """Midnight of a day in the viewer's zone (the current zone: in_viewer_timezone)."""
    return timezone.make_aware(datetime.combine(day, time(0)))


class DayInput(forms.DateField):
    """A day of the portal's years (a year 9999 day would overflow the next midnight)."""

    widget = forms.DateInput(attrs={"type": "date"})

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not EARLIEST_INSTANT.date() <= value < LATEST_INSTANT.date() - timedelta(1):
            raise forms.ValidationError("Give a day between the years 2000 and 2199.")


class DayFilter(django_filters.DateFilter):
    field_class = DayInput


class PostmortemListFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_search",
        label="Search",
        max_length=TITLE_MAX,
        help_text="Titles and sections.",
    )
    team = django_filters.ModelChoiceFilter(
        field_name="incident__team",
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        empty_label="Every team",
        widget=Select,
    )
    severity = django_filters.ChoiceFilter(
        field_name="incident__severity",
        choices=Severity.choices,
        empty_label="Any severity",
        widget=Select,
    )
    status = django_filters.ChoiceFilter(
        choices=PostmortemStatus.choices, empty_label="Any status", widget=Select
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=User.objects.order_by("first_name", "last_name", "username"),
        empty_label="Anyone",
        widget=Select,
    )
    created_from = DayFilter(method="filter_from", label="Created from")
    created_to = DayFilter(method="filter_to", label="Created to (inclusive)")

    class Meta:
        model = Postmortem
        fields = ("q", "team", "severity", "status", "owner", "created_from", "created_to")

    def filter_search(
        self, queryset: QuerySet[Postmortem], name: str, value: str
    ) -> QuerySet[Postmortem]:
        return selectors.postmortems_search(queryset, value)

    def filter_from(
        self, queryset: QuerySet[Postmortem], name: str, value: date
    ) -> QuerySet[Postmortem]:
        return queryset.filter(created_at__gte=_day_start(value))

    def filter_to(
        self, queryset: QuerySet[Postmortem], name: str, value: date
    ) -> QuerySet[Postmortem]:
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))


def _rows(postmortems: list[Postmortem], now: datetime) -> list[dict[str, Any]]:
    rows = []
    for postmortem in postmortems:
        total, still_open = postmortem.items_total, postmortem.items_open  # type: ignore[attr-defined]
        closed_out = still_open == 0 if total else bool(postmortem.no_action_items_reason.strip())
        overdue = (
            postmortem.status != PostmortemStatus.PUBLISHED
            and postmortem.due_at is not None
            and postmortem.due_at < now
        )
        rows.append(
            {
                "postmortem": postmortem,
                "closed_out": closed_out,
                "overdue": overdue,
                "items_open": still_open,
                "items_total": total,
            }
        )
    return rows


@require_GET
@in_viewer_timezone
def postmortem_list(request: HtmxHttpRequest) -> HttpResponse:
    """Newest first, 50 a page; filters and search keep their values in the address."""
    filters = PostmortemListFilter(request.GET, queryset=selectors.postmortems_listed())
    queryset = filters.qs if filters.is_valid() else Postmortem.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(id_from_text(request.GET.get("page")) or 1)
    now = timezone.now()
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filters": filters,
        "page": page,
        "rows": _rows(list(page.object_list), now),
        "now": now,
        "query": query.urlencode(),
        "current_week": IsoWeek.current(),
        "postmortem_link": address_up_to_id("postmortems:detail"),
    }
    template = "postmortems/list.html#results" if request.htmx else "postmortems/list.html"
    return render(request, template, context)
