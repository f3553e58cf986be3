"""Overrides: covers and swaps to come, created, changed and deleted by managers (anyone
else asks through override-requests/)."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body, validated_query
from oncall.api.permissions import IsManagerOrReadOnly, signed_in
from rotations import services
from rotations.api.serializers import (
    TAGS,
    WRITE_ERRORS,
    OverrideInputSerializer,
    OverrideSerializer,
    OverridesQuerySerializer,
)
from rotations.models import Override, Rotation


def _override_or_404(override_id: int) -> Override:
    override = (
        Override.objects.select_related("rotation__team", "user", "replaces")
        .filter(pk=override_id)
        .first()
    )
    if override is None:
        raise exceptions.NotFound(f"There is no override with the id {override_id}.")
    return override


def input_rotation(rotation_id: int) -> Rotation:
    """The rotation an input names; a 400 on `rotation` when there is none."""
    rotation = Rotation.objects.select_related("team").filter(pk=rotation_id).first()
    if rotation is None:
        raise serializers.ValidationError(
            {"rotation": f"There is no rotation with the id {rotation_id}."}
        )
    return rotation


class OverrideListApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="overrides_list",
        summary="Overrides",
        description="Covers and swaps ending after `ends_after` (default now), earliest first.",
        parameters=[OverridesQuerySerializer],
        responses={200: OverrideSerializer(many=True), **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = validated_query(OverridesQuerySerializer, request)
        overrides = Override.objects.filter(end__gt=query.get("ends_after") or timezone.now())
        if query.get("rotation"):
            overrides = overrides.filter(rotation_id=query["rotation"])
        if query.get("team"):
            overrides = overrides.filter(rotation__team__slug=query["team"])
        return Response(OverrideSerializer(overrides.order_by("start", "id"), many=True).data)

    @extend_schema(
        operation_id="overrides_create",
        summary="Create an override (managers)",
        description="`user` covers the rotation from `start` to `end`, replacing `replaces`. "
        "Refused (400) when `user` is a new-tier engineer not on a veteran rotation's list "
        "(code new_tier_on_veteran), or would be on call in two positions of the team at once "
        "(code double_booking) unless `confirm_double_booking` is true.",
        request=OverrideInputSerializer,
        responses={201: OverrideSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = validated_body(OverrideInputSerializer, request)
        rotation = input_rotation(data["rotation"])
        user = services.active_user(data["user"], "user")
        assert user is not None
        override = services.override_create(
            rotation=rotation,
            user=user,
            start=data["start"],
            end=data["end"],
            replaces=services.active_user(data.get("replaces"), "replaces"),
            reason=data.get("reason", ""),
            actor=signed_in(request),
            confirm_double_booking=data.get("confirm_double_booking", False),
        )
        return Response(OverrideSerializer(override).data, status=201)


class OverrideDetailApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="overrides_retrieve",
        summary="One override",
        responses={200: OverrideSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, override_id: int) -> Response:
        return Response(OverrideSerializer(_override_or_404(override_id)).data)

    @extend_schema(
        operation_id="overrides_partial_update",
        summary="Change an override (managers)",
        description="Any of `rotation`, `user`, `start`, `end`, `replaces` (null clears it) "
        "and `reason`; the result is checked as a new override is (team membership, end "
        "after start, no overlap with another override of the rotation, no double booking "
        "without `confirm_double_booking`, no new-tier engineer on a veteran shift).",
        request=OverrideInputSerializer(partial=True),
        responses={200: OverrideSerializer, **error_responses(*WRITE_ERRORS, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, override_id: int) -> Response:
        override = _override_or_404(override_id)
        data = validated_body(OverrideInputSerializer, request, partial=True)
        rotation = override.rotation
        if data.get("rotation", rotation.pk) != rotation.pk:
            rotation = input_rotation(data["rotation"])
        user = services.active_user(data["user"], "user") if "user" in data else override.user
        assert user is not None
        replaces = (
            services.active_user(data["replaces"], "replaces")
            if "replaces" in data
            else override.replaces
        )
        services.override_update(
            override=override,
            actor=signed_in(request),
            rotation=rotation,
            user=user,
            start=data.get("start", override.start),
            end=data.get("end", override.end),
            replaces=replaces,
            reason=data.get("reason", override.reason),
            confirm_double_booking=data.get("confirm_double_booking", False),
        )
        return Response(OverrideSerializer(_override_or_404(override_id)).data)

    @extend_schema(
        operation_id="overrides_destroy",
        summary="Delete an override (managers)",
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def delete(self, request: Request, override_id: int) -> Response:
        services.override_delete(override=_override_or_404(override_id), actor=signed_in(request))
        return Response(status=204)
