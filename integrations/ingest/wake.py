"""Storing an accepted event and waking the folders (the doors' side, in the request)."""

import functools
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field

from integrations.models import InboundEvent, Integration
from integrations.ratelimit import ingest_redis
from oncall.celery import app as celery_app

logger = logging.getLogger(__name__)

PROCESS_TASK = "incidents.ingest_process"
DRAIN_TASK = "incidents.ingest_drain"
QUEUE = "ingest"
# The wake-up flag: set (NX) by the event that sends a drain, cleared by the drain as it
# starts. It expires, so a lost drain task costs at most this long (then the next event
# sends another; the sweeper covers a quiet key).
WAKE_FLAG = "ingest:wake"
WAKE_FLAG_MS = 2000


def ingest_send(event_id: int, *, countdown: float | None = None) -> None:
    """Send the fold task; a broker that is down costs a sweep interval, not the event."""
    try:
        celery_app.send_task(PROCESS_TASK, args=[event_id], queue=QUEUE, countdown=countdown)
    except Exception:  # the row is stored: the sweeper folds it
        logger.exception("could not queue %s(%s); the sweeper will fold it", PROCESS_TASK, event_id)


def drain_send(*, countdown: float | None = None) -> None:
    try:
        celery_app.send_task(DRAIN_TASK, queue=QUEUE, countdown=countdown)
    except Exception:  # the rows are stored: the sweeper folds them
        logger.exception("could not queue %s; the sweeper will fold", DRAIN_TASK)


def ingest_wake(event_id: int) -> None:
    """After an event commits: make sure a drain will read it.

    Redis `SET NX` succeeds for the first event of a burst, which sends the drain; the rest
    find the flag raised, so a drain that has not cleared it yet (and therefore not read
    yet) is still to come. Without Redis, or when it does not answer, the event's own task.
    """
    url = settings.INGEST_REDIS_URL
    if url:
        try:
            if ingest_redis(url).set(WAKE_FLAG, event_id, nx=True, px=WAKE_FLAG_MS):
                drain_send()
            return
        except Exception as error:
            logger.warning("ingest wake-up: Redis does not answer (%s); one task", error)
    ingest_send(event_id)


def wake_clear() -> None:
    url = settings.INGEST_REDIS_URL
    if url:
        try:
            ingest_redis(url).delete(WAKE_FLAG)
        except Exception as error:  # events meanwhile wait for the flag's expiry or a sweep
            logger.warning("ingest drain: could not clear the wake-up flag (%s)", error)


@functools.cache
def _insert_sql(vendor: str) -> tuple[str, tuple["Field[Any, Any]", ...]]:
    """`INSERT … RETURNING id` over every concrete column, built once per backend."""
    meta = InboundEvent._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.attname if f.column is None else f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    # Only the model's own quoted names go in; every value is a parameter.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values}) RETURNING "  # noqa: S608
    return sql + quote(meta.pk.attname), fields


def _insert(event: InboundEvent) -> None:
    """The model's own INSERT without the ORM's per-call SQL compilation (the hot path of
    every accepted event: a third of the door's CPU went there). Same values as save():
    each field's pre_save and database preparation."""
    if not connection.features.can_return_columns_from_insert:
        event.save(force_insert=True)
        return
    sql, fields = _insert_sql(connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (event.pk,) = cursor.fetchone()
    event._state.adding, event._state.db = False, connection.alias


def inbound_store(
    *, integration: Integration, kind: str, payload: dict[str, Any], dedup_key: str
) -> InboundEvent:
    """Store one accepted event (one INSERT) and wake a folder on commit."""
    event = InboundEvent(integration=integration, kind=kind, payload=payload, dedup_key=dedup_key)
    _insert(event)
    if not settings.INGEST_INLINE:
        transaction.on_commit(lambda: ingest_wake(event.pk))
    return event
