"""REST API for managers: integrations and webhook subscriptions as configuration.

Integrations: list, create (the key is shown once), read, change, delete, rotate the key
(the new key is shown once; the old one stops working at once). Webhook subscriptions:
list, create, read, change, delete; their signing secret is never shown. Only managers
call any of it, reads included (other roles see none of it, as in the admin). Each view
validates with an input serializer, calls one service and answers with an output
serializer; errors come out in the portal's shape (oncall.api.errors).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.integrations.models import (
    Integration,
    IntegrationType,
    WebhookEvent,
    WebhookSubscription,
)
from incidents.integrations.services import (
    integration_create,
    integration_delete,
    integration_rotate_key,
    integration_update,
    integration_url,
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_update,
)
from oncall.api.errors import error_responses
from oncall.api.fields import SlugLookupField
from oncall.models import User
from oncall.roles import is_manager
from rotations.models import EscalationPolicy, Team

TAGS = ["integrations"]
READ_ERRORS = (401, 403)
WRITE_ERRORS = (400, 401, 403, 413, 415)
# PositiveIntegerField's range on PostgreSQL; beyond it the database would refuse the row.
MAX_RATE_LIMIT = 2**31 - 1
# Source severities (Events v2 payload.severity, Alertmanager labels.severity): bounds that
# refuse only nonsense (PostgreSQL's jsonb refuses a NUL byte; a blank name matches nothing).
MAX_SOURCE_SEVERITY = 255
MAX_SEVERITY_MAP = 50


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User), "IsAuthenticated lets only users through"
    return user


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_manager(request.user)


def _body(
    serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _integration_or_404(integration_id: int) -> Integration:
    integration = (
        Integration.objects.select_related("team", "escalation_policy")
        .filter(pk=integration_id)
        .first()
    )
    if integration is None:
        raise exceptions.NotFound(f"There is no integration with the id {integration_id}.")
    return integration


def _subscription_or_404(subscription_id: int) -> WebhookSubscription:
    subscription = (
        WebhookSubscription.objects.select_related("team").filter(pk=subscription_id).first()
    )
    if subscription is None:
        raise exceptions.NotFound(
            f"There is no webhook subscription with the id {subscription_id}."
        )
    return subscription


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


class IntegrationCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.CharField()
    key = serializers.CharField(help_text="The secret key: shown this once, never again.")
    url = serializers.CharField(help_text="Where the monitoring tool sends events.")


class IntegrationSerializer(serializers.ModelSerializer[Integration]):
    team: serializers.SlugRelatedField[Team] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

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
        )


def _with_key(integration: Integration, key: str) -> dict[str, Any]:
    body = {
        "id": integration.pk,
        "name": integration.name,
        "type": integration.type,
        "key": key,
        "url": integration_url(integration=integration, key=key),
    }
    return dict(IntegrationCreatedSerializer(body).data)


class IntegrationListCreateApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="integrations_list",
        summary="Integrations (managers)",
        description="Keys are never shown again; `key_prefix` tells them apart.",
        tags=TAGS,
        responses={200: IntegrationSerializer(many=True), **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        rows = Integration.objects.select_related("team").order_by("id")
        return Response(IntegrationSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="integrations_create",
        summary="Create an integration (managers)",
        description="The `key` in this answer is the only time the secret is shown.",
        tags=TAGS,
        request=IntegrationInputSerializer,
        responses={201: IntegrationCreatedSerializer, **error_responses(*WRITE_ERRORS, 409)},
    )
    def post(self, request: Request) -> Response:
        data = _body(IntegrationInputSerializer, request)
        integration, key = integration_create(**data, actor=_user(request))
        return Response(_with_key(integration, key), status=status.HTTP_201_CREATED)


class IntegrationDetailApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="integrations_retrieve",
        summary="One integration (managers)",
        description="The key is never shown again; `key_prefix` tells keys apart.",
        tags=TAGS,
        responses={200: IntegrationSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request: Request, integration_id: int) -> Response:
        return Response(IntegrationSerializer(_integration_or_404(integration_id)).data)

    @extend_schema(
        operation_id="integrations_partial_update",
        summary="Change an integration (managers)",
        description="Any of `team`, `name`, `severity_map` (replaced whole), "
        "`escalation_policy` and `rate_limit_per_minute` (null clears them), checked as "
        "create checks them; `type` cannot change (400). The key stays: rotate it with "
        "`rotate-key/`. Events are taken with the new settings at once.",
        tags=TAGS,
        request=IntegrationInputSerializer(partial=True),
        responses={200: IntegrationSerializer, **error_responses(*WRITE_ERRORS, 404, 409)},
    )
    def patch(self, request: Request, integration_id: int) -> Response:
        integration = _integration_or_404(integration_id)
        changes = _body(IntegrationInputSerializer, request, partial=True)
        integration_update(integration=integration, changes=changes)
        return Response(IntegrationSerializer(_integration_or_404(integration_id)).data)

    @extend_schema(
        operation_id="integrations_destroy",
        summary="Delete an integration (managers)",
        description="Its key stops working at once; its alert groups and events not yet "
        "processed go with it. The incidents it opened stay.",
        tags=TAGS,
        request=None,
        responses={204: None, **error_responses(*READ_ERRORS, 404)},
    )
    def delete(self, request: Request, integration_id: int) -> Response:
        integration_delete(integration=_integration_or_404(integration_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class IntegrationRotateKeyApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="integrations_rotate_key",
        summary="Issue a new key for an integration (managers)",
        description="No body. The old key stops working at once; the `key` in this answer "
        "is the only time the new secret is shown (an Alertmanager `url` carries it too).",
        tags=TAGS,
        request=None,
        responses={200: IntegrationCreatedSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def post(self, request: Request, integration_id: int) -> Response:
        integration = _integration_or_404(integration_id)
        key = integration_rotate_key(integration=integration)
        return Response(_with_key(integration, key))


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
        fields = ("id", "url", "team", "event_types", "is_active", "created_at")


class WebhookListCreateApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="webhooks_list",
        summary="Webhook subscriptions (managers)",
        tags=TAGS,
        responses={200: WebhookSerializer(many=True), **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        rows = WebhookSubscription.objects.select_related("team").order_by("id")
        return Response(WebhookSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to incident changes (managers)",
        tags=TAGS,
        request=WebhookInputSerializer,
        responses={201: WebhookSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        data = _body(WebhookInputSerializer, request)
        subscription = webhook_subscription_create(**data, actor=_user(request))
        return Response(WebhookSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One webhook subscription (managers)",
        tags=TAGS,
        responses={200: WebhookSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        return Response(WebhookSerializer(_subscription_or_404(subscription_id)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        summary="Change a webhook subscription (managers)",
        description="Any of `url`, `team` (null: every team), `event_types` (replaced "
        "whole) and `is_active`, checked as create checks them.",
        tags=TAGS,
        request=WebhookUpdateSerializer(partial=True),
        responses={200: WebhookSerializer, **error_responses(*WRITE_ERRORS, 404)},
    )
    def patch(self, request: Request, subscription_id: int) -> Response:
        subscription = _subscription_or_404(subscription_id)
        changes = _body(WebhookUpdateSerializer, request, partial=True)
        webhook_subscription_update(subscription=subscription, changes=changes)
        return Response(WebhookSerializer(_subscription_or_404(subscription_id)).data)

    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a webhook subscription (managers)",
        description="Nothing more is sent; deliveries already queued still go out.",
        tags=TAGS,
        request=None,
        responses={204: None, **error_responses(*READ_ERRORS, 404)},
    )
    def delete(self, request: Request, subscription_id: int) -> Response:
        webhook_subscription_delete(subscription=_subscription_or_404(subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
