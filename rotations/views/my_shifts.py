"""My shifts: the signed-in person's coming shifts, their teammates' shifts, cover and swap.

Each of my shifts offers "Hand over…" (someone covers it: I am the one replaced) and
"Swap…" (we trade: they take mine, I take one of theirs); each teammate's shift offers
"Cover…" (I take it: I cover, they are replaced). The links open the override form
pre-filled (an htmx swap of the region, or a plain page); saving swaps the region back with
the shift tables updated. The services check every rule and tell the colleague by email.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from oncall.http import (
    HtmxHttpRequest,
    id_from_text,
    in_viewer_timezone,
    instant_from_text,
    signed_in_user,
)
from oncall.models import User
from oncall.roles import is_manager
from rotations import ical, services
from rotations.forms import COVER, SWAP, OverrideForm
from rotations.models import OverrideRequest, PersonalFeed, Rotation
from rotations.selectors import ShiftView, open_override_requests, rotations_with_members
from rotations.views.links import person_feed_url, webcal_url
from rotations.views.overrides import save_override
from rotations.views.shifts import shifts_around, user_shifts_around

# "My shifts" looks as far ahead as the feeds do.
MY_SHIFTS_AHEAD = ical.AHEAD
HAND_OVER = "handover"
CHANGES = (COVER, HAND_OVER, SWAP)


def _personal_feed_context(feed: PersonalFeed, notice: str = "") -> dict[str, Any]:
    url = person_feed_url(feed)
    return {"feed_url": url, "webcal_url": webcal_url(url), "feed_notice": notice}


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def _from_now(shift: ShiftView) -> datetime:
    """Where a change of this shift starts: its start, or for a running shift the next
    quarter hour (a request for a shift that has begun would be refused)."""
    now = timezone.now()
    if shift.start > now:
        return shift.start
    minute = now.replace(second=0, microsecond=0)
    quarter = minute + timedelta(minutes=15 - now.minute % 15)
    return quarter if quarter < shift.end else min(minute + timedelta(minutes=1), shift.end)


def change_link(change: str, shift: ShiftView, **extra: Any) -> str:
    """My shifts with the override form pre-filled for this shift (from now on if running)."""
    query = {
        "change": change,
        "rotation": shift.rotation.pk,
        "start": _iso(_from_now(shift)),
        "end": _iso(shift.end),
        **extra,
    }
    return f"{reverse('rotations:my-shifts')}?{urlencode(query)}#shift-change"


def _my_rotations(user: User) -> list[Rotation]:
    return list(rotations_with_members(Rotation.objects.filter(members__user=user).distinct()))


def _teammates_shifts(
    user: User, rotations: list[Rotation], now: datetime, until: datetime
) -> list[ShiftView]:
    """Everyone else's coming shifts on the rotations I am on (overrides applied)."""
    shifts = [
        shift
        for rotation in rotations
        for shift in shifts_around(rotation, now, until)
        if shift.user.pk != user.pk and shift.end > now
    ]
    return sorted(shifts, key=lambda s: (s.start, s.rotation.pk))


def _form_from_query(
    query: QueryDict, user: User, rotations: list[Rotation]
) -> tuple[OverrideForm, Rotation, str] | None:
    """The override form a "Cover…", "Hand over…" or "Swap…" link asks for, pre-filled."""
    change = query.get("change")
    rotation = next((r for r in rotations if r.pk == id_from_text(query.get("rotation"))), None)
    if change not in CHANGES or rotation is None:
        return None
    initial: dict[str, Any] = {
        "start": instant_from_text(query.get("start")),
        "end": instant_from_text(query.get("end")),
    }
    if change == COVER:  # I take their shift: I cover, they are replaced
        initial.update(kind=COVER, user=user.pk, replaces=id_from_text(query.get("replaces")))
    else:  # I hand mine over, alone or in a trade: I am the one replaced
        initial.update(kind=change if change == SWAP else COVER, replaces=user.pk)
        initial.update(
            user=id_from_text(query.get("user")),
            swap_start=instant_from_text(query.get("swap_start")),
            swap_end=instant_from_text(query.get("swap_end")),
        )
    form = OverrideForm(rotation=rotation, tz=user.tzinfo, initial=initial)
    return form, rotation, change


def _swap_choices(
    change: str, rotation: Rotation, teammates: list[ShiftView], query: QueryDict
) -> list[dict[str, Any]]:
    """For a swap: the teammates' shifts on that rotation I could take in return."""
    if change != SWAP:
        return []
    return [
        {
            "shift": shift,
            "url": f"{reverse('rotations:my-shifts')}?"
            + urlencode(
                {
                    **{k: query[k] for k in ("change", "rotation", "start", "end") if k in query},
                    "user": shift.user.pk,
                    "swap_start": _iso(shift.start),
                    "swap_end": _iso(shift.end),
                }
            )
            + "#shift-change",
        }
        for shift in teammates
        if shift.rotation.pk == rotation.pk and not shift.override
    ]


