"""Accepted events: stored as one `InboundEvent` row in the request, folded into incidents later.

- `inbound_store` writes the validated, normalised event (no routing key) and, on commit,
  wakes the folders: with INGEST_REDIS_URL a burst of events sends ONE `incidents.ingest_drain`
  (a Redis `SET NX` flag stands for "a drain is on its way"; the drain clears it before it
  reads, so an event committed later raises it again and sends the next). Without Redis
  each event sends its own `incidents.ingest_process(event_id)`. A lost task is not a lost
  event: `ingest_sweep` (beat) folds whatever is still pending after a short grace.
- Events of one (integration, dedup key) are applied one at a time in id order. Whoever
  folds an event first locks the key's *oldest pending* event row (`SKIP LOCKED` for the
  task and the sweeper): every other worker computes the same oldest event, finds it locked
  and leaves the key to the holder, so a trigger and the resolve sent after it are never
  applied in the other order. Each event is folded and marked processed in one
  transaction, so a crash re-folds nothing and loses nothing.
- The fold is the services' (`event_v2_process`, `alertmanager_process`); the partial
  unique constraint on open alert groups still guarantees one open incident per key.
- A failing fold records `last_error` and is retried with exponential backoff; later events
  of its key wait (order). After INGEST_MAX_ATTEMPTS it is given up (`failed_at`), kept for
  the admin, and its key goes on.
"""

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents.integrations.models import InboundEvent, Integration, IntegrationType
from incidents.integrations.parsing import AmAlert, AmMessage, EventV2
from incidents.integrations.ratelimit import ingest_redis
from incidents.integrations.services import (
    IngestResult,
    alertmanager_process,
    event_v2_process,
)
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
# A drain folds for this long, then hands the rest to a fresh task (other queues' work and
# the time limit).
DRAIN_BUDGET_SECONDS = 20.0
DRAIN_BATCH = 50  # events folded per transaction
# A task that finds its key busy looks again this much later (the holder usually folds its
# event meanwhile); the sweeper covers the rest.
BUSY_RETRY_SECONDS = 1.0
BUSY_RETRIES = 10
# Events one drain folds before it lets go of the key (another task or the sweeper goes on).
DRAIN_LIMIT = 500
# Keys the sweeper drains per run; it stops early after SWEEP_BUDGET_SECONDS.
SWEEP_KEYS = 200
SWEEP_BUDGET_SECONDS = 40.0
DELETE_BATCH = 1000


# --- Payloads (JSON) ----------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def event_v2_payload(event: EventV2, *, level: str) -> dict[str, Any]:
    """The event as stored: every field but the routing key (a secret), plus the level."""
    return {
        "event_action": event.event_action,
        "dedup_key": event.dedup_key,
        "summary": event.summary,
        "source": event.source,
        "severity": event.severity,
        "timestamp": _iso(event.timestamp),
        "component": event.component,
        "group": event.group,
        "event_class": event.event_class,
        "custom_details": event.custom_details,
        "client": event.client,
        "client_url": event.client_url,
        "links": event.links,
        "images": event.images,
        "level": level,
    }


def event_v2_from_payload(payload: dict[str, Any]) -> EventV2:
    fields = {k: v for k, v in payload.items() if k != "level"}
    fields["timestamp"] = _dt(fields.get("timestamp"))
    return EventV2(routing_key="", **fields)


def alertmanager_payload(message: AmMessage, *, level: str) -> dict[str, Any]:
    return {
        "group_key": message.group_key,
        "dedup_key": message.dedup_key,
        "status": message.status,
        "receiver": message.receiver,
        "truncated_alerts": message.truncated_alerts,
        "group_labels": message.group_labels,
        "common_labels": message.common_labels,
        "common_annotations": message.common_annotations,
        "external_url": message.external_url,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": _iso(a.starts_at),
                "ends_at": _iso(a.ends_at),
                "generator_url": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in message.alerts
        ],
        "level": level,
    }


def alertmanager_from_payload(payload: dict[str, Any]) -> AmMessage:
    fields = {k: v for k, v in payload.items() if k not in ("level", "alerts")}
    alerts = [
        AmAlert(**{**a, "starts_at": _dt(a["starts_at"]), "ends_at": _dt(a["ends_at"])})
        for a in payload["alerts"]
    ]
    return AmMessage(alerts=alerts, **fields)


