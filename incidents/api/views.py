"""REST API of incidents: list, declare, read, change, act on them, engage development.

Each view validates with an input serializer, calls one service and answers with an output
serializer. Domain errors (IncidentError) become 409 in the portal's error shape.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import selectors, services
from incidents.api import serializers as s
from incidents.api.filters import IncidentFilter
from incidents.models import Incident, SeverityPolicy, Source, TimelineKind, Via
from incidents.services.declare import incident_declare_or_repeat
from incidents.triage import answer_words, may_triage, ticket_url
from oncall.api.errors import Conflict, error_responses
from oncall.api.permissions import signed_in
from oncall.http import id_from_text
from oncall.models import User

TAGS = ["incidents"]
# The engage service's field names as the API's body spells them.
ENGAGE_FIELDS = {"requester_name": "requester", "requester_phone": "phone"}
READ_ERRORS = (401, 403, 404)
WRITE_ERRORS = (400, 401, 403, 404, 413, 415)


class IncidentCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Cursor | None:
        cursor = super().decode_cursor(request)
        # The position is an id; anything else is a forged cursor, not a server error.
        if (
            cursor is not None
            and cursor.position is not None
            and id_from_text(cursor.position) is None
        ):
            raise exceptions.NotFound(self.invalid_cursor_message)
        return cursor


class IncidentApiView(APIView):
    """Maps the incidents app's domain errors to 4xx answers."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.TriageIncomplete):
            exc = exceptions.ValidationError({"triage": [str(exc)]})
        elif isinstance(exc, services.AcknowledgeRefused | services.ActionableRefused):
            exc = exceptions.PermissionDenied(str(exc), code=exc.code)
        elif isinstance(exc, services.IncidentError):
            exc = Conflict(str(exc), code=exc.code)
        return super().handle_exception(exc)


