"""The support ladder's API (issue 16 points 4, 6, 8): escalate to the next rung, add a
responder, record the engineering council's decision, set the category."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.api import serializers as s
from incidents.api.views import (
    TAGS,
    WRITE_ERRORS,
    IncidentApiView,
    _body,
    _detail,
    _incident,
    _user,
)
from incidents.models import Category, CouncilChoice, Rung, Severity, SeverityPolicy, Via
from incidents.services.council import council_decision_record
from incidents.services.ladder import (
    REASON_MAX,
    RungRefused,
    incident_add_responder,
    incident_escalate_tier,
    severity_policy_update_ladder,
)
from incidents.services.rules import NotAllowed
from incidents.services.security import incident_set_category
from oncall.api.errors import error_responses
from oncall.api.fields import ISODurationField
from oncall.api.permissions import signed_in
from rotations.models import Team

RUNGS = [Rung.SUPPORT_MANAGER, Rung.ENGINEERING_MANAGER, Rung.ONCALL]


class EscalateTierSerializer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=[(r.value, r.label) for r in RUNGS],
        help_text="The next rung: support_manager (from the first tier), engineering_manager "
        "(low severity, a day) or oncall (high severity, hours).",
    )
    team = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Team.objects.all(),
        required=False,
        allow_null=True,
        help_text="The engineering team (its slug), for engineering_manager or oncall when the "
        "incident is on a support team.",
    )
    reason = serializers.CharField(max_length=REASON_MAX, required=False, allow_blank=True)


class ResponderSerializer(serializers.Serializer):
    user = serializers.IntegerField(min_value=1, max_value=s.MAX_ID, help_text="A user id.")
    reason = serializers.CharField(
        max_length=REASON_MAX, required=False, allow_blank=True, help_text="Why they are needed."
    )


class CouncilDecisionInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=CouncilChoice.choices,
        help_text="gather_information, allocate_short_term (due next day), allocate_long_term "
        "(due in a sprint) or rollback.",
    )
    owner = serializers.IntegerField(min_value=1, max_value=s.MAX_ID, help_text="A user id.")
    due_on = serializers.DateField(
        required=False, allow_null=True, help_text="Default: from the decision."
    )
    note = serializers.CharField(max_length=s.TEXT_MAX, required=False, allow_blank=True)


class CouncilDecisionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=CouncilChoice.choices)
    owner = s.UserRefSerializer()
    due_on = serializers.DateField()
    note = serializers.CharField()
    decided_by = s.UserRefSerializer(allow_null=True)
    decided_at = serializers.DateTimeField()


class CategorySerializer(serializers.Serializer):
    category = serializers.ChoiceField(
        choices=Category.choices,
        help_text="security (notifies the security owner; visible only to those working it "
        "until resolved), customer, alert or other.",
    )


class LadderApiView(IncidentApiView):
    """400 for a rung that is not the next one, 403 for a role that may not."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, RungRefused):
            exc = exceptions.ValidationError({"to": [str(exc)]}, code=exc.code)
        elif isinstance(exc, NotAllowed):
            exc = exceptions.PermissionDenied(str(exc), code=exc.code)
        return super().handle_exception(exc)


def _schema(operation_id: str, summary: str, request: Any, description: str = "") -> Any:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        responses={200: s.IncidentDetailSerializer, **error_responses(*WRITE_ERRORS, 409)},
        tags=TAGS,
    )


class IncidentEscalateTierApi(LadderApiView):
    @_schema(
        "incidents_escalate_tier",
        "Escalate to the next rung of the support ladder",
        EscalateTierSerializer,
        "first_tier → support_manager → engineering_manager or oncall. 400 when `to` is not "
        "a next rung (the answer says why); 403 when the role may not: from the first tier "
        "Support, Support manager and Manager escalate; from the support manager on, Support "
        "manager and Manager.",
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(EscalateTierSerializer, request)
        incident_escalate_tier(
            incident=incident,
            to=data["to"],
            team=data.get("team"),
            reason=data.get("reason", ""),
            actor=signed_in(request),
            via=Via.API,
        )
        return Response(_detail(request, incident_id))


class IncidentRespondersApi(LadderApiView):
    @_schema(
        "incidents_responders_create",
        "Add a responder: page someone more without stopping what is paging",
        ResponderSerializer,
        "Only the on-call engineer (who acknowledged it or is being paged for it), the "
        "commander or a Manager; 403 for support roles.",
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(ResponderSerializer, request)
        user = _user(data["user"], "user")
        assert user is not None
        incident_add_responder(
            incident=incident,
            user=user,
            reason=data.get("reason", ""),
            actor=signed_in(request),
            via=Via.API,
        )
        return Response(_detail(request, incident_id))


class IncidentCouncilDecisionsApi(LadderApiView):
    @extend_schema(
        operation_id="incidents_council_decisions_create",
        summary="Record the engineering council's decision",
        description="Council members and Managers only (403 otherwise).",
        request=CouncilDecisionInputSerializer,
        responses={201: CouncilDecisionSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(CouncilDecisionInputSerializer, request)
        owner = _user(data["owner"], "owner")
        assert owner is not None
        row = council_decision_record(
            incident=incident,
            decision=data["decision"],
            owner=owner,
            due_on=data.get("due_on"),
            note=data.get("note", ""),
            actor=signed_in(request),
            via=Via.API,
        )
        return Response(CouncilDecisionSerializer(row).data, status=status.HTTP_201_CREATED)


class IncidentCategoryApi(LadderApiView):
    @_schema("incidents_category", "Set the category (on the timeline)", CategorySerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(CategorySerializer, request)
        incident_set_category(
            incident=incident, category=data["category"], actor=signed_in(request), via=Via.API
        )
        return Response(_detail(request, incident_id))


class LadderSettingsSerializer(serializers.Serializer):
    acknowledge_target = ISODurationField(required=False)
    support_manager_required = serializers.BooleanField(
        required=False,
        help_text="The first tier escalates to the support manager before engineering.",
    )
    support_escalates_to = serializers.ChoiceField(
        choices=[(Rung.ENGINEERING_MANAGER.value, "low"), (Rung.ONCALL.value, "high")],
        required=False,
        help_text="The support manager's default next rung.",
    )
    engineering_manager_target = ISODurationField(required=False)
    oncall_target = ISODurationField(required=False)


class SeverityPolicyLadderApi(LadderApiView):
    @extend_schema(
        operation_id="severity_policies_partial_update",
        summary="Change a severity's support-ladder settings and targets (Managers)",
        request=LadderSettingsSerializer,
        responses={200: s.SeverityPolicySerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def patch(self, request: Request, level: str) -> Response:
        level = s.SEVERITY_ALIASES.get(level.upper(), level.upper())
        policy = SeverityPolicy.objects.filter(level=level).first()
        if level not in Severity.values or policy is None:
            raise exceptions.NotFound(f"There is no severity {level!r}.")
        data = _body(LadderSettingsSerializer, request)
        policy = severity_policy_update_ladder(
            policy=policy, actor=signed_in(request), changes=data
        )
        return Response(s.SeverityPolicySerializer(policy).data)
