"""Delivering one outbox row, the sweeper, and provider delivery reports."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications.channels.base import (
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    backend_for,
)
from notifications.models import Notification, Status
from notifications.services.outbox import enqueue_delivery, notification_transition
from notifications.signing import ack_token_make, ack_url

logger = logging.getLogger(__name__)

# A task that arrives this early for its not_before is still taken (clock jitter).
EARLY_TOLERANCE = timedelta(seconds=1)
# Twilio reports these when a message or call did not reach the person.
PROVIDER_FAILURES = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


def outgoing_message(notification: Notification) -> OutgoingMessage:
    site = settings.SITE_URL
    has_subject = bool(notification.subject_type)
    token = ack_token_make(notification_id=notification.pk)
    return OutgoingMessage(
        notification_id=notification.pk,
        idempotency_key=notification.idempotency_key,
        channel=notification.channel,
        address=notification.address,
        subject=notification.subject,
        body=notification.body,
        urgency=notification.urgency,
        reason=notification.reason,
        subject_type=notification.subject_type,
        subject_id=notification.subject_id,
        ack_url=ack_url(notification_id=notification.pk) if has_subject else "",
        status_callback_url=site + reverse("notifications:twilio-status", args=[notification.pk]),
        voice_ack_url=site + reverse("notifications:twilio-voice-ack", args=[token])
        if has_subject
        else "",
        secret=(
            notification.contact_method.secret
            if notification.contact_method
            else settings.NOTIFY_WEBHOOK_SECRET
        ),
        data=dict(notification.data),
    )


def retry_delay(*, attempts: int, retry_after: float | None) -> timedelta:
    """Exponential backoff (base × 2^(attempts-1), capped); a Retry-After wins if longer."""
    base = settings.NOTIFY_RETRY_BASE_DELAY.total_seconds()
    cap = settings.NOTIFY_RETRY_MAX_DELAY.total_seconds()
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.NOTIFY_RETRY_AFTER_MAX.total_seconds()))
    return timedelta(seconds=delay)


def notification_deliver(*, notification_id: int) -> str:
    """Claim the row (pending → sending) under its lock, send outside the lock, record.

    Returns what happened, for the task's log: sent, failed, retry, or why it did nothing.
    A second task for the same row finds it no longer pending and does nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(of=("self",))
            .select_related("contact_method")
            .filter(pk=notification_id)
            .first()
        )
        if notification is None:
            logger.warning("notification %s does not exist", notification_id)
            return "missing"
        if notification.status != Status.PENDING:
            return f"skipped: {notification.status}"
        if notification.not_before and notification.not_before > now + EARLY_TOLERANCE:
            return "early"
        attempt = notification.attempts + 1
        notification_transition(
            notification=notification,
            to=Status.SENDING,
            attempts=attempt,
            deadline=now + settings.NOTIFY_SENDING_TIMEOUT,
        )
        message = outgoing_message(notification)

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
        notification = Notification.objects.select_for_update().get(pk=notification_id)
        if notification.status != Status.SENDING or notification.attempts != attempt:
            # The sweeper gave this attempt up for dead and someone else owns the row now.
            return "superseded"
        if result is not None:
            notification_transition(
                notification=notification,
                to=Status.SENT,
                provider_message_id=result.provider_message_id[:200],
                last_error="",
            )
            return "sent"
        assert error is not None
        reason = str(error)[:2000]
        if isinstance(error, PermanentError) or attempt >= settings.NOTIFY_MAX_ATTEMPTS:
            notification_transition(notification=notification, to=Status.FAILED, last_error=reason)
            return "failed"
        retry_at = timezone.now() + retry_delay(
            attempts=attempt,
            retry_after=error.retry_after if isinstance(error, TransientError) else None,
        )
        notification_transition(
            notification=notification,
            to=Status.PENDING,
            last_error=reason,
            not_before=retry_at,
            deadline=retry_at + settings.NOTIFY_PENDING_GRACE,
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
    """A provider's delivery report: remember it; a non-delivery fails a sent row."""
    provider_status = provider_status.strip().lower()[:50]
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None:
            return None
        notification.provider_status = provider_status
        notification.save(update_fields=["provider_status"])
        if provider_status in PROVIDER_FAILURES and notification.status == Status.SENT:
            detail = f"provider reported {provider_status}"
            if error_code:
                detail += f" (error {error_code})"
            notification_transition(notification=notification, to=Status.FAILED, last_error=detail)
    return notification
