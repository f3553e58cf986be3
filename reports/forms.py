"""The report page's writing form (the API's ReportUpdateSerializer in form shape)."""

from typing import Any

from django import forms

from incidents.models import TEXT_MAX
from oncall.validators import validate_instant_range, validate_slack_user_id
from reports.hours import HOURS_RANGE_MAX_DAYS
from reports.models import OFF_HOURS_MAX, REMINDER_LEADS, Effort
from rotations.models import Team


def _text(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=TEXT_MAX,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ReportForm(forms.Form):
    summary = _text("What happened", "Markdown.")
    ongoing = _text("Ongoing incidents", "Still open, and their state.")
    unplanned = _text("Unplanned requests and blockers", "CI, QA, failed deployments…")
    engineering = _text("Better engineering", "Tasks done or proposed.")
    handoff_notes = _text("Handoff notes", "For the next on-call.")
    effort = forms.ChoiceField(choices=[("", "—"), *Effort.choices], required=False, label="Effort")
    off_hours_spent = forms.DecimalField(
        required=False,
        min_value=0,
        max_value=OFF_HOURS_MAX,
        max_digits=5,
        decimal_places=1,
        label="Off-hours time spent (hours)",
    )


LEAD_CHOICES = [("", "Off"), *((str(minutes), words) for minutes, words in REMINDER_LEADS)]


def _lead(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        choices=LEAD_CHOICES, coerce=int, empty_value=None, required=False, label=label
    )


class ShiftReminderForm(forms.Form):
    before_start = _lead("Before a shift starts")
    before_end = _lead("Before a shift ends")
    slack_user_id = forms.CharField(
        label="Slack member id",
        required=False,
        max_length=21,
        validators=[validate_slack_user_id],
        help_text="In Slack: your profile › ⋮ › Copy member ID (U…). The team's on-call Slack "
        "group names you by it.",
    )


class HoursForm(forms.Form):
    """The hours report's query (`?team=&from=&to=`): a team (optional) and dates in the
    viewer's zone, both included, at most HOURS_RANGE_MAX_DAYS."""

    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Every team",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the fields are named as the query string names them.
        self.fields["from"] = forms.DateField(label="From", validators=[validate_instant_range])
        self.fields["to"] = forms.DateField(
            label="To (included)", validators=[validate_instant_range]
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end:
            if end < start:
                self.add_error("to", "The end comes before the start.")
            elif (end - start).days + 1 > HOURS_RANGE_MAX_DAYS:
                self.add_error("to", f"At most {HOURS_RANGE_MAX_DAYS} days at once.")
        return data
