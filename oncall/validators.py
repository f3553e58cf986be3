"""Field validators shared by every app."""

import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError


def validate_timezone(value: str) -> None:
    """Accept only IANA timezone names that this machine's tz database knows."""
    if not value or value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known IANA timezone (for example America/New_York).",
            code="invalid_timezone",
            params={"value": value},
        )


def validate_e164(value: str) -> None:
    """Refuse anything but a valid phone number written in E.164 (+14155552671)."""
    normalize_e164(value)


def normalize_e164(value: str) -> str:
    """The number in canonical E.164 form; ValidationError when it is not a valid one."""
    message = "%(value)s is not a valid phone number in E.164 form, e.g. +14155552671."
    if not value.startswith("+"):
        raise ValidationError(message, code="invalid_phone", params={"value": value})
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as error:
        raise ValidationError(message, code="invalid_phone", params={"value": value}) from error
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(message, code="invalid_phone", params={"value": value})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
