"""Integrations (keyed doors for monitoring tools), alert groups, alerts, webhooks.

Their tables keep the names they had when these were models of the incidents app
(`incidents_integration`, …): the app moved out without touching the data. One open `AlertGroup` per (integration, dedup key) is a database constraint: concurrent
triggers with one key cannot open two incidents.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from incidents.models import Incident, Severity
from notifications.outbound import outbound_url_check

__all__ = [
    "Alert",
    "AlertGroup",
    "AlertStatus",
    "HeartbeatMonitor",
    "HeartbeatState",
    "InboundEvent",
    "InboundStatus",
    "IngestWindow",
    "Integration",
    "IntegrationType",
    "WebhookEvent",
    "WebhookSubscription",
]


class IntegrationType(models.TextChoices):
    EVENTS_V2 = "events_v2", "PagerDuty Events API v2"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    HEARTBEAT = "heartbeat", "Heartbeat monitor"


# Source severity → SEV level; Alertmanager's labels.severity uses the same map.
SOURCE_SEVERITIES = ("critical", "error", "warning", "info")


def default_severity_map() -> dict[str, str]:
    return {"critical": "SEV1", "error": "SEV2", "warning": "SEV3", "info": "SEV3"}


class Integration(models.Model):
    """A door for one monitoring tool into one team; the key is stored only as a digest."""

    team = models.ForeignKey(
        "rotations.Team", on_delete=models.CASCADE, related_name="integrations"
    )
    name = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=IntegrationType.choices)
    key_prefix = models.CharField(max_length=40, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    severity_map = models.JSONField(
        default=default_severity_map,
        help_text='Source severity → level, e.g. {"critical": "SEV1", "warning": "SEV3"}.',
    )
    escalation_policy = models.ForeignKey(
        "rotations.EscalationPolicy",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="integrations",
        help_text="Page with this policy instead of the team's default.",
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events accepted per minute; empty: INGEST_RATE_LIMIT_PER_MINUTE.",
    )
    refused_events = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="Events answered 429 (rate limited)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "incidents_integration"
        ordering = ("team__name", "name")
        constraints = [
            models.UniqueConstraint(fields=("team", "name"), name="integration_name_per_team")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_type_display()})"

    @property
    def rate_limit(self) -> int:
        if self.rate_limit_per_minute is not None:
            return self.rate_limit_per_minute
        return int(settings.INGEST_RATE_LIMIT_PER_MINUTE)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, Any] = {}
        if not isinstance(self.severity_map, dict) or not self.severity_map:
            errors["severity_map"] = "Give an object mapping source severities to levels."
        else:
            wrong = sorted(
                f"{k}: {v}" for k, v in self.severity_map.items() if v not in Severity.values
            )
            if wrong:
                levels = ", ".join(Severity.values)
                errors["severity_map"] = f"Not a level ({levels}): {'; '.join(wrong)}."
        policy = self.escalation_policy if self.escalation_policy_id else None
        if policy is not None and self.team_id and policy.team_id != self.team_id:
            errors["escalation_policy"] = "The policy belongs to another team."
        if errors:
            raise ValidationError(errors)


class IngestWindow(models.Model):
    """A fixed one-minute window of accepted events for one integration (the rate limit)."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "incidents_ingestwindow"
        constraints = [
            models.UniqueConstraint(fields=("integration", "window"), name="one_ingest_window")
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} @ {self.window:%H:%M}: {self.count}"


class InboundStatus(models.TextChoices):
    """An accepted event's life; `integrations.ingest.status` holds the map and the one
    function that moves it (`inbound_transition`)."""

    ACCEPTED = "accepted", "Accepted"  # stored and answered; waits for its first fold
    RETRYING = "retrying", "Retrying"  # a fold failed; due again at next_attempt_at
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"  # given up after INGEST_MAX_ATTEMPTS; the admin may retry


# Still to fold (the partial index below and every folder's queries).
INBOUND_PENDING = (InboundStatus.ACCEPTED, InboundStatus.RETRYING)


