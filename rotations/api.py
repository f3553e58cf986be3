"""REST API, read side: who is on call, teams, rotations and their shifts.

Each view validates its query with an input serializer, makes one selector call and answers
with an output serializer; errors come out in the portal's shape (oncall.api.errors).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.fields import ISODurationField, QueryDateTimeField
from rotations import selectors
from rotations.models import ContactMode, DirectNumber, Position, Rotation, Team, Tier

MAX_SHIFT_RANGE = timedelta(days=366)
TAGS = ["rotations"]


# --- Output ---------------------------------------------------------------------------------


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(help_text="Display name, else full name, else username.")


class UserContactSerializer(UserBriefSerializer):
    email = serializers.EmailField()
    phone = serializers.CharField(help_text="E.164, or empty.")


class OnCallSerializer(serializers.Serializer):
    team = serializers.SlugField(source="rotation.team.slug")
    tier = serializers.ChoiceField(source="rotation.tier", choices=Tier.choices)
    position = serializers.ChoiceField(source="rotation.position", choices=Position.choices)
    user = UserContactSerializer(allow_null=True, help_text="Null: nobody covers (a gap).")
    start = serializers.DateTimeField(allow_null=True, help_text="Start of the shift or override.")
    end = serializers.DateTimeField(allow_null=True, help_text="End of the shift or override.")
    override = serializers.BooleanField(help_text="True when an override put this person here.")


class DirectNumberSerializer(serializers.ModelSerializer):
    class Meta:
        model = DirectNumber
        fields = ("label", "phone")


class TeamSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    escalation_contact = serializers.IntegerField(
        source="escalation_contact_id", allow_null=True, help_text="User id of the CPE manager."
    )
    contact_mode = serializers.ChoiceField(choices=ContactMode.choices)
    direct_numbers = DirectNumberSerializer(
        many=True, help_text="Numbers support dials when contact_mode is call."
    )


class WorkingHoursSerializer(serializers.Serializer):
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        help_text="Weekdays covered, 0 = Monday … 6 = Sunday.",
    )
    start = serializers.TimeField(format="%H:%M")
    end = serializers.TimeField(format="%H:%M")
    timezone = serializers.CharField(help_text="IANA timezone of start and end.")


class RotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.SlugField(source="team.slug")
    name = serializers.CharField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    position = serializers.ChoiceField(choices=Position.choices)
    shift_length = ISODurationField(help_text="ISO 8601, e.g. P7D (weekly) or PT12H.")
    handoff_time = serializers.TimeField(format="%H:%M", help_text="Local wall-clock time.")
    timezone = serializers.CharField(help_text="IANA timezone of the handoff time.")
    start_date = serializers.DateField(help_text="The date of the first handoff.")
    members = serializers.SerializerMethodField(help_text="User ids, top of the list first.")
    working_hours = serializers.SerializerMethodField(help_text="Null: around the clock.")
    ical_url = serializers.SerializerMethodField(help_text="Secret iCal feed of this rotation.")

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_members(self, rotation: Rotation) -> list[int]:
        return [m.user_id for m in rotation.ordered_members]  # type: ignore[attr-defined]

    @extend_schema_field(WorkingHoursSerializer(allow_null=True))
    def get_working_hours(self, rotation: Rotation) -> dict[str, Any] | None:
        if rotation.working_hours_start is None or rotation.working_hours_end is None:
            return None
        hours = {
            "days": sorted(rotation.working_days) if rotation.working_days else list(range(7)),
            "start": rotation.working_hours_start,
            "end": rotation.working_hours_end,
            "timezone": rotation.working_hours_timezone or rotation.timezone,
        }
        return WorkingHoursSerializer(hours).data

    @extend_schema_field(OpenApiTypes.URI)
    def get_ical_url(self, rotation: Rotation) -> str:
        return settings.SITE_URL + reverse("rotations:rotation-feed", args=[rotation.ical_token])


class ShiftSerializer(serializers.Serializer):
    user = UserBriefSerializer()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    override = serializers.BooleanField()


# --- Input ----------------------------------------------------------------------------------


class OnCallQuerySerializer(serializers.Serializer):
    team = serializers.SlugField(help_text="The team's slug, e.g. core.")
    at = QueryDateTimeField(
        required=False,
        help_text="ISO 8601 instant (default: now); without an offset it is read as UTC.",
    )


class RotationsQuerySerializer(serializers.Serializer):
    team = serializers.SlugField(required=False, help_text="Only this team's rotations.")


class ShiftRangeSerializer(serializers.Serializer):
    start = QueryDateTimeField(help_text="ISO 8601 instant, inclusive.")
    end = QueryDateTimeField(help_text="ISO 8601 instant, exclusive; at most 366 days on.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end"] <= attrs["start"]:
            raise serializers.ValidationError({"end": "The end must come after the start."})
        if attrs["end"] - attrs["start"] > MAX_SHIFT_RANGE:
            raise serializers.ValidationError(
                {"end": f"Ask for at most {MAX_SHIFT_RANGE.days} days at a time."}
            )
        return attrs


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _rotation_or_404(rotation_id: int) -> Rotation:
    rotation = selectors.rotations_with_members(Rotation.objects.filter(pk=rotation_id)).first()
    if rotation is None:
        raise exceptions.NotFound(f"There is no rotation with the id {rotation_id}.")
    return rotation


# --- Views ----------------------------------------------------------------------------------


class OnCallApi(APIView):
    @extend_schema(
        operation_id="oncall_list",
        summary="Who is on call for a team",
        description="One entry per tier × position of the team at `at` (default now). "
        "`user` is null where nobody covers.",
        parameters=[OnCallQuerySerializer],
        responses={200: OnCallSerializer(many=True), **error_responses(400, 403, 404)},
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
    @extend_schema(
        operation_id="teams_list",
        summary="Teams",
        responses={200: TeamSerializer(many=True), **error_responses(403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        teams = Team.objects.prefetch_related("direct_numbers").order_by("name")
        return Response(TeamSerializer(teams, many=True).data)


class RotationListApi(APIView):
    @extend_schema(
        operation_id="rotations_list",
        summary="Rotations",
        parameters=[RotationsQuerySerializer],
        responses={200: RotationSerializer(many=True), **error_responses(400, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        query = _query(RotationsQuerySerializer, request)
        rotations = Rotation.objects.all()
        if query.get("team"):
            rotations = rotations.filter(team__slug=query["team"])
        rotations = selectors.rotations_with_members(rotations)
        return Response(RotationSerializer(rotations, many=True).data)


class RotationDetailApi(APIView):
    @extend_schema(
        operation_id="rotations_retrieve",
        summary="One rotation",
        responses={200: RotationSerializer, **error_responses(403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, rotation_id: int) -> Response:
        return Response(RotationSerializer(_rotation_or_404(rotation_id)).data)


class RotationShiftsApi(APIView):
    @extend_schema(
        operation_id="rotations_shifts_list",
        summary="A rotation's shifts in a range",
        description="The timeline in [start, end), overrides applied; gaps are simply absent.",
        parameters=[ShiftRangeSerializer],
        responses={200: ShiftSerializer(many=True), **error_responses(400, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, rotation_id: int) -> Response:
        query = _query(ShiftRangeSerializer, request)
        shifts = selectors.rotation_shifts(
            rotation=_rotation_or_404(rotation_id), start=query["start"], end=query["end"]
        )
        return Response(ShiftSerializer(shifts, many=True).data)
