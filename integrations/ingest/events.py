"""What every folder shares: pending events, folding one, recording a failure."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from integrations.ingest.payloads import alertmanager_from_payload, event_v2_from_payload
from integrations.ingest.status import inbound_transition
from integrations.ingest.wake import ingest_send
from integrations.models import INBOUND_PENDING, InboundEvent, InboundStatus, IntegrationType
from integrations.services.alertmanager import alertmanager_process
from integrations.services.events_v2 import event_v2_process
from integrations.services.groups import IngestResult
from oncall.backoff import exponential_backoff

logger = logging.getLogger(__name__)

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


@dataclass
class Drained:
    """What one drain of a key did."""

    processed: int = 0
    failed: int = 0
    busy: bool = False  # another worker holds the key
    waiting: bool = False  # the oldest event waits for its retry time
    results: dict[int, IngestResult] = field(default_factory=dict)

    def add(self, other: "Drained") -> None:
        """Count another drain's work in this one."""
        self.processed += other.processed
        self.failed += other.failed
        self.busy = self.busy or other.busy
        self.waiting = self.waiting or other.waiting
        self.results.update(other.results)


def pending() -> QuerySet[InboundEvent]:
    return InboundEvent.objects.filter(status__in=INBOUND_PENDING)


def key_pending(integration_id: int, dedup_key: str) -> QuerySet[InboundEvent]:
    return pending().filter(integration_id=integration_id, dedup_key=dedup_key)


def fold_event(event: InboundEvent) -> IngestResult:
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
    return exponential_backoff(
        attempts=attempts,
        base=settings.INGEST_RETRY_BASE_DELAY,
        cap=settings.INGEST_RETRY_MAX_DELAY,
    )


def record_failure(event: InboundEvent, error: BaseException, now: datetime) -> bool:
    """Count the failure (retrying, or failed at the last attempt); True when given up."""
    message = f"{type(error).__name__}: {error}"[:4000]
    attempts = event.attempts + 1
    given_up = attempts >= settings.INGEST_MAX_ATTEMPTS
    if given_up:
        inbound_transition(event, to=InboundStatus.FAILED, at=now, error=message)
    else:
        next_attempt_at = now + retry_delay(attempts)
        inbound_transition(
            event,
            to=InboundStatus.RETRYING,
            at=now,
            error=message,
            next_attempt_at=next_attempt_at,
        )
        countdown = (next_attempt_at - now).total_seconds()
        event_id = event.pk
        transaction.on_commit(lambda: ingest_send(event_id, countdown=countdown))
    logger.warning(
        "inbound event %s failed (attempt %s%s): %s",
        event.pk,
        event.attempts,
        ", given up" if given_up else "",
        event.last_error,
    )
    return given_up


def due(now: datetime) -> QuerySet[InboundEvent]:
    """Pending events that may be folded now (not waiting for a retry)."""
    return pending().filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