def _shifts_context(
    request: HttpRequest,
    *,
    form: OverrideForm | None = None,
    rotation: Rotation | None = None,
    change: str = "",
    notice: str = "",
) -> dict[str, Any]:
    user = signed_in_user(request)
    now = timezone.now()
    until = now + MY_SHIFTS_AHEAD
    rotations = _my_rotations(user)
    teammates = _teammates_shifts(user, rotations, now, until)
    if form is None and request.method == "GET":
        found = _form_from_query(request.GET, user, rotations)
        if found is not None:
            form, rotation, change = found
    mine = user_shifts_around(user, now, until)
    requests = list(open_override_requests(user=user, now=now))
    return {
        "requests_received": [r for r in requests if r.recipient_id == user.pk],
        "requests_sent": [r for r in requests if r.requester_id == user.pk],
        "now": now,
        "until": until,
        "notice": notice,
        "shifts": [
            {
                "shift": shift,
                "hand_over_url": change_link(HAND_OVER, shift),
                "swap_url": change_link(SWAP, shift),
            }
            for shift in mine
        ],
        "teammates": [
            {
                "shift": shift,
                "cover_url": change_link(COVER, shift, replaces=shift.user.pk),
            }
            for shift in teammates
        ],
        "form": form,
        "change": change,
        "change_rotation": rotation,
        "swap_choices": _swap_choices(change, rotation, teammates, request.GET)
        if rotation is not None
        else [],
        "can_confirm_double_booking": is_manager(user),
    }


@require_GET
@in_viewer_timezone
def my_shifts(request: HtmxHttpRequest) -> HttpResponse:
    """The signed-in person's coming shifts, their teammates', and their own feed."""
    user = signed_in_user(request)
    context = _shifts_context(request)
    if request.htmx:
        return render(request, "rotations/my_shifts.html#shifts", context)
    context.update(_personal_feed_context(services.personal_feed_get(user=user)))
    return render(request, "rotations/my_shifts.html", context)


@require_POST
@in_viewer_timezone
def my_shift_change(request: HtmxHttpRequest) -> HttpResponse:
    """Save a cover, hand-over or swap made from My shifts; the tables come back updated."""
    user = signed_in_user(request)
    rotation = next(
        (r for r in _my_rotations(user) if r.pk == id_from_text(request.POST.get("rotation"))), None
    )
    if rotation is None:
        if request.htmx:
            context = _shifts_context(request)
            context["error"] = "Choose a shift of a rotation you are on."
            return render(request, "rotations/my_shifts.html#shifts", context, status=200)
        messages.error(request, "Choose a shift of a rotation you are on.")
        return redirect("rotations:my-shifts")
    change = request.POST.get("change", "")
    form = OverrideForm(request.POST, rotation=rotation, tz=user.tzinfo)
    status = 400
    if form.is_valid():
        try:
            notice = save_override(form, rotation, user)
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You may not change these shifts.")
            status = 403
        except ValidationError as error:
            form.add_service_error(error)
        else:
            if request.htmx:
                context = _shifts_context(request, notice=notice)
                return render(request, "rotations/my_shifts.html#shifts", context)
            messages.success(request, notice)
            return redirect("rotations:my-shifts")
    context = _shifts_context(request, form=form, rotation=rotation, change=change)
    if request.htmx:
        # htmx swaps only 2xx answers by default; the errors are in the form.
        return render(request, "rotations/my_shifts.html#shifts", context)
    context.update(_personal_feed_context(services.personal_feed_get(user=user)))
    return render(request, "rotations/my_shifts.html", context, status=status)


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


REQUEST_ANSWERS = {
    "accept": (services.override_request_accept, "Accepted: the shifts are changed."),
    "decline": (services.override_request_decline, "Declined: nothing changes."),
    "cancel": (services.override_request_cancel, "Request withdrawn."),
}


@require_POST
@in_viewer_timezone
def my_request_answer(request: HtmxHttpRequest, pk: int, answer: str) -> HttpResponse:
    """Accept or decline a request made to me, or withdraw one I sent (the services decide)."""
    user = signed_in_user(request)
    if answer not in REQUEST_ANSWERS:
        return HttpResponse("Unknown answer.", status=404, content_type="text/plain")
    mine = OverrideRequest.objects.select_related("rotation__team", "requester", "recipient")
    if not is_manager(user):
        mine = mine.filter(Q(requester=user) | Q(recipient=user))
    override_request = get_object_or_404(mine, pk=pk)
    service, notice = REQUEST_ANSWERS[answer]
    error, status = "", 200
    try:
        service(request=override_request, actor=user)
    except PermissionDenied as refused:
        error, status = str(refused), 403
    except ValidationError as refused:
        error, status = " ".join(refused.messages), 400
    if request.htmx:
        # htmx swaps only 2xx answers by default; the error is shown in the region.
        context = _shifts_context(request, notice="" if error else notice)
        context["error"] = error
        return render(request, "rotations/my_shifts.html#shifts", context)
    if not error:
        messages.success(request, notice)
        return redirect("rotations:my-shifts")
    context = _shifts_context(request)
    context["error"] = error
    context.update(_personal_feed_context(services.personal_feed_get(user=user)))
    return render(request, "rotations/my_shifts.html", context, status=status)
