"""The incident page: header, triage, escalation tracks, pages, updates, timeline."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.forms import (
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
    ContactMode,
    EscalationState,
    EscalationStatus,
    Incident,
    SeverityPolicy,
    Status,
    TimelineEvent,
    TimelineKind,
)
from incidents.selectors import incident_detail, incident_pages
from oncall.http import HtmxHttpRequest, in_viewer_timezone

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
