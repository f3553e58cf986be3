"""REST API: who is on call, teams, rotations and their shifts, overrides, escalation policies.

Each view validates its query or body with an input serializer, makes one selector or write
call and answers with an output serializer; errors come out in the portal's shape
(oncall.api.errors). Everyone signed in reads; only managers write (IsManagerOrReadOnly).
"""

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.permissions import IsManagerOrReadOnly, signed_in
from rotations import selectors, services
from rotations.api.serializers import (
    TAGS,
    WRITE_ERRORS,
    EscalationPolicyInputSerializer,
    EscalationPolicySerializer,
    OnCallQuerySerializer,
    OnCallSerializer,
    OverrideInputSerializer,
    OverrideSerializer,
    OverridesQuerySerializer,
    RotationInputSerializer,
    RotationSerializer,
    RotationsQuerySerializer,
    ShiftRangeSerializer,
    ShiftSerializer,
    TeamInputSerializer,
    TeamQuerySerializer,
    TeamSerializer,
)
from rotations.models import (
    EscalationPolicy,
    Override,
    Rotation,
    Team,
)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _rotation_or_404(rotation_id: int) -> Rotation:
    rotation = selectors.rotations_with_members(Rotation.objects.filter(pk=rotation_id)).first()
    if rotation is None:
        raise exceptions.NotFound(f"There is no rotation with the id {rotation_id}.")
    return rotation


def _teams() -> QuerySet[Team]:
    return Team.objects.prefetch_related("direct_numbers").order_by("name")


def _team_or_404(slug: str) -> Team:
    team = _teams().filter(slug=slug).first()
    if team is None:
        raise exceptions.NotFound(f"There is no team with the slug '{slug}'.")
    return team


def _policies() -> QuerySet[EscalationPolicy]:
    return EscalationPolicy.objects.select_related("team").prefetch_related("steps__users")


def _policy_or_404(policy_id: int) -> EscalationPolicy:
    policy = _policies().filter(pk=policy_id).first()
    if policy is None:
        raise exceptions.NotFound(f"There is no escalation policy with the id {policy_id}.")
    return policy


def _override_or_404(override_id: int) -> Override:
    override = (
        Override.objects.select_related("rotation__team", "user", "replaces")
        .filter(pk=override_id)
        .first()
    )
    if override is None:
        raise exceptions.NotFound(f"There is no override with the id {override_id}.")
    return override


def _input_rotation(rotation_id: int) -> Rotation:
    """The rotation an input names; a 400 on `rotation` when there is none."""
    rotation = Rotation.objects.select_related("team").filter(pk=rotation_id).first()
    if rotation is None:
        raise serializers.ValidationError(
            {"rotation": f"There is no rotation with the id {rotation_id}."}
        )
    return rotation


def _body(
    serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
) -> dict[str, Any]:
    body = serializer_class(data=request.data, partial=partial)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


# --- Views ----------------------------------------------------------------------------------


class OnCallApi(APIView):
    @extend_schema(
        operation_id="oncall_list",
        summary="Who is on call for a team",
        description="One entry per tier × position of the team at `at` (default now). "
        "`user` is null where nobody covers.",
        parameters=[OnCallQuerySerializer],
        responses={200: OnCallSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = _query(OnCallQuerySerializer, request)
        slug = query["team"]
        oncall = selectors.team_oncall(team_slug=slug, at=query.get("at") or timezone.now())
        # Only an empty answer needs to tell "no such team" from "a team without rotations".
        if not oncall and not Team.objects.filter(slug=slug).exists():
            raise exceptions.NotFound(f"There is no team with the slug '{slug}'.")
        return Response(OnCallSerializer(oncall, many=True).data)


class TeamListApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="teams_list",
        summary="Teams",
        responses={200: TeamSerializer(many=True), **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        return Response(TeamSerializer(_teams(), many=True).data)

    @extend_schema(
        operation_id="teams_create",
        summary="Create a team (managers)",
        request=TeamInputSerializer,
        responses={201: TeamSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        team = services.team_write(team=Team(), data=_body(TeamInputSerializer, request))
        return Response(TeamSerializer(_team_or_404(team.slug)).data, status=201)


class TeamDetailApi(APIView):
    permission_classes = [IsManagerOrReadOnly]

    @extend_schema(
        operation_id="teams_retrieve",
        summary="One team",
        responses={200: TeamSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, slug: str) -> Response:
        return Response(TeamSerializer(_team_or_404(slug)).data)

    @extend_schema(
        operation_id="teams_partial_update",
        summary="Change a team (managers)",
        request=TeamInputSerializer(partial=True),
        responses={200: TeamSerializer, **error_responses(*WRITE_ERRORS, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, slug: str) -> Response:
        team = _team_or_404(slug)
        team = services.team_write(
            team=team, data=_body(TeamInputSerializer, request, partial=True)
        )
        return Response(TeamSerializer(_team_or_404(team.slug)).data)

    @extend_schema(
        operation_id="teams_destroy",
        summary="Delete a team (managers)",
        description="Its rotations and policies go with it; refused (409) while incidents "
        "or escalation steps refer to it.",
        request=None,
        responses={204: None, **error_responses(401, 403, 404, 409)},
        tags=TAGS,
    )
    def delete(self, request: Request, slug: str) -> Response:
        with transaction.atomic():
            _team_or_404(slug).delete()
        return Response(status=204)


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
        query = _query(RotationsQuerySerializer, request)
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
            rotation=Rotation(), data=_body(RotationInputSerializer, request)
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
        data = _body(RotationInputSerializer, request, partial=True)
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
        query = _query(ShiftRangeSerializer, request)
        shifts = selectors.rotation_shifts(
            rotation=_rotation_or_404(rotation_id), start=query["start"], end=query["end"]
        )
        return Response(ShiftSerializer(shifts, many=True).data)


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
        query = _query(OverridesQuerySerializer, request)
        overrides = Override.objects.filter(end__gt=query.get("ends_after") or timezone.now())
        if query.get("rotation"):
            overrides = overrides.filter(rotation_id=query["rotation"])
        if query.get("team"):
            overrides = overrides.filter(rotation__team__slug=query["team"])
        return Response(OverrideSerializer(overrides.order_by("start", "id"), many=True).data)

    @extend_schema(
        operation_id="overrides_create",
        summary="Create an override (managers)",
        description="`user` covers the rotation from `start` to `end`, replacing `replaces`.",
        request=OverrideInputSerializer,
        responses={201: OverrideSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = _body(OverrideInputSerializer, request)
        rotation = _input_rotation(data["rotation"])
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
        "after start, no overlap with another override of the rotation).",
        request=OverrideInputSerializer(partial=True),
        responses={200: OverrideSerializer, **error_responses(*WRITE_ERRORS, 404)},
        tags=TAGS,
    )
    def patch(self, request: Request, override_id: int) -> Response:
        override = _override_or_404(override_id)
        data = _body(OverrideInputSerializer, request, partial=True)
        rotation = override.rotation
        if data.get("rotation", rotation.pk) != rotation.pk:
            rotation = _input_rotation(data["rotation"])
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
        query = _query(TeamQuerySerializer, request)
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
        data = _body(EscalationPolicyInputSerializer, request)
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
        data = _body(EscalationPolicyInputSerializer, request, partial=True)
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
