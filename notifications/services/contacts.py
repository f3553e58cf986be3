"""Contact methods (verified by a code sent to them) and notification rules."""

import secrets
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Urgency
from notifications.services.outbox import notification_enqueue
from oncall.models import User

VERIFICATION_CODE_MAX_AGE = timedelta(minutes=30)
# Defaults made for every person: high urgency texts at once and calls after two minutes.
DEFAULT_VOICE_DELAY = 120


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


def notification_defaults_ensure(*, user: User) -> None:
    """Give a person the default methods and rules if they have none yet.

    Email from the account's address; SMS and voice from its phone. High urgency: SMS at
    once, a call after two minutes (email when there is no phone); low urgency: email.
    The methods start unverified: nobody is paged at an address they have not confirmed.
    """
    with transaction.atomic():
        methods: dict[str, ContactMethod] = {}
        if not ContactMethod.objects.filter(user=user).exists():
            wanted = []
            if user.email:
                wanted.append((Channel.EMAIL, user.email))
            if user.phone:
                wanted += [(Channel.SMS, user.phone), (Channel.VOICE, user.phone)]
            for channel, address in wanted:
                method = ContactMethod(user=user, channel=channel, address=address)
                try:
                    method.full_clean()
                except ValidationError:
                    continue  # a bad address on the account is no reason to fail
                method.save()
                methods[channel] = method
        if NotificationRule.objects.filter(user=user).exists() or not methods:
            return
        rules: list[tuple[str, ContactMethod, int]] = []
        if Channel.SMS in methods:
            rules.append((Urgency.HIGH, methods[Channel.SMS], 0))
            rules.append((Urgency.HIGH, methods[Channel.VOICE], DEFAULT_VOICE_DELAY))
        elif Channel.EMAIL in methods:
            rules.append((Urgency.HIGH, methods[Channel.EMAIL], 0))
        if Channel.EMAIL in methods:
            rules.append((Urgency.LOW, methods[Channel.EMAIL], 0))
        NotificationRule.objects.bulk_create(
            NotificationRule(user=user, urgency=u, contact_method=m, delay=d) for u, m, d in rules
        )
