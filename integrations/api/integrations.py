"""Integrations: list, create, read, change, delete, rotate the key (shown once)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.api.access import (
    READ_ERRORS,
    TAGS,
    WRITE_ERRORS,
    IsManager,
    request_user,
)
from integrations.api.serializers import (
    IntegrationCreatedSerializer,
    IntegrationDetailSerializer,
    IntegrationInputSerializer,
    IntegrationSerializer,
)
from integrations.models import Integration
from integrations.services import (
    integration_create,
    integration_delete,
    integration_rotate_key,
    integration_update,
    integration_url,
)
from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body


def _integration_or_404(integration_id: int) -> Integration:
    integration = (
        Integration.objects.select_related("team", "escalation_policy", "heartbeat")
        .filter(pk=integration_id)
        .first()
    )
    if integration is None:
        raise exceptions.NotFound(f"There is no integration with the id {integration_id}.")
    return integration


def _with_key(integration: Integration, key: str) -> dict[str, Any]:
    integration.key = key  # type: ignore[attr-defined]  # this answer only; never stored
    integration.url = integration_url(integration=integration, key=key)  # type: ignore[attr-defined]
    return dict(IntegrationCreatedSerializer(integration).data)


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
        rows = Integration.objects.select_related("team", "heartbeat").order_by("id")
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
        data = validated_body(IntegrationInputSerializer, request)
        integration, key = integration_create(**data, actor=request_user(request))
        return Response(_with_key(integration, key), status=status.HTTP_201_CREATED)


class IntegrationDetailApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="integrations_retrieve",
        summary="One integration (managers)",
        description="The key is never shown again; `key_prefix` tells keys apart.",
        tags=TAGS,
        responses={200: IntegrationDetailSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request: Request, integration_id: int) -> Response:
        return Response(IntegrationDetailSerializer(_integration_or_404(integration_id)).data)

    @extend_schema(
        operation_id="integrations_partial_update",
        summary="Change an integration (managers)",
        description="Any of `team`, `name`, `severity_map` (replaced whole), "
        "`escalation_policy` and `rate_limit_per_minute` (null clears them), checked as "
        "create checks them; `type` cannot change (400). The key stays: rotate it with "
        "`rotate-key/`. Events are taken with the new settings at once.",
        tags=TAGS,
        request=IntegrationInputSerializer(partial=True),
        responses={200: IntegrationDetailSerializer, **error_responses(*WRITE_ERRORS, 404, 409)},
    )
    def patch(self, request: Request, integration_id: int) -> Response:
        integration = _integration_or_404(integration_id)
        changes = validated_body(IntegrationInputSerializer, request, partial=True)
        integration_update(integration=integration, changes=changes)
        return Response(IntegrationDetailSerializer(_integration_or_404(integration_id)).data)

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
