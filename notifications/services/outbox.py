"""The outbox: enqueue (idempotent), the one status transition, cancel, acknowledge."""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.callbacks import ack_handler_for, delivery_finished
from notifications.models import (
    FINAL_STATUSES,
    TRANSITIONS,
    ContactMethod,
    Notification,
    Status,
    Urgency,
)
from oncall.celery import app as celery_app
from oncall.models import User

logger = logging.getLogger(__name__)

_STATUS_TIMESTAMP = {
    Status.SENT: "sent_at",
    Status.FAILED: "failed_at",
    Status.CANCELLED: "cancelled_at",
}


class NotificationError(Exception):
    """A domain error of the notifications app."""


class IllegalTransition(NotificationError):
    pass


class UnknownSubject(NotificationError):
    """No ack handler knows this notification's subject type."""


def deliver_task_name(channel: str) -> str:
    return f"notifications.deliver.{channel}"


def enqueue_delivery(*, notification_id: int, channel: str, eta: datetime | None = None) -> None:
    """Send the delivery task to the channel's own queue (call it on commit)."""
    countdown = None
    if eta is not None:
        countdown = max(0.0, (eta - timezone.now()).total_seconds())
    celery_app.send_task(
        deliver_task_name(channel),
        args=[notification_id],
        queue=f"notify-{channel}",
        countdown=countdown or None,
    )


def check_transition(current: str, to: str) -> None:
    if to not in TRANSITIONS[current]:
        raise IllegalTransition(f"a notification cannot go from {current} to {to}")


def notification_transition(
    *, notification: Notification, to: Status, **changes: Any
) -> Notification:
    """The one place a notification's status changes. Call it holding the row lock.

    `changes` are other fields written in the same save (attempts, deadline, last_error...).
    Final states are announced to the delivery listeners after commit.
    """
    check_transition(notification.status, to)
    notification.status = to
    fields = ["status", *changes]
    for name, value in changes.items():
        setattr(notification, name, value)
    if stamp := _STATUS_TIMESTAMP.get(to):
        setattr(notification, stamp, timezone.now())
        fields.append(stamp)
    if to in FINAL_STATUSES and "deadline" not in changes:
        notification.deadline = None
        fields.append("deadline")
    notification.save(update_fields=fields)
    if to in FINAL_STATUSES:
        transaction.on_commit(lambda: delivery_finished(notification))
    return notification


def _throttle(*, channel: str, address: str, now: datetime) -> datetime | None:
    """The earliest instant this address may get another message, if later than now."""
    interval = timedelta(seconds=settings.NOTIFY_MIN_INTERVAL.get(channel, 0))
    if not interval:
        return None
    last = (
        Notification.objects.filter(channel=channel, address=address)
        .exclude(status__in=[Status.CANCELLED, Status.FAILED])
        .aggregate(last=Max(Coalesce("not_before", "created_at")))["last"]
    )
    if last is None or last + interval <= now:
        return None
    return last + interval


def notification_enqueue(
    *,
    idempotency_key: str,
    channel: str,
    address: str,
    recipient: User | None = None,
    contact_method: ContactMethod | None = None,
    subject: str = "",
    body: str = "",
    reason: str = "",
    urgency: str = Urgency.HIGH,
    subject_type: str = "",
    subject_id: int | None = None,
    data: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> Notification:
    """Write the outbox row and queue its delivery on commit.

    The same key twice returns the first row (also when two callers race: the loser's
    insert fails on the unique key and it reads the winner's row).
    """
    existing = Notification.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            if contact_method is not None:
                # Serialise concurrent pages to one method so the rate limit holds.
                ContactMethod.objects.select_for_update().filter(pk=contact_method.pk).first()
            notification = Notification(
                idempotency_key=idempotency_key,
                channel=channel,
                address=address,
                recipient=recipient,
                contact_method=contact_method,
                subject=subject,
                body=body,
                reason=reason,
                urgency=urgency,
                subject_type=subject_type,
                subject_id=subject_id,
                data=data or {},
                not_before=not_before,
            )
            notification.full_clean(validate_unique=False, validate_constraints=False)
            start = max(now, not_before) if not_before else now
            held_until = _throttle(
                channel=notification.channel, address=notification.address, now=start
            )
            if held_until is not None:
                notification.not_before = held_until
                notification.throttled = True
                start = held_until
            notification.deadline = start + settings.NOTIFY_PENDING_GRACE
            notification.save()
            eta = notification.not_before if notification.not_before else None
            transaction.on_commit(
                lambda: enqueue_delivery(
                    notification_id=notification.pk, channel=notification.channel, eta=eta
                )
            )
    except IntegrityError:
        return Notification.objects.get(idempotency_key=idempotency_key)
    return notification


def notifications_cancel_pending(*, subject_type: str, subject_id: int) -> int:
    """Cancel every notification about a subject that has not started sending."""
    check_transition(Status.PENDING, Status.CANCELLED)
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update().filter(
                subject_type=subject_type, subject_id=subject_id, status=Status.PENDING
            )
        )
        if not rows:
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Status.CANCELLED, cancelled_at=now, deadline=None
        )
        for row in rows:
            row.status, row.cancelled_at, row.deadline = Status.CANCELLED, now, None

        def announce() -> None:
            for row in rows:
                delivery_finished(row)

        transaction.on_commit(announce)
    return len(rows)


def notification_acknowledge(*, notification_id: int, channel: str = "") -> Notification:
    """Acknowledge the notification's subject through its registered handler.

    The handler owns its own transaction and decides what acknowledging means (and
    whether a second acknowledgement is harmless).
    """
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    handler = ack_handler_for(notification.subject_type) if notification.subject_type else None
    if handler is None or notification.subject_id is None:
        raise UnknownSubject(
            f"nothing can be acknowledged for subject type {notification.subject_type!r}"
        )
    handler(
        subject_id=notification.subject_id,
        user=notification.recipient,
        channel=channel or notification.channel,
        notification=notification,
    )
    return notification
