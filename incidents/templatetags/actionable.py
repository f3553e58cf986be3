"""The incident page's "Was this actionable?" (issue 17): who may answer."""

from typing import Any

from django import template

from incidents.models import Incident
from incidents.services.actionable import actionable_may_answer

register = template.Library()


@register.simple_tag(takes_context=True)
def may_answer_actionable(context: Any, incident: Incident) -> bool:
    request = context.get("request")
    return actionable_may_answer(incident, getattr(request, "user", None))
