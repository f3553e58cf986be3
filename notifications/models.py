"""Contact methods, notification rules and the outbox of notifications.

The outbox row is the source of truth for a message: a delivery task moves it
pending → sending → sent | failed (or pending → cancelled), always through
`notifications.services.notifications_transition`, which refuses illegal moves. Pages to one
address due within a short window travel in one message; the rows it carried point at it
(`bundled_into`) and share its fate.
"""

import ipaddress
import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import models

from notifications.outbound import outbound_url_check
from oncall.validators import (
    RULE_DELAY_MAX,
    duration_over,
    normalize_e164,
    validate_slack_usergroup_id,
)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    VOICE = "voice", "Voice call"
    SLACK = "slack", "Slack (incoming webhook)"
    WEBHOOK = "webhook", "Webhook"
    # The portal's own bot setting a Slack user group's members (the on-call group): not a
    # way to reach a person, so never a contact method.
    SLACK_GROUP = "slack_group", "Slack user group (bot)"


CONTACT_CHANNELS = [(value, label) for value, label in Channel.choices if value != "slack_group"]


class Urgency(models.TextChoices):
    HIGH = "high", "High"
    LOW = "low", "Low"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# The only moves a notification may make. sending → pending is a retry (transient error or
# a sweep of a row whose worker died); sent → failed is a provider reporting non-delivery.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.SENDING, Status.CANCELLED, Status.FAILED}),
    Status.SENDING: frozenset({Status.SENT, Status.FAILED, Status.PENDING}),
    Status.SENT: frozenset({Status.FAILED}),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
}
FINAL_STATUSES = frozenset({Status.SENT, Status.FAILED, Status.CANCELLED})


