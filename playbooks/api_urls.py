"""Playbook API routes (included by oncall/api_urls.py, namespace "api")."""

from django.urls import URLPattern, URLResolver, path

from playbooks import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("playbooks/", api.EntryListApi.as_view(), name="playbook-list"),
    path("playbooks/<int:entry_id>/", api.EntryDetailApi.as_view(), name="playbook-detail"),
    path(
        "incidents/<int:incident_id>/playbook-attempts/",
        api.AttemptApi.as_view(),
        name="incident-playbook-attempts",
    ),
]
