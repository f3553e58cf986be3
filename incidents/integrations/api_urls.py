"""/api/v1/integrations/ and /api/v1/webhooks/ (included from incidents/api/urls.py)."""

from django.urls import path

from incidents.integrations import api

urlpatterns = [
    path("integrations/", api.IntegrationListCreateApi.as_view(), name="integration-list"),
    path("webhooks/", api.WebhookListCreateApi.as_view(), name="webhook-list"),
]
