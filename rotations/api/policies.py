"""Escalation policies with their steps (managers write)."""

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body, validated_query
from oncall.api.permissions import IsManagerOrReadOnly
from rotations import services
from rotations.api.serializers import (
    TAGS,
    WRITE_ERRORS,
    EscalationPolicyInputSerializer,
    EscalationPolicySerializer,
    TeamQuerySerializer,
)
from rotations.models import EscalationPolicy


def _policies() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.select_related("team").prefetch_related("steps__users")


def _policy_or_404(policy_id: int) -> EscalationPolicy:
    policy = _policies().filter(pk=policy_id).first()
    if policy is None:
        raise exceptions.NotFound(f"There is no escalation policy with the id {policy_id}.")
    return policy


class EscalationPolicyListApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="escalation_policies_list",
        summary="Escalation policies",
        parameters=[TeamQuerySerializer],
        responses={200: EscalationPolicySerializer(many=True), **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = validated_query(TeamQuerySerializer, request)
        policies = _policies()
        if query.get("team"):
            policies = policies.filter(team__slug=query["team"])
        return Response(EscalationPolicySerializer(policies, many=True).data)

    @extend_schema(
        operation_id="escalation_policies_create",
        summary="Create an escalation policy with its steps (managers)",
        request=EscalationPolicyInputSerializer,
        responses={201: EscalationPolicySerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = validated_body(EscalationPolicyInputSerializer, request)
        policy = services.escalation_policy_write(policy=EscalationPolicy(), data=data)
        return Response(EscalationPolicySerializer(_policy_or_404(policy.pk)).data, status=201)


class EscalationPolicyDetailApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="escalation_policies_retrieve",
        summary="One escalation policy",
        responses={200: EscalationPolicySerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, policy_id: int) -> Response:
        return Response(EscalationPolicySerializer(_policy_or_404(policy_id)).data)

    @extend_schema(
        operation_id="escalation_policies_partial_update",
        summary="Change an escalation policy (managers)",
        description="`steps`, when given, replaces every step in the order given.",
        request=EscalationPolicyInputSerializer(partial=True),
        responses={200: EscalationPolicySerializer, **error_responses(*WRITE_ERRORS, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, policy_id: int) -> Response:
        policy = _policy_or_404(policy_id)
        data = validated_body(EscalationPolicyInputSerializer, request, partial=True)
        services.escalation_policy_write(policy=policy, data=data)
        return Response(EscalationPolicySerializer(_policy_or_404(policy_id)).data)

    @extend_schema(
        operation_id="escalation_policies_destroy",
        summary="Delete an escalation policy (managers)",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
        tags=TAGS,
    )
    def delete(self, request: Request, policy_id: int) -> Response:
        with transaction.atomic():
            _policy_or_404(policy_id).delete()
        return Response(status=204)
