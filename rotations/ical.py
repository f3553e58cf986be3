"""iCalendar (RFC 5545) feeds of shifts: one VEVENT per shift, in UTC, with stable UIDs.

Pure apart from reading each shift's rotation and user: takes ShiftViews, returns bytes.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vDuration

from rotations.models import Rotation, Tier
from rotations.selectors import ShiftView

PRODID = "-//On-call portal//Rotations//EN"
CONTENT_TYPE = "text/calendar; charset=utf-8"
# Feeds reach 4 weeks back and 12 weeks ahead of the moment they are fetched.
PAST = timedelta(weeks=4)
AHEAD = timedelta(weeks=12)
# How often calendar clients should poll (clients may poll less often).
REFRESH = timedelta(hours=1)


def rotation_role(rotation: Rotation) -> str:
    """Team, tier and position, e.g. 'Core · Veteran primary' or 'Platform · Primary'."""
    position = rotation.get_position_display()
    if rotation.tier == Tier.NONE:
        return f"{rotation.team.name} · {position}"
    return f"{rotation.team.name} · {rotation.get_tier_display()} {position.lower()}"


def shift_summary(shift: ShiftView) -> str:
    text = f"On call {rotation_role(shift.rotation)}: {shift.user.name}"
    return f"{text} (override)" if shift.override else text


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r} in a feed")
    return value.astimezone(UTC)


def shift_event(shift: ShiftView, *, stamp: datetime, url: str = "") -> Event:
    event = Event()
    event.add("uid", shift.uid)
    event.add("dtstamp", _utc(stamp))
    event.add("dtstart", _utc(shift.start))
    event.add("dtend", _utc(shift.end))
    event.add("summary", shift_summary(shift))
    lines = [f"{shift.user.name} is on call for {rotation_role(shift.rotation)}."]
    if shift.rotation.name:
        lines.append(f"Rotation: {shift.rotation.name}.")
    if shift.override:
        lines.append("This stretch is covered by an override.")
    if url:
        lines.append(url)
        event.add("url", url)
    event.add("description", "\n".join(lines))
    # Being on call does not make someone busy in their calendar.
    event.add("transp", "TRANSPARENT")
    return event


def feed_calendar(
    *,
    name: str,
    shifts: Iterable[ShiftView],
    stamp: datetime,
    rotation_urls: dict[int, str] | None = None,
    description: str = "",
) -> bytes:
    """A VCALENDAR named `name` with one event per shift; `rotation_urls` by rotation id."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    if description:
        calendar.add("x-wr-caldesc", description)
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))
    urls = rotation_urls or {}
    for shift in shifts:
        calendar.add_component(shift_event(shift, stamp=stamp, url=urls.get(shift.rotation.pk, "")))
    return calendar.to_ical()
