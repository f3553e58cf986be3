"""The incident page's actions: each posts to its own URL and calls one service."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents import acks, services
from incidents.forms import (
    ActionableForm,
    CommanderForm,
    NoteForm,
    ReassignForm,
    RecordCallForm,
    ReopenForm,
    ResolveForm,
    SeverityForm,
    StatusUpdateForm,
    TriageForm,
)
from incidents.models import (
    Incident,
    Status,
)
from incidents.services.rules import is_support_only
from incidents.triage import may_triage
from incidents.views.detail import incident_context, incident_or_404
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User

# --------------------------------------------------------------------------- actions

NO_DIRECT_PAGE = (
    "Support cannot page an individual engineer directly: use Escalate, and the on-call "
    "engineer pulls in whoever else is needed."
)

# An action gets the incident, the actor and the form's cleaned data; it calls one service
# and returns the notice to show.
Action = Callable[[Incident, User, dict[str, Any]], str]


def _run_action(
    request: HtmxHttpRequest,
    pk: int,
    *,
    run: Action,
    form_name: str = "",
    form: forms.Form | None = None,
) -> HttpResponse:
    incident = incident_or_404(pk, viewer=signed_in_user(request))
    actor = signed_in_user(request)
    if form is None or form.is_valid():
        data = form.cleaned_data if form is not None else {}
        try:
            notice = run(incident, actor, data)
        except services.IncidentError as failure:
            return _answer(request, incident, error=str(failure))
        except ValidationError as failure:
            if form is None or not hasattr(form, "add_service_error"):
                return _answer(request, incident, error=" ".join(failure.messages))
            form.add_service_error(failure)
        else:
            return _answer(
                request, incident_or_404(pk, viewer=signed_in_user(request)), notice=notice
            )
    assert form is not None
    bound = {form_name: form}
    if request.htmx:
        context = incident_context(request, incident, bound=bound)
        return render(request, "incidents/incident.html#incident", context)
    context = incident_context(request, incident, bound=bound)
    return render(request, "incidents/incident.html", context, status=400)


def _answer(
    request: HtmxHttpRequest, incident: Incident, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """htmx: the refreshed incident region with the message; plain: back to the page."""
    if request.htmx:
        context = incident_context(request, incident, notice=notice, error=error)
        return render(request, "incidents/incident.html#incident", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("incidents:detail", pk=incident.pk)


def acknowledge_confirmation(
    request: HtmxHttpRequest, incident: Incident, *, status: int = 200
) -> HttpResponse:
    """The page that asks before acknowledging for someone else (or says who may)."""
    me = signed_in_user(request)
    right = acks.acknowledge_right(incident, me)
    context = {
        "incident": incident,
        "right": right,
        "on_behalf": right in acks.ON_BEHALF,
        "paged": acks.paged_people(incident),
        "triggered": incident.status == Status.TRIGGERED,
    }
    if right is None and incident.status == Status.TRIGGERED:
        status = 403
    return render(request, "incidents/acknowledge.html", context, status=status)


def needs_ack_confirmation(request: HtmxHttpRequest, incident: Incident) -> bool:
    """Acknowledging for people who were paged, without having said so yet."""
    if request.POST.get("on_behalf") == "1" or incident.status != Status.TRIGGERED:
        return False
    return acks.acknowledge_right(incident, signed_in_user(request)) in acks.ON_BEHALF


def to_ack_confirmation(request: HtmxHttpRequest, incident: Incident) -> HttpResponse:
    url = reverse("incidents:acknowledge", args=[incident.pk])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@require_http_methods(["GET", "POST"])
@in_viewer_timezone
def acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """POST acknowledges; someone acting for the people paged confirms first (GET asks)."""
    incident = incident_or_404(pk, viewer=signed_in_user(request))
    if request.method == "GET":
        return acknowledge_confirmation(request, incident)
    if needs_ack_confirmation(request, incident):
        return to_ack_confirmation(request, incident)

    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_acknowledge(incident=incident, actor=actor)
        return f"{incident.number} acknowledged: paging stopped."

    return _run_action(request, pk, run=run)


@require_POST
@in_viewer_timezone
def resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        with transaction.atomic():  # a refused answer leaves the incident unresolved
            incident = services.incident_resolve(incident=incident, actor=actor, note=data["note"])
            if data.get("actionable") is not None:
                services.incident_mark_actionable(
                    incident=incident, actor=actor, actionable=data["actionable"]
                )
        return f"{incident.number} resolved."

    return _run_action(
        request, pk, run=run, form_name="resolve_form", form=ResolveForm(request.POST)
    )


@require_POST
@in_viewer_timezone
def actionable(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Was this actionable? (the commander, whoever acknowledged, or a Manager)."""

    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_mark_actionable(
            incident=incident, actor=actor, actionable=data["actionable"], reason=data["reason"]
        )
        return f"{incident.number}: answer saved."

    return _run_action(
        request, pk, run=run, form_name="actionable_form", form=ActionableForm(request.POST)
    )


