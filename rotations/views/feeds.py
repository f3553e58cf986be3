"""iCal feeds of a rotation's or a person's shifts, 4 weeks back to 12 ahead.

Calendar apps fetch them without a session: the secret token in the URL is the only
credential, so the answers are never cached and stay out of referrers and search engines.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from rotations import ical
from rotations.models import PersonalFeed, Rotation
from rotations.selectors import rotations_with_members
from rotations.views.links import absolute_url
from rotations.views.shifts import shifts_around, user_shifts_around


def _calendar_response(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type=ical.CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="oncall.ics"'
    # The URL is the secret: keep it out of referrers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_not_required
@never_cache
@require_safe
def rotation_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A rotation's shifts, 4 weeks back to 12 ahead; the token is the only credential."""
    rotation = rotations_with_members(Rotation.objects.filter(ical_token=token)).first()
    if rotation is None:
        raise Http404
    now = timezone.now()
    shifts = shifts_around(rotation, now - ical.PAST, now + ical.AHEAD)
    page = absolute_url(reverse("rotations:rotation", args=[rotation.pk]))
    body = ical.feed_calendar(
        name=f"On call: {ical.rotation_role(rotation)}",
        description=f"Who is on call for {rotation.label}.",
        shifts=shifts,
        stamp=now,
        rotation_urls={rotation.pk: page},
    )
    return _calendar_response(body)


@login_not_required
@never_cache
@require_safe
def person_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A person's own shifts on every rotation, 4 weeks back to 12 ahead."""
    feed = PersonalFeed.objects.select_related("user").filter(token=token).first()
    if feed is None or not feed.user.is_active:
        raise Http404
    now = timezone.now()
    shifts = user_shifts_around(feed.user, now - ical.PAST, now + ical.AHEAD)
    urls = {
        s.rotation.pk: absolute_url(reverse("rotations:rotation", args=[s.rotation.pk]))
        for s in shifts
    }
    body = ical.feed_calendar(
        name=f"On call: {feed.user.name}",
        description=f"The on-call shifts of {feed.user.name}.",
        shifts=shifts,
        stamp=now,
        rotation_urls=urls,
    )
    return _calendar_response(body)
