"""On-call report API routes (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from reports.api import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("oncall-reports/", views.ReportListApi.as_view(), name="oncall-report-list"),
    path(
        "oncall-reports/<int:report_id>/",
        views.ReportDetailApi.as_view(),
        name="oncall-report-detail",
    ),
    path(
        "oncall-reports/<int:report_id>/submit/",
        views.ReportSubmitApi.as_view(),
        name="oncall-report-submit",
    ),
    path(
        "oncall-reports/<int:report_id>/acknowledge-handoff/",
        views.ReportAcknowledgeHandoffApi.as_view(),
        name="oncall-report-acknowledge-handoff",
    ),
]