class InboundEvent(models.Model):
    """An accepted event, stored durably as the request is answered 202.

    `incidents.ingest_process` folds it into an incident; events of one (integration,
    dedup key) are applied in id order, one at a time (the oldest pending event's row lock
    is the key's lock). Pending: accepted or retrying. A failure records `last_error` and
    retries after `next_attempt_at`; after INGEST_MAX_ATTEMPTS the event is given up
    (failed, `failed_at`) so later events of its key go on, and stays for an operator.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="inbound_events"
    )
    kind = models.CharField(max_length=16, choices=IntegrationType.choices)
    payload = models.JSONField(help_text="The validated, normalised event (no routing key).")
    dedup_key = models.CharField(max_length=255)
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=InboundStatus.choices, default=InboundStatus.ACCEPTED
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(
        max_length=16, blank=True, help_text="What processing did (created, folded, …)."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="After a failure: not retried before this."
    )
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="Given up after INGEST_MAX_ATTEMPTS failures."
    )

    class Meta:
        db_table = "incidents_inboundevent"
        ordering = ("-id",)
        indexes = [
            models.Index(
                fields=("integration", "dedup_key", "id"),
                condition=Q(status__in=INBOUND_PENDING),
                name="inbound_pending_by_key",
            ),
            models.Index(
                fields=("processed_at",),
                condition=Q(processed_at__isnull=False),
                name="inbound_processed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.dedup_key} #{self.pk}"


class AlertGroup(models.Model):
    """An integration's dedup key bound to the incident it opened.

    At most one open group per (integration, dedup key): the partial unique constraint
    is what makes 50 simultaneous triggers open exactly one incident.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.CASCADE, related_name="alert_groups"
    )
    dedup_key = models.CharField(max_length=255)
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="alert_group")
    is_open = models.BooleanField(default=True)
    alert_count = models.PositiveIntegerField(
        default=1, help_text="Trigger events received (Events v2) or alerts in the group."
    )
    truncated_alerts = models.PositiveIntegerField(
        default=0, help_text="Alerts Alertmanager left out of its last message."
    )
    last_event_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "incidents_alertgroup"
        ordering = ("-last_event_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("integration", "dedup_key"),
                condition=Q(is_open=True),
                name="one_open_group_per_dedup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} → {self.incident_id}"


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One alert of an incident: an Events v2 trigger, or an Alertmanager alert.

    Alertmanager alerts are one row per fingerprint, updated when the group is sent again.
    """

    alert_group = models.ForeignKey(AlertGroup, on_delete=models.CASCADE, related_name="alerts")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="alerts")
    fingerprint = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=8, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    summary = models.CharField(max_length=1024, blank=True)
    source = models.CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=50, blank=True, help_text="As the source sent it.")
    component = models.CharField(max_length=255, blank=True)
    group = models.CharField(max_length=255, blank=True)
    event_class = models.CharField(max_length=255, blank=True)
    custom_details = models.JSONField(default=dict, blank=True)
    links = models.JSONField(default=list, blank=True)
    images = models.JSONField(default=list, blank=True)
    client = models.CharField(max_length=255, blank=True)
    client_url = models.URLField(max_length=1000, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    generator_url = models.URLField(max_length=1000, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "incidents_alert"
        ordering = ("incident", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("alert_group", "fingerprint"),
                condition=~Q(fingerprint=""),
                name="one_alert_per_fingerprint",
            )
        ]

    def __str__(self) -> str:
        return self.summary or self.fingerprint or f"alert {self.pk}"


class WebhookEvent(models.TextChoices):
    TRIGGERED = "triggered", "Triggered"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"
    STATUS_UPDATE = "status_update", "Status update"


def new_subscription_secret() -> str:
    return secrets.token_urlsafe(32)


def all_webhook_events() -> list[str]:
    return list(WebhookEvent.values)


class WebhookSubscription(models.Model):
    """Incident changes POSTed to a URL through the notifications outbox, signed."""

    team = models.ForeignKey(
        "rotations.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
        help_text="Empty: incidents of every team.",
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64, default=new_subscription_secret, editable=False)
    event_types = models.JSONField(default=all_webhook_events)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "incidents_webhooksubscription"
        ordering = ("id",)

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        super().clean()
        if self.url:
            try:
                outbound_url_check(self.url)  # sending checks again, on what it connects to
            except ValidationError as error:
                raise ValidationError({"url": error}) from error
        values = self.event_types
        if not isinstance(values, list) or not values:
            raise ValidationError({"event_types": "Give a list of event types."})
        wrong = [v for v in values if v not in WebhookEvent.values]
        if wrong:
            raise ValidationError(
                {
                    "event_types": f"Unknown event types: {', '.join(map(str, wrong))} "
                    f"(choose from {', '.join(WebhookEvent.values)})."
                }
            )


# A monitor's interval and grace both lie in these bounds (every door: admin, API, services).
HEARTBEAT_MIN = timedelta(minutes=1)
HEARTBEAT_MAX = timedelta(days=7)


class HeartbeatState(models.TextChoices):
    INACTIVE = "inactive", "Inactive (no ping yet)"
    HEALTHY = "healthy", "Healthy"
    LATE = "late", "Late"


class HeartbeatMonitor(models.Model):
    """A heartbeat integration's settings and state: it expects a ping every `interval`.

    Not `oncall.models.Heartbeat` (beat's own liveness row). `next_due_at` is when the
    monitor goes late (last ping + interval + grace); it is empty while the monitor is
    inactive, late or disabled, so the sweep reads only armed monitors through its index.
    """

    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, primary_key=True, related_name="heartbeat"
    )
    interval = models.DurationField(help_text="A ping is expected this often (1 minute to 7 days).")
    grace = models.DurationField(
        help_text="How long after the interval it may be late before an incident opens "
        "(1 minute to 7 days)."
    )
    severity = models.CharField(
        max_length=4,
        choices=Severity.choices,
        default=Severity.SEV2,
        help_text="The level of the incident it opens.",
    )
    is_enabled = models.BooleanField(
        default=True, help_text="A disabled monitor never opens an incident."
    )
    state = models.CharField(
        max_length=8, choices=HeartbeatState.choices, default=HeartbeatState.INACTIVE
    )
    last_ping_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Late (an incident opens) if no ping comes by then."
    )
    late_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=("next_due_at",),
                condition=Q(next_due_at__isnull=False),
                name="heartbeat_armed_by_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.integration_id}: {self.state}"

    @property
    def dedup_key(self) -> str:
        """One key per monitor: its late incident is one alert group, so at most one is open."""
        return f"heartbeat:{self.integration_id}"

    @property
    def expected_at(self) -> datetime | None:
        """When the next ping is expected (late only after the grace on top)."""
        if self.last_ping_at is None:
            return None
        return self.last_ping_at + self.interval

    def arm(self) -> None:
        """Set `next_due_at` from the state, the last ping and the settings (no save)."""
        armed = self.is_enabled and self.state == HeartbeatState.HEALTHY
        if armed and self.last_ping_at is not None:
            self.next_due_at = self.last_ping_at + self.interval + self.grace
        else:
            self.next_due_at = None

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        for name in ("interval", "grace"):
            value = getattr(self, name)
            if value is not None and not HEARTBEAT_MIN <= value <= HEARTBEAT_MAX:
                errors[name] = "Give a duration from 1 minute to 7 days."
        if errors:
            raise ValidationError(errors)
