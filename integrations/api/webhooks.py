"""Webhook subscriptions: list, create, read, change, delete, rotate the signing secret.

The secret is in the answers to create and rotate-secret only (`WebhookCreatedSerializer`).
"""

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
    WebhookCreatedSerializer,
    WebhookInputSerializer,
    WebhookSerializer,
    WebhookUpdateSerializer,
)
from integrations.models import WebhookSubscription
from integrations.services import (
    webhook_subscription_create,
    webhook_subscription_delete,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)
from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body


def _subscription_or_404(subscription_id: int) -> WebhookSubscription:
    subscription = (
        WebhookSubscription.objects.select_related("team").filter(pk=subscription_id).first()
    )
    if subscription is None:
        raise exceptions.NotFound(
            f"There is no webhook subscription with the id {subscription_id}."
        )
    return subscription


class WebhookListCreateApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="webhooks_list",
        summary="Webhook subscriptions (managers)",
        description="Signing secrets are never shown again.",
        tags=TAGS,
        responses={200: WebhookSerializer(many=True), **error_responses(*READ_ERRORS)},
    )
    def get(self, request: Request) -> Response:
        rows = WebhookSubscription.objects.select_related("team").order_by("id")
        return Response(WebhookSerializer(rows, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to incident changes (managers)",
        description="The `secret` in this answer is the only time the signing secret is "
        "shown; deliveries are signed with it (`X-Signature`).",
        tags=TAGS,
        request=WebhookInputSerializer,
        responses={201: WebhookCreatedSerializer, **error_responses(*WRITE_ERRORS)},
    )
    def post(self, request: Request) -> Response:
        data = validated_body(WebhookInputSerializer, request)
        subscription = webhook_subscription_create(**data, actor=request_user(request))
        return Response(WebhookCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="One webhook subscription (managers)",
        description="The signing secret is never shown again; rotate it with `rotate-secret/`.",
        tags=TAGS,
        responses={200: WebhookSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def get(self, request: Request, subscription_id: int) -> Response:
        return Response(WebhookSerializer(_subscription_or_404(subscription_id)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        summary="Change a webhook subscription (managers)",
        description="Any of `url`, `team` (null: every team), `event_types` (replaced "
        "whole) and `is_active`, checked as create checks them. The signing secret stays.",
        tags=TAGS,
        request=WebhookUpdateSerializer(partial=True),
        responses={200: WebhookSerializer, **error_responses(*WRITE_ERRORS, 404)},
    )
    def patch(self, request: Request, subscription_id: int) -> Response:
        subscription = _subscription_or_404(subscription_id)
        changes = validated_body(WebhookUpdateSerializer, request, partial=True)
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


class WebhookRotateSecretApi(APIView):
    permission_classes = (IsAuthenticated, IsManager)

    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Issue a new signing secret for a webhook subscription (managers)",
        description="No body. Changes from now on are signed with the new secret; the "
        "`secret` in this answer is the only time it is shown. Deliveries already queued "
        "keep the secret they were written with, so accept both until they have arrived.",
        tags=TAGS,
        request=None,
        responses={200: WebhookCreatedSerializer, **error_responses(*READ_ERRORS, 404)},
    )
    def post(self, request: Request, subscription_id: int) -> Response:
        subscription = _subscription_or_404(subscription_id)
        webhook_subscription_rotate_secret(subscription=subscription)
        return Response(WebhookCreatedSerializer(subscription).data)
