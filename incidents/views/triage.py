"""The incident page's triage panel (handbook 004's checklist): what it shows, and the live
suggestion the five questions give while someone answers them."""

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents.models import Incident, SeverityPolicy
from incidents.selectors import incidents_related, incidents_visible_to
from incidents.services.triage import suggestion_for
from incidents.services.updates import triage_deadline
from incidents.triage import ANSWER_NAMES, answer_words, answers_clean, ticket_url
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User


def triage_panel(
    incident: Incident, policy: SeverityPolicy | None, now: datetime, viewer: User
) -> dict[str, Any]:
    """The panel's facts: the target and the time left (rendered here too, so the countdown
    reads right without JavaScript), the ticket's link, the answers in words, the suggestion
    and the related incidents (one query)."""
    deadline = triage_deadline(incident=incident, policy=policy, now=now)
    answers = dict(incident.triage_answers or {})
    left = int((deadline.at - now).total_seconds())
    return {
        "target_minutes": int(deadline.target.total_seconds() // 60),
        "deadline": deadline.at,
        "confirmed": deadline.confirmed,
        "overdue": deadline.overdue,
        "counting": incident.is_open and not deadline.confirmed,
        "seconds_left": left,
        "time_left": _clock(left),
        "ticket_url": ticket_url(incident.ticket),
        "answers": answer_words(answers),
        "suggested": suggestion_for(answers),
        "related": incidents_related(incident=incident, now=now, viewer=viewer),
    }


def _clock(seconds: int) -> str:
    """12:05 left, or 3:02 overdue (minutes:seconds; hours as minutes past 99)."""
    size = abs(seconds)
    text = f"{size // 60}:{size % 60:02d}"
    return f"{text} left" if seconds > 0 else f"{text} overdue"


@require_GET
@in_viewer_timezone
def triage_suggestion(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The suggestion for the answers in the query (the form's radios, as they change);
    nothing is stored. Unanswered or invalid answers give no suggestion yet."""
    incident = (
        incidents_visible_to(signed_in_user(request), Incident.objects.filter(pk=pk))
        .only("id")
        .first()
    )
    if incident is None:
        raise Http404("No such incident.")
    raw = {name: request.GET.get(name) for name in ANSWER_NAMES if request.GET.get(name)}
    try:
        answers = answers_clean(raw, required=False)
    except ValidationError:
        answers = {}
    context = {"incident": incident, "triage": {"suggested": suggestion_for(answers)}}
    return render(request, "incidents/triage_panel.html#suggestion", context)
