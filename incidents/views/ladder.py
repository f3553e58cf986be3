"""The incident page's ladder actions: escalate to the next rung, add a responder, record
the council's decision, set the category. Plain POSTs that redirect back to the page (htmx:
a client redirect); a role that may not gets 403 with the reason."""

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents.models import Incident
from incidents.services.council import council_decision_record
from incidents.services.ladder import incident_add_responder, incident_escalate_tier
from incidents.services.lifecycle import IncidentError
from incidents.services.rules import NotAllowed
from incidents.services.security import incident_set_category
from incidents.views.detail import incident_or_404
from incidents.views.ladder_context import (
    CategoryForm,
    CouncilDecisionForm,
    EscalateTierForm,
    ResponderForm,
)
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User

Run = Callable[[Incident, User, dict], str]


def _act(request: HtmxHttpRequest, pk: int, form: forms.Form, run: Run) -> HttpResponse:
    incident = incident_or_404(pk, viewer=signed_in_user(request))
    if not form.is_valid():
        problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        messages.error(request, problems)
    else:
        try:
            messages.success(request, run(incident, signed_in_user(request), form.cleaned_data))
        except NotAllowed as refused:
            return HttpResponse(str(refused), status=403, content_type="text/plain")
        except (IncidentError, ValidationError) as failure:
            text = (
                str(failure) if isinstance(failure, IncidentError) else " ".join(failure.messages)
            )
            messages.error(request, text)
    url = reverse("incidents:detail", args=[pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
@in_viewer_timezone
def escalate_tier(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict) -> str:
        incident_escalate_tier(
            incident=incident,
            to=data["to"],
            team=data["team"],
            reason=data["reason"],
            actor=actor,
        )
        return f"{incident.number} escalated to the next rung."

    return _act(request, pk, EscalateTierForm(request.POST), run)


@require_POST
@in_viewer_timezone
def add_responder(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict) -> str:
        incident_add_responder(
            incident=incident, user=data["user"], reason=data["reason"], actor=actor
        )
        return f"{data['user']} paged as a responder."

    return _act(request, pk, ResponderForm(request.POST), run)


@require_POST
@in_viewer_timezone
def council_decision(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict) -> str:
        row = council_decision_record(
            incident=incident,
            decision=data["decision"],
            owner=data["owner"],
            due_on=data["due_on"],
            note=data["note"],
            actor=actor,
        )
        return f"Council decision recorded: {row.get_decision_display()}."

    return _act(request, pk, CouncilDecisionForm(request.POST), run)


@require_POST
@in_viewer_timezone
def set_category(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict) -> str:
        incident_set_category(incident=incident, category=data["category"], actor=actor)
        return "Category changed."

    return _act(request, pk, CategoryForm(request.POST), run)
