"""Contact methods (verified by a code sent to them) and notification rules."""

import secrets
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Urgency
from notifications.selectors import default_rule_specs
from notifications.services.outbox import notification_enqueue
from oncall.models import User

VERIFICATION_CODE_MAX_AGE = timedelta(minutes=30)


def _code_hash(*, contact_method: ContactMethod, code: str) -> str:
    return salted_hmac(
        "notifications.verification", f"{contact_method.pk}:{code}", algorithm="sha256"
    ).hexdigest()


def contact_method_create(
    *, user: User, channel: str, address: str, label: str = "", send_code: bool = True
) -> ContactMethod:
    """A new, unverified contact method; a verification code goes to it on commit."""
    with transaction.atomic():
        method = ContactMethod(user=user, channel=channel, address=address, label=label)
        method.full_clean()
        method.save()
        if send_code:
            contact_method_verification_send(contact_method=method)
    return method


def contact_method_verification_send(*, contact_method: ContactMethod) -> Notification:
    """Send a fresh six-digit code to the method (the previous one stops working)."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        contact_method.verification_code_hash = _code_hash(contact_method=contact_method, code=code)
        contact_method.verification_sent_at = timezone.now()
        contact_method.save(update_fields=["verification_code_hash", "verification_sent_at"])
        return notification_enqueue(
            idempotency_key=f"verify:{contact_method.pk}:{uuid.uuid4().hex}",
            channel=contact_method.channel,
            address=contact_method.address,
            recipient=contact_method.user,
            contact_method=contact_method,
            subject="Your on-call portal verification code",
            body=f"Your on-call portal verification code is {code}.",
            reason="contact method verification",
            urgency=Urgency.LOW,
        )


def contact_method_verify(*, contact_method: ContactMethod, code: str) -> ContactMethod:
    """Mark the method verified when the code matches the last one sent and is fresh."""
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=contact_method.pk)
        if method.verified:
            return method
        sent_at = method.verification_sent_at
        if not method.verification_code_hash or sent_at is None:
            raise ValidationError({"code": "No code was sent; send one first."})
        if timezone.now() - sent_at > VERIFICATION_CODE_MAX_AGE:
            raise ValidationError({"code": "That code has expired; send a new one."})
        expected = _code_hash(contact_method=method, code=code.strip())
        if not constant_time_compare(expected, method.verification_code_hash):
            raise ValidationError({"code": "That code is not right."})
        method.verified_at = timezone.now()
        method.verification_code_hash = ""
        method.save(update_fields=["verified_at", "verification_code_hash"])
    return method


def contact_method_delete(*, contact_method: ContactMethod) -> None:
    with transaction.atomic():
        contact_method.delete()


def notification_rule_create(
    *, user: User, urgency: str, contact_method: ContactMethod, delay: int = 0
) -> NotificationRule:
    with transaction.atomic():
        rule = NotificationRule(
            user=user, urgency=urgency, contact_method=contact_method, delay=delay
        )
        rule.full_clean()
        rule.save()
    return rule


def notification_rule_delete(*, rule: NotificationRule) -> None:
    with transaction.atomic():
        rule.delete()


def _account_methods(*, user: User) -> list[ContactMethod]:
    """Unverified methods from the account's email and phone (skipping an invalid one).

    Unverified: nobody is paged at an address they have not confirmed.
    """
    wanted: list[tuple[str, str]] = []
    if user.email:
        wanted.append((Channel.EMAIL, user.email))
    if user.phone:
        wanted += [(Channel.SMS, user.phone), (Channel.VOICE, user.phone)]
    methods = []
    for channel, address in wanted:
        method = ContactMethod(user=user, channel=channel, address=address)
        try:
            method.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError:
            continue  # a bad address on the account is no reason to fail
        methods.append(method)
    return ContactMethod.objects.bulk_create(methods)


def _lock_person(user: User) -> None:
    # Two pages to a new person at once must not both create their defaults.
    User.objects.select_for_update().filter(pk=user.pk).first()


def notification_defaults_ensure(*, user: User) -> None:
    """Give a person the default methods and rules where they have none yet.

    No contact methods: email from the account's address, SMS and voice from its phone.
    No rules: the default rules (`default_rule_specs`) over their methods, one per channel,
    a verified one first. An existing method or rule is never changed.
    """
    with transaction.atomic():
        _lock_person(user)
        if not ContactMethod.objects.filter(user=user).exists():
            _account_methods(user=user)
        if NotificationRule.objects.filter(user=user).exists():
            return
        methods: dict[str, ContactMethod] = {}
        for method in ContactMethod.objects.filter(user=user).order_by(
            F("verified_at").asc(nulls_last=True), "id"
        ):
            methods.setdefault(method.channel, method)
        NotificationRule.objects.bulk_create(
            NotificationRule(user=user, urgency=urgency, contact_method=method, delay=delay)
            for urgency, method, delay in default_rule_specs(methods)
        )


def notification_rules_reset(*, user: User) -> list[NotificationRule]:
    """Replace a person's rules with the defaults (the profile's "Reset to default rules")."""
    with transaction.atomic():
        _lock_person(user)
        NotificationRule.objects.filter(user=user).delete()
        notification_defaults_ensure(user=user)
        return list(NotificationRule.objects.filter(user=user).select_related("contact_method"))
