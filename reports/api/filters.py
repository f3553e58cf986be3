"""Query filters of the on-call report list."""

import django_filters
from django import forms

from incidents.api.serializers import MAX_ID
from reports.models import OnCallReport, ReportStatus


class ReportFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(
        field_name="rotation__team__slug", max_length=50, help_text="The team's slug."
    )
    user = django_filters.NumberFilter(field_name="user_id", help_text="Whose shift (a user id).")
    status = django_filters.ChoiceFilter(choices=ReportStatus.choices)

    class Meta:
        model = OnCallReport
        fields = ("team", "user", "status")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # A whole number within the database's integer: else a 400, not a 500.
        self.filters["user"].field_class = forms.IntegerField
        self.filters["user"].extra.update(min_value=1, max_value=MAX_ID)
