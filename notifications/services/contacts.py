"""Contact methods (verified by a code sent to them) and notification rules."""

import math
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from notifications.models import (
    VERIFICATION_KEY_PREFIX,
    Channel,
    ContactMethod,
    Notification,
    NotificationRule,
    Urgency,
    new_webhook_secret,
)
from notifications.selectors import default_rule_specs
from notifications.services.outbox import NotificationError, notification_enqueue
from oncall.models import User
from oncall.words import duration_words

VERIFICATION_CODE_MAX_AGE = timedelta(minutes=10)
VERIFICATION_MAX_TRIES = 5
# The window of the daily limits (rolling: the same for every time zone).
VERIFICATION_LIMIT_WINDOW = timedelta(hours=24)


class Throttled(NotificationError):
    """Not now: ask again after `retry_after`. The message says so, for the person asking."""

    def __init__(self, message: str, *, code: str, retry_after: timedelta) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retry_after = retry_after


class VerificationThrottled(Throttled):
    """No code now (too soon after the last one, or too many lately)."""


def wait_words(wait: timedelta) -> str:
    """ "45 seconds"; past a minute rounded up to whole minutes ("3 hours 12 minutes")."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds > 60:
        seconds = math.ceil(seconds / 60) * 60
    return duration_words(timedelta(seconds=seconds))


def _codes_sent(*, user: User, since: datetime) -> QuerySet[Notification]:
    """The verification codes sent for the person since then, whatever became of the methods
    (the outbox rows outlive them, so removing and re-adding a method resets no limit)."""
    return Notification.objects.filter(
        recipient=user, idempotency_key__startswith=VERIFICATION_KEY_PREFIX, created_at__gt=since
    )


def _code_request_check(*, user: User, channel: str, address: str, now: datetime) -> None:
    """VerificationThrottled when this person's method at this address may get no code now:
    VERIFY_MAX_CODES_PER_DAY in the window, or one within VERIFY_RESEND_INTERVAL."""
    sent = sorted(
        _codes_sent(user=user, since=now - VERIFICATION_LIMIT_WINDOW)
        .filter(channel=channel, address=address)
        .values_list("created_at", flat=True)
    )
    limit = settings.VERIFY_MAX_CODES_PER_DAY
    if len(sent) >= limit:
        wait = sent[-limit] + VERIFICATION_LIMIT_WINDOW - now
        raise VerificationThrottled(
            f"{address} has had {limit} codes in the last 24 hours, the most we send; "
            f"you can ask for a new code in {wait_words(wait)}.",
            code="too_many_codes",
            retry_after=wait,
        )
    if sent and now < sent[-1] + settings.VERIFY_RESEND_INTERVAL:
        wait = sent[-1] + settings.VERIFY_RESEND_INTERVAL - now
        raise VerificationThrottled(
            f"A code went to {address} {wait_words(now - sent[-1])} ago; "
            f"you can ask for a new code in {wait_words(wait)}.",
            code="code_too_soon",
            retry_after=wait,
        )


def _new_address_check(*, user: User, channel: str, address: str, now: datetime) -> None:
    """VerificationThrottled when the person already sent codes to
    VERIFY_MAX_NEW_ADDRESSES_PER_DAY other addresses in the window."""
    latest = list(
        _codes_sent(user=user, since=now - VERIFICATION_LIMIT_WINDOW)
        .values("channel", "address")
        .annotate(last=Max("created_at"))
        .order_by("last")
        .values_list("channel", "address", "last")
    )
    if any(
        (row_channel, row_address) == (channel, address) for row_channel, row_address, _ in latest
    ):
        return  # not a new address: its own limits apply
    limit = settings.VERIFY_MAX_NEW_ADDRESSES_PER_DAY
    if len(latest) >= limit:
        # Room for one more once enough addresses have had no code for 24 hours.
        wait = latest[len(latest) - limit][2] + VERIFICATION_LIMIT_WINDOW - now
        raise VerificationThrottled(
            f"You have asked for codes to {limit} addresses in the last 24 hours, the most "
            f"we allow; you can add another in {wait_words(wait)}.",
            code="too_many_addresses",
            retry_after=wait,
        )


def _unverified_check(*, user: User) -> None:
    limit = settings.VERIFY_MAX_UNVERIFIED_METHODS
    if ContactMethod.objects.filter(user=user, verified_at__isnull=True).count() >= limit:
        raise ValidationError(
            f"You have {limit} unverified contact methods, the most one person may have; "
            "verify or remove one before adding another.",
            code="too_many_unverified",
        )


def _code_hash(*, contact_method: ContactMethod, code: str) -> str:
    return salted_hmac(
        "notifications.verification", f"{contact_method.pk}:{code}", algorithm="sha256"
    ).hexdigest()


def contact_method_create(
    *, user: User, channel: str, address: str, label: str = "", send_code: bool = True
) -> ContactMethod:
    """A new, unverified contact method; a verification code goes to it on commit.

    Refused (ValidationError) when the person holds VERIFY_MAX_UNVERIFIED_METHODS unverified
    methods; VerificationThrottled when no code may go to the address now.
    """
    with transaction.atomic():
        lock_person(user)  # two adds at once must not both pass the limits
        method = ContactMethod(user=user, channel=channel, address=address, label=label)
        method.full_clean()
        _unverified_check(user=user)
        if send_code:
            _new_address_check(
                user=user, channel=method.channel, address=method.address, now=timezone.now()
            )
        method.save()
        if send_code:
            contact_method_verification_send(contact_method=method)
    return method


def contact_method_verification_send(*, contact_method: ContactMethod) -> Notification:
    """Send a fresh six-digit code to the method (the previous one stops working) with
    VERIFICATION_MAX_TRIES tries and VERIFICATION_CODE_MAX_AGE to enter it.

    VerificationThrottled when the person's codes to this address came too fast or too
    often (VERIFY_RESEND_INTERVAL, VERIFY_MAX_CODES_PER_DAY); ValidationError when the
    method is verified already.
    """
    code = f"{secrets.randbelow(1_000_000):06d}"
    with transaction.atomic():
        lock_person(contact_method.user)  # two requests at once must not both pass
        if contact_method.verified:
            raise ValidationError("This method is verified already.", code="already_verified")
        _code_request_check(
            user=contact_method.user,
            channel=contact_method.channel,
            address=contact_method.address,
            now=timezone.now(),
        )
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


def contact_method_secret_rotate(*, contact_method: ContactMethod) -> ContactMethod:
    """A new signing secret for a webhook method; the old one stops signing at once.

    Messages already written keep the secret their outbox row holds (if any), as for
    webhook subscriptions. The caller shows the new secret once; pages never show it again.
    """
    if contact_method.channel != Channel.WEBHOOK:
        raise ValidationError("Only webhook contact methods have a signing secret.")
    with transaction.atomic():
        contact_method.secret = new_webhook_secret()
        contact_method.save(update_fields=["secret"])
    return contact_method


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


def lock_person(user: User) -> None:
    # Two pages to a new person at once must not both create their defaults.
    User.objects.select_for_update().filter(pk=user.pk).first()


def notification_defaults_ensure(*, user: User) -> None:
    """Give a person the default methods and rules where they have none yet.

    No contact methods: email from the account's address, SMS and voice from its phone.
    No rules: the default rules (`default_rule_specs`) over their methods, one per channel,
    a verified one first. An existing method or rule is never changed.
    """
    with transaction.atomic():
        lock_person(user)
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
        lock_person(user)
        NotificationRule.objects.filter(user=user).delete()
        notification_defaults_ensure(user=user)
        return list(NotificationRule.objects.filter(user=user).select_related("contact_method"))
