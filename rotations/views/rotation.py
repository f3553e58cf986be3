"""A rotation's page: coming shifts and gaps, its overrides region, its calendar feed.

The overrides region and the feed region are partials of the page; the override forms
that post to them live in `rotations.views.overrides`.
"""

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.http import (
    HtmxHttpRequest,
    id_from_text,
    in_viewer_timezone,
    instant_from_text,
    signed_in_user,
)
from oncall.roles import is_manager
from oncall.words import duration_words
from rotations import services
from rotations.forms import OverrideForm
from rotations.models import Override, Rotation
from rotations.selectors import rotation_gaps, rotations_with_members
from rotations.views.links import rotation_feed_url, webcal_url
from rotations.views.shifts import shifts_around

# The rotation page shows the coming shifts over at least this long, or 8 shifts.
COMING = timedelta(weeks=4)
COMING_SHIFTS = 8


def rotation_or_404(pk: int) -> Rotation:
    return get_object_or_404(rotations_with_members(Rotation.objects.all()), pk=pk)


def _coming_until(rotation: Rotation, now: datetime) -> datetime:
    return now + max(COMING, COMING_SHIFTS * rotation.shift_length)


def _initial_from_query(request: HttpRequest, rotation: Rotation) -> dict[str, Any]:
    """Prefill the form from a shift's "cover this" link (?start=…&end=…&replaces=…)."""
    initial: dict[str, Any] = {"user": signed_in_user(request).pk}
    for name in ("start", "end"):
        value = instant_from_text(request.GET.get(name))
        if value is not None:
            initial[name] = value
    replaces = id_from_text(request.GET.get("replaces"))
    if replaces is not None:
        initial["replaces"] = replaces
    return initial


def overrides_context(
    request: HttpRequest,
    rotation: Rotation,
    form: OverrideForm | None = None,
    notice: str = "",
) -> dict[str, Any]:
    actor = signed_in_user(request)
    if form is None:
        form = OverrideForm(
            rotation=rotation,
            tz=actor.tzinfo,
            initial=_initial_from_query(request, rotation),
        )
    # A selector-style read: the overrides still to come or running now.
    overrides = Override.objects.filter(rotation=rotation, end__gt=timezone.now()).select_related(
        "user", "replaces", "created_by"
    )
    return {
        "rotation": rotation,
        "form": form,
        "notice": notice,
        "can_confirm_double_booking": is_manager(actor),
        # Managers and the team's own people may make overrides (the service decides each).
        "can_override": services.override_permitted(
            actor=actor, rotation=rotation, user=actor, replaces=actor
        ),
        "overrides": [
            {
                "override": o,
                "can_delete": services.override_permitted(
                    actor=actor, rotation=rotation, user=o.user, replaces=o.replaces
                ),
            }
            for o in overrides
        ],
    }


def _feed_context(request: HttpRequest, rotation: Rotation, notice: str = "") -> dict[str, Any]:
    url = rotation_feed_url(rotation)
    return {
        "rotation": rotation,
        "feed_url": url,
        "webcal_url": webcal_url(url),
        "can_rotate_feed": is_manager(signed_in_user(request)),
        "feed_notice": notice,
    }


def rotation_page_context(
    request: HttpRequest, rotation: Rotation, form: OverrideForm | None = None
) -> dict[str, Any]:
    now = timezone.now()
    until = _coming_until(rotation, now)
    return {
        **overrides_context(request, rotation, form),
        **_feed_context(request, rotation),
        "now": now,
        "until": until,
        "shift_length": duration_words(rotation.shift_length),
        "members": [m.user for m in rotation.ordered_members],  # type: ignore[attr-defined]
        "shifts": shifts_around(rotation, now, until),
        "gaps": rotation_gaps(rotation=rotation, start=now, end=until),
    }


@require_GET
@in_viewer_timezone
def rotation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    rotation = rotation_or_404(pk)
    if request.htmx and request.htmx.target == "overrides":
        return render(
            request, "rotations/rotation.html#overrides", overrides_context(request, rotation)
        )
    return render(request, "rotations/rotation.html", rotation_page_context(request, rotation))


@require_POST
@in_viewer_timezone
def rotation_feed_rotate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Managers: a new secret for the rotation's feed; the old URL stops working."""
    if not is_manager(signed_in_user(request)):
        raise PermissionDenied("Only managers may change a rotation's calendar address.")
    rotation = services.rotation_feed_rotate(rotation=rotation_or_404(pk))
    notice = "New calendar address made; the old one no longer works."
    if request.htmx:
        return render(
            request, "rotations/rotation.html#feed", _feed_context(request, rotation, notice)
        )
    messages.success(request, notice)
    return redirect("rotations:rotation", pk=rotation.pk)
