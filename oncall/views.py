"""Core pages: the home page, the health check and the favicon."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oncall.health import health_report
from oncall.words import duration_words


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, the API docs)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


# A role's own home page, registered by an app above (the incidents app gives support roles
# the live support dashboard): (applies to this user?, the view). The first that applies wins.
HomeView = tuple[Callable[[Any], bool], Callable[[HttpRequest], HttpResponse]]
HOME_VIEWS: list[HomeView] = []


def register_home(applies: Callable[[Any], bool], view: Callable[..., HttpResponse]) -> None:
    if (applies, view) not in HOME_VIEWS:
        HOME_VIEWS.append((applies, view))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """One URL for everybody; what it shows depends on the role (see HOME_VIEWS)."""
    for applies, view in HOME_VIEWS:
        if applies(request.user):
            return view(request)
    return render(request, "oncall/home.html")


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON about the database, the broker and beat; 503 when any of them is down."""
    healthy, report = health_report()
    return JsonResponse(report, status=200 if healthy else 503)


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): a page in the portal layout, 429."""
    context = {
        "username": (credentials or {}).get("username") or request.POST.get("username", ""),
        "cooloff": duration_words(settings.AXES_COOLOFF_TIME),
    }
    return render(request, "registration/locked_out.html", context, status=429)
