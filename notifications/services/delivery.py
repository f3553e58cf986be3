"""Delivering one outbox row, the sweeper, and provider delivery reports."""

import logging
from collections.abc import Sequence
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
from notifications.signing import ack_token_make, ack_url

logger = logging.getLogger(__name__)

# A task that arrives this early for its not_before is still taken (clock jitter).
EARLY_TOLERANCE = timedelta(seconds=1)
# Twilio reports these when a message or call did not reach the person.
PROVIDER_FAILURES = frozenset({"failed", "undelivered", "busy", "no-answer", "canceled"})


def bundle_window(channel: str) -> timedelta:
    """How far ahead a message to this channel looks for more pages to carry (0: never)."""
    return timedelta(seconds=settings.NOTIFY_BUNDLE_WINDOW.get(channel, 0))


def _title(notification: Notification) -> str:
    first_line = notification.body.strip().splitlines()[0] if notification.body.strip() else ""
    return (
        notification.subject
        or first_line
        or f"{notification.subject_type} {notification.subject_id}"
    )


def bundle_text(rows: Sequence[Notification]) -> tuple[str, str]:
    """Subject and body of one message listing several pages: '3 pages: A; B; C'."""
    titles = [_title(row) for row in rows]
    subject = f"{len(rows)} pages: " + "; ".join(titles)
    if len(subject) > 200:
        subject = subject[:199] + "…"
    lines = []
    for number, (row, title) in enumerate(zip(rows, titles, strict=True), start=1):
        detail = row.body.strip().splitlines()[0] if row.body.strip() else ""
        lines.append(f"{number}. {title}" + (f": {detail}" if detail and detail != title else ""))
    return subject, "\n".join(lines)


def outgoing_message(
    notification: Notification, carried: Sequence[Notification] = ()
) -> OutgoingMessage:
    """The message for a row; with `carried` rows, one message listing every page."""
    site = settings.SITE_URL
    has_subject = bool(notification.subject_type)
    token = ack_token_make(notification_id=notification.pk)
    subject, body, data = notification.subject, notification.body, dict(notification.data)
    urgency = notification.urgency
    if carried:
        rows = [notification, *carried]
        subject, body = bundle_text(rows)
        if any(row.urgency == Urgency.HIGH for row in rows):
            urgency = Urgency.HIGH
        data = {"bundle": [{"id": row.pk, "subject": _title(row), **row.data} for row in rows]}
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
    )


def _claim_companions(notification: Notification, *, now: datetime) -> list[Notification]:
    """Lock the other pages to this address due within the channel's bundling window.

    Only pages (rows about a subject) bundle: a verification code goes out on its own.
    SKIP LOCKED: a row another worker holds is theirs; never waiting is what keeps two
    workers bundling for one number from deadlocking (and id order keeps bundles stable).
    """
    window = bundle_window(notification.channel)
    if not window or not notification.subject_type:
        return []
    return list(
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            channel=notification.channel,
            address=notification.address,
            status=Status.PENDING,
            bundled_into__isnull=True,
        )
        .exclude(pk=notification.pk)
        .exclude(subject_type="")
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now + window))
        .order_by("id")
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

    Pages to the same address due within the channel's bundling window are claimed with it
    and go out in the same message; they reach sent, failed or pending (retry) with it.
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
        companions = _claim_companions(notification, now=now)
        attempt = notification.attempts + 1
        for row in (notification, *companions):
            row.attempts += 1
        for row in companions:
            row.bundled_into = notification
        notifications_transition(
            notifications=[notification, *companions],
            to=Status.SENDING,
            preset=["attempts", "bundled_into"],
            deadline=now + settings.NOTIFY_SENDING_TIMEOUT,
        )
        message = outgoing_message(notification, companions)

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
