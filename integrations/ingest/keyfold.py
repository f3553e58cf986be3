"""Folding one key at a time: the per-event task, the inline door, the sweeper, retries."""

import functools
import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations.ingest import events as inbound
from integrations.ingest.events import (
    BUSY_RETRIES,
    BUSY_RETRY_SECONDS,
    DELETE_BATCH,
    DRAIN_LIMIT,
    SWEEP_BUDGET_SECONDS,
    SWEEP_KEYS,
    Drained,
    key_pending,
    pending,
    record_failure,
)
from integrations.ingest.status import inbound_transition, inbound_transition_many
from integrations.ingest.wake import PROCESS_TASK, QUEUE, ingest_send
from integrations.models import INBOUND_PENDING, InboundEvent, InboundStatus
from integrations.services.groups import IngestResult
from oncall.celery import app as celery_app

logger = logging.getLogger(__name__)


def _fold_head(
    integration_id: int, dedup_key: str, out: Drained, *, wait: bool, now: datetime | None
) -> bool:
    """Fold the key's oldest pending event in one transaction; False when the drain stops."""
    now = now or timezone.now()
    with transaction.atomic():
        head = key_pending(integration_id, dedup_key).order_by("id").values_list("pk", flat=True)
        head_id = head.first()
        if head_id is None:
            return False
        event = (
            key_pending(integration_id, dedup_key)
            .select_for_update(of=("self",), skip_locked=not wait)
            .select_related("integration__team", "integration__escalation_policy")
            .filter(pk=head_id)
            .first()
        )
        if event is None:
            # Folded meanwhile (look again), or another worker holds the key.
            out.busy = key_pending(integration_id, dedup_key).filter(pk=head_id).exists()
            return not out.busy
        if event.next_attempt_at is not None and event.next_attempt_at > now and not wait:
            out.waiting = True
            return False
        try:
            with transaction.atomic():
                result = inbound.fold_event(event)
        except Exception as error:
            out.failed += 1
            return record_failure(event, error, now)  # a given-up event lets the key go on
        inbound_transition(
            event, to=InboundStatus.PROCESSED, at=timezone.now(), action=result.action
        )
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
        if until is not None and not pending().filter(pk=until).exists():
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
        .values_list("integration_id", "dedup_key", "status")
        .first()
    )
    if row is None:
        return "gone"
    integration_id, dedup_key, status = row
    if status not in INBOUND_PENDING:
        return "done"
    drained = ingest_drain(integration_id=integration_id, dedup_key=dedup_key)
    if drained.busy and retries < BUSY_RETRIES and pending().filter(pk=event_id).exists():
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


def ingest_sweep(*, now: datetime | None = None, keys: int = SWEEP_KEYS) -> int:
    """Fold events pending past the grace (lost task) or due a retry; prune old processed ones.

    Returns the number of events folded.
    """
    now = now or timezone.now()
    grace: timedelta = settings.INGEST_SWEEP_GRACE
    due = (
        pending()
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
    """The admin's "retry": given-up or backing-off events become due now (retrying, not a
    new attempt) and are queued. Accepted or processed events are left as they are."""
    waiting = (InboundStatus.RETRYING, InboundStatus.FAILED)
    ids = list(events.filter(status__in=waiting).values_list("pk", flat=True))
    inbound_transition_many(ids, to=InboundStatus.RETRYING, at=timezone.now(), attempted=False)
    for event_id in ids:
        transaction.on_commit(functools.partial(ingest_send, event_id))
    return len(ids)
