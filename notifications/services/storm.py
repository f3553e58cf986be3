"""Storm control: the minimum interval limits how often a phone rings, not how late a page is.

The rules, in one place (the outbox uses them when it writes rows, delivery when it sends):

- A *message* is what reaches a phone or inbox once. Each address (channel + address) gets
  at most one message per `NOTIFY_MIN_INTERVAL[channel]` seconds, counted from the instant
  each message started going out (`Notification.attempted_at`).
- A new page is due at once or after its rule's delay (`due_at`); it waits for the address's
  next free slot: its due time when the last message is older than the interval, else last
  message + interval. Pages still pending do not push the slot further: at the slot one
  message carries *every* page pending for that address and due by then (plus the next
  `NOTIFY_BUNDLE_WINDOW[channel]` seconds, so a rule delay ending just after the slot travels
  too). No page is later than one interval after its due time (plus task latency), however
  many arrive, and a page is never sent more than the window before it is due.
- Urgency: a high-urgency page never waits behind low-urgency ones. Its slot counts only
  messages that carried a high-urgency page; a low-urgency page's slot counts every message.
  So a SEV1 right after a low-urgency digest goes out at once (carrying what is pending).
- Acknowledged or resolved pages are cancelled in the outbox; a bundle is built under the
  address's row locks at send time from rows still pending, so a cancelled call is never made.
- The message lists the most urgent page first (urgency, then severity, then the most recent)
  and says how many it carries; acknowledging it (link, voice keypress) acknowledges every
  page it listed, and says so ("Ack all 7").
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Q

from notifications.models import Channel, Notification, Status, Urgency

# Statuses of rows whose message went out (or is going out): they count for the rate limit.
# A row put back to pending for a retry did not reach the phone.
_WENT_OUT = (Status.SENDING, Status.SENT, Status.FAILED)
# How much of a bundle's list a text may hold before "…and N more"; the rest is on the portal.
LIST_BUDGET: dict[str, int] = {Channel.SMS: 480, Channel.VOICE: 0}
DEFAULT_LIST_BUDGET = 4000


def min_interval(channel: str) -> timedelta:
    return timedelta(seconds=settings.NOTIFY_MIN_INTERVAL.get(channel, 0))


def bundle_window(channel: str) -> timedelta:
    """How far past now a message looks for more pages to carry."""
    return timedelta(seconds=settings.NOTIFY_BUNDLE_WINDOW.get(channel, 0))


def bundles(channel: str) -> bool:
    """Whether pages to one address of this channel travel together (rate limit or window)."""
    return bool(min_interval(channel) or bundle_window(channel))


@dataclass(frozen=True)
class LastMessages:
    """When the address's latest message started, and its latest carrying a high page."""

    any: datetime | None = None
    high: datetime | None = None


def next_slot(
    *, start: datetime, interval: timedelta, urgency: str, last: LastMessages
) -> datetime:
    """The earliest instant at or after `start` a message of this urgency may go out."""
    previous = last.high if urgency == Urgency.HIGH else last.any
    if not interval or previous is None:
        return start
    return max(start, previous + interval)


def last_messages(
    addresses: Iterable[tuple[str, str]], *, now: datetime
) -> dict[tuple[str, str], LastMessages]:
    """The latest messages to each (channel, address) that still limit the next one."""
    where = Q()
    oldest: datetime | None = None
    for channel, address in set(addresses):
        interval = min_interval(channel)
        if not interval:
            continue
        where |= Q(channel=channel, address=address, attempted_at__gt=now - interval)
        oldest = now - interval if oldest is None else min(oldest, now - interval)
    if oldest is None:
        return {}
    found = (
        Notification.objects.filter(where, status__in=_WENT_OUT)
        .values("channel", "address")
        .annotate(
            last_any=Max("attempted_at"),
            last_high=Max("attempted_at", filter=Q(urgency=Urgency.HIGH)),
        )
    )
    return {
        (row["channel"], row["address"]): LastMessages(row["last_any"], row["last_high"])
        for row in found
    }


def schedule_rows(rows: list[Notification], now: datetime) -> None:
    """Set `not_before`, `throttled` and `deadline` of new pending rows.

    A row starts at max(now, its own not_before), or at its address's next free slot when a
    message went there less than an interval before. Rows written together share the slot:
    they will travel in one message, so none of them pushes another back.
    """
    last = last_messages(((row.channel, row.address) for row in rows), now=now)
    for row in rows:
        start = max(now, row.not_before) if row.not_before else now
        slot = next_slot(
            start=start,
            interval=min_interval(row.channel),
            urgency=row.urgency,
            last=last.get((row.channel, row.address), LastMessages()),
        )
        row.due_at = start
        if slot > start:
            row.not_before = slot
            row.throttled = True
        row.deadline = slot + settings.NOTIFY_PENDING_GRACE


# --- what one message carrying several pages says ---------------------------------------------

_SEVERITY_NUMBER = re.compile(r"(\d+)\s*$")


def _severity_rank(row: Notification) -> int:
    """SEV0/P0 → 0 … SEV3/P3 → 3; a page without a severity after every graded one."""
    match = _SEVERITY_NUMBER.search(str(row.data.get("severity") or ""))
    return int(match.group(1)) if match else 99


def due_time(row: Notification) -> datetime:
    """When the page was due, before any hold for the address's slot."""
    return row.due_at or row.not_before or row.created_at


def bundle_order(rows: Iterable[Notification]) -> list[Notification]:
    """The most urgent first: high urgency, then the gravest severity, then the most recent."""
    by_recent = sorted(rows, key=lambda row: (row.created_at, row.pk or 0), reverse=True)
    return sorted(by_recent, key=lambda row: (row.urgency != Urgency.HIGH, _severity_rank(row)))


def distinct_pages(rows: Sequence[Notification]) -> list[Notification]:
    """One row per subject, in order: two escalation steps about one incident are one page."""
    seen: set[tuple[str, int | None]] = set()
    pages = []
    for row in rows:
        key = (row.subject_type, row.subject_id) if row.subject_type else ("", row.pk)
        if key not in seen:
            seen.add(key)
            pages.append(row)
    return pages


def page_title(row: Notification) -> str:
    body = row.body.strip()
    first_line = body.splitlines()[0] if body else ""
    return row.subject or first_line or f"{row.subject_type} {row.subject_id}"


def bundle_text(rows: Sequence[Notification], *, channel: str) -> tuple[str, str]:
    """Subject and body of one message carrying several pages, `rows` in bundle order.

    Subject: "<the first page> and 6 more". Body: one line per page while the channel's
    budget lasts (a text stays a few segments long), then "…and N more in the portal".
    Several rows about one subject are listed (and counted) once.
    """
    rows = distinct_pages(rows)
    titles = [page_title(row) for row in rows]
    others = len(rows) - 1
    if not others:
        return titles[0], ""
    subject = f"{titles[0]} and {others} more"
    if len(subject) > 200:
        subject = titles[0][: 199 - len(f" and {others} more")] + "…" + f" and {others} more"
    budget = LIST_BUDGET.get(channel, DEFAULT_LIST_BUDGET)
    lines: list[str] = []
    used = 0
    for title in titles:
        line = f"- {title}"
        if used + len(line) + 1 > budget:
            break
        lines.append(line)
        used += len(line) + 1
    missing = len(rows) - len(lines)
    if lines and missing:
        lines.append(f"…and {missing} more in the portal")
    header = f"{len(rows)} pages for you:" if lines else ""
    return subject, "\n".join([header, *lines]) if lines else ""
