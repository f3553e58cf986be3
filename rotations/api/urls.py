"""The rotations part of /api/v1/ (included by oncall/api_urls.py, namespace "api")."""

from django.urls import path

from rotations import api

urlpatterns = [
    path("oncall/", api.OnCallApi.as_view(), name="oncall"),
    path("teams/", api.TeamListApi.as_view(), name="team-list"),
    path("teams/<slug:slug>/", api.TeamDetailApi.as_view(), name="team-detail"),
    path("rotations/", api.RotationListApi.as_view(), name="rotation-list"),
    path("rotations/<int:rotation_id>/", api.RotationDetailApi.as_view(), name="rotation-detail"),
    path(
        "rotations/<int:rotation_id>/shifts/",
        api.RotationShiftsApi.as_view(),
        name="rotation-shifts",
    ),
    path("overrides/", api.OverrideListApi.as_view(), name="override-list"),
    path("overrides/<int:override_id>/", api.OverrideDetailApi.as_view(), name="override-detail"),
    path("override-requests/", api.OverrideRequestListApi.as_view(), name="override-request-list"),
    path(
        "override-requests/<int:request_id>/",
        api.OverrideRequestDetailApi.as_view(),
        name="override-request-detail",
    ),
    path(
        "override-requests/<int:request_id>/<str:answer>/",
        api.OverrideRequestAnswerApi.as_view(),
        name="override-request-answer",
    ),
    path(
        "escalation-policies/",
        api.EscalationPolicyListApi.as_view(),
        name="escalation-policy-list",
    ),
    path(
        "escalation-policies/<int:policy_id>/",
        api.EscalationPolicyDetailApi.as_view(),
        name="escalation-policy-detail",
    ),
]
