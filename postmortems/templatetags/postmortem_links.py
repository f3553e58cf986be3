"""Template tags that let pages of lower apps show postmortems without importing this app
(incidents and oncall never import postmortems; their templates load this library)."""

from typing import Any

from django import template
from django.utils import timezone

from postmortems import selectors
from postmortems.models import ActionItem, Postmortem

register = template.Library()


@register.inclusion_tag("postmortems/incident_link.html")
def incident_postmortem(incident: Any) -> dict[str, Any]:
    """The incident's postmortem (title, status) or a "Start a postmortem" button."""
    postmortem = (
        Postmortem.objects.filter(incident_id=incident.pk).only("id", "title", "status").first()
    )
    return {"incident": incident, "postmortem": postmortem}


@register.simple_tag
def overdue_action_items(user: Any) -> int:
    """How many of the person's action items are overdue (the digest's rule, their today)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    today = timezone.localdate(timezone.now(), user.tzinfo)
    return selectors.action_items_overdue(
        ActionItem.objects.filter(owner_id=user.pk), today=today
    ).count()
