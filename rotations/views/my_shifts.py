"""My shifts: the signed-in person's coming shifts on every rotation, and their own feed."""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from rotations import ical, services
from rotations.models import PersonalFeed
from rotations.views.links import person_feed_url, webcal_url
from rotations.views.shifts import user_shifts_around

# "My shifts" looks as far ahead as the feeds do.
MY_SHIFTS_AHEAD = ical.AHEAD


def _personal_feed_context(feed: PersonalFeed, notice: str = "") -> dict[str, Any]:
    url = person_feed_url(feed)
    return {"feed_url": url, "webcal_url": webcal_url(url), "feed_notice": notice}


@require_GET
@in_viewer_timezone
def my_shifts(request: HtmxHttpRequest) -> HttpResponse:
    """The signed-in person's coming shifts on every rotation, and their own feed."""
    user = signed_in_user(request)
    now = timezone.now()
    until = now + MY_SHIFTS_AHEAD
    context = {
        **_personal_feed_context(services.personal_feed_get(user=user)),
        "now": now,
        "until": until,
        "shifts": user_shifts_around(user, now, until),
    }
    return render(request, "rotations/my_shifts.html", context)


@require_POST
@in_viewer_timezone
def personal_feed_rotate(request: HtmxHttpRequest) -> HttpResponse:
    feed = services.personal_feed_rotate(user=signed_in_user(request))
    notice = "New calendar address made; the old one no longer works."
    if request.htmx:
        return render(
            request, "rotations/my_shifts.html#feed", _personal_feed_context(feed, notice)
        )
    messages.success(request, notice)
    return redirect("rotations:my-shifts")
