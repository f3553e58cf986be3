"""Reads of the notifications app."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, QuerySet, Subquery

from notifications.models import (
    TEST_PAGE_KEY_PREFIX,
    Channel,
    ContactMethod,
    Notification,
    NotificationRule,
    Urgency,
)
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


def contact_methods_with_last_test(*, user: User) -> list[ContactMethod]:
    """The person's methods, each with `last_test` (its newest test page, or None): two
    queries."""
    newest = (
        Notification.objects.filter(
            contact_method=OuterRef("pk"), idempotency_key__startswith=TEST_PAGE_KEY_PREFIX
        )
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    methods: list[ContactMethod] = list(
        contact_methods_of(user=user).annotate(last_test_id=Subquery(newest))
    )
    newest_ids = {method.pk: getattr(method, "last_test_id", None) for method in methods}
    tests = Notification.objects.in_bulk([pk for pk in newest_ids.values() if pk])
    for method in methods:
        method.last_test = tests.get(newest_ids[method.pk])  # type: ignore[attr-defined]
    return methods


def own_test_page(*, user: User, notification_id: int) -> Notification | None:
    """One of the person's own test pages (None for anyone else's or any other row)."""
    return (
        Notification.objects.select_related("contact_method")
        .filter(
            pk=notification_id, recipient=user, idempotency_key__startswith=TEST_PAGE_KEY_PREFIX
        )
        .first()
    )


# Managers want everyone on call to have tested their high-urgency methods this recently.
UNTESTED_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class Untested:
    """A person in a rotation whose high-urgency methods are not all tested lately."""

    user: User
    methods: list[ContactMethod]  # every high-urgency method, with its last_tested_at
    stale: list[ContactMethod]  # those without a successful test since the cut-off

    @property
    def no_method(self) -> bool:
        return not self.methods


def untested_on_call(*, now: datetime) -> list[Untested]:
    """People in any rotation whose high-urgency methods (the verified methods their
    high-urgency rules, or the default rules, page) have not all had a successful test page
    in UNTESTED_AFTER, or who have no such method at all; by name. Four queries."""
    cutoff = now - UNTESTED_AFTER
    people = list(
        User.objects.filter(rotation_memberships__isnull=False)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    plans = page_plans(users=people, urgencies={Urgency.HIGH})
    found = []
    for person in people:
        methods = list(
            {
                rule.contact_method.pk: rule.contact_method
                for rule in plans[(person.pk, Urgency.HIGH)]
            }.values()
        )
        stale = [m for m in methods if m.last_tested_at is None or m.last_tested_at < cutoff]
        if stale or not methods:
            found.append(Untested(user=person, methods=methods, stale=stale))
    return found
