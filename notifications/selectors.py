"""Reads of the notifications app."""

from django.db.models import QuerySet

from notifications.models import ContactMethod, Notification, NotificationRule
from oncall.models import User


def contact_methods_of(*, user: User) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user).order_by("channel", "id")


def notification_rules_of(*, user: User) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("urgency", "delay", "id")
    )


def page_plan(*, user: User, urgency: str) -> list[NotificationRule]:
    """The rules that page this person at this urgency, verified methods only, by delay."""
    return list(
        notification_rules_of(user=user).filter(
            urgency=urgency, contact_method__verified_at__isnull=False
        )
    )


def notifications_for_subject(*, subject_type: str, subject_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(
        subject_type=subject_type, subject_id=subject_id
    ).select_related("recipient")


def outbox_recent(*, limit: int = 100) -> QuerySet[Notification]:
    return Notification.objects.select_related("recipient").order_by("-created_at", "-id")[:limit]
