"""A template tag that lets rotations' team page list the team's integrations (heartbeat
monitors with their state) without importing this app."""

from typing import Any

from django import template

from integrations.selectors import team_integrations as team_integrations_select
from oncall.roles import is_manager

register = template.Library()


@register.inclusion_tag("integrations/team_integrations.html", takes_context=True)
def team_integrations(context: template.Context, team: Any) -> dict[str, Any]:
    user = context.get("user")
    return {
        "team": team,
        "integrations": list(team_integrations_select(team_id=team.pk)),
        "can_edit": user is not None and is_manager(user),
    }
