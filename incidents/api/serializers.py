"""Input and output shapes of the incidents API."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.models import (
    ACTIONABLE_REASON_MAX,
    BRIDGE_MAX,
    FIVE_W_MAX,
    PHONE_MAX,
    REQUESTER_MAX,
    SERVICE_MAX,
    TEXT_MAX,
    TICKET_MAX,
    TITLE_MAX,
    Category,
    Incident,
    Rung,
    Severity,
    Status,
)
from incidents.triage import (
    ANSWER_MAX,
    ANSWER_MIN,
    ANSWER_NAMES,
    EVIDENCE_MAX_ITEMS,
    EVIDENCE_URL_MAX,
    QUESTIONS,
)
from notifications.models import Channel
from notifications.models import Status as NotificationStatus
from oncall.api.fields import ISODurationField, SlugLookupField
from rotations.models import Team

MAX_ID = 2**31 - 1
# Handbooks say SEV1 or P1; both are accepted, SEV is what comes back.
SEVERITY_ALIASES = {f"P{n}": f"SEV{n}" for n in range(4)}
SEVERITY_INPUT_CHOICES = [*Severity.values, *SEVERITY_ALIASES]


class SeverityField(serializers.ChoiceField):
    """`SEV0`–`SEV3`, or the aliases `P0`–`P3` (case-insensitive); always read as SEV."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "SEV0 (critical) … SEV3 (minor); P0–P3 are aliases.")
        super().__init__(choices=SEVERITY_INPUT_CHOICES, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if isinstance(data, str):
            data = data.strip().upper()
        value = super().to_internal_value(data)
        return SEVERITY_ALIASES.get(value, value)


# --- Output ---------------------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class IncidentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(help_text="INC-<id>.")
    title = serializers.CharField()
    description = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    team = serializers.SlugField(source="team.slug", allow_null=True, default=None)
    dedup_key = serializers.CharField()
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="manual, engage, api or integration."
    )
    category = serializers.ChoiceField(
        choices=Category.choices, help_text="security, customer, alert or other."
    )
    rung = serializers.ChoiceField(
        choices=Rung.choices,
        help_text="Where it stands on the support ladder (handbook 004): first_tier, "
        "support_manager, engineering_manager or oncall; empty when not on the ladder.",
    )
    next_target_at = serializers.DateTimeField(
        allow_null=True, help_text="When the current rung's target falls due (null: none)."
    )
    ticket = serializers.CharField()
    bridge = serializers.CharField()
    commander = serializers.IntegerField(source="commander_id", allow_null=True)
    requester_name = serializers.CharField()
    requester_phone = serializers.CharField()
    created_at = serializers.DateTimeField()
    triggered_at = serializers.DateTimeField(help_text="Last (re)trigger.")
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)


class TimelineEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="declared, paged, acknowledged, note, …")
    message = serializers.CharField()
    actor = UserRefSerializer(allow_null=True)
    via = serializers.CharField()
    data = serializers.DictField(help_text="What changed, as recorded.")  # type: ignore[assignment]


class StatusUpdateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    author = UserRefSerializer(allow_null=True)
    recipients = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()


class IncidentDetailSerializer(IncidentSerializer):
    timeline = TimelineEventSerializer(many=True, help_text="Every change, oldest first.")
    actionable = serializers.BooleanField(
        allow_null=True, help_text="Was this actionable? Null: not answered yet."
    )
    actionable_reason = serializers.CharField(help_text="Why (optional).")
    status_updates = serializers.SerializerMethodField(help_text="Newest first.")

    @extend_schema_field(StatusUpdateSerializer(many=True))
    def get_status_updates(self, incident: Incident) -> Any:
        return StatusUpdateSerializer(incident.status_updates.all(), many=True).data


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipient = UserRefSerializer(allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    status = serializers.ChoiceField(choices=NotificationStatus.choices)
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField()


class SeverityPolicySerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=Severity.choices)
    description = serializers.CharField()
    acknowledge_target = ISODurationField()
    triage_target = ISODurationField()
    page_both_tiers = serializers.BooleanField()
    status_updates_required = serializers.BooleanField()
    status_update_interval = ISODurationField()
    postmortem_required = serializers.BooleanField()
    postmortem_emailed = serializers.BooleanField()
    postmortem_due = ISODurationField()
    action_item_due = ISODurationField()
    escalation_policy = serializers.IntegerField(source="escalation_policy_id", allow_null=True)
    support_manager_required = serializers.BooleanField(
        help_text="The first tier escalates to the support manager before engineering."
    )
    support_escalates_to = serializers.CharField(
        help_text="The support manager's default next rung: engineering_manager or oncall."
    )
    engineering_manager_target = ISODurationField()
    oncall_target = ISODurationField()


# --- Input ----------------------------------------------------------------------------------


def _team_field(**kwargs: Any) -> SlugLookupField:
    return SlugLookupField(
        slug_field="slug", queryset=Team.objects.all(), help_text="The team's slug.", **kwargs
    )


class IncidentCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX)
    severity = SeverityField()
    team = _team_field()
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    dedup_key = serializers.CharField(max_length=255, required=False, allow_blank=True)
    ticket = serializers.CharField(max_length=TICKET_MAX, required=False, allow_blank=True)
    bridge = serializers.CharField(max_length=BRIDGE_MAX, required=False, allow_blank=True)
    commander = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="A user id."
    )
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, help_text="security, customer, alert or other."
    )


class IncidentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TITLE_MAX, required=False)
    description = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    ticket = serializers.CharField(max_length=TICKET_MAX, required=False, allow_blank=True)
    bridge = serializers.CharField(max_length=BRIDGE_MAX, required=False, allow_blank=True)
    commander = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="A user id."
    )
    severity = SeverityField(required=False)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)
    actionable = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Was this actionable? Answered with the resolve (the commander, whoever "
        "acknowledged, or a Manager); absent or null: not answered.",
    )
    actionable_reason = serializers.CharField(
        max_length=ACTIONABLE_REASON_MAX, required=False, allow_blank=True
    )


class ActionableSerializer(serializers.Serializer):
    actionable = serializers.BooleanField(help_text="Was this incident actionable?")
    reason = serializers.CharField(
        max_length=ACTIONABLE_REASON_MAX, required=False, allow_blank=True, help_text="Why."
    )


class ReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=TEXT_MAX)


class StatusUpdateInputSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=TEXT_MAX)


class EngageSerializer(serializers.Serializer):
    team = _team_field()
    ticket = serializers.CharField(max_length=TICKET_MAX, help_text="A ticket key, e.g. CSD-123.")
    requester = serializers.CharField(
        max_length=REQUESTER_MAX, help_text="Who asked; development calls."
    )
    phone = serializers.CharField(
        max_length=PHONE_MAX,
        help_text="The call-back number with its country code, e.g. +1 202 555 0143 "
        "(an extension may follow).",
    )
    bridge = serializers.CharField(
        max_length=BRIDGE_MAX, required=False, allow_blank=True, help_text="Conference bridge."
    )
    severity = SeverityField(required=False)


# --- Triage (handbook 004's checklist) ------------------------------------------------------


class TriageAnswersSerializer(serializers.Serializer):
    """The five priority questions, each 1 (least) to 4 (worst)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            q.name: serializers.IntegerField(
                min_value=ANSWER_MIN,
                max_value=ANSWER_MAX,
                required=False,
                help_text=f"{q.text} "
                + "; ".join(f"{n} = {words}" for n, words in enumerate(q.scale, 1))
                + ".",
            )
            for q in QUESTIONS
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(ANSWER_NAMES))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: f"Not a question; the questions: {', '.join(ANSWER_NAMES)}."
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class TriageSerializer(serializers.Serializer):
    """What triage gathered; every field optional. With `severity` it confirms."""

    who = serializers.CharField(max_length=FIVE_W_MAX, required=False, allow_blank=True)
    what = serializers.CharField(max_length=FIVE_W_MAX, required=False, allow_blank=True)
    where = serializers.CharField(max_length=FIVE_W_MAX, required=False, allow_blank=True)
    when = serializers.CharField(max_length=FIVE_W_MAX, required=False, allow_blank=True)
    how = serializers.CharField(max_length=FIVE_W_MAX, required=False, allow_blank=True)
    evidence = serializers.ListField(
        child=serializers.CharField(max_length=EVIDENCE_URL_MAX, allow_blank=True),
        max_length=EVIDENCE_MAX_ITEMS,
        required=False,
        help_text="Links (http/https) to logs, customer emails, alerts; replaces the list.",
    )
    ticket = serializers.CharField(
        max_length=TICKET_MAX, required=False, allow_blank=True, help_text="A key like MCT-123."
    )
    service = serializers.CharField(
        max_length=SERVICE_MAX,
        required=False,
        allow_blank=True,
        help_text="The service affected, e.g. checkout-api.",
    )
    answers = TriageAnswersSerializer(
        required=False,
        help_text="The five priority answers (all five are needed to confirm).",
    )
    severity = SeverityField(
        required=False,
        help_text="Confirms the triage at this severity (SEV0–SEV3 or P0–P3); omit to save "
        "and get the suggestion only.",
    )
    reason = serializers.CharField(
        max_length=TEXT_MAX,
        required=False,
        allow_blank=True,
        help_text="Required when `severity` differs from the suggested one.",
    )


class TriageAnswerWordsSerializer(serializers.Serializer):
    name = serializers.CharField()
    text = serializers.CharField(help_text="The question.")
    value = serializers.IntegerField(allow_null=True, help_text="1–4, null: not answered.")
    words = serializers.CharField(help_text="The scale's words for the value.")


class TriageResultSerializer(serializers.Serializer):
    suggested_severity = serializers.ChoiceField(
        choices=Severity.choices,
        allow_null=True,
        help_text="What the five answers suggest; null until all five are answered.",
    )
    confirmed = serializers.BooleanField(help_text="This request confirmed the triage.")
    answers = TriageAnswerWordsSerializer(many=True)
    evidence = serializers.ListField(child=serializers.CharField())
    ticket_url = serializers.CharField(help_text="The ticket's link; empty without one.")
    incident = IncidentDetailSerializer()
