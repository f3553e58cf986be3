"""The outbox: enqueue (idempotent), the one status transition, cancel, acknowledge."""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from notifications.callbacks import ack_handler_for, delivery_finished, sent_changed
from notifications.models import (
    FINAL_STATUSES,
    TEST_PAGE_KEY_PREFIX,
    TRANSITIONS,
    ContactMethod,
    Notification,
    Status,
    Urgency,
)
from notifications.services.storm import schedule_rows
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
    Final states are announced to the delivery listeners after commit; reaching sent or
    leaving it, to the sent listeners before.
    """
    notifications_transition(notifications=[notification], to=to, **changes)
    return notification


def notifications_transition(
    *,
    notifications: Sequence[Notification],
    to: Status,
    preset: Iterable[str] = (),
    **changes: Any,
) -> None:
    """Move several rows (a bundle: its carrier and the rows it carries) together.

    Hold every row's lock. All rows get the same `changes` and the same timestamp; `preset`
    names fields the caller already set on each row because their values differ (attempts).
    One UPDATE for all; every row is announced to the delivery listeners after commit, and
    the rows that reach or leave sent to the sent listeners in this transaction.
    """
    rows = list(notifications)
    for row in rows:
        check_transition(row.status, to)
    moved_sent = rows if to == Status.SENT else [row for row in rows if row.status == Status.SENT]
    fields = ["status", *preset, *changes]
    now = timezone.now()
    stamp = _STATUS_TIMESTAMP.get(to)
    if stamp:
        fields.append(stamp)
    if to in FINAL_STATUSES and "deadline" not in changes:
        fields.append("deadline")
    for row in rows:
        row.status = to
        for name, value in changes.items():
            setattr(row, name, value)
        if stamp:
            setattr(row, stamp, now)
        if to in FINAL_STATUSES and "deadline" not in changes:
            row.deadline = None
    if len(rows) == 1:
        rows[0].save(update_fields=fields)
    elif rows:
        Notification.objects.bulk_update(rows, fields)
    if to in (Status.SENT, Status.FAILED):
        _last_tested_refresh(rows)
    if moved_sent:
        sent_changed(moved_sent)
    if to in FINAL_STATUSES:

        def announce() -> None:
            for row in rows:
                delivery_finished(row)

        transaction.on_commit(announce)


def _last_tested_refresh(rows: Sequence[Notification]) -> None:
    """A test page sent (or reported undelivered after all): its method's `last_tested_at`
    becomes the newest sent test page's time, in the transaction that moved the status."""
    method_ids = {
        row.contact_method_id
        for row in rows
        if row.is_test_page and row.contact_method_id is not None
    }
    if not method_ids:
        return
    newest = (
        Notification.objects.filter(
            contact_method=OuterRef("pk"),
            idempotency_key__startswith=TEST_PAGE_KEY_PREFIX,
            status=Status.SENT,
        )
        .order_by("-sent_at")
        .values("sent_at")[:1]
    )
    ContactMethod.objects.filter(pk__in=method_ids).update(last_tested_at=Subquery(newest))


def notification_enqueue(
    *,
    idempotency_key: str,
    channel: str,
    address: str,
    recipient: User | None = None,
    contact_method: ContactMethod | None = None,
    subject: str = "",
    body: str = "",
    html_body: str = "",
    reason: str = "",
    urgency: str = Urgency.HIGH,
    subject_type: str = "",
    subject_id: int | None = None,
    data: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    signing_secret: str = "",
) -> Notification:
    """Write the outbox row and queue its delivery on commit.

    The same key twice returns the first row (also when two callers race: the loser's
    insert fails on the unique key and it reads the winner's row). `signing_secret` signs a
    generic webhook in place of the contact method's secret or NOTIFY_WEBHOOK_SECRET.
    `html_body` is an email's own HTML part (sanitised HTML, e.g. `oncall.markup.markdown_safe`).
    """
    existing = Notification.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            notification = Notification(
                idempotency_key=idempotency_key,
                channel=channel,
                address=address,
                recipient=recipient,
                contact_method=contact_method,
                subject=subject,
                body=body,
                html_body=html_body,
                reason=reason,
                urgency=urgency,
                subject_type=subject_type,
                subject_id=subject_id,
                data=data or {},
                not_before=not_before,
                signing_secret=signing_secret,
            )
            notification.full_clean(validate_unique=False, validate_constraints=False)
            schedule_rows([notification], now)
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


def notifications_enqueue_many(rows: Sequence[Notification]) -> list[Notification]:
    """`notification_enqueue` for many unsaved rows at once, in a constant number of queries:
    keys already written are skipped, the rest are scheduled together, inserted in one
    statement (a racing writer's key is ignored, not an error) and each saved row's delivery
    is queued on commit. Returns the rows as saved, new and old."""
    if not rows:
        return []
    keys = [row.idempotency_key for row in rows]
    written = set(
        Notification.objects.filter(idempotency_key__in=keys).values_list(
            "idempotency_key", flat=True
        )
    )
    fresh = [row for row in rows if row.idempotency_key not in written]
    for row in fresh:
        row.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        schedule_rows(fresh, timezone.now())
        Notification.objects.bulk_create(fresh, ignore_conflicts=True)
        saved = list(Notification.objects.filter(idempotency_key__in=keys).order_by("pk"))
        for notification in saved:
            if notification.idempotency_key not in written:
                transaction.on_commit(partial(_deliver_later, notification))
    return saved


def _deliver_later(notification: Notification) -> None:
    eta = notification.not_before if notification.not_before else None
    enqueue_delivery(notification_id=notification.pk, channel=notification.channel, eta=eta)


def notifications_cancel_pending(*, subject_type: str, subject_id: int) -> int:
    """Cancel every notification about a subject that has not started sending."""
    check_transition(Status.PENDING, Status.CANCELLED)
    with transaction.atomic():
        rows = list(
            Notification.objects.select_for_update()
            .filter(subject_type=subject_type, subject_id=subject_id, status=Status.PENDING)
            .order_by("id")  # every locker of several rows goes in id order: no deadlock
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

    A message that carried a bundle of pages acknowledges every subject it listed: the
    handler is called once per distinct subject, with the first row about it. The handler
    owns its own transaction and decides what acknowledging means (and whether a second
    acknowledgement is harmless).
    """
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    carried = Notification.objects.select_related("recipient").filter(bundled_into=notification)
    todo: dict[tuple[str, int], Notification] = {}
    for row in [notification, *carried.order_by("id")]:
        if row.subject_type and row.subject_id is not None:
            todo.setdefault((row.subject_type, row.subject_id), row)
    handlers = {key: ack_handler_for(key[0]) for key in todo}
    if not todo or handlers[next(iter(todo))] is None:
        raise UnknownSubject(
            f"nothing can be acknowledged for subject type {notification.subject_type!r}"
        )
    for (subject_type, subject_id), row in todo.items():
        handler = handlers[(subject_type, subject_id)]
        if handler is None:
            logger.warning(
                "notification %s carried a %r page nobody can acknowledge",
                notification.pk,
                subject_type,
            )
            continue
        handler(
            subject_id=subject_id,
            user=row.recipient,
            channel=channel or notification.channel,
            notification=row,
        )
    return notification