# --- Storing --------------------------------------------------------------------------------


def ingest_send(event_id: int, *, countdown: float | None = None) -> None:
    """Send the fold task; a broker that is down costs a sweep interval, not the event."""
    try:
        celery_app.send_task(PROCESS_TASK, args=[event_id], queue=QUEUE, countdown=countdown)
    except Exception:  # the row is stored: the sweeper folds it
        logger.exception("could not queue %s(%s); the sweeper will fold it", PROCESS_TASK, event_id)


def _drain_send(*, countdown: float | None = None) -> None:
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
                _drain_send()
            return
        except Exception as error:
            logger.warning("ingest wake-up: Redis does not answer (%s); one task", error)
    ingest_send(event_id)


def _wake_clear() -> None:
    url = settings.INGEST_REDIS_URL
    if url:
        try:
            ingest_redis(url).delete(WAKE_FLAG)
        except Exception as error:  # events meanwhile wait for the flag's expiry or a sweep
            logger.warning("ingest drain: could not clear the wake-up flag (%s)", error)


def inbound_store(
    *, integration: Integration, kind: str, payload: dict[str, Any], dedup_key: str
) -> InboundEvent:
    """Store one accepted event (one INSERT) and wake a folder on commit."""
    event = InboundEvent.objects.create(
        integration=integration, kind=kind, payload=payload, dedup_key=dedup_key
    )
    if not settings.INGEST_INLINE:
        transaction.on_commit(lambda: ingest_wake(event.pk))
    return event


# --- Folding ----------------------------------------------------------------------------------


@dataclass
class Drained:
    """What one drain of a key did."""

    processed: int = 0
    failed: int = 0
    busy: bool = False  # another worker holds the key
    waiting: bool = False  # the oldest event waits for its retry time
    results: dict[int, IngestResult] = field(default_factory=dict)


def _pending() -> QuerySet[InboundEvent]:
    return InboundEvent.objects.filter(processed_at__isnull=True, failed_at__isnull=True)


def _key_pending(integration_id: int, dedup_key: str) -> QuerySet[InboundEvent]:
    return _pending().filter(integration_id=integration_id, dedup_key=dedup_key)


def _fold(event: InboundEvent) -> IngestResult:
    integration = event.integration
    level = str(event.payload.get("level") or "")
    if event.kind == IntegrationType.ALERTMANAGER:
        message = alertmanager_from_payload(event.payload)
        return alertmanager_process(integration=integration, message=message, level=level)
    return event_v2_process(
        integration=integration, event=event_v2_from_payload(event.payload), level=level
    )


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failure, capped."""
    base: timedelta = settings.INGEST_RETRY_BASE_DELAY
    delay = base * (2 ** max(0, attempts - 1))
    return min(delay, settings.INGEST_RETRY_MAX_DELAY)


def _record_failure(event: InboundEvent, error: BaseException, now: datetime) -> bool:
    """Count the failure; True when the event was given up."""
    event.attempts += 1
    event.last_error = f"{type(error).__name__}: {error}"[:4000]
    given_up = event.attempts >= settings.INGEST_MAX_ATTEMPTS
    if given_up:
        event.failed_at, event.next_attempt_at = now, None
    else:
        event.next_attempt_at = now + retry_delay(event.attempts)
        countdown = (event.next_attempt_at - now).total_seconds()
        event_id = event.pk
        transaction.on_commit(lambda: ingest_send(event_id, countdown=countdown))
    event.save(update_fields=["attempts", "last_error", "next_attempt_at", "failed_at"])
    logger.warning(
        "inbound event %s failed (attempt %s%s): %s",
        event.pk,
        event.attempts,
        ", given up" if given_up else "",
        event.last_error,
    )
    return given_up


def _fold_head(
    integration_id: int, dedup_key: str, out: Drained, *, wait: bool, now: datetime | None
) -> bool:
    """Fold the key's oldest pending event in one transaction; False when the drain stops."""
    now = now or timezone.now()
    with transaction.atomic():
        head = _key_pending(integration_id, dedup_key).order_by("id").values_list("pk", flat=True)
        head_id = head.first()
        if head_id is None:
            return False
        event = (
            _key_pending(integration_id, dedup_key)
            .select_for_update(of=("self",), skip_locked=not wait)
            .select_related("integration__team", "integration__escalation_policy")
            .filter(pk=head_id)
            .first()
        )
        if event is None:
            # Folded meanwhile (look again), or another worker holds the key.
            out.busy = _key_pending(integration_id, dedup_key).filter(pk=head_id).exists()
            return not out.busy
        if event.next_attempt_at is not None and event.next_attempt_at > now and not wait:
            out.waiting = True
            return False
        try:
            with transaction.atomic():
                result = _fold(event)
        except Exception as error:
            out.failed += 1
            return _record_failure(event, error, now)  # a given-up event lets the key go on
        event.processed_at, event.action = timezone.now(), result.action
        event.attempts += 1
        event.next_attempt_at = None
        event.save(update_fields=["processed_at", "action", "attempts", "next_attempt_at"])
        out.processed += 1
        out.results[event.pk] = result
        return True


