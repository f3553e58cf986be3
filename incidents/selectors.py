"""Reads of the incidents app, with their joins."""

from django.db.models import Prefetch, QuerySet

from incidents.models import EscalationState, Incident, Status, TimelineEvent
from notifications.models import Notification


def incidents_open() -> QuerySet[Incident]:
    return (
        Incident.objects.exclude(status=Status.RESOLVED)
        .select_related("team", "commander", "acknowledged_by")
        .order_by("-triggered_at", "-id")
    )


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


def escalation_states_due() -> QuerySet[EscalationState]:
    return EscalationState.objects.filter(status="active", next_action_at__isnull=False).order_by(
        "next_action_at"
    )
