"""The insights page's filters (`?range=&from=&to=&team=&severity=&integration=&tier=`): a
range of the last 7, 30 or 90 days or custom dates (both included) in the viewer's zone."""

import zoneinfo
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from incidents.models import Severity
from insights.selectors import Filters, day_start
from integrations.models import Integration
from oncall.validators import validate_instant_range
from rotations.models import Team

RANGE_MAX_DAYS = 731  # two years at once
RANGES = (
    ("7", "Last 7 days"),
    ("30", "Last 30 days"),
    ("90", "Last 90 days"),
    ("custom", "Custom"),
)
TIER_CHOICES = (("", "Both tiers"), ("veteran", "Veteran tier"), ("new", "New tier"))


class InsightsForm(forms.Form):
    range = forms.ChoiceField(choices=RANGES, required=False, initial="30")
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Every team",
    )
    severity = forms.ChoiceField(
        choices=(("", "Every severity"), *Severity.choices), required=False
    )
    integration = forms.ModelChoiceField(
        queryset=Integration.objects.order_by("name"),
        required=False,
        empty_label="Every service or integration",
        label="Service or integration",
    )
    tier = forms.ChoiceField(choices=TIER_CHOICES, required=False)

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        # "from" is a Python keyword: the fields are named as the query string names them.
        self.fields["from"] = forms.DateField(
            label="From", required=False, validators=[validate_instant_range]
        )
        self.fields["to"] = forms.DateField(
            label="To (included)", required=False, validators=[validate_instant_range]
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = data.get("range") or ""
        start, end = data.get("from"), data.get("to")
        if chosen in ("7", "30", "90") or (not chosen and not start and not end):
            days = int(chosen or 30)
            data["range"] = str(days)
            data["from"], data["to"] = self.today - timedelta(days=days - 1), self.today
        else:
            data["range"] = "custom"
            if start is None and "from" not in self.errors:
                self.add_error("from", "Give the first day of a custom range.")
            if end is None and "to" not in self.errors:
                end = data["to"] = self.today
            if start and end:
                if end < start:
                    self.add_error("to", "The end comes before the start.")
                elif (end - start).days + 1 > RANGE_MAX_DAYS:
                    self.add_error("to", f"At most {RANGE_MAX_DAYS} days at once.")
        return data

    def filters(self, zone: zoneinfo.ZoneInfo) -> Filters:
        data = self.cleaned_data
        team, integration = data.get("team"), data.get("integration")
        return Filters(
            start=day_start(data["from"], zone),
            end=day_start(data["to"] + timedelta(days=1), zone),
            team_id=team.pk if team else None,
            severity=data.get("severity") or "",
            integration_id=integration.pk if integration else None,
            tier=data.get("tier") or "",
        )


def today_in(zone: zoneinfo.ZoneInfo) -> date:
    return timezone.localdate(timezone.now(), zone)
