"""Test pages: a person sends themselves a page through one of their contact methods.

A test page is an ordinary outbox row (so it takes the real delivery path: the channel's
queue, retries, storm control, provider reports) marked by its idempotency key's prefix, like
a verification code. It has no subject: nothing to acknowledge, no ack link, never bundled
with real pages. When one is sent, its method's `last_tested_at` moves (in
`notifications_transition`, in the same transaction as the status).
"""

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from notifications.models import TEST_PAGE_KEY_PREFIX, ContactMethod, Notification, Urgency
from notifications.services.contacts import Throttled, lock_person, wait_words
from notifications.services.outbox import notification_enqueue

# One test page per contact method per minute: enough to retry after fixing a setting, too
# few to turn the portal into a way to flood a phone.
TEST_PAGE_INTERVAL = timedelta(minutes=1)
TEST_PAGE_SUBJECT = "Test page from the on-call portal"


class TestPageThrottled(Throttled):
    """A test page went to this method less than TEST_PAGE_INTERVAL ago."""

    __test__ = False  # not a pytest test class


def test_pages_sent_to(*, contact_method: ContactMethod) -> QuerySet[Notification]:
    """The test pages a person sent to this method's address (by channel and address, so
    removing and re-adding the method resets no limit)."""
    return Notification.objects.filter(
        recipient_id=contact_method.user_id,
        channel=contact_method.channel,
        address=contact_method.address,
        idempotency_key__startswith=TEST_PAGE_KEY_PREFIX,
    )


def contact_method_test_send(*, contact_method: ContactMethod) -> Notification:
    """Send a test page to one's own verified contact method; the outbox row, pending.

    ValidationError (code `unverified`) for a method not verified yet: a test proves a
    verified address still works, the code proves it is yours. TestPageThrottled when a test
    page went to the address less than TEST_PAGE_INTERVAL ago.
    """
    with transaction.atomic():
        lock_person(contact_method.user)  # two clicks at once must not both pass the limit
        method = ContactMethod.objects.filter(pk=contact_method.pk).first()
        if method is None:  # removed in another tab meanwhile
            raise ValidationError("This contact method was just removed.", code="gone")
        if not method.verified:
            raise ValidationError(
                f"{method} is not verified yet: enter the code we sent to it (or send a new "
                "code) first; a test page goes only to a verified method.",
                code="unverified",
            )
        now = timezone.now()
        last = (
            test_pages_sent_to(contact_method=method)
            .filter(created_at__gt=now - TEST_PAGE_INTERVAL)
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        if last is not None:
            wait = last + TEST_PAGE_INTERVAL - now
            raise TestPageThrottled(
                f"A test page went to {method.address} {wait_words(now - last)} ago; one a "
                f"minute per contact method: you can send another in {wait_words(wait)}.",
                code="test_page_too_soon",
                retry_after=wait,
            )
        return notification_enqueue(
            idempotency_key=f"{TEST_PAGE_KEY_PREFIX}{method.pk}:{uuid.uuid4().hex}",
            channel=method.channel,
            address=method.address,
            recipient=method.user,
            contact_method=method,
            subject=TEST_PAGE_SUBJECT,
            body=(
                "This is a test page you sent yourself from the on-call portal. "
                "No incident; nothing to acknowledge."
            ),
            reason="test page",
            urgency=Urgency.HIGH,  # tests the way real pages come
            data={"test": True},
        )
