"""GET /metrics for Prometheus, behind a bearer token (METRICS_TOKEN)."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.collector import scrape


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@login_not_required
@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Unset METRICS_TOKEN: 404 (the endpoint does not exist) except with DEBUG on, where
    it is open for a laptop's Prometheus. Set: `Authorization: Bearer <token>` or 401."""
    expected = settings.METRICS_TOKEN
    if not expected:
        if not settings.DEBUG:
            raise Http404("Metrics are off: set METRICS_TOKEN.")
    elif not hmac.compare_digest(_bearer(request).encode(), expected.encode()):
        response = HttpResponse(
            "A bearer token is required: Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
