"""REST API: who is on call, teams, rotations and their shifts, overrides, escalation policies.

Each view validates its query or body with an input serializer, makes one selector or write
call and answers with an output serializer; errors come out in the portal's shape
(oncall.api.errors). Everyone signed in reads; only managers write (IsManagerOrReadOnly).
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oncall.api.errors import error_responses
from oncall.api.fields import (
    ClockTimeField,
    ISODurationField,
    QueryDateTimeField,
    SlugLookupField,
)
from oncall.api.permissions import IsManagerOrReadOnly, signed_in
from oncall.models import User
from rotations import selectors, services
from rotations.models import (
    ContactMode,
    DirectNumber,
    EscalationPolicy,
    EscalationStep,
    Override,
    Position,
    Rotation,
    RotationMember,
    StepAction,
    Team,
    Tier,
)

MAX_SHIFT_RANGE = timedelta(days=366)
TAGS = ["rotations"]
MAX_ID = 2**31 - 1
MAX_MEMBERS = 200
MAX_STEPS = 50
READ_ERRORS = (401, 403)
WRITE_ERRORS = (400, 401, 403, 413, 415)


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
    start = ClockTimeField()
    end = ClockTimeField()
    timezone = serializers.CharField(help_text="IANA timezone of start and end.")


class RotationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.SlugField(source="team.slug")
    name = serializers.CharField()
    tier = serializers.ChoiceField(choices=Tier.choices)
    position = serializers.ChoiceField(choices=Position.choices)
    shift_length = ISODurationField(help_text="ISO 8601, e.g. P7D (weekly) or PT12H.")
    handoff_time = ClockTimeField(help_text="Local wall-clock time.")
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


class OverrideSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rotation = serializers.IntegerField(source="rotation_id")
    user = serializers.IntegerField(source="user_id", help_text="Who covers.")
    replaces = serializers.IntegerField(
        source="replaces_id", allow_null=True, help_text="Whose shift is covered."
    )
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    reason = serializers.CharField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    created_at = serializers.DateTimeField()


class EscalationStepSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=StepAction.choices)
    rotation = serializers.IntegerField(
        source="rotation_id", allow_null=True, help_text="For rotation steps: the rotation's id."
    )
    users = serializers.SerializerMethodField(help_text="For users steps: whom it pages.")
    wait = ISODurationField(help_text="ISO 8601: how long to wait for an acknowledgement.")

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_users(self, step: EscalationStep) -> list[int]:
        return sorted(user.pk for user in step.users.all())


class EscalationPolicySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.SlugField(source="team.slug")
    name = serializers.CharField()
    description = serializers.CharField()
    repeat = serializers.IntegerField(help_text="How many more times all steps run.")
    steps = EscalationStepSerializer(many=True, help_text="In order: the first step runs first.")


class UserIdsField(serializers.ListField):
    """An ordered list of distinct user ids (checked against the database in one query)."""

    child = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_MEMBERS)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[int]:
        ids: list[int] = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each person may appear only once.")
        return ids


def _users(ids: list[int], field: str) -> list[User]:
    """The active users with these ids, in the given order; a 400 naming `field` otherwise."""
    found = User.objects.filter(pk__in=ids, is_active=True).in_bulk()
    missing = [i for i in ids if i not in found]
    if missing:
        raise serializers.ValidationError(
            {field: f"No active person has the id {', '.join(map(str, missing))}."}
        )
    return [found[i] for i in ids]


def _user(user_id: int | None, field: str) -> User | None:
    return None if user_id is None else _users([user_id], field)[0]


class TeamInputSerializer(serializers.Serializer):
    slug = serializers.SlugField(max_length=50, help_text="Short name for URLs, e.g. core.")
    name = serializers.CharField(max_length=100)
    escalation_contact = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text="User id of who is paged when the list runs out (the CPE manager).",
    )
    contact_mode = serializers.ChoiceField(choices=ContactMode.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    announcement_email = serializers.EmailField(
        required=False, allow_blank=True, help_text="Where status updates go."
    )


class WorkingHoursInputSerializer(serializers.Serializer):
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        max_length=7,
        required=False,
        help_text="Weekdays covered, 0 = Monday … 6 = Sunday (default: every day).",
    )
    start = ClockTimeField()
    end = ClockTimeField(help_text="After start.")
    timezone = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="Default: the rotation's."
    )


class RotationInputSerializer(serializers.Serializer):
    team = SlugLookupField(slug_field="slug", queryset=Team.objects.all())
    name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tier = serializers.ChoiceField(choices=Tier.choices, required=False)
    position = serializers.ChoiceField(choices=Position.choices, required=False)
    shift_length = ISODurationField(
        min_value=timedelta(hours=1),
        max_value=timedelta(days=366),
        required=False,
        help_text="ISO 8601, whole hours or days, e.g. P7D (weekly) or PT12H.",
    )
    handoff_time = ClockTimeField(required=False, help_text="Local wall-clock time.")
    timezone = serializers.CharField(max_length=64, required=False, help_text="IANA timezone.")
    start_date = serializers.DateField(required=False, help_text="The date of the first handoff.")
    members = UserIdsField(
        required=False,
        help_text="User ids, top of the list first; they join the team if they are not in it.",
    )
    working_hours = WorkingHoursInputSerializer(
        required=False, allow_null=True, help_text="Null: around the clock."
    )

    def validate_working_hours(self, hours: dict[str, Any] | None) -> dict[str, Any] | None:
        # A PATCH is partial at the top level only: working hours are replaced whole.
        missing = [name for name in ("start", "end") if hours is not None and name not in hours]
        if missing:
            raise serializers.ValidationError({name: "This field is required." for name in missing})
        return hours


class OverrideInputSerializer(serializers.Serializer):
    rotation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    user = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Who covers.")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    replaces = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class OverridesQuerySerializer(serializers.Serializer):
    rotation = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    team = serializers.SlugField(required=False, help_text="Only this team's rotations.")
    ends_after = QueryDateTimeField(
        required=False, help_text="Only overrides ending after this instant (default: now)."
    )


class EscalationStepInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=StepAction.choices)
    rotation = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="The rotation a rotation_oncall or walk_rotation step pages.",
    )
    users = UserIdsField(required=False, help_text="Whom a users step pages.")
    wait = ISODurationField(
        min_value=timedelta(0),
        max_value=timedelta(days=7),
        required=False,
        help_text="ISO 8601, e.g. PT10M (default).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        users = attrs.get("users") or []
        if attrs["action"] == StepAction.USERS and not users:
            raise serializers.ValidationError({"users": "Name whom this step pages."})
        if attrs["action"] != StepAction.USERS and users:
            raise serializers.ValidationError({"users": "Only a users step names people."})
        return attrs


class EscalationPolicyInputSerializer(serializers.Serializer):
    team = SlugLookupField(slug_field="slug", queryset=Team.objects.all())
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    repeat = serializers.IntegerField(
        min_value=0, max_value=100, required=False, help_text="Run all steps again this often."
    )
    steps = EscalationStepInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=MAX_STEPS, help_text="In order; replaces all."
    )


class TeamQuerySerializer(serializers.Serializer):
    team = serializers.SlugField(required=False, help_text="Only this team's.")


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


def _rotation_or_404(rotation_id: int) -> Rotation:
    rotation = selectors.rotations_with_members(Rotation.objects.filter(pk=rotation_id)).first()
    if rotation is None:
        raise exceptions.NotFound(f"There is no rotation with the id {rotation_id}.")
    return rotation


# --- Writes ---------------------------------------------------------------------------------
# The configuration writes managers make through the API. Each runs full_clean in one
# transaction, so a refused write stores nothing. (They belong with rotations.services.)

_UNSET: Any = object()


def _clean(instance: Any, prefix: str | None = None) -> None:
    """full_clean, with the errors under `prefix` (e.g. steps.2) when given."""
    try:
        instance.full_clean()
    except DjangoValidationError as error:
        if prefix is None:
            raise
        detail = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        raise serializers.ValidationError({prefix: detail}) from error


def team_write(*, team: Team, data: dict[str, Any]) -> Team:
    """Create (`team` unsaved) or change a team."""
    data = dict(data)
    if "escalation_contact" in data:
        team.escalation_contact = _user(data.pop("escalation_contact"), "escalation_contact")
    for name, value in data.items():
        setattr(team, name, value)
    with transaction.atomic():
        team.full_clean()
        team.save()
    return team


def rotation_write(*, rotation: Rotation, data: dict[str, Any]) -> Rotation:
    """Create or change a rotation; `members` replaces the ordered list (joining the team)."""
    data = dict(data)
    member_ids = data.pop("members", None)
    members = _users(member_ids, "members") if member_ids is not None else None
    hours = data.pop("working_hours", _UNSET)
    if hours is None:
        rotation.working_days, rotation.working_hours_timezone = [], ""
        rotation.working_hours_start = rotation.working_hours_end = None
    elif hours is not _UNSET:
        rotation.working_days = sorted(set(hours.get("days") or []))
        rotation.working_hours_start, rotation.working_hours_end = hours["start"], hours["end"]
        rotation.working_hours_timezone = hours.get("timezone") or ""
    for name, value in data.items():
        setattr(rotation, name, value)
    with transaction.atomic():
        rotation.full_clean()
        rotation.save()
        if members is not None:
            RotationMember.objects.filter(rotation=rotation).delete()
            RotationMember.objects.bulk_create(
                RotationMember(rotation=rotation, user=user, position=index)
                for index, user in enumerate(members)
            )
        else:
            members = [m.user for m in rotation.members.select_related("user")]
        # The list holds only team members; whoever is put on it joins the team.
        rotation.team.members.add(*members)
    return rotation


def _step_targets(
    steps: list[dict[str, Any]],
) -> tuple[dict[int, Rotation], dict[int, User]]:
    rotation_ids = {s["rotation"] for s in steps if s.get("rotation") is not None}
    rotations = Rotation.objects.select_related("team").in_bulk(rotation_ids)
    user_ids = {u for s in steps for u in s.get("users") or []}
    users = User.objects.filter(is_active=True).in_bulk(user_ids)
    errors: dict[str, dict[str, str]] = {}
    for index, step in enumerate(steps):
        if step.get("rotation") is not None and step["rotation"] not in rotations:
            errors[str(index)] = {
                "rotation": f"There is no rotation with the id {step['rotation']}."
            }
        missing = [u for u in step.get("users") or [] if u not in users]
        if missing:
            errors[str(index)] = {"users": f"No active person has the id {missing[0]}."}
    if errors:
        raise serializers.ValidationError({"steps": errors})
    return rotations, users


def escalation_policy_write(*, policy: EscalationPolicy, data: dict[str, Any]) -> EscalationPolicy:
    """Create or change a policy; `steps` replaces every step, in the order given."""
    data = dict(data)
    steps = data.pop("steps", None)
    rotations, users = _step_targets(steps) if steps is not None else ({}, {})
    team_changed = "team" in data and policy.pk is not None and data["team"] != policy.team
    for name, value in data.items():
        setattr(policy, name, value)
    with transaction.atomic():
        policy.full_clean()
        policy.save()
        if steps is None:
            if team_changed:  # the kept steps must still fit the new team
                for index, kept in enumerate(policy.steps.select_related("rotation__team")):
                    _clean(kept, f"steps.{index}")
            return policy
        policy.steps.all().delete()
        for index, step in enumerate(steps):
            row = EscalationStep(
                policy=policy,
                position=index,
                action=step["action"],
                rotation=rotations.get(step.get("rotation") or 0),
                wait=step.get("wait", timedelta(minutes=10)),
            )
            _clean(row, f"steps.{index}")
            row.save()
            if step.get("users"):
                row.users.set([users[u] for u in step["users"]])
    return policy


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
        team = team_write(team=Team(), data=_body(TeamInputSerializer, request))
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
        team = team_write(team=team, data=_body(TeamInputSerializer, request, partial=True))
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
        rotation = rotation_write(rotation=Rotation(), data=_body(RotationInputSerializer, request))
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
        rotation_write(rotation=rotation, data=data)
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
        rotation = Rotation.objects.select_related("team").filter(pk=data["rotation"]).first()
        if rotation is None:
            raise serializers.ValidationError(
                {"rotation": f"There is no rotation with the id {data['rotation']}."}
            )
        user = _user(data["user"], "user")
        assert user is not None
        override = services.override_create(
            rotation=rotation,
            user=user,
            start=data["start"],
            end=data["end"],
            replaces=_user(data.get("replaces"), "replaces"),
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
        policy = escalation_policy_write(policy=EscalationPolicy(), data=data)
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
        escalation_policy_write(policy=policy, data=data)
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
