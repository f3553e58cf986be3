"""Declaring an incident and engaging development (handbook 000)."""

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from incidents import services
from incidents.forms import (
    DeclareForm,
    EngageForm,
)
from incidents.models import (
    Category,
    ContactMode,
    Incident,
)
from oncall.http import HtmxHttpRequest, id_from_text, in_viewer_timezone, signed_in_user
from rotations.models import ContactMode as TeamContactMode
from rotations.models import Team

# --------------------------------------------------------------------------- declare, engage


def _declared(request: HtmxHttpRequest, incident: Incident, notice: str) -> HttpResponse:
    messages.success(request, notice)
    url = reverse("incidents:detail", args=[incident.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def declare(request: HtmxHttpRequest) -> HttpResponse:
    """Declare an incident by hand; paging starts (or "call directly" is recorded)."""
    actor = signed_in_user(request)
    status = 200
    if request.method == "POST":
        form = DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_declare(
                    title=data["title"],
                    severity=data["severity"],
                    team=data["team"],
                    category=data["category"] or Category.OTHER,
                    description=data["description"],
                    escalation_policy=data["escalation_policy"],
                    commander=data["commander"],
                    ticket=data["ticket"],
                    actor=actor,
                )
            except ValidationError as error:
                form.add_service_error(error)
            else:
                return _declared(request, incident, f"{incident.number} declared.")
        status = 400
    else:
        form = DeclareForm(initial={"team": request.GET.get("team")})
    if request.htmx:
        return render(request, "incidents/declare.html#declare-form", {"form": form})
    return render(request, "incidents/declare.html", {"form": form}, status=status)


def _engage_preview_context(form: EngageForm) -> dict[str, Any]:
    """The handbook's description and, for a call-directly team, the numbers to dial."""
    values = {
        name: (form.data.get(name) or form.initial.get(name) or "").strip()
        for name in ("ticket", "requester_name", "requester_phone")
    }
    team: Team | None = None
    team_id = id_from_text(form.data.get("team") or form.initial.get("team"))
    if team_id is not None:
        team = Team.objects.prefetch_related("direct_numbers").filter(pk=team_id).first()
    return {
        "description": services.engage_description(
            ticket=values["ticket"].upper() or "CSD-…",
            requester_name=values["requester_name"] or "…",
            requester_phone=values["requester_phone"] or "…",
        ),
        "preview_team": team,
        "preview_call_directly": team is not None and team.contact_mode == TeamContactMode.CALL,
    }


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def engage(request: HtmxHttpRequest) -> HttpResponse:
    """Engage development (handbook 000): one incident, or the numbers of a call-directly team."""
    actor = signed_in_user(request)
    status = 200
    if request.method == "POST":
        form = EngageForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = services.incident_engage(
                    team=data["team"],
                    ticket=data["ticket"],
                    requester_name=data["requester_name"],
                    requester_phone=data["requester_phone"],
                    bridge=data["bridge"],
                    actor=actor,
                )
            except ValidationError as error:
                form.add_service_error(error)
            else:
                if incident.contact_mode == ContactMode.CALL:
                    numbers = "; ".join(
                        f"{n['label']} {n['phone']}" for n in incident.direct_numbers
                    )
                    notice = (
                        f"{incident.number} recorded. {data['team'].name} is not paged: "
                        f"call them directly now ({numbers or 'no numbers on file'})."
                    )
                else:
                    notice = f"{incident.number}: development engaged; the on-call is paged."
                return _declared(request, incident, notice)
        status = 400
    else:
        form = EngageForm(
            initial={
                "team": request.GET.get("team"),
                "requester_name": actor.name,
                "requester_phone": actor.phone,
            }
        )
    context = {"form": form, **_engage_preview_context(form)}
    if request.htmx:
        return render(request, "incidents/engage.html#engage-form", context)
    return render(request, "incidents/engage.html", context, status=status)


@require_GET
def engage_preview(request: HtmxHttpRequest) -> HttpResponse:
    """The preview region, refreshed as support types (htmx) or on its own (plain)."""
    form = EngageForm(request.GET)
    return render(request, "incidents/engage.html#preview", _engage_preview_context(form))
