"""Query filters of the incident list."""

import django_filters
from django.db.models import Q, QuerySet

from incidents.api.serializers import SEVERITY_ALIASES, SEVERITY_INPUT_CHOICES
from incidents.models import Incident, Status
from oncall.api.fields import UTCDateTimeFormField


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class IncidentFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    severity = django_filters.ChoiceFilter(
        choices=[(c, c) for c in SEVERITY_INPUT_CHOICES],
        method="filter_severity",
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
    q = django_filters.CharFilter(
        method="search", max_length=200, help_text="Words in the title or description."
    )

    class Meta:
        model = Incident
        fields = ("status", "severity", "team", "dedup_key", "since", "until", "q")

    def filter_severity(
        self, queryset: QuerySet[Incident], name: str, value: str
    ) -> QuerySet[Incident]:
        return queryset.filter(severity=SEVERITY_ALIASES.get(value, value))

    def search(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        for word in value.split():
            queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
        return queryset
