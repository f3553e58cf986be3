"""Reads of the notifications app."""

from collections import defaultdict
from collections.abc import Mapping, Sequence

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
    return page_plans(users=[user], urgencies={urgency})[(user.pk, urgency)]


def page_plans(
    *, users: Sequence[User], urgencies: set[str]
) -> dict[tuple[int, str], list[NotificationRule]]:
    """`page_plan` for many people in two queries: (user id, urgency) → rules, by delay."""
    by_id = {u.pk: u for u in users}
    saved: dict[int, list[NotificationRule]] = defaultdict(list)
    rules = NotificationRule.objects.filter(user_id__in=by_id).select_related("contact_method")
    for rule in rules.order_by("user_id", "urgency", "delay", "id"):
        saved[rule.user_id].append(rule)
    without = [uid for uid in by_id if uid not in saved]
    verified: dict[int, dict[str, ContactMethod]] = defaultdict(dict)
    if without:
        methods = ContactMethod.objects.filter(user_id__in=without, verified_at__isnull=False)
        for method in methods.order_by("user_id", "channel", "id"):
            verified[method.user_id].setdefault(method.channel, method)
    plans: dict[tuple[int, str], list[NotificationRule]] = {}
    for uid, user in by_id.items():
        if uid in saved:
            own = saved[uid]
        else:
            own = [
                NotificationRule(user=user, urgency=u, contact_method=method, delay=delay)
                for u, method, delay in default_rule_specs(verified[uid])
            ]
        for urgency in urgencies:
            plans[(uid, urgency)] = [
                r for r in own if r.urgency == urgency and r.contact_method.verified
            ]
    return plans


def outbox_recent(*, limit: int = 100) -> QuerySet[Notification]:
    return Notification.objects.select_related("recipient").order_by("-created_at", "-id")[:limit]
