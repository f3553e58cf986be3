"""The report page's writing form (the API's ReportUpdateSerializer in form shape)."""

from django import forms

from incidents.models import TEXT_MAX
from reports.models import OFF_HOURS_MAX, Effort


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
