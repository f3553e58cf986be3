"""Reads of the integrations app."""

from dataclasses import dataclass

from django.db.models import QuerySet

from incidents.models import Incident
from integrations.models import AlertGroup, InboundEvent, InboundStatus, Integration

LATEST_FAILURES = 5


@dataclass(frozen=True)
class FailedEvents:
    """An integration's events given up after their retries: how many, the latest first."""

    count: int
    latest: list[InboundEvent]


def integration_failed_events(
    *, integration: Integration, latest: int = LATEST_FAILURES
) -> FailedEvents:
    """Two queries: the count, and the latest `latest` failed events with their errors."""
    failed = InboundEvent.objects.filter(integration=integration, status=InboundStatus.FAILED)
    rows = list(
        failed.order_by("-failed_at", "-id").only(
            "id", "dedup_key", "attempts", "last_error", "failed_at", "received_at"
        )[:latest]
    )
    return FailedEvents(count=failed.count() if len(rows) == latest else len(rows), latest=rows)


def team_integrations(*, team_id: int) -> QuerySet[Integration]:
    """A team's integrations with their heartbeat monitors (one query)."""
    return (
        Integration.objects.filter(team_id=team_id)
        .select_related("heartbeat")
        .order_by("name", "id")
    )


def integration_page(*, integration_id: int) -> Integration | None:
    """One integration for its page: its team, policy and heartbeat monitor."""
    return (
        Integration.objects.select_related("team", "escalation_policy", "heartbeat")
        .filter(pk=integration_id)
        .first()
    )


def integration_open_incidents(*, integration_id: int, limit: int = 5) -> list[Incident]:
    """The incidents the integration's open alert groups hold (a late heartbeat's one)."""
    groups = AlertGroup.objects.filter(integration_id=integration_id, is_open=True)
    return list(
        Incident.objects.filter(alert_group__in=groups)
        .order_by("-id")
        .only("id", "title", "status", "severity")[:limit]
    )
