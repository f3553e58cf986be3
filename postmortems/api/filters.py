"""Query filters of the postmortem and action item lists."""

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from incidents.api.filters import InstantFilter
from incidents.api.serializers import MAX_ID, SEVERITY_ALIASES, SEVERITY_INPUT_CHOICES
from postmortems import selectors
from postmortems.models import ActionItem, ActionItemStatus, Postmortem, PostmortemStatus


class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number within the database's integer (else a 400, not a 500)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs: object) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class PostmortemFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(
        field_name="incident__team__slug", max_length=50, help_text="The incident's team slug."
    )
    severity = django_filters.ChoiceFilter(
        choices=[(c, c) for c in SEVERITY_INPUT_CHOICES],
        method="filter_severity",
        help_text="The incident's severity: SEV0–SEV3 or P0–P3.",
    )
    status = django_filters.ChoiceFilter(choices=PostmortemStatus.choices)
    owner = IdFilter(field_name="owner_id", help_text="The owner's user id.")
    since = InstantFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    until = InstantFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )

    class Meta:
        model = Postmortem
        fields = ("team", "severity", "status", "owner", "since", "until")

    def filter_severity(
        self, queryset: QuerySet[Postmortem], name: str, value: str
    ) -> QuerySet[Postmortem]:
        return queryset.filter(incident__severity=SEVERITY_ALIASES.get(value, value))


class ActionItemFilter(django_filters.FilterSet):
    owner = IdFilter(field_name="owner_id", help_text="The owner's user id.")
    status = django_filters.ChoiceFilter(choices=ActionItemStatus.choices)
    postmortem = IdFilter(field_name="postmortem_id", help_text="The postmortem's id.")
    # "true"/"false" only: django-filter's BooleanFilter reads any other word as "not given".
    overdue = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        method="filter_overdue",
        help_text="true: open or in progress and due before today (UTC), as the daily digest "
        "counts them; false: the others.",
    )

    class Meta:
        model = ActionItem
        fields = ("owner", "status", "postmortem", "overdue")

    def filter_overdue(
        self, queryset: QuerySet[ActionItem], name: str, value: bool
    ) -> QuerySet[ActionItem]:
        today = timezone.now().date()
        if value:
            return selectors.action_items_overdue(queryset, today=today)
        return selectors.action_items_not_overdue(queryset, today=today)
