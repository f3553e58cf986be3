"""Prometheus Alertmanager: one incident per groupKey, one alert row per fingerprint."""

from django.db import transaction
from django.utils import timezone

from incidents.models import TimelineKind, Via
from incidents.timeline import timeline_write
from incidents.triage import service_from_labels
from integrations.models import Alert, AlertGroup, AlertStatus, Integration
from integrations.parsing import AmMessage
from integrations.services.groups import (
    Action,
    IngestResult,
    declare_from,
    open_group,
    stop_group,
    trigger_group,
)


def _am_title(message: AmMessage) -> str:
    first = message.alerts[0]
    name = message.common_labels.get("alertname") or first.labels.get("alertname") or "Alert"
    summary = (
        message.common_annotations.get("summary")
        or first.annotations.get("summary")
        or message.common_annotations.get("description")
        or ", ".join(f"{k}={v}" for k, v in sorted(message.group_labels.items()))
    )
    return f"[{name}] {summary}" if summary else name


def _am_upsert_alerts(group: AlertGroup, message: AmMessage) -> tuple[int, int]:
    """One Alert row per fingerprint, updated on re-send; returns (firing, resolved) counts."""
    now = timezone.now()
    existing = {
        a.fingerprint: a
        for a in group.alerts.filter(
            fingerprint__in=[alert.fingerprint for alert in message.alerts]
        )
    }
    new: list[Alert] = []
    changed: list[Alert] = []
    for sent in message.alerts:
        row = existing.get(sent.fingerprint) or Alert(
            alert_group=group,
            incident=group.incident,
            fingerprint=sent.fingerprint,
            received_at=now,
        )
        row.status = sent.status
        row.labels, row.annotations = sent.labels, sent.annotations
        row.summary = (sent.annotations.get("summary") or sent.labels.get("alertname", ""))[:1024]
        row.severity = sent.labels.get("severity", "")[:50]
        row.source = sent.labels.get("instance", "")[:255]
        row.starts_at, row.ends_at = sent.starts_at, sent.ends_at
        row.generator_url = sent.generator_url
        row.updated_at = now
        (changed if row.pk else new).append(row)
    Alert.objects.bulk_create(new)
    fields = ["status", "labels", "annotations", "summary", "severity", "source", "starts_at"]
    Alert.objects.bulk_update(changed, [*fields, "ends_at", "generator_url", "updated_at"])
    firing = sum(1 for a in message.alerts if a.status == AlertStatus.FIRING)
    return firing, len(message.alerts) - firing


def _am_record(group: AlertGroup, message: AmMessage, firing: int, resolved: int) -> None:
    group.truncated_alerts = message.truncated_alerts
    group.alert_count = group.alerts.count()
    group.last_event_at = timezone.now()
    group.save(update_fields=["truncated_alerts", "alert_count", "last_event_at"])
    truncated = f"; {message.truncated_alerts} more left out" if message.truncated_alerts else ""
    timeline_write(
        incident=group.incident,
        kind=TimelineKind.ALERT,
        message=f"Alertmanager ({message.receiver or 'webhook'}): {message.status}, "
        f"{firing} firing, {resolved} resolved{truncated}",
        via=Via.INTEGRATION,
        data={
            "group_key": message.group_key,
            "status": message.status,
            "truncated_alerts": message.truncated_alerts,
            "external_url": message.external_url,
            "group_labels": message.group_labels,
            "common_labels": message.common_labels,
            "common_annotations": message.common_annotations,
            "fingerprints": [a.fingerprint for a in message.alerts],
        },
    )


def alertmanager_process(
    *, integration: Integration, message: AmMessage, level: str
) -> IngestResult:
    """One incident per groupKey: firing opens or updates it, resolved resolves it.

    `level`: the severity `ingest_accept` decided (a firing message opens at it).
    """
    dedup_key = message.dedup_key
    if message.status == AlertStatus.RESOLVED:
        with transaction.atomic(savepoint=False):  # the folder's savepoint isolates a failure
            group = open_group(integration, dedup_key)
            if group is None:
                return IngestResult(dedup_key, Action.IGNORED, None)
            firing, resolved = _am_upsert_alerts(group, message)
            _am_record(group, message, firing, resolved)
            stop_group(group, resolve=True)
            return IngestResult(dedup_key, Action.RESOLVED, group.incident)
    severity = level
    with transaction.atomic(savepoint=False):  # the folder's savepoint isolates a failure
        group, created = trigger_group(
            integration=integration,
            dedup_key=dedup_key,
            open_incident=lambda: declare_from(
                integration,
                title=_am_title(message),
                severity=severity,
                dedup_key=dedup_key,
                service=service_from_labels({**message.common_labels, **message.alerts[0].labels}),
            ),
            fold=lambda group: None,
        )
        firing, resolved = _am_upsert_alerts(group, message)
        _am_record(group, message, firing, resolved)
    return IngestResult(dedup_key, Action.CREATED if created else Action.UPDATED, group.incident)
