"""Who is on call for a team, now or at a given instant."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.inputs import validated_query
from rotations import selectors
from rotations.api.serializers import TAGS, OnCallQuerySerializer, OnCallSerializer
from rotations.models import Team


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
        query = validated_query(OnCallQuerySerializer, request)
        slug = query["team"]
        oncall = selectors.team_oncall(team_slug=slug, at=query.get("at") or timezone.now())
        # Only an empty answer needs to tell "no such team" from "a team without rotations".
        if not oncall and not Team.objects.filter(slug=slug).exists():
            raise exceptions.NotFound(f"There is no team with the slug '{slug}'.")
        return Response(OnCallSerializer(oncall, many=True).data)
