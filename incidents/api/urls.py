"""Incident API routes (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from incidents.api import ladder, views
from incidents.support.api import IncidentCustomerContactsApi

urlpatterns: list[URLPattern | URLResolver] = [
    path("incidents/", views.IncidentListApi.as_view(), name="incident-list"),
    path("incidents/<int:incident_id>/", views.IncidentDetailApi.as_view(), name="incident-detail"),
    path(
        "incidents/<int:incident_id>/acknowledge/",
        views.IncidentAcknowledgeApi.as_view(),
        name="incident-acknowledge",
    ),
    path(
        "incidents/<int:incident_id>/resolve/",
        views.IncidentResolveApi.as_view(),
        name="incident-resolve",
    ),
    path(
        "incidents/<int:incident_id>/reopen/",
        views.IncidentReopenApi.as_view(),
        name="incident-reopen",
    ),
    path(
        "incidents/<int:incident_id>/escalate/",
        views.IncidentEscalateApi.as_view(),
        name="incident-escalate",
    ),
    path(
        "incidents/<int:incident_id>/notes/",
        views.IncidentNotesApi.as_view(),
        name="incident-notes",
    ),
    path(
        "incidents/<int:incident_id>/status-updates/",
        views.IncidentStatusUpdatesApi.as_view(),
        name="incident-status-updates",
    ),
    path(
        "incidents/<int:incident_id>/notifications/",
        views.IncidentNotificationsApi.as_view(),
        name="incident-notifications",
    ),
    path(
        "incidents/<int:incident_id>/actionable/",
        views.IncidentActionableApi.as_view(),
        name="incident-actionable",
    ),
    path(
        "incidents/<int:incident_id>/customer-contacts/",
        IncidentCustomerContactsApi.as_view(),
        name="incident-customer-contacts",
    ),
    path(
        "incidents/<int:incident_id>/triage/",
        views.IncidentTriageApi.as_view(),
        name="incident-triage",
    ),
    path("engage/", views.EngageApi.as_view(), name="engage"),
    # The support ladder (issue 16).
    path(
        "incidents/<int:incident_id>/escalate-tier/",
        ladder.IncidentEscalateTierApi.as_view(),
        name="incident-escalate-tier",
    ),
    path(
        "incidents/<int:incident_id>/responders/",
        ladder.IncidentRespondersApi.as_view(),
        name="incident-responders",
    ),
    path(
        "incidents/<int:incident_id>/council-decisions/",
        ladder.IncidentCouncilDecisionsApi.as_view(),
        name="incident-council-decisions",
    ),
    path(
        "incidents/<int:incident_id>/category/",
        ladder.IncidentCategoryApi.as_view(),
        name="incident-category",
    ),
    path("severity-policies/", views.SeverityPolicyListApi.as_view(), name="severity-policy-list"),
    path(
        "severity-policies/<str:level>/",
        ladder.SeverityPolicyLadderApi.as_view(),
        name="severity-policy-ladder",
    ),
]
