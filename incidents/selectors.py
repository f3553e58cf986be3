"""Reads of the incidents app, with their joins."""

from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from incidents.models import EscalationState, Incident, Status, TimelineEvent
from notifications.models import Notification


def incidents_open() -> QuerySet[Incident]:
    return (
        Incident.objects.exclude(status=Status.RESOLVED)
        .select_related("team", "commander", "acknowledged_by")
        .order_by("-triggered_at", "-id")
    )


def incidents_filter(
    queryset: QuerySet[Incident],
    *,
    status: str = "",
    severity: str = "",
    team_slug: str = "",
    dedup_key: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    words: str = "",
) -> QuerySet[Incident]:
    """The incident list's filters, for the page and the API alike; empty means any.

    `severity` is a level (SEV0–SEV3); `since`/`until` bound the creation time; every one of
    `words` must appear in the title or the description."""
    if status:
        queryset = queryset.filter(status=status)
    if severity:
        queryset = queryset.filter(severity=severity)
    if team_slug:
        queryset = queryset.filter(team__slug=team_slug)
    if dedup_key:
        queryset = queryset.filter(dedup_key=dedup_key)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    for word in words.split():
        queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return queryset


def incident_detail(*, pk: int) -> Incident:
    """One incident with its timeline (and actors), tracks and status updates."""
    return (
        Incident.objects.select_related(
            "team__escalation_contact", "commander", "acknowledged_by", "resolved_by"
        )
        .prefetch_related(
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("actor")),
            Prefetch(
                "escalation_states", queryset=EscalationState.objects.order_by("generation", "pk")
            ),
            "status_updates__author",
        )
        .get(pk=pk)
    )


def incident_pages(*, incident: Incident) -> QuerySet[Notification]:
    """Every page sent about the incident (the outbox rows), newest first."""
    return Notification.objects.filter(
        subject_type="incident", subject_id=incident.pk
    ).select_related("recipient")
