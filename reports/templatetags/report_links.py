"""Template tags that let pages of lower apps (rotations' team page and who's on call) show
on-call reports and handoffs without importing this app."""

from typing import Any

from django import template
from django.utils import timezone

from oncall.models import User
from reports import selectors
from reports.slack_group import slack_group_latest

register = template.Library()


@register.inclusion_tag("reports/team_reports.html")
def team_reports(team: Any) -> dict[str, Any]:
    """The team's latest reports (status, link) and each handoff: who to whom, when,
    acknowledged when."""
    return {
        "team": team,
        "rows": selectors.team_reports(team_id=team.pk),
        "slack": slack_group_latest(team=team),
        "now": timezone.now(),
    }


@register.inclusion_tag("reports/handoffs.html", takes_context=True)
def handoff_box(context: template.Context, back: str) -> dict[str, Any]:
    """The viewer's handoffs to acknowledge (nothing for anybody else); `back` is the page a
    plain "Got the handoff" returns to."""
    user = context.get("user")
    boxes = selectors.handoff_boxes(user=user) if isinstance(user, User) else []
    return {"handoffs": boxes, "back": back, "csrf_token": context.get("csrf_token")}
