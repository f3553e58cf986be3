"""/api/v1/ (namespace "api"): every app's API, the OpenAPI schema and its docs UI."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file (no inline script: CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("", include("oncall.api.urls")),
    path("", include("rotations.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("postmortems.api.urls")),
    path("", include("playbooks.api_urls")),
    path("", include("reports.api.urls")),
    path("", include("integrations.api.urls")),  # integrations/ and webhooks/
    path("", include("insights.api_urls")),
    path("", include("audit.api_urls")),
    path("", include("notifications.api_urls")),  # contact-methods/ and test-pages/
]
