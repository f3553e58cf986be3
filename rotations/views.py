"""Rotation pages: who is on call, a rotation's shifts and overrides, my shifts, iCal feeds.

htmx style: one template per page with `{% partialdef %}` regions; an htmx request gets the
region, a plain request the page, and a plain POST redirects. Times are shown in the
viewer's timezone (UTC on hover).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User
from oncall.roles import is_manager
from rotations import ical, services
from rotations.forms import SWAP, OverrideForm
from rotations.models import ContactMode, Override, PersonalFeed, Rotation
from rotations.selectors import (
    OnCall,
    ShiftView,
    oncall_overview,
    rotation_gaps,
    rotation_shifts,
    rotations_with_members,
    user_shifts,
)

# The rotation page shows the coming shifts over at least this long, or 8 shifts.
COMING = timedelta(weeks=4)
COMING_SHIFTS = 8
# "My shifts" looks as far ahead as the feeds do.
MY_SHIFTS_AHEAD = ical.AHEAD
# Whole-day shifts last an hour longer across a DST change: look back a bit more than one.
SLACK = timedelta(days=1)


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def webcal_url(url: str) -> str:
    """The same feed as a webcal:// link, which calendar apps open as a subscription."""
    return "webcal://" + url.split("://", 1)[-1]


def rotation_feed_url(rotation: Rotation) -> str:
    return absolute_url(reverse("rotations:rotation-feed", args=[rotation.ical_token]))


def person_feed_url(feed: PersonalFeed) -> str:
    return absolute_url(reverse("rotations:person-feed", args=[feed.token]))


def duration_text(length: timedelta) -> str:
    """'1 week', '14 days', '12 hours': how long a shift lasts, in words."""
    if length % timedelta(weeks=1) == timedelta(0):
        weeks = length // timedelta(weeks=1)
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    if length % timedelta(days=1) == timedelta(0):
        return f"{length.days} day{'s' if length.days != 1 else ''}"
    hours = length / timedelta(hours=1)
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def _unclipped(shifts: list[ShiftView], start: datetime, end: datetime) -> list[ShiftView]:
    """Shifts overlapping [start, end) from a wider fetch, so none is cut at the edges."""
    return [s for s in shifts if s.end > start and s.start < end]


def shifts_around(rotation: Rotation, start: datetime, end: datetime) -> list[ShiftView]:
    """A rotation's shifts overlapping [start, end), whole (stable starts and UIDs)."""
    margin = rotation.shift_length + SLACK
    shifts = rotation_shifts(rotation=rotation, start=start - margin, end=end + margin)
    return _unclipped(shifts, start, end)


def user_shifts_around(user: User, start: datetime, end: datetime) -> list[ShiftView]:
    """A person's shifts overlapping [start, end) across rotations, whole."""
    longest = Rotation.objects.filter(members__user=user).aggregate(longest=Max("shift_length"))
    margin = (longest["longest"] or timedelta(0)) + SLACK
    shifts = user_shifts(user=user, start=start - margin, end=end + margin)
    return _unclipped(shifts, start, end)


# --------------------------------------------------------------------------- who's on call


@dataclass(frozen=True)
class OnCallRow:
    now: OnCall
    next: OnCall
    handoff: datetime | None


@require_GET
@in_viewer_timezone
def oncall(request: HtmxHttpRequest) -> HttpResponse:
    """Every team: each tier × position now and at its next handoff."""
    now = timezone.now()
    teams = [
        {
            "team": entry.team,
            "call_directly": entry.team.contact_mode == ContactMode.CALL,
            "rows": [
                OnCallRow(current, coming, current.end or coming.start)
                for current, coming in zip(entry.now, entry.next, strict=True)
            ],
        }
        for entry in oncall_overview(at=now)
    ]
    context = {"teams": teams, "now": now}
    template = "rotations/oncall.html#board" if request.htmx else "rotations/oncall.html"
    return render(request, template, context)


# --------------------------------------------------------------------------- rotation page


def _rotation(pk: int) -> Rotation:
    return get_object_or_404(rotations_with_members(Rotation.objects.all()), pk=pk)


def _coming_until(rotation: Rotation, now: datetime) -> datetime:
    return now + max(COMING, COMING_SHIFTS * rotation.shift_length)


def _initial_from_query(request: HttpRequest, rotation: Rotation) -> dict[str, Any]:
    """Prefill the form from a shift's "cover this" link (?start=…&end=…&replaces=…)."""
    initial: dict[str, Any] = {"user": signed_in_user(request).pk}
    for name in ("start", "end"):
        try:
            value = datetime.fromisoformat(request.GET.get(name, ""))
        except ValueError:
            continue
        if timezone.is_aware(value):
            initial[name] = value
    replaces = request.GET.get("replaces", "")
    if replaces.isdigit():
        initial["replaces"] = int(replaces)
    return initial


