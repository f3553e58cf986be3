"""`GET /api/v1/audit/`: the audit trail for Managers, newest first, cursor pages."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEntry, Via
from audit.selectors import ACTIONS, AuditFilters, action_name, audit_entries, changes_of
from audit.selectors import object_types as audited_types
from incidents.api.views import IncidentCursorPagination
from oncall.api.errors import error_responses
from oncall.api.fields import QueryDateTimeField
from oncall.api.permissions import signed_in
from oncall.roles import is_manager
from oncall.validators import ROW_ID_MAX

AUDIT_ACTIONS = sorted(ACTIONS.values())


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {},
            "description": "[before, after]; null where there was none; a secret as ••••••.",
        },
    }
)
class ChangesField(serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class AuditEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.IntegerField(
        allow_null=True, help_text="The person's user id; null for the system (tasks, commands)."
    )
    via = serializers.ChoiceField(choices=Via.choices)
    action = serializers.ChoiceField(choices=AUDIT_ACTIONS)
    object_type = serializers.CharField(help_text="The model's name, e.g. `rotation`.")
    object_id = serializers.CharField()
    object_repr = serializers.CharField(help_text="The object as it was named at the change.")
    changes = ChangesField(help_text="field → [before, after].")


def entry_body(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.pk,
        "at": entry.timestamp,
        "actor": entry.actor_id,
        "via": entry.via,
        "action": action_name(entry),
        "object_type": entry.content_type.model,
        "object_id": entry.object_pk,
        "object_repr": entry.object_repr,
        "changes": changes_of(entry),
    }


class AuditQuerySerializer(serializers.Serializer):
    object_type = serializers.CharField(required=False, max_length=100)
    object_id = serializers.IntegerField(required=False, min_value=1, max_value=ROW_ID_MAX)
    actor = serializers.IntegerField(required=False, min_value=1, max_value=ROW_ID_MAX)
    since = QueryDateTimeField(required=False)
    until = QueryDateTimeField(required=False)

    def validate_object_type(self, value: str) -> str:
        known = sorted(audited_types())
        if value not in known:
            raise serializers.ValidationError(
                f"Unknown object type; choose from {', '.join(known)}."
            )
        return value


class IsManager(BasePermission):
    """Managers only: the trail names everyone's changes."""

    message = "Only managers may read the audit trail."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and is_manager(request.user))


QUERY = [
    OpenApiParameter("object_type", str, description="A model name, e.g. `rotation`, `user`."),
    OpenApiParameter("object_id", int, description="One object's id."),
    OpenApiParameter("actor", int, description="The user id of who made the change."),
    OpenApiParameter("since", OpenApiTypes.DATETIME, description="At or after (ISO 8601)."),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="Before (ISO 8601)."),
]


class AuditListApi(GenericAPIView):
    queryset = AuditEntry.objects.none()
    serializer_class = AuditEntrySerializer
    permission_classes = [IsManager]
    pagination_class = IncidentCursorPagination

    def get_queryset(self) -> QuerySet[AuditEntry]:
        query = AuditQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return audit_entries(AuditFilters(**data))

    @extend_schema(
        operation_id="audit_list",
        summary="The audit trail, newest first",
        description="Every change to configuration (teams, rotations, members, overrides, "
        "escalation and severity policies, integrations, webhooks, people's roles, API keys): "
        "who (`actor`), when (`at`), through what (`via`) and `changes` as field → "
        "[before, after]. Managers only. Page with the `next` link (cursor pagination).",
        parameters=QUERY,
        responses={200: AuditEntrySerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=["audit"],
    )
    def get(self, request: Request) -> Response:
        signed_in(request)
        page = self.paginate_queryset(self.get_queryset())
        if page is None:
            raise exceptions.NotFound()
        body = [entry_body(entry) for entry in page]
        return self.get_paginated_response(AuditEntrySerializer(body, many=True).data)