# One DNS label (RFC 1123): letters, digits and hyphens, not starting or ending with a hyphen.
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _host_is_well_formed(host: str) -> bool:
    """An IP address, or a name whose every label could exist in DNS."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or labels[-1].isdigit():
        return False  # "10.0.0.999" is a broken IP address, not a name
    return all(_HOST_LABEL.match(label) for label in labels)


def _validate_http_url(value: str) -> None:
    """Refuse what can never be reached: another scheme, no host, a malformed host or port.

    No DNS lookup or test request here: a save must not hang on (or leak timing about) the
    network, and a hook that is briefly down, or only resolvable from the workers, is still
    a good address. Delivery reports what really happened; the code sent to verify the
    method proves it reachable before it gets pages.
    """
    error = ValidationError(
        "%(value)s is not an http(s) URL with a host, e.g. https://hooks.example.com/x.",
        code="invalid_url",
        params={"value": value},
    )
    if any(char.isspace() for char in value):
        raise error
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error
    try:
        parts.port  # noqa: B018 - raises ValueError on a port out of range or not a number
    except ValueError as caught:
        raise ValidationError(
            "%(value)s has a port that is not a number from 1 to 65535.",
            code="invalid_url",
            params={"value": value},
        ) from caught
    if not _host_is_well_formed(parts.hostname):
        raise ValidationError(
            "%(value)s names a host that cannot exist (%(host)s); check for typos.",
            code="invalid_url",
            params={"value": value, "host": parts.hostname},
        )


def normalize_address(channel: str, address: str) -> str:
    """The address in canonical form for its channel; ValidationError when it is not one."""
    address = address.strip()
    if not address:
        raise ValidationError("Enter an address.", code="required")
    if channel == Channel.EMAIL:
        EmailValidator(message="%(value)s is not a valid email address.")(address)
        local, _, domain = address.rpartition("@")
        return f"{local}@{domain.lower()}"
    if channel in (Channel.SMS, Channel.VOICE):
        return normalize_e164(address)
    if channel in (Channel.SLACK, Channel.WEBHOOK):
        _validate_http_url(address)
        if channel == Channel.SLACK and urlsplit(address).scheme != "https":
            raise ValidationError("Slack webhook URLs start with https://.", code="invalid_url")
        return address
    if channel == Channel.SLACK_GROUP:
        validate_slack_usergroup_id(address)
        return address
    raise ValidationError("%(value)s is not a channel.", params={"value": channel})


# Verification messages' idempotency keys start with this: their body (the code) is shown
# to nobody, not on the outbox page, not in the admin (only the recipient reads it there).
VERIFICATION_KEY_PREFIX = "verify:"
CODE_HIDDEN = "(verification code hidden)"
# Test pages' idempotency keys start with this: a page a person sends themselves to check a
# contact method works (no incident, nothing to acknowledge).
TEST_PAGE_KEY_PREFIX = "test:"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


# One limit for the model and the profile's contact method form.
ADDRESS_MAX = 500
LABEL_MAX = 100


class ContactMethod(models.Model):
    """One way to reach a person. It receives pages only once verified."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods"
    )
    channel = models.CharField(max_length=16, choices=CONTACT_CHANNELS)
    address = models.CharField(
        max_length=ADDRESS_MAX, help_text="Email address, E.164 phone number or webhook URL."
    )
    label = models.CharField(max_length=LABEL_MAX, blank=True)
    # Signs generic webhook bodies (X-Signature); shown once to the owner.
    secret = models.CharField(max_length=64, default=new_webhook_secret, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_code_hash = models.CharField(max_length=128, blank=True, editable=False)
    verification_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Wrong codes entered since the last one was sent; at VERIFICATION_MAX_TRIES a new code
    # must be requested.
    verification_tries = models.PositiveSmallIntegerField(default=0, editable=False)
    # When a test page to it last went out successfully (set when the delivery succeeds).
    last_tested_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("user", "channel", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "channel", "address"), name="contactmethod_unique_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.address}"

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def clean(self) -> None:
        super().clean()
        try:
            self.address = normalize_address(self.channel, self.address)
            if self.channel in (Channel.SLACK, Channel.WEBHOOK):
                outbound_url_check(self.address)  # sending checks again, on what it connects to
        except ValidationError as error:
            raise ValidationError({"address": error}) from error


class NotificationRule(models.Model):
    """For pages of an urgency, use this contact method after this many seconds."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules"
    )
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="+")
    delay = models.PositiveIntegerField(
        default=0, help_text="Seconds after the page starts before this method is used."
    )

    class Meta:
        ordering = ("user", "urgency", "delay", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("user", "urgency", "contact_method", "delay"), name="rule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.urgency}: {self.contact_method} after {self.delay}s"

    def clean(self) -> None:
        super().clean()
        if self.contact_method_id and self.user_id and self.contact_method.user_id != self.user_id:
            raise ValidationError({"contact_method": "That contact method is not yours."})
        # Capped before it becomes a timedelta: a huge number of seconds overflows one.
        ceiling = int(RULE_DELAY_MAX.total_seconds()) + 1
        if self.delay is not None and (
            too_long := duration_over(timedelta(seconds=min(self.delay, ceiling)), RULE_DELAY_MAX)
        ):
            raise ValidationError({"delay": too_long})


class Notification(models.Model):
    """The outbox: one message to one address, delivered at most once by one worker."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="notifications",
        null=True,
        blank=True,
    )
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=500)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    # An email's own HTML part (sanitised Markdown, e.g. a published postmortem); empty: the
    # HTML part is the text body. Other channels ignore it.
    html_body = models.TextField(blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was sent.")
    urgency = models.CharField(max_length=8, choices=Urgency.choices, default=Urgency.HIGH)
    subject_type = models.CharField(max_length=50, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    # Extra facts for the channels (severity, number, title, url).
    data = models.JSONField(default=dict, blank=True)
    # Signs a generic webhook from a sender with its own key (a webhook subscription's);
    # wins over the contact method's. Never shown: not in the admin, not in any API.
    signing_secret = models.CharField(max_length=64, blank=True, editable=False)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    provider_status = models.CharField(max_length=50, blank=True)
    last_error = models.TextField(blank=True)
    # Not before this instant (storm control's next free slot, a rule's delay, retry backoff).
    not_before = models.DateTimeField(null=True, blank=True)
    throttled = models.BooleanField(
        default=False, help_text="Held back by the per-address rate limit."
    )
    # Storm control: this row went out inside another row's message (one SMS listing several
    # pages). It moves to sending, sent or failed together with that carrier.
    bundled_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bundled",
        help_text="The notification whose message carried this one.",
    )
    # When the page was due (at once, or after its rule's delay), before storm control held
    # it for the address's next free slot: its lateness is counted from here.
    due_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When its message (its own or the one that carried it) last started going out: the
    # per-address rate limit counts messages from these instants.
    attempted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The sweeper re-queues a pending/sending row still in that state after this instant.
    deadline = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("subject_type", "subject_id"), name="notification_subject"),
            models.Index(fields=("status", "deadline"), name="notification_due"),
            models.Index(fields=("channel", "address", "created_at"), name="notification_addr"),
            models.Index(
                fields=("channel", "address", "attempted_at"), name="notification_addr_attempt"
            ),
            # Insights (read from the indexes alone): interruptions, pages sent by SMS or voice
            # in a range; the page facts (escalated, tiers), an incident's pages.
            models.Index(
                fields=("channel", "sent_at", "recipient", "subject_id", "idempotency_key"),
                condition=models.Q(subject_type="incident", status="sent"),
                name="notification_sent",
            ),
            models.Index(
                fields=("subject_id", "recipient", "idempotency_key"),
                condition=models.Q(subject_type="incident"),
                name="notification_incident_pages",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.address} ({self.status})"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        try:
            self.address = normalize_address(self.channel, self.address)
        except ValidationError as error:
            errors["address"] = error.messages
        if bool(self.subject_type) != (self.subject_id is not None):
            errors["subject_id"] = "subject_type and subject_id go together."
        if errors:
            raise ValidationError(errors)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_verification(self) -> bool:
        return self.idempotency_key.startswith(VERIFICATION_KEY_PREFIX)

    @property
    def is_test_page(self) -> bool:
        return self.idempotency_key.startswith(TEST_PAGE_KEY_PREFIX)
