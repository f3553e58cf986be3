"""Template tags that let pages of lower apps (the incident's triage panel, the postmortem
page, the weekly review) show playbooks without importing this app."""

from typing import Any

from django import template
from django.db.models import Count

from oncall.markup import markdown_safe
from playbooks import selectors
from playbooks.forms import AttemptForm
from playbooks.models import PlaybookEntry

register = template.Library()


@register.inclusion_tag("playbooks/offer.html", takes_context=True)
def playbook_offer(context: template.Context, incident: Any) -> dict[str, Any]:
    """The entries that fit the incident (team, service), each with its steps to tick and
    the outcome, and the attempts already recorded on it. Two queries."""
    entries = list(selectors.playbook_entries_for(incident=incident))
    attempts = list(selectors.playbook_attempts_of(incident=incident))
    return {
        "incident": incident,
        "csrf_token": context.get("csrf_token"),
        "offers": [
            {
                "entry": entry,
                "html": markdown_safe(entry.steps),
                "form": AttemptForm(entry=entry, prefix=f"pb{entry.pk}"),
            }
            for entry in entries
        ],
        "attempts": attempts,
    }


@register.inclusion_tag("playbooks/proposed.html")
def proposed_playbook_entries(postmortem: Any) -> dict[str, Any]:
    """The entries this postmortem proposed (shown on its page)."""
    entries = list(PlaybookEntry.objects.filter(postmortem_id=postmortem.pk).select_related("team"))
    return {"entries": entries}


@register.simple_tag
def proposed_entries_counts(items: Any) -> dict[int, int]:
    """{postmortem id: entries it proposed} for the weekly review's list, in one query."""
    ids = [item.postmortem.pk for item in items]
    rows = (
        PlaybookEntry.objects.filter(postmortem_id__in=ids)
        .values("postmortem_id")
        .annotate(n=Count("id"))
        .values_list("postmortem_id", "n")
    )
    return dict(rows) if ids else {}
