"""/api/v1/integrations/ and /api/v1/webhooks/ (included from oncall/api_urls.py)."""

from django.urls import path

from integrations import api

urlpatterns = [
    path("integrations/", api.IntegrationListCreateApi.as_view(), name="integration-list"),
    path(
        "integrations/<int:integration_id>/",
        api.IntegrationDetailApi.as_view(),
        name="integration-detail",
    ),
    path(
        "integrations/<int:integration_id>/rotate-key/",
        api.IntegrationRotateKeyApi.as_view(),
        name="integration-rotate-key",
    ),
    path("webhooks/", api.WebhookListCreateApi.as_view(), name="webhook-list"),
    path(
        "webhooks/<int:subscription_id>/",
        api.WebhookDetailApi.as_view(),
        name="webhook-detail",
    ),
    path(
        "webhooks/<int:subscription_id>/rotate-secret/",
        api.WebhookRotateSecretApi.as_view(),
        name="webhook-rotate-secret",
    ),
]
