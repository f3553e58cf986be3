"""The weekly postmortem review page, its meeting form (htmx, and plain forms without
JavaScript) and the iCal file of the recurring meeting."""

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from icalendar import Calendar, Event, vRecur

from incidents.models import TEXT_MAX
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.markup import markdown_safe
from oncall.models import User
from oncall.validators import ROW_ID_MAX
from postmortems import meetings, rules
from postmortems.review import (
    IsoWeek,
    company_zone,
    council_decisions_of,
    review_meetings,
    weekly_review,
)
from postmortems.services import PostmortemError
from postmortems.views import address_up_to_id
from postmortems.widgets import Checkboxes

ICAL_UID = "weekly-postmortem-review@oncall-portal"
ICAL_CONTENT_TYPE = "text/calendar; charset=utf-8"
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The meeting series starts in the first week of 2026 (a fixed DTSTART keeps the event
# stable for calendar clients between downloads).
SERIES_FROM = (2026, 1)


def markdown_field(*, rows: int) -> forms.CharField:
    return forms.CharField(
        widget=forms.Textarea(attrs={"rows": rows}),
        max_length=TEXT_MAX,
        required=False,
        strip=False,
        help_text="Markdown.",
    )


class MeetingForm(forms.Form):
    attendees = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=Checkboxes,
        help_text="Who came.",
    )
    notes = markdown_field(rows=6)
    decisions = markdown_field(rows=4)
    # The version the page was opened at: a save after someone else's is refused.
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0, max_value=ROW_ID_MAX)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        attendees = self.fields["attendees"]
        assert isinstance(attendees, forms.ModelMultipleChoiceField)
        attendees.queryset = (
            User.objects.filter(is_active=True)
            .only("pk", "username", "first_name", "last_name", "display_name")
            .order_by("first_name", "last_name", "username")
        )
        if not self.is_bound:
            # Shown, not checked: the people read in one plain query (the field's own
            # iterator opens a server-side cursor, three round trips).
            attendees.widget.choices = [
                (person.pk, attendees.label_from_instance(person)) for person in attendees.queryset
            ]


class HeldForm(forms.Form):
    held = forms.TypedChoiceField(
        choices=[("yes", "yes"), ("no", "no")], coerce=lambda value: value == "yes"
    )


def week_or_404(text: str) -> IsoWeek:
    week = IsoWeek.parse(text)
    if week is None:
        raise Http404("No such week: name one like 2026-W11 (ISO weeks of the years 2000 to 2199).")
    return week


def _meeting_context(
    request: HttpRequest, week: IsoWeek, *, form: MeetingForm | None = None, **extra: Any
) -> dict[str, Any]:
    meeting, previous = review_meetings(week)
    if form is None:
        form = MeetingForm(
            initial={
                "notes": meeting.notes if meeting else "",
                "decisions": meeting.decisions if meeting else "",
                "attendees": list(meeting.attendees.all()) if meeting else [],
                "version": meeting.version if meeting else 0,
            }
        )
    return {
        "week": week,
        "meeting": meeting,
        "previous_meeting": previous,
        "previous_meeting_week": IsoWeek.of_monday(previous.week) if previous else None,
        "notes_html": markdown_safe(meeting.notes) if meeting else "",
        "decisions_html": markdown_safe(meeting.decisions) if meeting else "",
        "meeting_form": form,
        "can_edit_meeting": rules.review_meeting_can_edit(signed_in_user(request)),
        **extra,
    }


def _review_context(week: IsoWeek) -> dict[str, Any]:
    """The week's review and the keys of its cached fragments: each part's token (a random
    one, never found again, when there is none yet) and whether the overdue lists are kept
    (a past week's, as of its end)."""
    review = weekly_review(week)
    tokens = review.tokens
    return {
        "review": review,
        "versions": {
            part: (getattr(tokens, part) if tokens else None) or secrets.token_hex(16)
            for part in ("incidents", "postmortems", "items")
        },
        "overdue_kept": review.cutoff == review.end,
        # Rows' addresses: prefix + id + "/".
        "links": {
            "postmortem": address_up_to_id("postmortems:detail"),
            "incident": address_up_to_id("incidents:detail"),
            "team": address_up_to_id("rotations:team", "slug"),
        },
        "company_zone": settings.COMPANY_TIME_ZONE,
        "now": timezone.now(),
    }


@require_GET
def review_current(request: HttpRequest) -> HttpResponse:
    """The review of the current week (in the company's time zone)."""
    return redirect("postmortems:review", week=str(IsoWeek.current()))