def _body(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    body = serializer_class(data=request.data)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _user(user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise serializers.ValidationError({field: f"No active person has the id {user_id}."})
    return user


def _incident(request: Request, incident_id: int) -> Incident:
    visible = selectors.incidents_visible_to(signed_in(request))
    incident = visible.select_related("team").filter(pk=incident_id).first()
    if incident is None:
        raise exceptions.NotFound(f"There is no incident with the id {incident_id}.")
    return incident


def _detail(request: Request, incident_id: int) -> dict[str, Any]:
    try:
        incident = selectors.incident_detail(pk=incident_id, viewer=signed_in(request))
    except Incident.DoesNotExist:
        raise exceptions.NotFound(f"There is no incident with the id {incident_id}.") from None
    return s.IncidentDetailSerializer(incident).data


def _incidents() -> QuerySet[Incident]:
    return Incident.objects.select_related("team")


class IncidentListApi(GenericAPIView, IncidentApiView):
    queryset = Incident.objects.none()
    serializer_class = s.IncidentSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    pagination_class = IncidentCursorPagination

    def get_queryset(self) -> QuerySet[Incident]:
        return selectors.incidents_visible_to(signed_in(self.request), _incidents())

    @extend_schema(
        operation_id="incidents_list",
        summary="Incidents, newest first",
        description="Filter by status, severity, team, dedup key, creation time and words "
        "(`q`); page with the `next` link (cursor pagination).",
        responses={200: s.IncidentSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        incidents = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(incidents)
        return self.get_paginated_response(s.IncidentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="incidents_create",
        summary="Declare an incident",
        description="Opens the incident and starts paging the team (or records "
        "'call directly' for such teams). Severity P0–P3 is read as SEV0–SEV3.\n\n"
        "With a `dedup_key` that an open (triggered or acknowledged) incident of the team "
        "already has, nothing new is opened and nobody is paged again: the answer is 200 with "
        "that incident, the repeat recorded on its timeline. Otherwise 201 with the new one.",
        request=s.IncidentCreateSerializer,
        responses={
            201: OpenApiResponse(s.IncidentDetailSerializer, description="Declared."),
            200: OpenApiResponse(
                s.IncidentDetailSerializer,
                description="An open incident of the team has the dedup key: that incident, "
                "triggered again (on its timeline).",
            ),
            **error_responses(400, 401, 403, 409, 413, 415),
        },
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = _body(s.IncidentCreateSerializer, request)
        commander = _user(data.pop("commander", None), "commander")
        incident, created = incident_declare_or_repeat(
            actor=signed_in(request),
            source=Source.API,
            via=Via.API,
            commander=commander,
            dedup_key=data.pop("dedup_key", ""),
            **data,
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(_detail(request, incident.pk), status=answer)


class IncidentDetailApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_retrieve",
        summary="One incident with its timeline",
        responses={200: s.IncidentDetailSerializer, **error_responses(*READ_ERRORS)},
        tags=TAGS,
    )
    def get(self, request: Request, incident_id: int) -> Response:
        return Response(_detail(request, incident_id))

    @extend_schema(
        operation_id="incidents_partial_update",
        summary="Change an incident",
        description="Title, description, ticket, bridge, commander (a user id or null) and "
        "severity; each change goes on the timeline.",
        request=s.IncidentUpdateSerializer,
        responses={200: s.IncidentDetailSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def patch(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(s.IncidentUpdateSerializer, request)
        extra: dict[str, Any] = {}
        if "commander" in data:
            extra["commander"] = _user(data.pop("commander"), "commander")
        services.incident_update(
            incident=incident,
            actor=signed_in(request),
            severity=data.pop("severity", None),
            details=data,
            **extra,
        )
        return Response(_detail(request, incident_id))


def _action_schema(operation_id: str, summary: str, request: Any = None) -> Any:
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        request=request,
        responses={200: s.IncidentDetailSerializer, **error_responses(*WRITE_ERRORS, 409)},
        tags=TAGS,
    )


class IncidentAcknowledgeApi(IncidentApiView):
    @_action_schema(
        "incidents_acknowledge",
        "Acknowledge: escalation stops (the people paged, the commander or a Manager; "
        "someone else's acknowledgement is recorded on behalf of those paged)",
    )
    def post(self, request: Request, incident_id: int) -> Response:
        services.incident_acknowledge(
            incident=_incident(request, incident_id), actor=signed_in(request), via=Via.API
        )
        return Response(_detail(request, incident_id))


class IncidentResolveApi(IncidentApiView):
    @_action_schema("incidents_resolve", "Resolve", s.ResolveSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        data = _body(s.ResolveSerializer, request)
        actor = signed_in(request)
        with transaction.atomic():  # a refused answer leaves the incident unresolved
            incident = services.incident_resolve(
                incident=_incident(request, incident_id),
                actor=actor,
                via=Via.API,
                note=data.get("note", ""),
            )
            if data.get("actionable") is not None:
                services.incident_mark_actionable(
                    incident=incident,
                    actor=actor,
                    actionable=data["actionable"],
                    reason=data.get("actionable_reason", ""),
                    via=Via.API,
                )
        return Response(_detail(request, incident_id))


class IncidentActionableApi(IncidentApiView):
    @_action_schema(
        "incidents_actionable",
        "Was this actionable? Yes or no with an optional reason, on a resolved incident (its "
        "commander, whoever acknowledged it, or a Manager; 409 not_resolved before it is)",
        s.ActionableSerializer,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        data = _body(s.ActionableSerializer, request)
        services.incident_mark_actionable(
            incident=_incident(request, incident_id),
            actor=signed_in(request),
            actionable=data["actionable"],
            reason=data.get("reason", ""),
            via=Via.API,
        )
        return Response(_detail(request, incident_id))


class IncidentReopenApi(IncidentApiView):
    @_action_schema("incidents_reopen", "Reopen: paging starts over", s.ReopenSerializer)
    def post(self, request: Request, incident_id: int) -> Response:
        data = _body(s.ReopenSerializer, request)
        services.incident_reopen(
            incident=_incident(request, incident_id),
            actor=signed_in(request),
            via=Via.API,
            reason=data.get("reason", ""),
        )
        return Response(_detail(request, incident_id))


class IncidentEscalateApi(IncidentApiView):
    @_action_schema("incidents_escalate", "Escalate now: run the next step without waiting")
    def post(self, request: Request, incident_id: int) -> Response:
        services.incident_escalate_now(
            incident=_incident(request, incident_id), actor=signed_in(request), via=Via.API
        )
        return Response(_detail(request, incident_id))


class IncidentNotesApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_notes_create",
        summary="Add a note to the timeline",
        request=s.NoteSerializer,
        responses={201: s.TimelineEventSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(s.NoteSerializer, request)
        services.incident_add_note(
            incident=incident, text=data["text"], actor=signed_in(request), via=Via.API
        )
        note = (
            incident.timeline.filter(kind=TimelineKind.NOTE, actor=signed_in(request))
            .select_related("actor")
            .order_by("-at", "-id")
            .first()
        )
        return Response(s.TimelineEventSerializer(note).data, status=status.HTTP_201_CREATED)


class IncidentStatusUpdatesApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_status_updates_list",
        summary="Status updates sent to the company, newest first",
        responses={200: s.StatusUpdateSerializer(many=True), **error_responses(*READ_ERRORS)},
        tags=TAGS,
    )
    def get(self, request: Request, incident_id: int) -> Response:
        updates = _incident(request, incident_id).status_updates.select_related("author")
        return Response(s.StatusUpdateSerializer(updates, many=True).data)

    @extend_schema(
        operation_id="incidents_status_updates_create",
        summary="Post a status update (emailed to the company)",
        request=s.StatusUpdateInputSerializer,
        responses={201: s.StatusUpdateSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = _incident(request, incident_id)
        data = _body(s.StatusUpdateInputSerializer, request)
        update = services.incident_post_status_update(
            incident=incident, message=data["message"], actor=signed_in(request), via=Via.API
        )
        return Response(s.StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentNotificationsApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_notifications_list",
        summary="Every page sent about the incident, newest first",
        responses={200: s.NotificationSerializer(many=True), **error_responses(*READ_ERRORS)},
        tags=TAGS,
    )
    def get(self, request: Request, incident_id: int) -> Response:
        pages = selectors.incident_pages(incident=_incident(request, incident_id)).order_by(
            "-created_at", "-id"
        )
        return Response(s.NotificationSerializer(pages, many=True).data)


class EngageApi(IncidentApiView):
    @extend_schema(
        operation_id="engage_create",
        summary="Engage development",
        description="One incident for the ticket: the veteran tier's list is walked and the "
        "new tier paged, with the call-back number (handbook 000).",
        request=s.EngageSerializer,
        responses={201: s.IncidentDetailSerializer, **error_responses(400, 401, 403, 413, 415)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        data = _body(s.EngageSerializer, request)
        extra = {"severity": data["severity"]} if "severity" in data else {}
        try:
            incident = services.incident_engage(
                team=data["team"],
                ticket=data["ticket"],
                requester_name=data["requester"],
                requester_phone=data["phone"],
                bridge=data.get("bridge", ""),
                actor=signed_in(request),
                via=Via.API,
                **extra,
            )
        except ValidationError as error:  # the service's rules, named as this body names them
            raise ValidationError(
                {ENGAGE_FIELDS.get(f, f): e for f, e in error.error_dict.items()}
                if hasattr(error, "error_dict")
                else error
            ) from None
        return Response(_detail(request, incident.pk), status=status.HTTP_201_CREATED)


class SeverityPolicyListApi(APIView):
    @extend_schema(
        operation_id="severity_policies_list",
        summary="What each severity means",
        responses={200: s.SeverityPolicySerializer(many=True), **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        policies = SeverityPolicy.objects.order_by("level")
        return Response(s.SeverityPolicySerializer(policies, many=True).data)


class IncidentTriageApi(IncidentApiView):
    @extend_schema(
        operation_id="incidents_triage",
        summary="Triage (handbook 004): 5Ws, evidence, ticket, priority answers, severity",
        description="Saves the fields given (the rest stay) and answers `suggested_severity` "
        "from the five priority answers (sum of the five 1–4 answers: 5–8 SEV3, 9–12 SEV2, "
        "13–16 SEV1, 17–20 SEV0; company impact 4 is at least SEV1). With `severity` it "
        "confirms the triage: the 5Ws and all five answers are required, and a `reason` "
        "when the severity is not the suggested one. Anyone signed in may triage.",
        request=s.TriageSerializer,
        responses={200: s.TriageResultSerializer, **error_responses(*WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        actor = signed_in(request)
        if not may_triage(actor):
            raise exceptions.PermissionDenied("You may not triage incidents.")
        incident = _incident(request, incident_id)
        data = _body(s.TriageSerializer, request)
        answers = data.pop("answers", None)
        result = services.incident_triage(
            incident=incident,
            actor=actor,
            via=Via.API,
            answers=dict(answers) if answers is not None else None,
            **data,
        )
        saved = result.incident
        body = {
            "suggested_severity": result.suggested_severity,
            "confirmed": result.confirmed,
            "answers": [
                {key: row[key] for key in ("name", "text", "value", "words")}
                for row in answer_words(saved.triage_answers or {})
            ],
            "evidence": saved.evidence,
            "ticket_url": ticket_url(saved.ticket),
            "incident": _detail(request, saved.pk),
        }
        return Response(body)  # the shape of TriageResultSerializer, already plain data
