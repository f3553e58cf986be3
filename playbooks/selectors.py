"""Reads of playbooks, with their joins."""

from django.db.models import Case, Q, QuerySet, Value, When

from incidents.models import Incident
from playbooks.models import PlaybookAttempt, PlaybookEntry


def playbook_entries_for(*, incident: Incident) -> QuerySet[PlaybookEntry]:
    """The active entries that fit the incident: its team's (for any service or its own),
    and any team's for its service; the service's own first. One query."""
    fits = Q(pk__in=[])
    if incident.team_id is not None:
        fits |= Q(team_id=incident.team_id, service="")
    if incident.service:
        fits |= Q(service=incident.service)
    own_service = (
        Case(When(service=incident.service, then=Value(0)), default=Value(1))
        if incident.service
        else Value(1)
    )
    return (
        PlaybookEntry.objects.filter(fits, is_active=True)
        .select_related("team")
        .annotate(own_service=own_service)
        .order_by("own_service", "title", "id")
    )


def playbook_attempts_of(*, incident: Incident) -> QuerySet[PlaybookAttempt]:
    return PlaybookAttempt.objects.filter(incident=incident).select_related("actor").order_by("at")


def playbook_entries_list(*, team_slug: str = "", service: str = "") -> QuerySet[PlaybookEntry]:
    queryset = PlaybookEntry.objects.select_related("team", "postmortem__incident")
    if team_slug:
        queryset = queryset.filter(team__slug=team_slug)
    if service:
        queryset = queryset.filter(service=service)
    return queryset.order_by("team__name", "service", "title", "id")
