"""Interruptions kept beside the pages (`Interruption`: one row per person, incident and UTC
minute), so that the insights figures read one row per interruption instead of
deduplicating every SMS and voice page of the range (issue 17's figures on years of history).

- an interruption: an incident page by SMS or voice that was sent, to a person; at most one
  per person, incident and UTC minute of `sent_at`. `is_new`: a page of that minute was on
  the new tier's track (`incidents.pagefacts.NEW_TRACK`); `is_veteran`: one was on any other
  track. The tier filter reads one flag each, as it read the pages: a minute paged by both
  tiers counts for both filters.
- `slots_of` is the one definition of the deduplication: the outbox's listener, the exact
  refresh of a minute, migration 0020's fill and the bench's all write what it selects,
  through one upsert (`_upsert`).
- kept in step in the transaction that moves pages (`notifications.callbacks.sent_changed`,
  called by `notifications_transition`): reaching sent adds the pages' minutes with an
  upsert that ORs the flags (ON CONFLICT … DO UPDATE), so a retry, a bundle or a concurrent
  writer of the same minute never counts twice; leaving sent (sent → failed, a provider's late
  non-delivery report; nothing else leaves sent) recomputes the minute from the pages still
  sent, so it goes only when no other page holds it. The callback runs in a savepoint and
  logs its failure: the rollup never fails a delivery.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import Trunc
from django.db.models.lookups import GreaterThan

from incidents.engine.tracks import SUBJECT_TYPE
from incidents.models import Interruption
from incidents.pagefacts import new_track_q
from notifications.models import Channel, Notification, Status

INTERRUPTING = (Channel.SMS, Channel.VOICE)
MINUTE = timedelta(minutes=1)
FILL_CHUNK = 5000  # incident ids per statement when filling from the pages

Slot = tuple[int, int, datetime]  # recipient id, incident id, UTC minute


def interrupting_q() -> Q:
    """Incident pages by SMS or voice that were sent to a person."""
    return Q(
        subject_type=SUBJECT_TYPE,
        channel__in=INTERRUPTING,
        status=Status.SENT,
        recipient__isnull=False,
        sent_at__isnull=False,
    )


def slots_of(pages: QuerySet[Any]) -> QuerySet[Any]:
    """The interruptions of these pages: one row per recipient, incident and UTC minute, with
    whether the new tier's track and any other track paged in it."""
    new = new_track_q()
    return (
        pages.filter(interrupting_q())
        .order_by()
        .annotate(minute=Trunc("sent_at", "minute", tzinfo=UTC))
        .values("recipient_id", "subject_id", "minute")
        .annotate(
            is_new=GreaterThan(Count("id", filter=new), 0),
            is_veteran=GreaterThan(Count("id", filter=~new), 0),
        )
    )


# "WHERE true": SQLite would read ON CONFLICT as the subquery's join constraint without it.
_UPSERT_SQL = """
INSERT INTO {table} (recipient_id, incident_id, minute, is_new, is_veteran)
SELECT s.recipient_id, s.subject_id, s.minute, s.is_new, s.is_veteran
FROM ({slots}) s WHERE true ORDER BY 1, 2, 3
ON CONFLICT (recipient_id, incident_id, minute) DO UPDATE SET
    is_new = {table}.is_new OR excluded.is_new,
    is_veteran = {table}.is_veteran OR excluded.is_veteran
"""


def _upsert(interruption: Any, slots: QuerySet[Any]) -> None:
    """Write these interruptions; a minute already there keeps the flags it had as well
    (rows go in key order, so concurrent writers lock them in one order)."""
    inner, params = slots.query.sql_with_params()
    table = connection.ops.quote_name(interruption._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL.format(table=table, slots=inner), params)


def interruption_slot(page: Notification) -> Slot | None:
    """The interruption a page was part of, if it was an interruption when sent."""
    if (
        page.subject_type != SUBJECT_TYPE
        or page.channel not in INTERRUPTING
        or page.recipient_id is None
        or page.subject_id is None
        or page.sent_at is None
    ):
        return None
    minute = page.sent_at.astimezone(UTC).replace(second=0, microsecond=0)
    return (page.recipient_id, page.subject_id, minute)


def interruptions_refresh(slots: Iterable[Slot]) -> None:
    """Recompute these minutes from the pages sent in them (two queries): a minute no page
    holds any more goes."""
    found = sorted(set(slots))
    if not found:
        return
    rows, pages = Q(), Q()
    for recipient_id, incident_id, minute in found:
        rows |= Q(recipient_id=recipient_id, incident_id=incident_id, minute=minute)
        pages |= Q(
            recipient_id=recipient_id,
            subject_id=incident_id,
            sent_at__gte=minute,
            sent_at__lt=minute + MINUTE,
        )
    Interruption.objects.filter(rows).delete()
    _upsert(Interruption, slots_of(Notification.objects.filter(pages)))


def interruptions_record(pages: Sequence[Notification]) -> None:
    """The outbox's sent listener (`notifications.callbacks.register_sent_listener`), in the
    transaction that moved these incident pages to sent, or from sent to failed."""
    sent = sorted(
        page.pk for page in pages if page.status == Status.SENT and interruption_slot(page)
    )
    if sent:
        _upsert(Interruption, slots_of(Notification.objects.filter(pk__in=sent)))
    interruptions_refresh(
        slot for page in pages if page.status != Status.SENT and (slot := interruption_slot(page))
    )


def fill_with(*, notification: Any, interruption: Any, chunk: int = FILL_CHUNK) -> None:
    """Write the interruptions of every page already sent, `chunk` incident ids at a time
    (migration 0020 passes its historical models; the bench fills its seeded pages)."""
    bounds = notification.objects.filter(subject_type=SUBJECT_TYPE).aggregate(
        low=Min("subject_id"), high=Max("subject_id")
    )
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, chunk):
        pages = notification.objects.filter(subject_id__gte=start, subject_id__lt=start + chunk)
        _upsert(interruption, slots_of(pages))
