"""Rotations and their members (managers write), and a rotation's shifts in a range."""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body, validated_query
from oncall.api.permissions import IsManagerOrReadOnly
from rotations import selectors, services
from rotations.api.serializers import (
    TAGS,
    WRITE_ERRORS,
    RotationInputSerializer,
    RotationSerializer,
    RotationsQuerySerializer,
    ShiftRangeSerializer,
    ShiftSerializer,
)
from rotations.models import Rotation


def _rotation_or_404(rotation_id: int) -> Rotation:
    rotation = selectors.rotations_with_members(Rotation.objects.filter(pk=rotation_id)).first()
    if rotation is None:
        raise exceptions.NotFound(f"There is no rotation with the id {rotation_id}.")
    return rotation


class RotationListApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="rotations_list",
        summary="Rotations",
        parameters=[RotationsQuerySerializer],
        responses={200: RotationSerializer(many=True), **error_responses(400, 401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = validated_query(RotationsQuerySerializer, request)
        rotations = Rotation.objects.all()
        if query.get("team"):
            rotations = rotations.filter(team__slug=query["team"])
        rotations = selectors.rotations_with_members(rotations)
        return Response(RotationSerializer(rotations, many=True).data)

    @extend_schema(
        operation_id="rotations_create",
        summary="Create a rotation (managers)",
        request=RotationInputSerializer,
        responses={201: RotationSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        rotation = services.rotation_write(
            rotation=Rotation(), data=validated_body(RotationInputSerializer, request)
        )
        return Response(RotationSerializer(_rotation_or_404(rotation.pk)).data, status=201)


class RotationDetailApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="rotations_retrieve",
        summary="One rotation",
        responses={200: RotationSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, rotation_id: int) -> Response:
        return Response(RotationSerializer(_rotation_or_404(rotation_id)).data)

    @extend_schema(
        operation_id="rotations_partial_update",
        summary="Change a rotation or its members (managers)",
        request=RotationInputSerializer(partial=True),
        responses={200: RotationSerializer, **error_responses(*WRITE_ERRORS, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, rotation_id: int) -> Response:
        rotation = _rotation_or_404(rotation_id)
        data = validated_body(RotationInputSerializer, request, partial=True)
        services.rotation_write(rotation=rotation, data=data)
        return Response(RotationSerializer(_rotation_or_404(rotation_id)).data)

    @extend_schema(
        operation_id="rotations_destroy",
        summary="Delete a rotation (managers)",
        description="Refused (409) while an escalation step pages it.",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
        tags=TAGS,
    )
    def delete(self, request: Request, rotation_id: int) -> Response:
        with transaction.atomic():
            _rotation_or_404(rotation_id).delete()
        return Response(status=204)


class RotationShiftsApi(APIView):
    @extend_schema(
        operation_id="rotations_shifts_list",
        summary="A rotation's shifts in a range",
        description="The timeline in [start, end), overrides applied; gaps are simply absent.",
        parameters=[ShiftRangeSerializer],
        responses={200: ShiftSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, rotation_id: int) -> Response:
        query = validated_query(ShiftRangeSerializer, request)
        shifts = selectors.rotation_shifts(
            rotation=_rotation_or_404(rotation_id), start=query["start"], end=query["end"]
        )
        return Response(ShiftSerializer(shifts, many=True).data)
