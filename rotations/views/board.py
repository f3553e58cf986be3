"""Who is on call: every team's tiers and positions, now and at the next handoff."""

from dataclasses import dataclass
from datetime import datetime

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from oncall.http import HtmxHttpRequest, in_viewer_timezone
from rotations.models import ContactMode, TeamKind
from rotations.selectors import OnCall, oncall_overview


@dataclass(frozen=True)
class OnCallRow:
    now: OnCall
    next: OnCall
    handoff: datetime | None


@require_GET
@in_viewer_timezone
def oncall(request: HtmxHttpRequest) -> HttpResponse:
    """Every team: each tier × position now and at its next handoff."""
    now = timezone.now()
    teams = [
        {
            "team": entry.team,
            "call_directly": entry.team.contact_mode == ContactMode.CALL,
            "rows": [
                OnCallRow(current, coming, current.end or coming.start)
                for current, coming in zip(entry.now, entry.next, strict=True)
            ],
        }
        # The support desk's tiers first (handbook 004), then the engineering teams by name.
        for entry in sorted(oncall_overview(at=now), key=lambda e: e.team.kind != TeamKind.SUPPORT)
    ]
    context = {"teams": teams, "now": now}
    template = "rotations/oncall.html#board" if request.htmx else "rotations/oncall.html"
    return render(request, template, context)
