"""Incident pages: the list, one incident with its actions, declare and engage development.

htmx style: one template per page with `{% partialdef %}` regions; an htmx request gets the
region, a plain request the page; a plain POST redirects. Every action posts to its own URL,
calls one service and answers htmx with the refreshed incident region (errors included, with
status 200, since htmx swaps only 2xx answers). Times are in the viewer's timezone (UTC on
hover). Any signed-in role may act: support and engineers alike (handbooks 000 and 004).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from incidents import services
from incidents.forms import (
    OPEN,
    CommanderForm,
    DeclareForm,
    EngageForm,
    IncidentFilterForm,
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
    ContactMode,
    EscalationState,
    EscalationStatus,
    Incident,
    SeverityPolicy,
    Status,
    TimelineEvent,
    TimelineKind,
)
from incidents.selectors import incident_detail, incident_pages, incidents_open
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User
from rotations.models import ContactMode as TeamContactMode
from rotations.models import Team

# The list shows resolved incidents of the last week under the open ones, at most this many.
RECENTLY = timedelta(days=7)
RECENT_RESOLVED = 25
# A filter asking for resolved incidents shows at most this many.
RESOLVED_LIMIT = 100
# Open incidents first: triggered (nobody has it yet), then acknowledged.
STATUS_ORDER = {Status.TRIGGERED: 0, Status.ACKNOWLEDGED: 1, Status.RESOLVED: 2}
LIST_RELATED = ("team", "commander", "acknowledged_by", "resolved_by")


# --------------------------------------------------------------------------- the list


def _filtered(queryset: Any, data: dict[str, Any]) -> Any:
    if data.get("severity"):
        queryset = queryset.filter(severity=data["severity"])
    if data.get("team"):
        queryset = queryset.filter(team=data["team"])
    return queryset


def _list_context(request: HttpRequest) -> dict[str, Any]:
    form = IncidentFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status", "")
    now = timezone.now()
    open_incidents: list[Incident] = []
    resolved: list[Incident] = []
    if status in ("", OPEN, Status.TRIGGERED, Status.ACKNOWLEDGED):
        queryset = _filtered(incidents_open().select_related(*LIST_RELATED), data)
        if status in (Status.TRIGGERED, Status.ACKNOWLEDGED):
            queryset = queryset.filter(status=status)
        open_incidents = sorted(queryset, key=lambda i: STATUS_ORDER[Status(i.status)])
    if status in ("", Status.RESOLVED):
        queryset = _filtered(
            Incident.objects.filter(status=Status.RESOLVED).select_related(*LIST_RELATED), data
        ).order_by("-resolved_at", "-id")
        if status == "":
            resolved = list(queryset.filter(resolved_at__gte=now - RECENTLY)[:RECENT_RESOLVED])
        else:
            resolved = list(queryset[:RESOLVED_LIMIT])
    return {
        "filter_form": form,
        "open_incidents": open_incidents,
        "resolved": resolved,
        "show_resolved": status in ("", Status.RESOLVED),
        "show_open": status != Status.RESOLVED,
        "recent_days": RECENTLY.days,
        "query": request.GET.urlencode(),
        "now": now,
    }


@require_GET
@in_viewer_timezone
def incident_list(request: HtmxHttpRequest) -> HttpResponse:
    """Open incidents (triggered first), then the recently resolved; refreshed every 15 s."""
    template = "incidents/list.html#incident-list" if request.htmx else "incidents/list.html"
    return render(request, template, _list_context(request))


@require_GET
@in_viewer_timezone
def my_incidents(request: HtmxHttpRequest) -> HttpResponse:
    """The home page's summary: open incidents I command, acknowledged or declared."""
    me = signed_in_user(request)
    open_all = incidents_open()
    mine = list(open_all.filter(Q(commander=me) | Q(acknowledged_by=me) | Q(declared_by=me))[:20])
    context = {"mine": mine, "open_count": open_all.count(), "now": timezone.now()}
    template = "incidents/mine.html#summary" if request.htmx else "incidents/mine.html"
    return render(request, template, context)


# --------------------------------------------------------------------------- one incident


@dataclass(frozen=True)
class TrackView:
    state: EscalationState
    current_step: str
    step_number: int
    step_count: int
    paged: list[TimelineEvent]


def _tracks(incident: Incident, timeline: list[TimelineEvent]) -> list[TrackView]:
    """Each escalation track, newest generation first, with whom it paged."""
    states = list(incident.escalation_states.all())
    starts = sorted({s.triggered_at for s in states})
    views = []
    for state in sorted(states, key=lambda s: (-s.generation, s.pk)):
        later = [t for t in starts if t > state.triggered_at]
        until = later[0] if later else None
        paged = [
            e
            for e in timeline
            if e.kind == TimelineKind.PAGED
            and e.data.get("track") == state.track
            and e.at >= state.triggered_at
            and (until is None or e.at < until)
        ]
        steps = state.snapshot.get("steps", [])
        if state.status == EscalationStatus.ACTIVE and state.step_index < len(steps):
            current = steps[state.step_index].get("label") or steps[state.step_index]["action"]
        else:
            current = state.get_status_display()
        views.append(
            TrackView(
                state=state,
                current_step=current,
                step_number=min(state.step_index + 1, len(steps)),
                step_count=len(steps),
                paged=paged,
            )
        )
    return views


