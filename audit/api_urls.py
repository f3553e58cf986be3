"""The audit part of /api/v1/ (included by oncall/api_urls.py, namespace "api")."""

from django.urls import path

from audit import api

urlpatterns = [
    path("audit/", api.AuditListApi.as_view(), name="audit-list"),
]
