"""Field validators shared by every app."""

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from oncall.words import duration_words


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


# The largest id a row can have (a 64-bit key): a larger number names no row, and the
# database refuses to compare it with a foreign key column.
ROW_ID_MAX = 2**63 - 1


# What the portal stores and accepts as a time: wide enough for any real schedule or event,
# narrow enough that converting to any viewer's zone (±14 h) or adding a year of shifts can
# never leave what Python and the database can hold (years 1 to 9999).
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
INSTANT_RANGE_MESSAGE = "Give a time between the years 2000 and 2199."


def instant_in_range(value: datetime | date) -> bool:
    """Whether an instant (aware) or a day lies within the years 2000 to 2199."""
    if isinstance(value, datetime):
        return EARLIEST_INSTANT <= value < LATEST_INSTANT
    return EARLIEST_INSTANT.date() <= value < LATEST_INSTANT.date()


validate_slack_user_id = RegexValidator(
    r"^[UW][A-Z0-9]{2,20}$",
    "A Slack user id starts with U or W, then capital letters and digits, e.g. U024BE7LH.",
    code="invalid_slack_id",
)
validate_slack_usergroup_id = RegexValidator(
    r"^S[A-Z0-9]{2,20}$",
    "A Slack user group id starts with S, then capital letters and digits, e.g. S0614TZR7.",
    code="invalid_slack_id",
)


def validate_instant_range(value: datetime | date) -> None:
    if not instant_in_range(value):
        raise ValidationError(INSTANT_RANGE_MESSAGE, code="out_of_range")


# The longest durations the portal's timers and resolver are asked to add to a time: far
# beyond any sensible setting, and far inside what a datetime can hold, so no saved policy,
# rotation or rule can make a page, the dry run or a timer overflow.
SHIFT_LENGTH_MAX = timedelta(days=366)
STEP_WAIT_MAX = timedelta(days=7)
TARGET_MAX = timedelta(days=30)
RULE_DELAY_MAX = timedelta(days=1)


def duration_over(value: timedelta | None, limit: timedelta) -> str | None:
    """Why a duration is too long ("At most 7 days."), or None when it fits."""
    if value is None or value <= limit:
        return None
    return f"At most {duration_words(limit)}."
