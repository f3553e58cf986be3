"""A team's page, for everyone signed in: who is on call now and next, its escalation
policies in words and each policy's dry run (who would be paged when, in the viewer's zone)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from oncall.http import HtmxHttpRequest, in_viewer_timezone
from rotations.escalation import PlannedPage, policy_plan, policy_step_words, wait_words
from rotations.models import ContactMode, EscalationPolicy, EscalationStep, Team
from rotations.selectors import team_now_and_next
from rotations.views.board import OnCallRow

# A dry run longer than this is cut short on the page (the admin shows it whole).
DRY_RUN_SHOWN = 30


@dataclass(frozen=True)
class PlannedPageView:
    at: datetime
    page: PlannedPage
    after: str  # "at once", "after 10 minutes"


@dataclass(frozen=True)
class PolicyView:
    policy: EscalationPolicy
    steps: list[str]
    plan: list[PlannedPageView]
    more: int  # planned pages not shown


def _policy_view(policy: EscalationPolicy, now: datetime) -> PolicyView:
    plan = policy_plan(policy=policy, at=now)
    shown = [
        PlannedPageView(
            now + p.offset,
            p,
            "at once" if not p.offset else f"after {wait_words(p.offset)}",
        )
        for p in plan[:DRY_RUN_SHOWN]
    ]
    return PolicyView(
        policy=policy,
        steps=[policy_step_words(step) for step in policy.steps.all()],
        plan=shown,
        more=max(0, len(plan) - DRY_RUN_SHOWN),
    )


@require_GET
@in_viewer_timezone
def team_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    team = get_object_or_404(
        Team.objects.select_related("escalation_contact").prefetch_related("direct_numbers"),
        slug=slug,
    )
    now = timezone.now()
    board = team_now_and_next(team=team, at=now)
    policies = EscalationPolicy.objects.filter(team=team).prefetch_related(
        Prefetch(
            "steps",
            queryset=EscalationStep.objects.select_related(
                "rotation__team", "policy__team__escalation_contact"
            ).prefetch_related("users"),
        )
    )
    context = {
        "team": team,
        "now": now,
        "call_directly": team.contact_mode == ContactMode.CALL,
        "rows": [
            OnCallRow(current, coming, current.end or coming.start)
            for current, coming in zip(board.now, board.next, strict=True)
        ],
        "policies": [_policy_view(policy, now) for policy in policies],
        # Without a policy the engine walks the veteran list with this wait (incidents).
        "walk_wait": wait_words(timedelta(seconds=settings.ENGAGE_WALK_WAIT_SECONDS)),
    }
    return render(request, "rotations/team.html", context)
