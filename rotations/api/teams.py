"""Teams: list, create, read, change and delete (managers write)."""

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_body
from oncall.api.permissions import IsManagerOrReadOnly
from rotations import services
from rotations.api.serializers import TAGS, WRITE_ERRORS, TeamInputSerializer, TeamSerializer
from rotations.models import Team


def _teams() -> QuerySet[Team]:
    return Team.objects.prefetch_related("direct_numbers").order_by("name")


def _team_or_404(slug: str) -> Team:
    team = _teams().filter(slug=slug).first()
    if team is None:
        raise exceptions.NotFound(f"There is no team with the slug '{slug}'.")
    return team


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
        team = services.team_write(team=Team(), data=validated_body(TeamInputSerializer, request))
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
            team=team, data=validated_body(TeamInputSerializer, request, partial=True)
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
