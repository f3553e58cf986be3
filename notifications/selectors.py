"""Reads of the notifications app."""

from collections.abc import Mapping

from django.db.models import QuerySet

from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Urgency
from oncall.models import User

# Defaults: a call two minutes after the text, when the text got no acknowledgement.
DEFAULT_VOICE_DELAY = 120


def contact_methods_of(*, user: User) -> QuerySet[ContactMethod]:
    return ContactMethod.objects.filter(user=user).order_by("channel", "id")


def notification_rules_of(*, user: User) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(user=user)
        .select_related("contact_method")
        .order_by("urgency", "delay", "id")
    )


def default_rule_specs(
    methods: Mapping[str, ContactMethod],
) -> list[tuple[str, ContactMethod, int]]:
    """The default rules, (urgency, method, delay), over one method per channel.

    High urgency: a text at once and a call after two minutes (the call at once without a
    text; email only when there is no phone). Low urgency: email, else a text.
    """
    sms, voice, email = (methods.get(c) for c in (Channel.SMS, Channel.VOICE, Channel.EMAIL))
    specs: list[tuple[str, ContactMethod, int]] = []
    if sms is not None:
        specs.append((Urgency.HIGH, sms, 0))
    if voice is not None:
        specs.append((Urgency.HIGH, voice, DEFAULT_VOICE_DELAY if sms is not None else 0))
    if email is not None and sms is None and voice is None:
        specs.append((Urgency.HIGH, email, 0))
    low = email if email is not None else sms
    if low is not None:
        specs.append((Urgency.LOW, low, 0))
    return specs


def page_plan(*, user: User, urgency: str) -> list[NotificationRule]:
    """The rules that page this person at this urgency, verified methods only, by delay.

    A person without any rule is paged by the default rules over their verified methods
    (unsaved rules: reading never writes).
    """
    rules = list(notification_rules_of(user=user))
    if not rules:
        verified: dict[str, ContactMethod] = {}
        for method in contact_methods_of(user=user).filter(verified_at__isnull=False):
            verified.setdefault(method.channel, method)
        rules = [
            NotificationRule(user=user, urgency=u, contact_method=method, delay=delay)
            for u, method, delay in default_rule_specs(verified)
        ]
    # Both lists come in delay order (saved rules by urgency, delay, id).
    return [r for r in rules if r.urgency == urgency and r.contact_method.verified]


def notifications_for_subject(*, subject_type: str, subject_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(
        subject_type=subject_type, subject_id=subject_id
    ).select_related("recipient")


def outbox_recent(*, limit: int = 100) -> QuerySet[Notification]:
    return Notification.objects.select_related("recipient").order_by("-created_at", "-id")[:limit]