def ingest_drain(
    *,
    integration_id: int,
    dedup_key: str,
    wait: bool = False,
    until: int | None = None,
    limit: int = DRAIN_LIMIT,
    now: datetime | None = None,
) -> Drained:
    """Fold the key's pending events in order, each in its own transaction.

    `wait`: block on a key another worker holds instead of leaving it (the inline door), and
    retry a backing-off event now. `until`: stop once that event is folded or given up.
    `now`: the clock for retry times (the sweeper's).
    """
    out = Drained()
    for _ in range(limit):
        if until is not None and not _pending().filter(pk=until).exists():
            break
        if not _fold_head(integration_id, dedup_key, out, wait=wait, now=now):
            break
    return out


def ingest_fold_now(event: InboundEvent) -> IngestResult | None:
    """INGEST_INLINE: fold the event just stored (and any older one of its key) right away.

    None when it could not be folded (its failure is recorded; the sweeper retries it).
    """
    drained = ingest_drain(
        integration_id=event.integration_id, dedup_key=event.dedup_key, wait=True, until=event.pk
    )
    return drained.results.get(event.pk)


def ingest_process(*, event_id: int, retries: int = 0) -> str:
    """The task: fold the event's key. A busy key is looked at again shortly."""
    row = (
        InboundEvent.objects.filter(pk=event_id)
        .values_list("integration_id", "dedup_key", "processed_at", "failed_at")
        .first()
    )
    if row is None:
        return "gone"
    integration_id, dedup_key, processed_at, failed_at = row
    if processed_at is not None or failed_at is not None:
        return "done"
    drained = ingest_drain(integration_id=integration_id, dedup_key=dedup_key)
    if drained.busy and retries < BUSY_RETRIES and _pending().filter(pk=event_id).exists():
        try:
            celery_app.send_task(
                PROCESS_TASK,
                args=[event_id],
                kwargs={"retries": retries + 1},
                queue=QUEUE,
                countdown=BUSY_RETRY_SECONDS,
            )
        except Exception:
            logger.exception("could not re-queue %s(%s)", PROCESS_TASK, event_id)
    return f"folded {drained.processed}, failed {drained.failed}" + (
        ", key busy" if drained.busy else ""
    )


def _due(now: datetime) -> QuerySet[InboundEvent]:
    """Pending events that may be folded now (not waiting for a retry)."""
    return _pending().filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))


@dataclass(frozen=True)
class _Blocker:
    """A key's oldest pending event outside the batch: the key's later events wait."""

    event_id: int
    retrying: bool  # it waits for its retry time (its own task folds the key then)


def _blockers(claimed: list[InboundEvent], now: datetime) -> dict[tuple[int, str], _Blocker]:
    """Per claimed key, the oldest pending event this batch did not claim: held by another
    worker, waiting for a retry, or committed after the claim read."""
    keys = {(e.integration_id, e.dedup_key) for e in claimed}
    rows = (
        _pending()
        .filter(integration_id__in={k[0] for k in keys}, dedup_key__in={k[1] for k in keys})
        .exclude(pk__in=[e.pk for e in claimed])
        .order_by()
        .values_list("integration_id", "dedup_key")
        .annotate(first=Min("id"), retrying=Min("id", filter=Q(next_attempt_at__gt=now)))
    )
    return {
        (i, d): _Blocker(first, retrying == first)
        for i, d, first, retrying in rows
        if (i, d) in keys
    }


