"""REST API of playbooks: entries (list for everyone; create and change for managers and
support managers) and attempts recorded on an incident."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import SERVICE_MAX, TEXT_MAX, Incident, Via
from incidents.selectors import incidents_visible_to
from oncall.api.errors import error_responses
from oncall.api.fields import SlugLookupField
from oncall.api.permissions import signed_in
from playbooks import selectors, services
from playbooks.models import STEPS_MAX, TITLE_MAX, Outcome, PlaybookAttempt, PlaybookEntry
from postmortems.models import Postmortem
from rotations.models import Team

TAGS = ["playbooks"]


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    team = serializers.SlugField(source="team.slug")
    service = serializers.CharField(help_text="Empty: any incident of the team.")
    title = serializers.CharField()
    applies_when = serializers.CharField()
    steps = serializers.CharField(help_text="Markdown.")
    step_list = serializers.ListField(
        child=serializers.CharField(), help_text="The steps people tick (the list items)."
    )
    postmortem = serializers.IntegerField(
        source="postmortem_id", allow_null=True, help_text="The postmortem that proposed it."
    )
    is_active = serializers.BooleanField()
    updated_at = serializers.DateTimeField()


class EntryInputSerializer(serializers.Serializer):
    team = SlugLookupField(
        slug_field="slug", queryset=Team.objects.all(), help_text="The team's slug."
    )
    service = serializers.CharField(max_length=SERVICE_MAX, required=False, allow_blank=True)
    title = serializers.CharField(max_length=TITLE_MAX)
    applies_when = serializers.CharField(max_length=TEXT_MAX)
    steps = serializers.CharField(max_length=STEPS_MAX, help_text="Markdown; list items are steps.")
    postmortem = serializers.PrimaryKeyRelatedField(
        queryset=Postmortem.objects.all(), required=False, allow_null=True
    )
    is_active = serializers.BooleanField(required=False)


class AttemptInputSerializer(serializers.Serializer):
    entry = serializers.PrimaryKeyRelatedField(
        queryset=PlaybookEntry.objects.all(), help_text="The playbook entry's id."
    )
    steps_tried = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000),
        min_length=1,
        max_length=100,
        help_text="The step numbers tried (1-based, as in step_list).",
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    note = serializers.CharField(max_length=TEXT_MAX, required=False, allow_blank=True)


class AttemptSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    incident = serializers.IntegerField(source="incident_id")
    entry = serializers.IntegerField(source="entry_id", allow_null=True)
    entry_title = serializers.CharField()
    steps_tried = serializers.ListField(child=serializers.IntegerField())
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    note = serializers.CharField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    at = serializers.DateTimeField()


def _body(serializer_class: type[serializers.Serializer], request: Request, **kw: Any) -> Any:
    body = serializer_class(data=request.data, **kw)
    body.is_valid(raise_exception=True)
    return dict(body.validated_data)


def _entries() -> QuerySet[PlaybookEntry]:
    return PlaybookEntry.objects.select_related("team")


class EntryListApi(APIView):
    @extend_schema(
        operation_id="playbook_entries_list",
        summary="Playbook entries (filter by team slug and service)",
        parameters=[
            OpenApiParameter("team", str, description="A team's slug."),
            OpenApiParameter("service", str, description="A service, e.g. checkout-api."),
        ],
        responses={200: EntrySerializer(many=True), **error_responses(401, 403)},
        tags=TAGS,
    )
    def get(self, request: Request) -> Response:
        # PostgreSQL refuses a NUL byte in a query with an error: such text matches nothing.
        team, service = (
            str(request.query_params.get(name, "")).replace("\x00", "\ufffd")[:SERVICE_MAX]
            for name in ("team", "service")
        )
        entries = selectors.playbook_entries_list(team_slug=team, service=service)[:500]
        return Response(EntrySerializer(entries, many=True).data)

    @extend_schema(
        operation_id="playbook_entries_create",
        summary="Add a playbook entry (managers and support managers)",
        request=EntryInputSerializer,
        responses={201: EntrySerializer, **error_responses(400, 401, 403, 413, 415)},
        tags=TAGS,
    )
    def post(self, request: Request) -> Response:
        actor = signed_in(request)
        data = _body(EntryInputSerializer, request)
        entry = services.playbook_entry_create(actor=actor, **data)
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class EntryDetailApi(APIView):
    @extend_schema(
        operation_id="playbook_entries_partial_update",
        summary="Change a playbook entry (managers and support managers)",
        request=EntryInputSerializer(partial=True),
        responses={200: EntrySerializer, **error_responses(400, 401, 403, 404, 413, 415)},
        tags=TAGS,
    )
    def patch(self, request: Request, entry_id: int) -> Response:
        actor = signed_in(request)
        entry = _entries().filter(pk=entry_id).first()
        if entry is None:
            raise exceptions.NotFound(f"There is no playbook entry with the id {entry_id}.")
        data = _body(EntryInputSerializer, request, partial=True)
        entry = services.playbook_entry_update(entry=entry, actor=actor, **data)
        return Response(EntrySerializer(entry).data)


class AttemptApi(APIView):
    @extend_schema(
        operation_id="incidents_playbook_attempts_create",
        summary="Record the playbook steps tried on an incident and the outcome",
        description="Writes a `playbook` row on the incident's timeline. Anyone signed in.",
        request=AttemptInputSerializer,
        responses={201: AttemptSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
        tags=TAGS,
    )
    def post(self, request: Request, incident_id: int) -> Response:
        actor = signed_in(request)
        incident = incidents_visible_to(actor, Incident.objects.filter(pk=incident_id)).first()
        if incident is None:
            raise exceptions.NotFound(f"There is no incident with the id {incident_id}.")
        data = _body(AttemptInputSerializer, request)
        attempt: PlaybookAttempt = services.playbook_attempt_record(
            incident=incident,
            entry=data["entry"],
            actor=actor,
            steps_tried=data["steps_tried"],
            outcome=data["outcome"],
            note=data.get("note", ""),
            via=Via.API,
        )
        return Response(AttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)