def _triage(incident: Incident, policy: SeverityPolicy | None, now: datetime) -> dict[str, Any]:
    target = policy.triage_target if policy else settings.TRIAGE_TARGET_DEFAULT
    deadline = incident.triggered_at + target
    return {
        "target_minutes": int(target.total_seconds() // 60),
        "deadline": deadline,
        "confirmed": incident.triage_confirmed_at is not None,
        "overdue": incident.triage_confirmed_at is None and incident.is_open and now > deadline,
    }


def _update_due(
    incident: Incident, policy: SeverityPolicy | None, now: datetime
) -> dict[str, Any] | None:
    if not incident.is_open or policy is None or not policy.status_updates_required:
        return None
    due = (incident.last_status_update_at or incident.triggered_at) + policy.status_update_interval
    return {"at": due, "overdue": now > due}


FORMS: dict[str, type[forms.Form]] = {
    "resolve_form": ResolveForm,
    "reopen_form": ReopenForm,
    "reassign_form": ReassignForm,
    "severity_form": SeverityForm,
    "commander_form": CommanderForm,
    "note_form": NoteForm,
    "status_update_form": StatusUpdateForm,
}


def _incident_context(
    request: HttpRequest,
    incident: Incident,
    *,
    bound: dict[str, forms.Form] | None = None,
    notice: str = "",
    error: str = "",
) -> dict[str, Any]:
    now = timezone.now()
    timeline = list(incident.timeline.all())
    policy = (
        SeverityPolicy.objects.filter(level=incident.severity)
        .select_related("escalation_policy")
        .first()
    )
    context: dict[str, Any] = {
        "incident": incident,
        "now": now,
        "timeline": sorted(timeline, key=lambda e: (e.at, e.pk), reverse=True),
        "tracks": _tracks(incident, timeline),
        "pages": list(incident_pages(incident=incident)),
        "status_updates": list(incident.status_updates.all()),
        "triage": _triage(incident, policy, now),
        "update_due": _update_due(incident, policy, now),
        "severity_policy": policy,
        "call_directly": incident.contact_mode == ContactMode.CALL,
        # Engage stores the bridge in the body too; the header shows it once.
        "show_body": bool(incident.body) and incident.body != f"Bridge: {incident.bridge}",
        "can_acknowledge": incident.status == Status.TRIGGERED,
        "can_resolve": incident.is_open,
        "can_reopen": incident.status == Status.RESOLVED,
        "can_escalate": incident.status == Status.TRIGGERED,
        "can_reassign": incident.is_open,
        "notice": notice,
        "error": error,
        "triage_form": TriageForm.for_incident(incident),
        "record_call_form": RecordCallForm(incident=incident),
        "severity_form": SeverityForm(initial={"severity": incident.severity}),
        "commander_form": CommanderForm(initial={"commander": incident.commander_id}),
    }
    for name, form_class in FORMS.items():
        context.setdefault(name, form_class())
    context.update(bound or {})
    return context


def _incident(pk: int) -> Incident:
    try:
        return incident_detail(pk=pk)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


@require_GET
@in_viewer_timezone
def incident_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    template = "incidents/incident.html#incident" if request.htmx else "incidents/incident.html"
    return render(request, template, _incident_context(request, incident))


# --------------------------------------------------------------------------- actions

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
    incident = _incident(pk)
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
            return _answer(request, _incident(pk), notice=notice)
    assert form is not None
    bound = {form_name: form}
    if request.htmx:
        context = _incident_context(request, incident, bound=bound)
        return render(request, "incidents/incident.html#incident", context)
    context = _incident_context(request, incident, bound=bound)
    return render(request, "incidents/incident.html", context, status=400)


def _answer(
    request: HtmxHttpRequest, incident: Incident, *, notice: str = "", error: str = ""
) -> HttpResponse:
    """htmx: the refreshed incident region with the message; plain: back to the page."""
    if request.htmx:
        context = _incident_context(request, incident, notice=notice, error=error)
        return render(request, "incidents/incident.html#incident", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("incidents:detail", pk=incident.pk)


@require_POST
@in_viewer_timezone
def acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_acknowledge(incident=incident, actor=actor)
        return f"{incident.number} acknowledged: paging stopped."

    return _run_action(request, pk, run=run)


@require_POST
@in_viewer_timezone
def resolve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_resolve(incident=incident, actor=actor, note=data["note"])
        return f"{incident.number} resolved."

    return _run_action(
        request, pk, run=run, form_name="resolve_form", form=ResolveForm(request.POST)
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
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        incident = services.incident_triage_confirm(incident=incident, actor=actor, **data)
        return f"Triage confirmed: {incident.get_severity_display()}."

    return _run_action(request, pk, run=run, form_name="triage_form", form=TriageForm(request.POST))


@require_POST
@in_viewer_timezone
def record_call(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(incident: Incident, actor: User, data: dict[str, Any]) -> str:
        services.incident_record_call(
            incident=incident, number=data["number"], outcome=data["outcome"], actor=actor
        )
        return f"Call to {data['number']} recorded on the timeline."

    incident = _incident(pk)
    form = RecordCallForm(request.POST, incident=incident)
    return _run_action(request, pk, run=run, form_name="record_call_form", form=form)


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
    team_id = form.data.get("team") or form.initial.get("team")
    if team_id and str(team_id).isdigit():
        team = Team.objects.prefetch_related("direct_numbers").filter(pk=int(team_id)).first()
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