@require_POST
@in_viewer_timezone
def reopen(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_reopen(incident=incident, actor=actor, reason=data["reason"])
        return f"{incident.number} reopened: paging starts over."

    return _run_action(request, pk, run=run, form_name="reopen_form", form=ReopenForm(request.POST))


@require_POST
@in_viewer_timezone
def escalate_now(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_escalate_now(incident=incident, actor=actor)
        return f"{incident.number}: the next escalation step runs now."

    return _run_action(request, pk, run=run)


@require_POST
@in_viewer_timezone
def reassign(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    if request.POST.get("user") and is_support_only(signed_in_user(request)):
        incident_or_404(pk, viewer=signed_in_user(request))
        return HttpResponse(NO_DIRECT_PAGE, status=403, content_type="text/plain")

    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_reassign(
            incident=incident, actor=actor, user=data["user"], policy=data["policy"]
        )
        target = data["user"] or f"policy {data['policy']}"
        return f"{incident.number} reassigned to {target}: paging starts over."

    return _run_action(
        request, pk, run=run, form_name="reassign_form", form=ReassignForm(request.POST)
    )


@require_POST
@in_viewer_timezone
def set_severity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_set_severity(
            incident=incident, severity=data["severity"], actor=actor
        )
        return f"{incident.number} is now {incident.get_severity_display()}."

    return _run_action(
        request, pk, run=run, form_name="severity_form", form=SeverityForm(request.POST)
    )


@require_POST
@in_viewer_timezone
def set_commander(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        commander = data["commander"]
        services.incident_set_commander(incident=incident, commander=commander, actor=actor)
        return f"Commander: {commander}." if commander else "Commander cleared."

    return _run_action(
        request, pk, run=run, form_name="commander_form", form=CommanderForm(request.POST)
    )


@require_POST
@in_viewer_timezone
def add_note(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        services.incident_add_note(incident=incident, text=data["text"], actor=actor)
        return "Note added to the timeline."

    return _run_action(request, pk, run=run, form_name="note_form", form=NoteForm(request.POST))


@require_POST
@in_viewer_timezone
def post_status_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        update = services.incident_post_status_update(
            incident=incident, message=data["message"], actor=actor
        )
        sent = ", ".join(update.recipients) or "nobody (no addresses configured)"
        return f"Status update posted; emailed to {sent}."

    return _run_action(
        request,
        pk,
        run=run,
        form_name="status_update_form",
        form=StatusUpdateForm(request.POST),
    )


@require_POST
@in_viewer_timezone
def confirm_triage(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the triage panel ("save" button) or confirm it (a severity chosen)."""
    if not may_triage(signed_in_user(request)):
        raise PermissionDenied("You may not triage incidents.")
    saving = "save" in request.POST
    data = request.POST.copy()
    if saving:
        data["severity"] = ""  # saving never confirms, whatever the select shows
    form = TriageForm(data)

    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        kwargs = form.service_kwargs()
        if saving:
            kwargs |= {"severity": "", "reason": ""}
        result = services.incident_triage(incident=incident, actor=actor, **kwargs)
        if result.confirmed:
            return f"Triage confirmed: {result.incident.get_severity_display()}."
        if result.suggested_severity:
            return f"Triage notes saved; the answers suggest {result.suggested_severity}."
        return "Triage notes saved."

    return _run_action(request, pk, run=run, form_name="triage_form", form=form)


@require_POST
@in_viewer_timezone
def record_call(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        services.incident_record_call(
            incident=incident, number=data["number"], outcome=data["outcome"], actor=actor
        )
        return f"Call to {data['number']} recorded on the timeline."

    incident = incident_or_404(pk, viewer=signed_in_user(request))
    form = RecordCallForm(request.POST, incident=incident)
    return _run_action(request, pk, run=run, form_name="record_call_form", form=form)
