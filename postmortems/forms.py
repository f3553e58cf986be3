"""Forms of the postmortem pages. They validate input only; the services decide what is
allowed (postmortems.services, postmortems.rules).

The writing form knows what the writer touched: it carries a fingerprint of every value as
the page showed it (`fingerprints`), and only values that differ from their fingerprint
are sent to `postmortem_update`. So a field the writer left alone never overwrites another
person's edit, and a stale save whose touched fields nobody else changed can be saved on
top of the newer version without asking.
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django import forms

from incidents.forms import ServiceErrorsMixin, UserChoiceField
from incidents.models import TEXT_MAX, TITLE_MAX
from oncall.models import User
from oncall.validators import ROW_ID_MAX, validate_instant_range
from postmortems.models import (
    TICKET_URL_MAX,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
)
from postmortems.services import TimelineLine

DUE_FORMAT = "%Y-%m-%dT%H:%M"
AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
TIMELINE_ROWS_MAX = 2000


def people() -> Any:
    return User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")


def text_normal(value: str | None) -> str:
    """A textarea's text as it is compared and saved: LF line ends, no outer whitespace."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


class MarkdownField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 6})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=TEXT_MAX, required=False, **kwargs)

    def to_python(self, value: Any) -> str:
        return text_normal(super().to_python(value))


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def section_name(key: str) -> str:
    return f"section-{key}"


def _minute(at: datetime | None) -> str | None:
    return at.astimezone(UTC).replace(second=0, microsecond=0).isoformat() if at else None


def _timeline_values(lines: list[TimelineLine]) -> list[list[Any]]:
    return [
        [line.at.astimezone(UTC).replace(microsecond=0).isoformat(), line.text, line.key_moment]
        for line in lines
    ]


def comparable(values: dict[str, Any]) -> dict[str, Any]:
    """The values of a writing form in the shape fingerprints are taken of."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name == "owner":
            out[name] = value.pk if value else None
        elif name == "due_at":
            out[name] = _minute(value)
        elif name == "timeline":
            out[name] = _timeline_values(value)
        else:
            out[name] = value
    return out


def saved_values(postmortem: Postmortem) -> dict[str, Any]:
    """A postmortem's values as the writing form shows them (sections by their form name)."""
    values: dict[str, Any] = {
        "title": postmortem.title,
        "owner": postmortem.owner,
        "due_at": postmortem.due_at,
        "no_action_items_reason": text_normal(postmortem.no_action_items_reason),
        "timeline": [
            TimelineLine(at=e.at, text=text_normal(e.text), key_moment=e.key_moment)
            for e in postmortem.timeline.all()
        ],
    }
    for section in postmortem.sections.all():
        values[section_name(section.key)] = text_normal(section.body)
    return values


def fingerprints_of(values: dict[str, Any]) -> str:
    return json.dumps({name: fingerprint(v) for name, v in comparable(values).items()})


def touched(values: dict[str, Any], fingerprints: str) -> set[str]:
    """The names whose value differs from the fingerprint the page was shown with (all of
    them when the fingerprints are missing or unreadable: the version check still holds)."""
    try:
        shown = json.loads(fingerprints or "")
    except ValueError:
        shown = None
    if not isinstance(shown, dict):
        return set(values)
    current = comparable(values)
    return {name for name in values if shown.get(name) != fingerprint(current[name])}


class PostmortemForm(ServiceErrorsMixin, forms.Form):
    """Title, owner, due time, each section, the reason for no action items, the version."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=ROW_ID_MAX)
    fingerprints = forms.CharField(widget=forms.HiddenInput, required=False, max_length=20_000)
    title = forms.CharField(max_length=TITLE_MAX)
    owner = UserChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")
    due_at = forms.DateTimeField(
        label="Due",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DUE_FORMAT),
        validators=[validate_instant_range],
        help_text="In your time zone. Empty: no due time.",
    )
    no_action_items_reason = MarkdownField(
        label="Why there are no action items",
        help_text="Only if there are none: publishing needs action items or this reason.",
    )

    def __init__(self, *args: Any, postmortem: Postmortem, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = people()
        self.section_names: list[tuple[str, str]] = []
        for section in postmortem.sections.all():
            name = section_name(section.key)
            self.fields[name] = MarkdownField(label=section.title, help_text=section.prompt)
            self.section_names.append((name, section.key))

    def sections(self) -> list[forms.BoundField]:
        return [self[name] for name, _ in self.section_names]


class TimelineRowForm(forms.Form):
    at = forms.DateTimeField(
        label="Time",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format=AT_FORMAT),
        validators=[validate_instant_range],
    )
    text = forms.CharField(max_length=TEXT_MAX, label="What happened")
    key_moment = forms.BooleanField(required=False, label="Key moment")

    def clean_text(self) -> str:
        return text_normal(self.cleaned_data.get("text"))


TimelineFormSet = forms.formset_factory(
    TimelineRowForm,
    extra=0,
    can_delete=True,
    max_num=TIMELINE_ROWS_MAX,
    absolute_max=TIMELINE_ROWS_MAX,
    validate_max=True,
)


def timeline_lines(formset: Any) -> list[TimelineLine]:
    """The rows kept (not removed, not left empty), in the page's order."""
    return [
        TimelineLine(at=row["at"], text=row["text"], key_moment=row["key_moment"])
        for row in formset.cleaned_data
        if row and not row.get("DELETE")
    ]


def timeline_initial(lines: list[TimelineLine]) -> list[dict[str, Any]]:
    return [{"at": line.at, "text": line.text, "key_moment": line.key_moment} for line in lines]


class VersionForm(forms.Form):
    """Submit, publish, reopen: the version read (you move what you read)."""

    version = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=1, max_value=ROW_ID_MAX
    )


class PreviewForm(forms.Form):
    text = MarkdownField()


class ActionItemForm(ServiceErrorsMixin, forms.Form):
    title = forms.CharField(max_length=TITLE_MAX)
    owner = UserChoiceField(queryset=User.objects.none())
    kind = forms.ChoiceField(choices=ActionItemKind.choices)
    priority = forms.ChoiceField(
        choices=ActionItemPriority.choices, initial=ActionItemPriority.MEDIUM
    )
    due_date = forms.DateField(
        label="Due",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_instant_range],
    )
    ticket_url = forms.CharField(
        label="Ticket URL", max_length=TICKET_URL_MAX, required=False, help_text="http or https."
    )
    description = MarkdownField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.ModelChoiceField)
        owner.queryset = people()


class ActionItemStatusForm(forms.Form):
    to = forms.ChoiceField(choices=ActionItemStatus.choices)
    back = forms.ChoiceField(
        choices=[("postmortem", "postmortem"), ("mine", "mine")], required=False
    )
