"""Forms of the rotation pages: covering or swapping shifts.

Datetimes are typed in the viewer's own timezone and come out of `clean()` as aware UTC.
"""

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from oncall.models import User
from oncall.validators import validate_instant_range
from rotations.models import OVERRIDE_REASON_MAX, Rotation
from rotations.services import DOUBLE_BOOKING

COVER = "cover"
SWAP = "swap"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _local_datetime_field(label: str, *, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=LocalDateTimeInput(),
        validators=[validate_instant_range],
    )


class OverrideForm(forms.Form):
    kind = forms.ChoiceField(
        label="What happens",
        choices=[
            (COVER, "Cover: someone takes over a stretch of a shift"),
            (SWAP, "Swap: two people trade shifts"),
        ],
        initial=COVER,
        widget=forms.RadioSelect,
    )
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Who covers")
    replaces = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Whose shift",
        help_text="The person who hands over (optional for a cover, needed for a swap).",
    )
    start = _local_datetime_field("From")
    end = _local_datetime_field("Until")
    swap_start = _local_datetime_field("In return, from", required=False)
    swap_end = _local_datetime_field("In return, until", required=False)
    reason = forms.CharField(max_length=OVERRIDE_REASON_MAX, required=False)
    confirm_double_booking = forms.BooleanField(
        required=False,
        label="Yes, this person holds two positions of the team at once (managers only)",
    )

    def __init__(
        self, *args: Any, rotation: Rotation, tz: zoneinfo.ZoneInfo, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rotation = rotation
        self.tz = tz
        self.asks_confirmation = bool(self.data.get("confirm_double_booking"))
        members = rotation.team.members.order_by("first_name", "last_name", "username")
        user_field = self.fields["user"]
        replaces_field = self.fields["replaces"]
        assert isinstance(user_field, forms.ModelChoiceField)
        assert isinstance(replaces_field, forms.ModelChoiceField)
        user_field.queryset = members
        replaces_field.queryset = members
        note = f"In your timezone ({tz.key})."
        for name in ("start", "end", "swap_start", "swap_end"):
            self.fields[name].help_text = note
        self.fields["swap_start"].help_text = (
            f"Swap only: the shift of the person who covers, which the other person takes in "
            f"return. {note}"
        )

    def full_clean(self) -> None:
        # Naive datetimes from the inputs are read in the viewer's timezone.
        with timezone.override(self.tz):
            super().full_clean()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("start", "end", "swap_start", "swap_end"):
            if isinstance(data.get(name), datetime):
                data[name] = data[name].astimezone(UTC)
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The end must be after the start.")
        user, replaces = data.get("user"), data.get("replaces")
        if user and replaces and user == replaces:
            self.add_error("replaces", "Someone cannot cover their own shift.")
        if data.get("kind") == SWAP:
            if not replaces and "replaces" not in self.errors:
                self.add_error("replaces", "A swap needs the person who trades with the coverer.")
            swap_start, swap_end = data.get("swap_start"), data.get("swap_end")
            if not swap_start and "swap_start" not in self.errors:
                self.add_error("swap_start", "A swap needs the shift given in return.")
            if not swap_end and "swap_end" not in self.errors:
                self.add_error("swap_end", "A swap needs the shift given in return.")
            if swap_start and swap_end and swap_end <= swap_start:
                self.add_error("swap_end", "The end must be after the start.")
        return data

    def add_service_error(self, error: ValidationError) -> None:
        """Show a service's ValidationError next to the fields it names (or above the form)."""
        codes = {e.code for e in error.error_list} if not hasattr(error, "error_dict") else set()
        if hasattr(error, "error_dict"):
            codes = {e.code for errors in error.error_dict.values() for e in errors}
        # A double booking can be confirmed (by a manager): offer the box with the error.
        self.asks_confirmation = DOUBLE_BOOKING in codes
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                known = field in self.fields and field != NON_FIELD_ERRORS
                self.add_error(field if known else None, errors)
        else:
            self.add_error(None, error)
