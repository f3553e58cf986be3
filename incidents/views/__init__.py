"""Incident pages: the list, one incident with its actions, declare and engage development.

htmx style: one template per page with `{% partialdef %}` regions; an htmx request gets the
region, a plain request the page; a plain POST redirects. Every action posts to its own URL,
calls one service and answers htmx with the refreshed incident region (errors included, with
status 200, since htmx swaps only 2xx answers). Times are in the viewer's timezone (UTC on
hover). Any signed-in role may act: support and engineers alike (handbooks 000 and 004).
"""

from incidents.views.actions import (
    acknowledge,
    actionable,
    add_note,
    confirm_triage,
    escalate_now,
    post_status_update,
    reassign,
    record_call,
    reopen,
    resolve,
    set_commander,
    set_severity,
)
from incidents.views.create import (
    declare,
    engage,
    engage_preview,
)
from incidents.views.detail import incident_live, incident_page
from incidents.views.lists import acknowledge_mine, incident_list, my_incidents
from incidents.views.triage import triage_suggestion

__all__ = [
    "acknowledge",
    "acknowledge_mine",
    "actionable",
    "add_note",
    "confirm_triage",
    "declare",
    "engage",
    "engage_preview",
    "escalate_now",
    "incident_list",
    "incident_live",
    "incident_page",
    "my_incidents",
    "post_status_update",
    "reassign",
    "record_call",
    "reopen",
    "resolve",
    "set_commander",
    "set_severity",
    "triage_suggestion",
]
