"""The `/audit/` page's filters, read from the query string."""

import zoneinfo
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils.text import capfirst

from audit.selectors import AuditFilters, object_types, type_label
from oncall.models import User
from oncall.validators import ROW_ID_MAX, validate_instant_range


def _day_start(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(required=False, label="Object type")
    object_id = forms.IntegerField(
        required=False, min_value=1, max_value=ROW_ID_MAX, widget=forms.HiddenInput
    )
    actor = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"),
        required=False,
        label="Person",
        empty_label="Everyone",
    )
    before = forms.IntegerField(
        required=False, min_value=1, max_value=ROW_ID_MAX, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        type_field = self.fields["object_type"]
        assert isinstance(type_field, forms.ChoiceField)
        labels = {key: capfirst(type_label(ct)) for key, ct in object_types().items()}
        by_label = sorted(labels.items(), key=lambda item: item[1])
        type_field.choices = [("", "Every type"), *by_label]
        # "from" is a Python keyword: the fields are named as the query string names them.
        self.fields["from"] = forms.DateField(
            label="From",
            required=False,
            validators=[validate_instant_range],
            widget=forms.DateInput(attrs={"type": "date"}),
        )
        self.fields["to"] = forms.DateField(
            label="To (included)",
            required=False,
            validators=[validate_instant_range],
            widget=forms.DateInput(attrs={"type": "date"}),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and end < start:
            self.add_error("to", "The end comes before the start.")
        return data

    def filters(self, zone: zoneinfo.ZoneInfo) -> AuditFilters:
        data = self.cleaned_data
        start, end, actor = data.get("from"), data.get("to"), data.get("actor")
        return AuditFilters(
            object_type=data.get("object_type") or "",
            object_id=data.get("object_id"),
            actor=actor.pk if actor else None,
            since=_day_start(start, zone) if start else None,
            until=_day_start(end + timedelta(days=1), zone) if end else None,
            before_id=data.get("before"),
        )