def _fold_batch(out: Drained, *, now: datetime, size: int, after: int) -> int | None:
    """Claim up to `size` due events past id `after` (SKIP LOCKED); fold them in ONE
    transaction. Returns the last id claimed, None when there was none.

    Each event is folded in its own savepoint, in id order, and only when no older pending
    event of its key is outside the batch; a failure stops its key for the rest of the
    batch. So per key, order holds across workers.
    """
    with transaction.atomic():
        claimed = list(
            _due(now)
            .filter(pk__gt=after)
            .order_by("id")
            .select_for_update(of=("self",), skip_locked=True)
            .select_related("integration__team", "integration__escalation_policy")[:size]
        )
        if not claimed:
            return None
        blockers = _blockers(claimed, now)
        stopped: set[tuple[int, str]] = set()
        done: dict[str, list[int]] = {}
        for event in claimed:
            key = (event.integration_id, event.dedup_key)
            blocker = blockers.get(key)
            if blocker is not None and blocker.event_id < event.pk:
                # Its key's retry task folds it in order; a key held elsewhere, look again.
                out.busy = out.busy or not blocker.retrying
                continue
            if key in stopped:
                continue
            try:
                with transaction.atomic():
                    result = _fold(event)
            except Exception as error:
                out.failed += 1
                if not _record_failure(event, error, now):
                    stopped.add(key)  # it retries later (its task); its key waits behind it
                continue
            done.setdefault(result.action, []).append(event.pk)
            out.processed += 1
            out.results[event.pk] = result
        stamp = timezone.now()
        for action, ids in done.items():
            InboundEvent.objects.filter(pk__in=ids).update(
                processed_at=stamp, action=action, attempts=F("attempts") + 1, next_attempt_at=None
            )
    return claimed[-1].pk


def ingest_drain_pending(*, budget: float = DRAIN_BUDGET_SECONDS, size: int = DRAIN_BATCH) -> str:
    """The drain task: fold every due event in id order, in batches, one pass.

    Clears the wake-up flag before reading, so any event committed after that sends the
    next drain. Events of a key another worker holds are left to it and looked at again
    shortly (the holder has usually finished by then); a key behind a retrying event is
    left to that event's task. Past the budget, a fresh drain goes on.
    """
    _wake_clear()
    started = time.monotonic()
    out = Drained()
    after = 0
    while (last := _fold_batch(out, now=timezone.now(), size=size, after=after)) is not None:
        after = last
        if time.monotonic() - started > budget:
            _drain_send()
            return f"folded {out.processed}, failed {out.failed}, budget spent"
    if out.busy:
        _drain_send(countdown=BUSY_RETRY_SECONDS)
    return f"folded {out.processed}, failed {out.failed}" + (", keys busy" if out.busy else "")


def ingest_sweep(*, now: datetime | None = None, keys: int = SWEEP_KEYS) -> int:
    """Fold events pending past the grace (lost task) or due a retry; prune old processed ones.

    Returns the number of events folded.
    """
    now = now or timezone.now()
    grace: timedelta = settings.INGEST_SWEEP_GRACE
    due = (
        _pending()
        .filter(
            Q(next_attempt_at__isnull=True, received_at__lte=now - grace)
            | Q(next_attempt_at__lte=now)
        )
        .order_by()
        .values_list("integration_id", "dedup_key")
        .distinct()[:keys]
    )
    started = time.monotonic()
    folded = 0
    for integration_id, dedup_key in list(due):
        drained = ingest_drain(integration_id=integration_id, dedup_key=dedup_key, now=now)
        folded += drained.processed
        if time.monotonic() - started > SWEEP_BUDGET_SECONDS:
            break
    _prune(now)
    return folded


def _prune(now: datetime) -> None:
    keep: timedelta = settings.INGEST_KEEP_PROCESSED
    old = InboundEvent.objects.filter(processed_at__lt=now - keep).values_list("pk", flat=True)
    ids = list(old[:DELETE_BATCH])
    if ids:
        InboundEvent.objects.filter(pk__in=ids).delete()


def inbound_retry(*, events: QuerySet[InboundEvent]) -> int:
    """The admin's "retry": given-up or backing-off events become due now and are queued."""
    ids = list(events.filter(processed_at__isnull=True).values_list("pk", flat=True))
    InboundEvent.objects.filter(pk__in=ids).update(failed_at=None, next_attempt_at=None)
    for event_id in ids:
        transaction.on_commit(functools.partial(ingest_send, event_id))
    return len(ids)
