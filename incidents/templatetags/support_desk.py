"""The support desk's boxes on pages the incidents app owns (handbook 004)."""

from typing import Any

from django import template

from incidents.models import Incident
from incidents.support.views import contacts_context
from oncall.models import User

register = template.Library()


@register.inclusion_tag("incidents/customer_contacts.html", takes_context=True)
def customer_contacts(context: template.Context, incident: Incident) -> dict[str, Any]:
    """The incident's customer contacts and, for support and Managers, the form to log one."""
    user = context.get("user")
    if not isinstance(user, User):
        return {"incident": incident, "contacts": [], "can_log": False}
    return {**contacts_context(incident, user), "csrf_token": context.get("csrf_token")}
