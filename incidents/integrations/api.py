"""REST API for managers: create integrations (the key is shown once) and webhooks."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
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
    integration_url,
    webhook_subscription_create,
)
from oncall.api.errors import error_responses
from oncall.models import User
from oncall.roles import is_manager
from rotations.models import EscalationPolicy, Team

TAGS = ["integrations"]


def _user(request: Request) -> User:
    user = request.user
    assert isinstance(user, User), "IsAuthenticated lets only users through"
    return user


class IsManager(BasePermission):
    message = "Only managers can do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_manager(request.user)


class IntegrationInputSerializer(serializers.Serializer):
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    name = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=IntegrationType.choices)
    severity_map = serializers.DictField(
        child=serializers.CharField(), required=False, help_text="Source severity → SEV level."
    )
    escalation_policy = serializers.PrimaryKeyRelatedField(
        queryset=EscalationPolicy.objects.all(), required=False, allow_null=True
    )
    rate_limit_per_minute = serializers.IntegerField(min_value=0, required=False, allow_null=True)


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


class IntegrationListCreateApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(tags=TAGS, responses={200: IntegrationSerializer(many=True)})
    def get(self, request: Request) -> Response:
        rows = Integration.objects.select_related("team").order_by("id")
        return Response(IntegrationSerializer(rows, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=IntegrationInputSerializer,
        responses={201: IntegrationCreatedSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        given = IntegrationInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        integration, key = integration_create(**given.validated_data, actor=_user(request))
        body = {
            "id": integration.pk,
            "name": integration.name,
            "type": integration.type,
            "key": key,
            "url": integration_url(integration=integration, key=key),
        }
        return Response(IntegrationCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class WebhookInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        required=False,
        default=list(WebhookEvent.values),
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

    @extend_schema(tags=TAGS, responses={200: WebhookSerializer(many=True)})
    def get(self, request: Request) -> Response:
        rows = WebhookSubscription.objects.select_related("team").order_by("id")
        return Response(WebhookSerializer(rows, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=WebhookInputSerializer,
        responses={201: WebhookSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        given = WebhookInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        subscription = webhook_subscription_create(**given.validated_data, actor=_user(request))
        return Response(WebhookSerializer(subscription).data, status=status.HTTP_201_CREATED)
