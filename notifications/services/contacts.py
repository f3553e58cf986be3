"""Contact methods (verified by a code sent to them) and notification rules."""

import secrets
import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.models import (
    VERIFICATION_KEY_PREFIX,
    Channel,
    ContactMethod,
    Notification,
    NotificationRule,
    Urgency,
)
from notifications.selectors import default_rule_specs
from notifications.services.outbox import notification_enqueue
from oncall.models import User

VERIFICATION_CODE_MAX_AGE = timedelta(minutes=10)
VERIFICATION_MAX_TRIES = 5


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
    """Send a fresh six-digit code to the method (the previous one stops working) with
    VERIFICATION_MAX_TRIES tries and VERIFICATION_CODE_MAX_AGE to enter it."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        contact_method.verification_code_hash = _code_hash(contact_method=contact_method, code=code)
        contact_method.verification_sent_at = timezone.now()
        contact_method.verification_tries = 0
        contact_method.save(
            update_fields=["verification_code_hash", "verification_sent_at", "verification_tries"]
        )
        return notification_enqueue(
            idempotency_key=f"{VERIFICATION_KEY_PREFIX}{contact_method.pk}:{uuid.uuid4().hex}",
            channel=contact_method.channel,
            address=contact_method.address,
            recipient=contact_method.user,
            contact_method=contact_method,
            subject="Your on-call portal verification code",
            body=f"Your on-call portal verification code is {code}.",
            reason="contact method verification",
            urgency=Urgency.LOW,
        )


def _verification_refusal(method: ContactMethod) -> ValidationError | None:
    """Why no code can verify the method now (none sent, too many tries, expired)."""
    sent_at = method.verification_sent_at
    if not method.verification_code_hash or sent_at is None:
        return ValidationError("No code was sent; send one first.", code="no_code")
    if method.verification_tries >= VERIFICATION_MAX_TRIES:
        return ValidationError(
            "Too many wrong codes; send a new code and enter that one.", code="too_many_tries"
        )
    if timezone.now() - sent_at > VERIFICATION_CODE_MAX_AGE:
        return ValidationError(
            "That code has expired (codes last 10 minutes); send a new one.", code="expired"
        )
    return None


def contact_method_verify(*, contact_method: ContactMethod, code: str) -> ContactMethod:
    """Mark the method verified when the code matches the last one sent, is fresh, and fewer
    than VERIFICATION_MAX_TRIES wrong codes were entered since it was sent.

    A wrong code is counted (committed) before the ValidationError is raised.
    """
    with transaction.atomic():
        method = ContactMethod.objects.select_for_update().get(pk=contact_method.pk)
        if method.verified:
            return method
        refusal = _verification_refusal(method)
        if refusal is None:
            expected = _code_hash(contact_method=method, code=code.strip())
            if constant_time_compare(expected, method.verification_code_hash):
                method.verified_at = timezone.now()
                method.verification_code_hash = ""
                method.save(update_fields=["verified_at", "verification_code_hash"])
                return method
            method.verification_tries += 1
            method.save(update_fields=["verification_tries"])
            left = VERIFICATION_MAX_TRIES - method.verification_tries
            refusal = ValidationError(
                f"That code is not right; {left} {'try' if left == 1 else 'tries'} left."
                if left
                else "That code is not right, and that was the last try: send a new code.",
                code="wrong_code",
            )
    raise ValidationError({"code": refusal})


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
