"""Delivering one outbox row, the sweeper, and provider delivery reports."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from notifications.channels.base import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    backend_for,
)
from notifications.models import Notification, Status, Urgency
from notifications.services.outbox import (
    enqueue_delivery,
    notification_transition,
    notifications_transition,
)
from notifications.services.storm import (
    LastMessages,
    bundle_order,
    bundle_text,
    bundle_window,
    bundles,
    distinct_pages,
    due_time,
    last_messages,
    min_interval,
    next_slot,
    page_title,
)
from notifications.signing import ack_token_make, ack_url
from oncall.backoff import exponential_backoff
from oncall.logs import bind_log_ids
from oncall.validators import ROW_ID_MAX

logger = logging.getLogger(__name__)

# A task that arrives this early for its not_before is still taken (clock jitter).
EARLY_TOLERANCE = timedelta(seconds=1)
# Twilio reports these when a message or call did not reach the person.
PROVIDER_FAILURES = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


def outgoing_message(
    notification: Notification, carried: Sequence[Notification] = ()
) -> OutgoingMessage:
    """The message for a row; with `carried` rows, one message listing every page.

    The ack link and voice keypress are the carrier's: they acknowledge every page listed.
    """
    site = settings.SITE_URL
    has_subject = bool(notification.subject_type)
    token = ack_token_make(notification_id=notification.pk)
    subject, body, data = notification.subject, notification.body, dict(notification.data)
    urgency = notification.urgency
    size = 1
    if carried:
        rows = bundle_order([notification, *carried])
        size = len(distinct_pages(rows))
        subject, body = bundle_text(rows, channel=notification.channel)
        if any(row.urgency == Urgency.HIGH for row in rows):
            urgency = Urgency.HIGH
        data = {
            "count": size,
            "bundle": [
                {"id": row.pk, "subject": page_title(row), "urgency": row.urgency, **row.data}
                for row in rows
            ],
        }
    return OutgoingMessage(
        notification_id=notification.pk,
        idempotency_key=notification.idempotency_key,
        channel=notification.channel,
        address=notification.address,
        subject=subject,
        body=body,
        urgency=urgency,
        reason=notification.reason,
        subject_type=notification.subject_type,
        subject_id=notification.subject_id,
        ack_url=ack_url(notification_id=notification.pk) if has_subject else "",
        status_callback_url=site + reverse("notifications:twilio-status", args=[notification.pk]),
        voice_ack_url=site + reverse("notifications:twilio-voice-ack", args=[token])
        if has_subject
        else "",
        secret=(
            notification.signing_secret
            or (notification.contact_method.secret if notification.contact_method else "")
            or settings.NOTIFY_WEBHOOK_SECRET
        ),
        data=data,
        html_body="" if carried else notification.html_body,
        bundle_size=size,
    )


@dataclass
class _Claim:
    """What the claiming transaction decided: a message to send, or why not (`outcome`)."""

    outcome: str = ""
    message: OutgoingMessage | None = None
    attempt: int = 0


def _lock_for_claim(head: Notification) -> list[Notification]:
    """Lock the row, and with it every pending page to its address when pages travel together.

    Every delivery of that address takes the same locks in id order, so two workers never send
    two messages for one slot (the second waits, then finds its row carried or the slot used)
    and never deadlock; cancelling and the delivery report lock in id order too.
    """
    rows = Notification.objects.select_for_update(of=("self",)).select_related("contact_method")
    if head.subject_type and bundles(head.channel):
        rows = rows.filter(
            Q(pk=head.pk)
            | Q(channel=head.channel, address=head.address, status=Status.PENDING)
            & ~Q(subject_type="")
        )
    else:
        rows = rows.filter(pk=head.pk)
    return list(rows.order_by("id"))


def _claim(notification_id: int) -> _Claim:
    """Under the address's locks: move the row and the pages it carries pending → sending."""
    head = (
        Notification.objects.filter(pk=notification_id)
        .only("channel", "address", "subject_type", "subject_id", "status")
        .first()
    )
    if head is None:
        logger.warning("notification %s does not exist", notification_id)
        return _Claim("missing")
    if head.subject_type == "incident":  # the delivery task's log line names the incident
        bind_log_ids(incident_id=head.subject_id)
    if head.status != Status.PENDING:
        return _Claim(f"skipped: {head.status}")
    locked = _lock_for_claim(head)
    now = timezone.now()  # after any wait for the locks: the instant the message starts
    notification = next((row for row in locked if row.pk == notification_id), None)
    if notification is None:
        return _Claim("missing")
    if notification.status != Status.PENDING:
        return _Claim(f"skipped: {notification.status}")
    if notification.not_before and notification.not_before > now + EARLY_TOLERANCE:
        _requeue_at(notification, notification.not_before)
        return _Claim("early")
    slot = next_slot(
        start=now,
        interval=min_interval(notification.channel),
        urgency=notification.urgency,
        last=last_messages([(notification.channel, notification.address)], now=now).get(
            (notification.channel, notification.address), LastMessages()
        ),
    )
    if slot > now:
        # Another message reached this address less than an interval ago (a concurrent
        # page, a low-urgency row scheduled before it): wait for the slot, carry them then.
        notification.not_before, notification.throttled = slot, True
        notification.deadline = slot + settings.NOTIFY_PENDING_GRACE
        notification.save(update_fields=["not_before", "throttled", "deadline"])
        _requeue_at(notification, slot)
        return _Claim("deferred to the next slot")
    horizon = now + bundle_window(notification.channel)
    companions = [
        row
        for row in locked
        if row.pk != notification.pk and row.status == Status.PENDING and due_time(row) <= horizon
    ]
    for row in (notification, *companions):
        row.attempts += 1
        row.attempted_at = now
    for row in companions:
        row.bundled_into = notification
    notifications_transition(
        notifications=[notification, *companions],
        to=Status.SENDING,
        preset=["attempts", "attempted_at", "bundled_into"],
        deadline=now + settings.NOTIFY_SENDING_TIMEOUT,
    )
    return _Claim(message=outgoing_message(notification, companions), attempt=notification.attempts)


