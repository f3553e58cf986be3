"""Serializer fields shared by the portal's APIs."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oncall.validators import INSTANT_RANGE_MESSAGE, validate_instant_range

# Weeks, days and a time part; no years or months, whose length depends on the calendar.
_DURATION = re.compile(
    r"^(?P<sign>[-+])?P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:[.,]\d{1,6})?)S)?)?$"
)


def duration_parse(value: str) -> timedelta | None:
    """`P7D`, `PT12H`, `PT10M`, `P2W`, `P1DT6H` → timedelta; None when not ISO 8601."""
    match = _DURATION.match(value.strip().upper())
    if match is None:
        return None
    parts = match.groupdict()
    try:
        duration = timedelta(
            weeks=int(parts["weeks"] or 0),
            days=int(parts["days"] or 0),
            hours=int(parts["hours"] or 0),
            minutes=int(parts["minutes"] or 0),
            seconds=float((parts["seconds"] or "0").replace(",", ".")),
        )
    except OverflowError:
        return None
    return -duration if parts["sign"] == "-" else duration


def duration_format(duration: timedelta) -> str:
    """timedelta → the shortest ISO 8601 form: `P7D`, `PT12H`, `P1DT30M`, `PT0S`."""
    sign = "-" if duration < timedelta(0) else ""
    duration = abs(duration)
    minutes, seconds = divmod(duration.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    date_part = f"{duration.days}D" if duration.days else ""
    time_part = "".join(
        f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M")) if amount
    )
    if duration.microseconds:
        time_part += f"{seconds}.{duration.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        time_part += f"{seconds}S"
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}{'T' + time_part if time_part else ''}"


@extend_schema_field(OpenApiTypes.DURATION)
class ISODurationField(serializers.Field):
    """A duration as ISO 8601 (`P7D`, `PT12H`) both ways; years and months are refused."""

    default_error_messages = {
        "invalid": "Give an ISO 8601 duration in weeks, days, hours, minutes or seconds, "
        "e.g. P7D, PT12H or PT10M.",
        "min_value": "Give a duration of at least {limit}.",
        "max_value": "Give a duration of at most {limit}.",
    }

    def __init__(
        self,
        *,
        min_value: timedelta | None = None,
        max_value: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> timedelta:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        duration = duration_parse(data)
        if duration is None:
            self.fail("invalid")
        if self.min_value is not None and duration < self.min_value:
            self.fail("min_value", limit=duration_format(self.min_value))
        if self.max_value is not None and duration > self.max_value:
            self.fail("max_value", limit=duration_format(self.max_value))
        return duration

    def to_representation(self, value: timedelta) -> str:
        return duration_format(value)


# A "+" in a query string decodes to a space, so `at=2026-03-08T09:00:00+01:00` sent
# unencoded arrives as "… 01:00"; put the plus back rather than reject a correct instant.
_LOST_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


class InstantField(serializers.DateTimeField):
    """An ISO 8601 instant within the years 2000 to 2199 (`oncall.validators`), so no stored
    or asked-for time can overflow when shown in another zone or stepped through shifts."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["validators"] = [*kwargs.get("validators", ()), validate_instant_range]
        super().__init__(**kwargs)


class DayField(serializers.DateField):
    """A calendar day within the years 2000 to 2199."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["validators"] = [*kwargs.get("validators", ()), validate_instant_range]
        super().__init__(**kwargs)


class QueryDateTimeField(InstantField):
    """An ISO 8601 instant from a query string (naive values are read as UTC)."""

    def to_internal_value(self, value: Any) -> datetime:
        if isinstance(value, str):
            value = _LOST_PLUS.sub(r"\1+\2", value.strip())
        return super().to_internal_value(value)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
        "example": "09:00",
        "description": "Wall-clock time, HH:MM.",
    }
)
class ClockTimeField(serializers.TimeField):
    """A wall-clock time as "HH:MM" (seconds accepted on input), not an RFC 3339 time."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("format", "%H:%M")
        kwargs.setdefault("input_formats", ["%H:%M", "%H:%M:%S"])
        super().__init__(**kwargs)


class SlugLookupField(serializers.SlugRelatedField):
    """A related object by slug, refusing what cannot be a slug before asking the database
    (PostgreSQL rejects a NUL byte with an error, not an empty answer)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str) or "\x00" in data or len(data) > 255:
            self.fail("invalid")
        return super().to_internal_value(data)


class UTCDateTimeFormField(forms.DateTimeField):
    """A query-string instant for django-filter, read as UTC (naive too) and held in UTC.

    PostgreSQL refuses offsets beyond ±15:59, and far dates can overflow when converted, so
    both become a 400 here rather than a database error.
    """

    def to_python(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            value = _LOST_PLUS.sub(r"\1+\2", value.strip())
        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            if value in self.empty_values:
                return None
            raise forms.ValidationError(
                "Give an ISO 8601 instant, e.g. 2026-03-09T13:00:00Z.", code="invalid"
            )
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            instant = parsed.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(INSTANT_RANGE_MESSAGE, code="out_of_range") from None
        validate_instant_range(instant)
        return instant
