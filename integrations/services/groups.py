"""The dedup core both wire formats fold through: one open alert group per (integration, key).

Ingestion runs in one transaction per message: the message is validated before it starts
(nothing half-stored), follow-ups lock the open `AlertGroup` row, and a new group is
claimed by an INSERT the partial unique constraint guards (a racing trigger that loses
folds into the winner's incident instead of opening a second one).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.models import Incident, Source, Status, Via
from incidents.services import incident_acknowledge, incident_declare, incident_resolve
from integrations.models import AlertGroup, Integration

# A claim lost to a racing trigger is retried this often (each retry finds the winner).
CLAIM_ATTEMPTS = 5


class Action:
    CREATED = "created"
    FOLDED = "folded"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    UPDATED = "updated"
    IGNORED = "ignored"


@dataclass(frozen=True)
class IngestResult:
    dedup_key: str
    action: str
    incident: Incident | None


def open_group(integration: Integration, dedup_key: str) -> AlertGroup | None:
    """The open group for the key, locked; one whose incident was resolved elsewhere closes."""
    group = (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(integration=integration, dedup_key=dedup_key, is_open=True)
        .first()
    )
    if group is not None and group.incident.status == Status.RESOLVED:
        group.is_open = False
        group.save(update_fields=["is_open"])
        return None
    return group


def trigger_group(
    *,
    integration: Integration,
    dedup_key: str,
    open_incident: Callable[[], Incident],
    fold: Callable[[AlertGroup], None],
) -> tuple[AlertGroup, bool]:
    """Fold into the open group, or open an incident and claim the key. Inside a transaction."""
    for _ in range(CLAIM_ATTEMPTS):
        group = open_group(integration, dedup_key)
        if group is not None:
            fold(group)
            return group, False
        try:
            with transaction.atomic():
                incident = open_incident()
                group = AlertGroup.objects.create(
                    integration=integration,
                    dedup_key=dedup_key,
                    incident=incident,
                    last_event_at=timezone.now(),
                )
            return group, True
        except IntegrityError:
            continue  # another trigger claimed the key first: fold into its incident
    raise RuntimeError(f"could not claim or find the open group for {dedup_key!r}")


def declare_from(
    integration: Integration, *, title: str, severity: str, dedup_key: str, service: str = ""
) -> Incident:
    """The incident an integration's first trigger of a key opens (its service from the
    alert's labels: incidents.triage.service_from_labels)."""
    return incident_declare(
        title=title[:300],
        description=title if len(title) > 300 else "",
        actor=None,
        severity=severity,
        team=integration.team,
        escalation_policy=integration.escalation_policy,
        source=Source.INTEGRATION,
        via=Via.INTEGRATION,
        dedup_key=dedup_key,
        service=service,
    )


def stop_group(group: AlertGroup, *, resolve: bool) -> bool:
    """Acknowledge or resolve the group's incident; False when there was nothing to do.

    No note: the timeline's attribution already says "via integration", and the alert line
    before it says which tool and what it sent.
    """
    incident = group.incident
    if resolve:
        group.is_open = False
        group.last_event_at = timezone.now()
        group.save(update_fields=["is_open", "last_event_at"])
        if incident.status != Status.RESOLVED:
            incident_resolve(incident=incident, actor=None, via=Via.INTEGRATION)
        return True
    if incident.status != Status.TRIGGERED:
        return False  # already acknowledged: a second acknowledge changes nothing
    incident_acknowledge(incident=incident, actor=None, via=Via.INTEGRATION)
    return True
