"""Serializers of the integrations API: what goes in and what comes out.

The `…Created` serializers are the only ones carrying a secret (an integration's key, a
subscription's signing secret): they answer create and rotate, and nothing else.
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import Severity
from integrations.models import (
    HEARTBEAT_MAX,
    HEARTBEAT_MIN,
    HeartbeatState,
    Integration,
    IntegrationType,
    WebhookEvent,
    WebhookSubscription,
)
from integrations.selectors import integration_failed_events
from integrations.services import integration_url_shown
from oncall.api.fields import ISODurationField, SlugLookupField
from rotations.models import EscalationPolicy, Team

# PositiveIntegerField's range on PostgreSQL; beyond it the database would refuse the row.
MAX_RATE_LIMIT = 2**31 - 1
# Source severities (Events v2 payload.severity, Alertmanager labels.severity): bounds that
# refuse only nonsense (PostgreSQL's jsonb refuses a NUL byte; a blank name matches nothing).
MAX_SOURCE_SEVERITY = 255
MAX_SEVERITY_MAP = 50


# --- Integrations -----------------------------------------------------------------------------


class IntegrationInputSerializer(serializers.Serializer):
    """What create takes; a PATCH takes any of it (`type` only as it is)."""

    team = SlugLookupField(slug_field="slug", queryset=Team.objects.all())
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=IntegrationType.choices, help_text="Fixed once created.")
    severity_map = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Source severity → SEV level, replaced whole, e.g. "
        '{"critical": "SEV1", "warning": "SEV3"}.',
    )
    escalation_policy = serializers.PrimaryKeyRelatedField(
        queryset=EscalationPolicy.objects.all(),
        required=False,
        allow_null=True,
        help_text="A policy of the same team to page with; null: the team's default.",
    )
    rate_limit_per_minute = serializers.IntegerField(
        min_value=0,
        max_value=MAX_RATE_LIMIT,
        required=False,
        allow_null=True,
        help_text="Events accepted per minute; null: the portal's default.",
    )
    # A heartbeat integration's own settings (another type refuses them).
    interval = ISODurationField(
        min_value=HEARTBEAT_MIN,
        max_value=HEARTBEAT_MAX,
        required=False,
        help_text="Heartbeat only (required there): a ping is expected this often, ISO 8601 "
        "(PT1M to P7D), e.g. PT5M.",
    )
    grace = ISODurationField(
        min_value=HEARTBEAT_MIN,
        max_value=HEARTBEAT_MAX,
        required=False,
        help_text="Heartbeat only (required there): how much later than the interval a ping "
        "may come before an incident opens, ISO 8601 (PT1M to P7D).",
    )
    severity = serializers.ChoiceField(
        choices=Severity.choices,
        required=False,
        help_text="Heartbeat only: the level of the incident it opens when late (SEV2).",
    )
    is_enabled = serializers.BooleanField(
        required=False,
        help_text="Heartbeat only: false and it never opens an incident; true again and it "
        "waits for its next ping.",
    )

    def validate_severity_map(self, value: dict[str, str]) -> dict[str, str]:
        # The levels are the model's rule (services check them); the keys are only shape.
        if len(value) > MAX_SEVERITY_MAP:
            raise serializers.ValidationError(f"Give at most {MAX_SEVERITY_MAP} severities.")
        for source in value:
            if not source.strip() or len(source) > MAX_SOURCE_SEVERITY or "\x00" in source:
                raise serializers.ValidationError(
                    f"Source severities are 1 to {MAX_SOURCE_SEVERITY} characters: {source!r}."
                )
        return value


class HeartbeatFieldsSerializer(serializers.Serializer):
    """A heartbeat integration's settings and state; null on other types."""

    interval = ISODurationField(source="heartbeat.interval", read_only=True, allow_null=True)
    grace = ISODurationField(source="heartbeat.grace", read_only=True, allow_null=True)
    severity = serializers.ChoiceField(
        Severity.choices, source="heartbeat.severity", read_only=True, allow_null=True
    )
    is_enabled = serializers.BooleanField(
        source="heartbeat.is_enabled", read_only=True, allow_null=True
    )
    state = serializers.ChoiceField(
        HeartbeatState.choices,
        source="heartbeat.state",
        read_only=True,
        allow_null=True,
        help_text="inactive until the first ping, healthy, or late (an incident is open).",
    )
    last_ping_at = serializers.DateTimeField(
        source="heartbeat.last_ping_at", read_only=True, allow_null=True
    )
    next_due_at = serializers.DateTimeField(
        source="heartbeat.next_due_at",
        read_only=True,
        allow_null=True,
        help_text="Late (an incident opens) if no ping comes by then.",
    )


HEARTBEAT_OUT = tuple(HeartbeatFieldsSerializer().fields)


class IntegrationCreatedSerializer(HeartbeatFieldsSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    key = serializers.CharField(help_text="The secret key: shown this once, never again.")
    url = serializers.CharField(
        help_text="Where the monitoring tool sends events (a heartbeat's ping address)."
    )


class IntegrationSerializer(HeartbeatFieldsSerializer, serializers.ModelSerializer[Integration]):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    url = serializers.SerializerMethodField(
        help_text="Where the tool sends events (a heartbeat's ping address); `{key}` stands "
        "for the key, shown only when it was issued."
    )

    def get_url(self, integration: Integration) -> str:
        return integration_url_shown(integration=integration)

    class Meta:
        model = Integration
        fields = (
            "id",
            "name",
            "type",
            "team",
            "key_prefix",
            "severity_map",
            "escalation_policy",
            "rate_limit_per_minute",
            "refused_events",
            "created_at",
            "url",
            *HEARTBEAT_OUT,
        )


class FailedEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    dedup_key = serializers.CharField()
    received_at = serializers.DateTimeField()
    failed_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField(source="last_error", help_text="The last attempt's error.")


class FailedEventsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Events given up after their retries.")
    latest = FailedEventSerializer(many=True, help_text="The latest failures, newest first.")


class IntegrationDetailSerializer(IntegrationSerializer):
    """One integration, with the events it could not fold (given up; later ones went on)."""

    failed_events = serializers.SerializerMethodField()

    class Meta(IntegrationSerializer.Meta):
        fields = (*IntegrationSerializer.Meta.fields, "failed_events")

    @extend_schema_field(FailedEventsSerializer)
    def get_failed_events(self, integration: Integration) -> dict[str, Any]:
        failed = integration_failed_events(integration=integration)
        return dict(FailedEventsSerializer(failed).data)


# --- Webhook subscriptions --------------------------------------------------------------------


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    team = SlugLookupField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="Only this team's incidents; null: every team's.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        required=False,
        default=list(WebhookEvent.values),
    )


class WebhookUpdateSerializer(WebhookInputSerializer):
    is_active = serializers.BooleanField(
        required=False, help_text="false: nothing is sent until it is true again."
    )


class WebhookSerializer(serializers.ModelSerializer[WebhookSubscription]):
    # A subscription without a team hears every team's incidents.
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookSubscription
        fields: tuple[str, ...] = ("id", "url", "team", "event_types", "is_active", "created_at")


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret: shown this once, never again. Each delivery carries "
        "`X-Signature: sha256=<hex>`, HMAC-SHA256 keyed by it over "
        "`<X-Signature-Timestamp>.<body>`.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = (*WebhookSerializer.Meta.fields, "secret")
