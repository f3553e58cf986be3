"""Serializers of the rotations API: what goes in and what comes out."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from oncall.api.fields import (
    ClockTimeField,
    DayField,
    InstantField,
    ISODurationField,
    QueryDateTimeField,
    SlugLookupField,
)
from rotations.models import (
    OVERRIDE_REASON_MAX,
    ContactMode,
    DirectNumber,
    EscalationStep,
    OverrideRequestKind,
    OverrideRequestStatus,
    Position,
    Rotation,
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
    email = serializers.EmailField(
        allow_blank=True,
        help_text="The team's own address: end-of-shift reports go here (empty: to every "
        "member of the rotation).",
    )
    slack_usergroup_id = serializers.CharField(
        allow_blank=True,
        help_text="Slack user group set to the people on call at every handoff (empty: none).",
    )
    direct_numbers = DirectNumberSerializer(
        many=True, help_text="Numbers support dials when contact_mode is call."
    )
    default_policy = serializers.IntegerField(
        source="default_policy_id",
        allow_null=True,
        help_text="Id of the policy that pages the team's declared incidents. Null: the "
        "team's oldest policy, else its veteran list.",
    )
    engage_policy = serializers.IntegerField(
        source="engage_policy_id",
        allow_null=True,
        help_text="Id of the policy that pages the veteran tier when development is engaged. "
        "Null: walk the veteran list, then the escalation contact.",
    )
    new_tier_policy = serializers.IntegerField(
        source="new_tier_policy_id",
        allow_null=True,
        help_text="Id of the policy that pages the new tier when development is engaged. "
        "Null: the new tier's on-call, once.",
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


def _team_policy_id(purpose: str) -> serializers.IntegerField:
    """An optional reference to one of the team's own policies, by id."""
    return serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        allow_null=True,
        required=False,
        help_text=f"Id of one of the team's policies: {purpose}",
    )


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
    email = serializers.EmailField(
        required=False,
        allow_blank=True,
        help_text="Where end-of-shift reports go (empty: every member of the rotation).",
    )
    slack_usergroup_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=21,
        help_text="Slack user group id (S…) set to the people on call at every handoff.",
    )
    default_policy = _team_policy_id("pages its declared incidents.")
    engage_policy = _team_policy_id("pages the veteran tier on engage.")
    new_tier_policy = _team_policy_id("pages the new tier on engage.")


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
    start_date = DayField(required=False, help_text="The date of the first handoff (2000–2199).")
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
    start = InstantField(help_text="Between the years 2000 and 2199.")
    end = InstantField(help_text="Between the years 2000 and 2199.")
    replaces = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=OVERRIDE_REASON_MAX, required=False, allow_blank=True)
    confirm_double_booking = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Managers only: accept that `user` is then on call in two positions of the "
        "team at once (e.g. veteran primary and secondary). Without it such an override is a "
        "400 with the code double_booking; it is never stored.",
    )


class OverridesQuerySerializer(serializers.Serializer):
    rotation = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    team = serializers.SlugField(required=False, help_text="Only this team's rotations.")
    ends_after = QueryDateTimeField(
        required=False, help_text="Only overrides ending after this instant (default: now)."
    )


class OverrideRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rotation = serializers.IntegerField(source="rotation_id")
    kind = serializers.ChoiceField(choices=OverrideRequestKind.choices)
    requester = serializers.IntegerField(source="requester_id")
    recipient = serializers.IntegerField(source="recipient_id")
    start = serializers.DateTimeField(
        help_text="Cover: the recipient's shift the requester takes. Swap: the requester's "
        "shift the recipient takes."
    )
    end = serializers.DateTimeField()
    swap_start = serializers.DateTimeField(
        allow_null=True, help_text="Swap: the recipient's shift the requester takes in return."
    )
    swap_end = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=OverrideRequestStatus.choices)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.IntegerField(source="decided_by_id", allow_null=True)


class OverrideRequestInputSerializer(serializers.Serializer):
    rotation = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=OverrideRequestKind.choices)
    recipient = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Who is asked (the other person)."
    )
    start = InstantField(help_text="Between the years 2000 and 2199.")
    end = InstantField(help_text="Between the years 2000 and 2199.")
    swap_start = InstantField(required=False, allow_null=True)
    swap_end = InstantField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=OVERRIDE_REASON_MAX, required=False, allow_blank=True)


class OverrideRequestsQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=OverrideRequestStatus.choices,
        required=False,
        help_text="Only requests in this state.",
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
        # Steps replace every step, so each is whole even in a PATCH (partial reaches here).
        if "action" not in attrs:
            raise serializers.ValidationError({"action": "This field is required."})
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
