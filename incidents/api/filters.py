"""Query filters of the incident list."""

import django_filters
from django.db.models import QuerySet

from incidents.api.serializers import SEVERITY_ALIASES, SEVERITY_INPUT_CHOICES
from incidents.models import Incident, Status
from incidents.selectors import incidents_filter
from oncall.api.fields import UTCDateTimeFormField


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    severity = django_filters.ChoiceFilter(
        choices=[(c, c) for c in SEVERITY_INPUT_CHOICES],
        help_text="SEV0–SEV3 or P0–P3.",
    )
    team = django_filters.CharFilter(
        field_name="team__slug", max_length=50, help_text="The team's slug."
    )
    dedup_key = django_filters.CharFilter(max_length=255)
    since = InstantFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    until = InstantFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )
    q = django_filters.CharFilter(max_length=200, help_text="Words in the title or description.")

    class Meta:
        model = Incident
        fields = ("status", "severity", "team", "dedup_key", "since", "until", "q")

    def filter_queryset(self, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        """The list's one filter (incidents.selectors.incidents_filter), as the page uses it."""
        data = self.form.cleaned_data
        severity = data.get("severity") or ""
        return incidents_filter(
            queryset,
            status=data.get("status") or "",
            severity=SEVERITY_ALIASES.get(severity, severity),
            team_slug=data.get("team") or "",
            dedup_key=data.get("dedup_key") or "",
            since=data.get("since"),
            until=data.get("until"),
            words=data.get("q") or "",
        )
