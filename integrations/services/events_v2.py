"""PagerDuty Events API v2: trigger, acknowledge and resolve by (integration, dedup key)."""

from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.models import Incident, TimelineKind, Via
from incidents.timeline import timeline_write
from incidents.triage import service_from_labels
from integrations.models import Alert, AlertGroup, Integration
from integrations.parsing import EventV2
from integrations.services.groups import (
    Action,
    IngestResult,
    declare_from,
    open_group,
    stop_group,
    trigger_group,
)


def _event_fields(event: EventV2) -> dict[str, Any]:
    return {
        "summary": event.summary,
        "source": event.source,
        "severity": event.severity,
        "component": event.component,
        "group": event.group,
        "event_class": event.event_class,
        "custom_details": event.custom_details,
        "links": event.links,
        "images": event.images,
        "client": event.client,
        "client_url": event.client_url,
        "starts_at": event.timestamp,
    }


def _event_timeline(incident: Incident, event: EventV2, alert: Alert, count: int) -> None:
    details = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("component", event.component),
            ("group", event.group),
            ("class", event.event_class),
        )
        if value
    )
    prefix = "Alert" if count == 1 else f"Alert again ({count} so far)"
    timeline_write(
        incident=incident,
        kind=TimelineKind.ALERT,
        message=f"{prefix} from {event.source} ({event.severity}): {event.summary}"
        + (f" [{details}]" if details else ""),
        via=Via.INTEGRATION,
        data={
            "alert_id": alert.pk,
            "event_action": "trigger",
            **{k: v for k, v in _event_fields(event).items() if k != "starts_at"},
            "timestamp": event.timestamp.isoformat() if event.timestamp else None,
        },
    )


def event_v2_process(*, integration: Integration, event: EventV2, level: str) -> IngestResult:
    """Trigger, acknowledge or resolve by (integration, dedup key), PagerDuty's way.

    The event is as `ingest_accept` decided it: a trigger has its dedup key (made up if the
    sender gave none) and `level`, the incident severity.
    """
    if event.event_action == "trigger":
        return _event_trigger(integration, event, level)
    with transaction.atomic(savepoint=False):  # the folder's savepoint isolates a failure
        group = open_group(integration, event.dedup_key)
        resolve = event.event_action == "resolve"
        if group is None or not stop_group(group, resolve=resolve):
            return IngestResult(event.dedup_key, Action.IGNORED, group.incident if group else None)
        action = Action.RESOLVED if resolve else Action.ACKNOWLEDGED
        return IngestResult(event.dedup_key, action, group.incident)


def _event_trigger(integration: Integration, event: EventV2, level: str) -> IngestResult:
    dedup_key, severity = event.dedup_key, level
    now = timezone.now()

    def fold(group: AlertGroup) -> None:
        AlertGroup.objects.filter(pk=group.pk).update(
            alert_count=F("alert_count") + 1, last_event_at=now
        )
        group.alert_count += 1

    with transaction.atomic(savepoint=False):  # the folder's savepoint isolates a failure
        group, created = trigger_group(
            integration=integration,
            dedup_key=dedup_key,
            open_incident=lambda: declare_from(
                integration,
                title=event.summary,
                severity=severity,
                dedup_key=dedup_key,
                service=service_from_labels({"component": event.component}),
            ),
            fold=fold,
        )
        incident = group.incident
        alert = Alert.objects.create(
            alert_group=group,
            incident=incident,
            received_at=now,
            updated_at=now,
            **_event_fields(event),
        )
        _event_timeline(incident, event, alert, group.alert_count)
    return IngestResult(dedup_key, Action.CREATED if created else Action.FOLDED, incident)
