"""Page a person: expand their notification rules into outbox rows (one per rule).

Nobody is ever paged into silence: without a verified method the page goes to the
account's email address, and without that a row is written that has already failed, with
an error that says why, so the failure shows wherever the subject's pages are shown.
"""

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.callbacks import delivery_finished
from notifications.models import Channel, Notification, Status
from notifications.selectors import page_plan
from notifications.services.outbox import notification_enqueue
from oncall.models import User


def notifications_page(
    *,
    user: User,
    urgency: str,
    subject_type: str,
    subject_id: int,
    key: str,
    subject: str,
    body: str,
    reason: str,
    data: dict[str, Any] | None = None,
) -> list[Notification]:
    """Outbox rows paging `user` by their rules; the same `key` twice pages nobody twice."""
    common: dict[str, Any] = {
        "recipient": user,
        "subject": subject,
        "body": body,
        "urgency": urgency,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": data or {},
    }
    rules = page_plan(user=user, urgency=urgency)
    now = timezone.now()
    if rules:
        return [
            notification_enqueue(
                idempotency_key=f"{key}:{rule.contact_method.channel}:{rule.pk}",
                channel=rule.contact_method.channel,
                address=rule.contact_method.address,
                contact_method=rule.contact_method,
                reason=reason,
                not_before=now + timedelta(seconds=rule.delay) if rule.delay else None,
                **common,
            )
            for rule in rules
        ]
    if user.email:
        return [
            notification_enqueue(
                idempotency_key=f"{key}:email:account",
                channel=Channel.EMAIL,
                address=user.email,
                reason=f"{reason} (no verified contact method: account email)",
                **common,
            )
        ]
    return [_unreachable(key=f"{key}:none", reason=reason, now=now, common=common)]


def _unreachable(*, key: str, reason: str, now: Any, common: dict[str, Any]) -> Notification:
    """A row born failed: this person cannot be reached at all."""
    existing = Notification.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    user: User = common["recipient"]
    row = Notification(
        idempotency_key=key,
        channel=Channel.EMAIL,
        address="",
        reason=reason,
        status=Status.FAILED,
        failed_at=now,
        last_error=(
            f"{user} has no verified contact method and no email address: "
            "nobody was paged. Add a contact method on their profile."
        ),
        **common,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return Notification.objects.get(idempotency_key=key)
    transaction.on_commit(lambda: delivery_finished(row))
    return row