def _overrides_context(
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
        # Managers and the team's own people may make overrides (the service decides each).
        "can_override": services.override_permitted(
            actor=actor, rotation=rotation, user=actor, replaces=None
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


def _rotation_page_context(
    request: HttpRequest, rotation: Rotation, form: OverrideForm | None = None
) -> dict[str, Any]:
    now = timezone.now()
    until = _coming_until(rotation, now)
    return {
        **_overrides_context(request, rotation, form),
        **_feed_context(request, rotation),
        "now": now,
        "until": until,
        "shift_length": duration_text(rotation.shift_length),
        "members": [m.user for m in rotation.ordered_members],  # type: ignore[attr-defined]
        "shifts": shifts_around(rotation, now, until),
        "gaps": rotation_gaps(rotation=rotation, start=now, end=until),
    }


@require_GET
@in_viewer_timezone
def rotation_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    rotation = _rotation(pk)
    if request.htmx and request.htmx.target == "overrides":
        return render(
            request, "rotations/rotation.html#overrides", _overrides_context(request, rotation)
        )
    return render(request, "rotations/rotation.html", _rotation_page_context(request, rotation))


def _save_override(form: OverrideForm, rotation: Rotation, actor: User) -> str:
    data = form.cleaned_data
    if data["kind"] == SWAP:
        services.override_swap(
            rotation=rotation,
            actor=actor,
            first=data["replaces"],
            first_window=(data["start"], data["end"]),
            second=data["user"],
            second_window=(data["swap_start"], data["swap_end"]),
            reason=data["reason"],
        )
        return f"Swap saved: {data['user']} and {data['replaces']} trade shifts."
    services.override_create(
        rotation=rotation,
        user=data["user"],
        start=data["start"],
        end=data["end"],
        replaces=data["replaces"],
        reason=data["reason"],
        actor=actor,
    )
    return f"Override saved: {data['user']} covers {rotation.label}."


@require_POST
@in_viewer_timezone
def override_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cover or swap shifts; engineers change their own, managers anyone's."""
    rotation = _rotation(pk)
    actor = signed_in_user(request)
    form = OverrideForm(request.POST, rotation=rotation, tz=actor.tzinfo)
    status = 200
    if form.is_valid():
        try:
            notice = _save_override(form, rotation, actor)
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You may not change these shifts.")
            status = 403
        except ValidationError as error:
            form.add_service_error(error)
            status = 400
        else:
            if request.htmx:
                return render(
                    request,
                    "rotations/rotation.html#overrides",
                    _overrides_context(request, rotation, notice=notice),
                )
            messages.success(request, notice)
            return redirect("rotations:rotation", pk=rotation.pk)
    else:
        status = 400
    if request.htmx:
        # htmx swaps only 2xx answers by default; the errors are in the form.
        return render(
            request,
            "rotations/rotation.html#overrides",
            _overrides_context(request, rotation, form),
        )
    return render(
        request,
        "rotations/rotation.html",
        _rotation_page_context(request, rotation, form),
        status=status,
    )


@require_POST
@in_viewer_timezone
def override_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    override = get_object_or_404(
        Override.objects.select_related("rotation__team", "user", "replaces"), pk=pk
    )
    rotation = _rotation(override.rotation_id)
    try:
        services.override_delete(override=override, actor=signed_in_user(request))
    except PermissionDenied as error:
        if request.htmx:
            context = _overrides_context(request, rotation)
            context["error"] = str(error)
            return render(request, "rotations/rotation.html#overrides", context)
        form = OverrideForm(rotation=rotation, tz=signed_in_user(request).tzinfo)
        context = _rotation_page_context(request, rotation, form)
        context["error"] = str(error)
        return render(request, "rotations/rotation.html", context, status=403)
    notice = f"Override removed: {override.user} no longer covers {rotation.label}."
    if request.htmx:
        return render(
            request,
            "rotations/rotation.html#overrides",
            _overrides_context(request, rotation, notice=notice),
        )
    messages.success(request, notice)
    return redirect("rotations:rotation", pk=rotation.pk)


@require_POST
@in_viewer_timezone
def rotation_feed_rotate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Managers: a new secret for the rotation's feed; the old URL stops working."""
    if not is_manager(signed_in_user(request)):
        raise PermissionDenied("Only managers may change a rotation's calendar address.")
    rotation = services.rotation_feed_rotate(rotation=_rotation(pk))
    notice = "New calendar address made; the old one no longer works."
    if request.htmx:
        return render(
            request, "rotations/rotation.html#feed", _feed_context(request, rotation, notice)
        )
    messages.success(request, notice)
    return redirect("rotations:rotation", pk=rotation.pk)


# --------------------------------------------------------------------------- my shifts


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


# --------------------------------------------------------------------------- iCal feeds


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
