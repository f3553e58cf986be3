"""Incident pages: the list (with filters and live refresh) and my open incidents."""

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents import acks, services
from incidents.forms import (
    OPEN,
    IncidentFilterForm,
)
from incidents.models import (
    Incident,
    Status,
)
from incidents.selectors import incidents_filter, incidents_open, incidents_visible_to
from incidents.views.actions import needs_ack_confirmation, to_ack_confirmation
from oncall.http import HtmxHttpRequest, in_viewer_timezone, signed_in_user

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
    team = data.get("team")
    return incidents_filter(
        queryset, severity=data.get("severity") or "", team_slug=team.slug if team else ""
    )


def _list_context(request: HttpRequest) -> dict[str, Any]:
    form = IncidentFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status", "")
    me = signed_in_user(request)
    now = timezone.now()
    open_incidents: list[Incident] = []
    resolved: list[Incident] = []
    if status in ("", OPEN, Status.TRIGGERED, Status.ACKNOWLEDGED):
        queryset = _filtered(
            incidents_visible_to(me, incidents_open()).select_related(*LIST_RELATED), data
        )
        if status in (Status.TRIGGERED, Status.ACKNOWLEDGED):
            queryset = queryset.filter(status=status)
        open_incidents = sorted(queryset, key=lambda i: STATUS_ORDER[Status(i.status)])
    if status in ("", Status.RESOLVED):
        queryset = _filtered(
            incidents_visible_to(
                me, Incident.objects.filter(status=Status.RESOLVED)
            ).select_related(*LIST_RELATED),
            data,
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


def _mine_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    me = signed_in_user(request)
    open_all = incidents_visible_to(me, incidents_open())
    paging = acks.incidents_paging(me)
    paging_ids = {incident.pk for incident in paging}
    mine = [
        incident
        for incident in open_all.filter(
            Q(commander=me) | Q(acknowledged_by=me) | Q(declared_by=me)
        )[:20]
        if incident.pk not in paging_ids
    ]
    return {
        "paging": paging,
        "mine": mine,
        "open_count": open_all.count(),
        "now": timezone.now(),
        **extra,
    }


@require_GET
@in_viewer_timezone
def my_incidents(request: HtmxHttpRequest) -> HttpResponse:
    """The home page's summary: first the incidents paging me right now (with Acknowledge
    buttons), then the open incidents I command, acknowledged or declared."""
    template = "incidents/mine.html#summary" if request.htmx else "incidents/mine.html"
    return render(request, template, _mine_context(request))


@require_POST
@in_viewer_timezone
def acknowledge_mine(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Acknowledge from the home page: the summary comes back with the outcome."""
    incident = get_object_or_404(incidents_visible_to(signed_in_user(request)), pk=pk)
    if needs_ack_confirmation(request, incident):  # no longer paging me (reassigned, say)
        return to_ack_confirmation(request, incident)
    notice = error = ""
    try:
        incident = services.incident_acknowledge(incident=incident, actor=signed_in_user(request))
    except services.IncidentError as failure:
        error = str(failure)
    else:
        notice = f"{incident.number} acknowledged: paging stopped."
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        return redirect("home")
    context = _mine_context(request, notice=notice, error=error, acted_on=incident)
    return render(request, "incidents/mine.html#summary", context)