@require_GET
@in_viewer_timezone
def review_page(request: HtmxHttpRequest, week: str) -> HttpResponse:
    the_week = week_or_404(week)
    context = {
        **_review_context(the_week),
        "council_decisions": council_decisions_of(the_week, viewer=request.user),
        **_meeting_context(request, the_week),
    }
    return render(request, "postmortems/review.html", context)


def _meeting_answer(
    request: HtmxHttpRequest,
    week: IsoWeek,
    *,
    notice: str = "",
    error: str = "",
    form: MeetingForm | None = None,
    conflict: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """htmx: the meeting region again; plain: back to the page (or the page with the form's
    errors and the conflict)."""
    if request.htmx:
        context = _meeting_context(
            request, week, form=form, notice=notice, error=error, conflict=conflict
        )
        return render(request, "postmortems/review.html#meeting", context)
    if form is None and conflict is None:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        return redirect("postmortems:review", week=str(week))
    context = {
        **_review_context(week),
        **_meeting_context(request, week, form=form, error=error, conflict=conflict),
    }
    return render(request, "postmortems/review.html", context, status=status)


@require_POST
@in_viewer_timezone
def review_meeting_save(request: HtmxHttpRequest, week: str) -> HttpResponse:
    the_week = week_or_404(week)
    form = MeetingForm(request.POST)
    if not form.is_valid():
        return _meeting_answer(request, the_week, form=form, status=400)
    data = form.cleaned_data
    try:
        meetings.review_meeting_save(
            week=the_week.monday,
            actor=signed_in_user(request),
            version=data["version"],
            notes=data["notes"],
            decisions=data["decisions"],
            attendees=list(data["attendees"]),
        )
    except meetings.MeetingConflict as clash:
        names = {"notes": "Notes", "decisions": "Decisions", "attendees": "Attendees"}
        attendees = {u.pk: u.name for u in form.fields["attendees"].queryset}  # type: ignore[attr-defined]

        def shown(name: str, value: Any) -> str:
            if name == "attendees":
                return ", ".join(attendees.get(pk, f"#{pk}") for pk in value) or "nobody"
            return str(value)

        conflict = {
            "message": str(clash),
            "rows": [
                {
                    "name": names[name],
                    "theirs": shown(name, clash.theirs.get(name, "")),
                    "yours": shown(name, clash.yours[name]),
                }
                for name in clash.yours
            ],
        }
        # The form now carries the saved version, so saving again (after comparing) works.
        data = request.POST.copy()
        data["version"] = str(clash.current_version)
        return _meeting_answer(
            request, the_week, form=MeetingForm(data), conflict=conflict, status=409
        )
    except PostmortemError as failure:
        return _meeting_answer(request, the_week, error=str(failure))
    return _meeting_answer(request, the_week, notice="Meeting saved.")


@require_POST
@in_viewer_timezone
def review_meeting_held(request: HtmxHttpRequest, week: str) -> HttpResponse:
    the_week = week_or_404(week)
    form = HeldForm(request.POST)
    if not form.is_valid():
        return _meeting_answer(request, the_week, error="Say whether the meeting was held.")
    held = form.cleaned_data["held"]
    try:
        meetings.review_meeting_mark_held(
            week=the_week.monday, actor=signed_in_user(request), held=held
        )
    except PostmortemError as failure:
        return _meeting_answer(request, the_week, error=str(failure))
    notice = "Marked as held." if held else "No longer marked as held."
    return _meeting_answer(request, the_week, notice=notice)


def meeting_calendar(*, stamp: datetime) -> bytes:
    """One recurring event: every week at the configured weekday and wall-clock time in the
    company's zone (with its VTIMEZONE), linking to the current review page."""
    zone = company_zone()
    first_day: date = date.fromisocalendar(*SERIES_FROM, settings.REVIEW_MEETING_WEEKDAY + 1)
    start = datetime.combine(first_day, settings.REVIEW_MEETING_TIME, tzinfo=zone)
    url = settings.SITE_URL + reverse("postmortems:review-current")
    calendar = Calendar()
    calendar.add("prodid", "-//On-call portal//Postmortem review//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Weekly postmortem review")
    event = Event()
    event.add("uid", ICAL_UID)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=settings.REVIEW_MEETING_MINUTES))
    event.add("rrule", vRecur(freq="WEEKLY", byday=WEEKDAY_CODES[settings.REVIEW_MEETING_WEEKDAY]))
    event.add("summary", "Weekly postmortem review")
    event.add(
        "description",
        "Incidents of the week, postmortems to review, overdue action items (handbook 004).\n"
        + url,
    )
    event.add("url", url)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


@require_GET
def review_meeting_ics(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(meeting_calendar(stamp=timezone.now()), content_type=ICAL_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="postmortem-review.ics"'
    return response
