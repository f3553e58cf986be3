"""Core pages: the home page and the health check."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oncall.health import health_report


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "oncall/home.html")


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON about the database, the broker and beat; 503 when any of them is down."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