def _requeue_at(notification: Notification, eta: datetime) -> None:
    transaction.on_commit(
        lambda: enqueue_delivery(
            notification_id=notification.pk, channel=notification.channel, eta=eta
        )
    )


def retry_delay(*, attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff (base × 2^(attempts-1), capped); a Retry-After wins if longer."""
    delay = exponential_backoff(
        attempts=attempts,
        base=settings.NOTIFY_RETRY_BASE_DELAY,
        cap=settings.NOTIFY_RETRY_MAX_DELAY,
    ).total_seconds()
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.NOTIFY_RETRY_AFTER_MAX.total_seconds()))
    return timedelta(seconds=delay)


def notification_deliver(*, notification_id: int) -> str:
    """Claim the row (pending → sending) under its lock, send outside the lock, record.

    Storm control (`notifications.services.storm`): the message waits for the address's
    free slot and carries every page pending for the address and due by then (or within the
    bundle window); they reach sent, failed or pending (retry) with it.
    Returns what happened, for the task's log: sent, failed, retry, or why it did nothing.
    A second task for the same row finds it no longer pending and does nothing.
    """
    with transaction.atomic():
        claim = _claim(notification_id)
    if claim.message is None:
        return claim.outcome
    message, attempt = claim.message, claim.attempt

    result: SendResult | None = None
    error: Exception | None = None
    try:
        result = backend_for(message.channel).send(message)
    except (TransientError, PermanentError) as caught:
        error = caught
    except Exception as caught:  # an unexpected bug or timeout: retry, with the reason kept
        logger.exception("channel %s failed on notification %s", message.channel, notification_id)
        error = TransientError(f"{type(caught).__name__}: {caught}")

    with transaction.atomic():
        # The carrier and the rows it still carries, locked in id order like every claimer.
        rows = list(
            Notification.objects.select_for_update()
            .filter(
                Q(pk=notification_id) | Q(bundled_into_id=notification_id, status=Status.SENDING)
            )
            .order_by("id")
        )
        notification = next((row for row in rows if row.pk == notification_id), None)
        if (
            notification is None
            or notification.status != Status.SENDING
            or notification.attempts != attempt
        ):
            # The sweeper gave this attempt up for dead and someone else owns the row now.
            return "superseded"
        carried = [row for row in rows if row.pk != notification_id]
        if result is not None:
            notifications_transition(
                notifications=rows,
                to=Status.SENT,
                provider_message_id=result.provider_message_id[:200],
                last_error="",
            )
            return f"sent (carrying {len(carried)} more)" if carried else "sent"
        assert error is not None
        reason = str(error)[:2000]
        if isinstance(error, PermanentError) or attempt >= settings.NOTIFY_MAX_ATTEMPTS:
            notifications_transition(notifications=rows, to=Status.FAILED, last_error=reason)
            return "failed"
        retry_at = timezone.now() + retry_delay(
            attempts=attempt,
            retry_after=error.retry_after if isinstance(error, TransientError) else None,
        )
        # Every row waits for the retry; the carrier's next attempt bundles them afresh.
        notifications_transition(
            notifications=rows,
            to=Status.PENDING,
            last_error=reason,
            not_before=retry_at,
            deadline=retry_at + settings.NOTIFY_PENDING_GRACE,
            bundled_into=None,
        )
        transaction.on_commit(
            lambda: enqueue_delivery(
                notification_id=notification_id, channel=message.channel, eta=retry_at
            )
        )
        return "retry"


def notifications_sweep(*, limit: int = 500) -> int:
    """Re-queue rows left pending or sending past their deadline (lost task, dead worker).

    Rows another sweeper holds are skipped (SKIP LOCKED), so any number may run.
    """
    now = timezone.now()
    requeue: list[Notification] = []
    with transaction.atomic():
        overdue = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(status__in=[Status.PENDING, Status.SENDING], deadline__lt=now)
            .order_by("deadline")[:limit]
        )
        for notification in overdue:
            deadline = now + settings.NOTIFY_PENDING_GRACE
            if notification.status == Status.SENDING:
                if notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                    notification_transition(
                        notification=notification,
                        to=Status.FAILED,
                        last_error="the worker sending it never finished; attempts exhausted",
                    )
                    continue
                notification_transition(
                    notification=notification,
                    to=Status.PENDING,
                    last_error="the worker sending it never finished; re-queued",
                    not_before=None,
                    deadline=deadline,
                    bundled_into=None,  # sent on its own or in a fresh bundle
                )
            else:
                notification.deadline = deadline
                notification.save(update_fields=["deadline"])
            requeue.append(notification)

        def send() -> None:
            for row in requeue:
                enqueue_delivery(notification_id=row.pk, channel=row.channel)

        transaction.on_commit(send)
    if overdue:
        logger.info("swept %d overdue notifications (%d re-queued)", len(overdue), len(requeue))
    return len(requeue)


def notification_provider_status_record(
    *, notification_id: int, provider_status: str, error_code: str = ""
) -> Notification | None:
    """A provider's delivery report: remember it; a non-delivery fails a sent row.

    The report of a message that carried a bundle is the report of every page in it.
    """
    provider_status = provider_status.strip().lower()[:50]
    if not 0 < notification_id <= ROW_ID_MAX:  # names no row (a path id of 30 digits)
        return None
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(Q(pk=notification_id) | Q(bundled_into_id=notification_id))
            .order_by("id")
        )
        notification = next((row for row in rows if row.pk == notification_id), None)
        if notification is None:
            return None
        for row in rows:
            row.provider_status = provider_status
        Notification.objects.bulk_update(rows, ["provider_status"])
        undelivered = [row for row in rows if row.status == Status.SENT]
        if provider_status in PROVIDER_FAILURES and undelivered:
            detail = f"provider reported {provider_status}"
            if error_code:
                detail += f" (error {error_code})"
            notifications_transition(notifications=undelivered, to=Status.FAILED, last_error=detail)
    return notification
