"""Profile forms: add a contact method, enter its code, add a rule."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from notifications.models import (
    ADDRESS_MAX,
    CONTACT_CHANNELS,
    LABEL_MAX,
    ContactMethod,
    Urgency,
    normalize_address,
)
from oncall.models import User


class ContactMethodForm(forms.Form):
    channel = forms.ChoiceField(choices=CONTACT_CHANNELS)
    address = forms.CharField(
        max_length=ADDRESS_MAX,
        help_text="Email address, phone number in E.164 (+14155552671) or https:// URL.",
    )
    label = forms.CharField(max_length=LABEL_MAX, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("channel") and data.get("address"):
            try:
                data["address"] = normalize_address(data["channel"], data["address"])
            except ValidationError as error:
                self.add_error("address", error)
        return data


class VerifyForm(forms.Form):
    code = forms.CharField(max_length=6, min_length=6, strip=True)


class RuleForm(forms.Form):
    urgency = forms.ChoiceField(choices=Urgency.choices)
    contact_method = forms.ModelChoiceField(queryset=ContactMethod.objects.none())
    delay = forms.IntegerField(min_value=0, max_value=24 * 3600, initial=0, help_text="Seconds")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["contact_method"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ContactMethod.objects.filter(user=user)


class ProviderStatusForm(forms.Form):
    """Twilio's delivery report: a message's or a call's status and its error code.

    Django's fields refuse NUL characters (PostgreSQL cannot store them) and overlong text.
    """

    MessageStatus = forms.CharField(required=False, max_length=50)  # Twilio's names
    CallStatus = forms.CharField(required=False, max_length=50)
    ErrorCode = forms.CharField(required=False, max_length=20)

    def problems(self) -> str:
        """Each refused field named with why, for the plain-text 400."""
        return "; ".join(
            f"{field}: {' '.join(str(e) for e in errors)}"
            for field, errors in sorted(self.errors.items())
        )
