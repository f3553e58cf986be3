"""REST API of on-call reports.

Each view validates with an input serializer, calls one service and answers with an output
serializer. Domain errors become the portal's error shape: NotAllowed 403, a submitted
report written or submitted again 409 (`report_submitted`, `illegal_transition`).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.views import IncidentCursorPagination
from oncall.api.errors import Conflict, ErrorSerializer, error_responses
from oncall.api.inputs import validated_body
from oncall.api.permissions import signed_in
from reports import selectors, services
from reports.api import serializers as s
from reports.api.filters import ReportFilter
from reports.models import OnCallReport

TAGS = s.TAGS


class ReportCursorPagination(IncidentCursorPagination):
    """Newest first (by id)."""


class ReportApiView(APIView):
    """Maps the reports app's domain errors to 4xx answers."""

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, services.NotAllowed):
            exc = exceptions.PermissionDenied(str(exc), code=exc.code)
        elif isinstance(exc, services.ReportError):
            exc = Conflict(str(exc), code=exc.code)
        return super().handle_exception(exc)


def _report(report_id: int) -> OnCallReport:
    found = selectors.reports_list().filter(pk=report_id).first()
    if found is None:
        raise exceptions.NotFound(f"There is no on-call report with the id {report_id}.")
    return found


def _detail(report_id: int) -> dict[str, Any]:
    report = _report(report_id)
    context = {"stats": selectors.report_stats_many([report])}
    return dict(s.OnCallReportSerializer(report, context=context).data)


@extend_schema_view(
    get=extend_schema(
        operation_id="oncall_reports_list",
        summary="On-call reports, newest first",
        description="Everyone signed in reads every report. Filter by team slug, person and "
        "status; page with the `next` link. A draft's `stats` are live, a submitted one's "
        "frozen.",
        responses={200: s.OnCallReportSerializer(many=True), **error_responses(400, 401, 403, 404)},
        tags=TAGS,
    )
)
class ReportListApi(GenericAPIView, ReportApiView):
    queryset = OnCallReport.objects.none()
    serializer_class = s.OnCallReportSerializer
    filterset_class = ReportFilter
    pagination_class = ReportCursorPagination

    def get_queryset(self) -> QuerySet[OnCallReport]:
        return selectors.reports_list()

    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        context = {"stats": selectors.report_stats_many(list(page))}
        data = s.OnCallReportSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)


class ReportDetailApi(ReportApiView):
    @extend_schema(
        operation_id="oncall_reports_retrieve",
        summary="One on-call report",
        responses={200: s.OnCallReportSerializer, **error_responses(401, 403, 404)},
        tags=TAGS,
    )
    def get(self, request: Request, report_id: int) -> Response:
        return Response(_detail(report_id))

    @extend_schema(
        operation_id="oncall_reports_partial_update",
        summary="Write a draft report",
        description="What you change, by name (Markdown). The person whose shift it is, or a "
        "Manager, writes (else 403); a submitted report is not written (409 "
        "`report_submitted`).",
        request=s.ReportUpdateSerializer,
        responses={
            200: s.OnCallReportSerializer,
            **error_responses(*s.WRITE_ERRORS),
            409: OpenApiResponse(ErrorSerializer, description="`report_submitted`."),
        },
        tags=TAGS,
    )
    def patch(self, request: Request, report_id: int) -> Response:
        report = _report(report_id)
        data = validated_body(s.ReportUpdateSerializer, request)
        services.report_update(
            report=report,
            actor=signed_in(request),
            summary=data.get("summary"),
            ongoing=data.get("ongoing"),
            unplanned=data.get("unplanned"),
            engineering=data.get("engineering"),
            handoff_notes=data.get("handoff_notes"),
            effort=data.get("effort"),
            off_hours_spent=data.get("off_hours_spent"),
            clear_off_hours="off_hours_spent" in data and data["off_hours_spent"] is None,
        )
        return Response(_detail(report_id))


class ReportSubmitApi(ReportApiView):
    @extend_schema(
        operation_id="oncall_reports_submit",
        summary="Submit the report",
        description="Freezes its facts and emails it to the team's address (else every member "
        "of the rotation) and the incoming on-call. Its person or a Manager submits.",
        request=None,
        responses={
            200: s.OnCallReportSerializer,
            **error_responses(*s.WRITE_ERRORS),
            409: OpenApiResponse(ErrorSerializer, description="`illegal_transition`."),
        },
        tags=TAGS,
    )
    def post(self, request: Request, report_id: int) -> Response:
        validated_body(s.EmptySerializer, request)
        services.report_submit(report=_report(report_id), actor=signed_in(request))
        return Response(_detail(report_id))


class ReportAcknowledgeHandoffApi(ReportApiView):
    @extend_schema(
        operation_id="oncall_reports_acknowledge_handoff",
        summary="Got the handoff",
        description="The incoming on-call (or a Manager) acknowledges this outgoing report's "
        "handoff; a second acknowledgement keeps the first.",
        request=None,
        responses={200: s.OnCallReportSerializer, **error_responses(*s.WRITE_ERRORS)},
        tags=TAGS,
    )
    def post(self, request: Request, report_id: int) -> Response:
        validated_body(s.EmptySerializer, request)
        services.report_handoff_acknowledge(report=_report(report_id), actor=signed_in(request))
        return Response(_detail(report_id))
