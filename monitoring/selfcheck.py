"""The portal's self-checks: is the engine, the outbox, beat and ingestion keeping up?

Each check is one indexed query (or the heartbeat row) and returns an `oncall.health.Check`.
The auditor (monitoring.auditor, every minute) runs all four and pings DEADMAN_URL only
when every one passes; /healthz runs the engine, outbox and ingestion ones as well (beat is
already one of its own checks).

- escalation: no active step overdue by more than two sweep intervals (the sweeper runs
  every ESCALATION_SWEEP_SECONDS, so a healthy engine is never later than one);
  `escalation_due` (status, next_action_at) index.
- outbox: no notification pending more than a minute past its due time (not_before, else
  due_at, else created_at: storm control's slot, a rule's delay, a retry's backoff);
  `notification_due` (status, deadline) index, which holds only the few pending rows at the
  front of the status range.
- beat: its heartbeat is fresh (oncall.health.check_beat).
- ingestion: no accepted event still waiting more than a minute past its grace
  (INGEST_SWEEP_GRACE, after which the sweeper folds it), no retrying event more than that
  past its retry time; `inbound_pending_by_key`, a partial index of pending events only.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from incidents.models import EscalationState, EscalationStatus
from integrations.models import INBOUND_PENDING, InboundEvent, InboundStatus
from notifications.models import Notification, Status
from oncall.health import Check, check_beat, register_health_check

# How far past its due time a pending row or event may be before the check fails.
OUTBOX_SLACK = timedelta(minutes=1)
INGEST_SLACK = timedelta(minutes=1)


def _late(count: int, oldest: datetime | None, now: datetime, what: str, limit: timedelta) -> Check:
    if not count or oldest is None:
        return Check(True, f"no {what} late by more than {limit.total_seconds():.0f}s")
    late = round((now - oldest).total_seconds())
    return Check(
        False,
        f"{count} {what} late by more than {limit.total_seconds():.0f}s (the oldest by {late}s)",
    )


def check_escalation(now: datetime | None = None) -> Check:
    now = now or timezone.now()
    limit = timedelta(seconds=2 * settings.ESCALATION_SWEEP_SECONDS)
    found = EscalationState.objects.filter(
        status=EscalationStatus.ACTIVE, next_action_at__lt=now - limit
    ).aggregate(count=Count("pk"), oldest=Min("next_action_at"))
    return _late(found["count"], found["oldest"], now, "escalation step(s)", limit)


def pending_due() -> Coalesce:
    """When a pending outbox row is due: its slot or retry time, else its due time."""
    return Coalesce("not_before", "due_at", "created_at")


def check_outbox(now: datetime | None = None) -> Check:
    now = now or timezone.now()
    found = (
        Notification.objects.filter(status=Status.PENDING)
        .annotate(due=pending_due())
        .filter(due__lt=now - OUTBOX_SLACK)
        .aggregate(count=Count("pk"), oldest=Min("due"))
    )
    return _late(found["count"], found["oldest"], now, "pending notification(s)", OUTBOX_SLACK)


def check_ingestion(now: datetime | None = None) -> Check:
    now = now or timezone.now()
    limit = settings.INGEST_SWEEP_GRACE + INGEST_SLACK
    waiting = Q(status=InboundStatus.ACCEPTED, received_at__lt=now - limit) | Q(
        status=InboundStatus.RETRYING, next_attempt_at__lt=now - INGEST_SLACK
    )
    found = (
        InboundEvent.objects.filter(status__in=INBOUND_PENDING)
        .filter(waiting)
        .aggregate(count=Count("pk"), oldest=Min(Coalesce("next_attempt_at", "received_at")))
    )
    return _late(found["count"], found["oldest"], now, "inbound event(s)", limit)


# The auditor's checks, in the order they are reported.
SELF_CHECKS: dict[str, Callable[[datetime], Check]] = {
    "escalation": check_escalation,
    "outbox": check_outbox,
    "beat": check_beat,
    "ingestion": check_ingestion,
}


def selfcheck_run(*, now: datetime | None = None) -> dict[str, Check]:
    """Every self-check; one that raises (database down) fails with the error as detail."""
    now = now or timezone.now()
    results: dict[str, Check] = {}
    for name, check in SELF_CHECKS.items():
        try:
            results[name] = check(now)
        except Exception as error:
            results[name] = Check(False, f"{type(error).__name__}: {error}")
    return results


def _at_now(check: Callable[[datetime], Check]) -> Callable[[], Check]:
    return lambda: check(timezone.now())


def register_health_checks() -> None:
    """/healthz runs these too (beat is already one of its own)."""
    for name in ("escalation", "outbox", "ingestion"):
        register_health_check(name, _at_now(SELF_CHECKS[name]))
