"""The incident page: header, triage, escalation tracks, pages, updates, timeline.

While the incident is open the page polls `live` (as the list does, every 15 s): it answers
only what others change (the status header, the escalation tracks, the pages, the timeline),
never a form, so nobody loses what they are typing.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents import acks
from incidents.engine.outlook import TrackOutlook, outlook_rows, track_outlook
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
from incidents.services.updates import status_update_due
from incidents.timeline import timeline_attribution
from incidents.views.ladder_context import ladder_context
from incidents.views.triage import triage_panel
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user
from oncall.models import User

# --------------------------------------------------------------------------- one incident


@dataclass(frozen=True)
class TimelineEntry:
    event: TimelineEvent
    attribution: str  # who and how, shown once after the message


# The engine's track names, as people say them.
TRACK_TITLES = {
    "main": "Escalation",
    "veteran": "Veteran tier",
    "new": "New tier",
    "assigned": "Assigned people",
}


@dataclass(frozen=True)
class TrackView:
    state: EscalationState
    current_step: str
    step_number: int
    step_count: int
    paged: list[TimelineEvent]
    outlook: TrackOutlook
    title: str
    due_now: bool  # the next page is due (the worker sends it at its next sweep)


def _tracks(incident: Incident, timeline: list[TimelineEvent], now: datetime) -> list[TrackView]:
    """Each escalation track, newest generation first, with whom it paged and what next."""
    states = list(incident.escalation_states.all())
    starts = sorted({s.triggered_at for s in states})
    rows = (
        outlook_rows(states, team_name=incident.team.name if incident.team else "", now=now)
        if states
        else None
    )
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
        assert rows is not None
        outlook = track_outlook(state, rows, now=now)
        steps = state.policy_snapshot.steps
        if state.status == EscalationStatus.ACTIVE and state.step_index < len(steps):
            current = outlook.steps[state.step_index]
        elif state.status == EscalationStatus.ACTIVE:
            current = "Every step has run; the policy starts over"
        else:
            current = state.get_status_display()
        views.append(
            TrackView(
                state=state,
                current_step=current,
                step_number=min(state.step_index + 1, len(steps)),
                step_count=len(steps),
                paged=paged,
                outlook=outlook,
                title=TRACK_TITLES.get(state.track, state.track.replace("_", " ").capitalize()),
                due_now=state.next_action_at is not None and state.next_action_at <= now,
            )
        )
    return views


def _update_due(
    incident: Incident, policy: SeverityPolicy | None, now: datetime
) -> dict[str, Any] | None:
    due = status_update_due(incident=incident, policy=policy, now=now)
    return None if due is None else {"at": due.at, "overdue": due.overdue}


FORMS: dict[str, type[forms.Form]] = {
    "resolve_form": ResolveForm,
    "reopen_form": ReopenForm,
    "reassign_form": ReassignForm,
    "severity_form": SeverityForm,
    "commander_form": CommanderForm,
    "note_form": NoteForm,
    "status_update_form": StatusUpdateForm,
}


def _live_context(incident: Incident, viewer: User) -> dict[str, Any]:
    """What the page's self-refreshing regions show: the status header, the escalation
    tracks, the pages sent and the timeline (newest first)."""
    triggered = incident.status == Status.TRIGGERED
    timeline = list(incident.timeline.all())
    newest_first = sorted(timeline, key=lambda e: (e.at, e.pk), reverse=True)
    now = timezone.now()
    tracks = _tracks(incident, timeline, now)
    latest = max((t.state.generation for t in tracks), default=0)
    return {
        "incident": incident,
        "now": now,
        "timeline": [TimelineEntry(e, timeline_attribution(e)) for e in newest_first],
        "tracks": tracks,
        # What happens next: the current round's tracks, in words.
        "next_tracks": [t for t in tracks if t.state.generation == latest],
        "pages": list(incident_pages(incident=incident)),
        "call_directly": incident.contact_mode == ContactMode.CALL,
        # Engage stores the bridge in the body too; the header shows it once.
        "show_body": bool(incident.body) and incident.body != f"Bridge: {incident.bridge}",
        # Offered only to who may (acks.acknowledge_right): support watches, never silences.
        "can_acknowledge": triggered and acks.acknowledge_right(incident, viewer) is not None,
        "can_escalate": incident.status == Status.TRIGGERED,
    }


def incident_context(
    request: HttpRequest,
    incident: Incident,
    *,
    bound: dict[str, forms.Form] | None = None,
    notice: str = "",
    error: str = "",
) -> dict[str, Any]:
    context = _live_context(incident, signed_in_user(request))
    now = context["now"]
    policy = (
        SeverityPolicy.objects.filter(level=incident.severity)
        .select_related("escalation_policy")
        .first()
    )
    context |= {
        "status_updates": list(incident.status_updates.all()),
        "triage": triage_panel(incident, policy, now, signed_in_user(request)),
        "update_due": _update_due(incident, policy, now),
        "severity_policy": policy,
        "can_resolve": incident.is_open,
        "can_reopen": incident.status == Status.RESOLVED,
        "can_reassign": incident.is_open,
        "notice": notice,
        "error": error,
        "triage_form": TriageForm.for_incident(incident),
        "record_call_form": RecordCallForm(incident=incident),
        "severity_form": SeverityForm(initial={"severity": incident.severity}),
        "commander_form": CommanderForm(initial={"commander": incident.commander_id}),
    }
    context |= ladder_context(incident, signed_in_user(request))  # the support ladder panel
    for name, form_class in FORMS.items():
        context.setdefault(name, form_class())
    context.update(bound or {})
    return context


def incident_or_404(pk: int, *, viewer: User) -> Incident:
    """The incident with its page's joins; 404 also when `viewer` may not see it (an open
    security incident they are not working)."""
    try:
        return incident_detail(pk=pk, viewer=viewer)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None


@require_GET
@in_viewer_timezone
def incident_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    incident = incident_or_404(pk, viewer=signed_in_user(request))
    template = "incidents/incident.html#incident" if request.htmx else "incidents/incident.html"
    return render(request, template, incident_context(request, incident))


@require_GET
@in_viewer_timezone
def incident_live(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The page's poll: the status header, with the tracks, pages and timeline out of band.

    A resolved incident's header stops polling. Without htmx this is just the page.
    """
    incident = incident_or_404(pk, viewer=signed_in_user(request))
    if not request.htmx:
        return redirect("incidents:detail", pk=incident.pk)
    return render(
        request,
        "incidents/incident.html#live",
        {**_live_context(incident, signed_in_user(request)), "oob": True},
    )
