"""Every write of the integrations: keys, Events v2 and Alertmanager ingestion, webhooks.

Ingestion runs in one transaction per message: the message is validated before it starts
(nothing half-stored), follow-ups lock the open `AlertGroup` row, and a new group is
claimed by an INSERT the partial unique constraint guards (a racing trigger that loses
folds into the winner's incident instead of opening a second one).
"""

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.urls import reverse
from django.utils import timezone

from incidents.integrations.models import (
    Alert,
    AlertGroup,
    AlertStatus,
    Integration,
    IntegrationType,
    WebhookSubscription,
)
from incidents.integrations.parsing import AmMessage, EventV2, InvalidMessage
from incidents.models import Incident, Severity, Source, Status, TimelineKind, Via
from incidents.services import incident_acknowledge, incident_declare, incident_resolve
from incidents.timeline import timeline_write
from oncall.keys import key_digest, key_issue
from oncall.models import User
from rotations.models import EscalationPolicy, Team

# A claim lost to a racing trigger is retried this often (each retry finds the winner).
CLAIM_ATTEMPTS = 5
KEY_KIND = "integration"


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


# --- Integrations and subscriptions -------------------------------------------------------


# digest → (monotonic expiry, integration or None): the doors' per-process key lookup cache.
_KEY_CACHE: dict[str, tuple[float, Integration | None]] = {}
_KEY_CACHE_MAX = 1000


def integration_by_key(*, key: str, cached: bool = False) -> Integration | None:
    """The integration a secret key opens (matched by digest), or None.

    `cached`: remember the answer in this process for INGEST_KEY_CACHE_SECONDS (the doors
    ask for every event). Saving or deleting an integration empties this process's cache;
    other processes see a rotated key or a changed integration within that many seconds.
    """
    digest = key_digest(key)
    ttl = float(settings.INGEST_KEY_CACHE_SECONDS)
    if cached and ttl > 0:
        hit = _KEY_CACHE.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    integration = (
        Integration.objects.select_related("team", "escalation_policy")
        .filter(key_digest=digest)
        .first()
    )
    if cached and ttl > 0:
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        _KEY_CACHE[digest] = (time.monotonic() + ttl, integration)
    return integration


def integration_key_cache_clear(**kwargs: Any) -> None:
    """Forget every cached key lookup (connected to Integration's post_save/post_delete)."""
    _KEY_CACHE.clear()


post_save.connect(integration_key_cache_clear, sender=Integration, dispatch_uid="ingest_key_cache")
post_delete.connect(
    integration_key_cache_clear, sender=Integration, dispatch_uid="ingest_key_cache_del"
)


def integration_issue_key(*, integration: Integration) -> str:
    """Give an (unsaved or saved) integration a new key; returns the secret, shown once."""
    issued = key_issue(kind=KEY_KIND)
    integration.key_prefix, integration.key_digest = issued.prefix, issued.digest
    return issued.secret


def integration_url(*, integration: Integration, key: str) -> str:
    """Where the monitoring tool sends its events."""
    if integration.type == IntegrationType.ALERTMANAGER:
        return settings.SITE_URL + reverse("integrations:alertmanager-key", args=[key])
    return settings.SITE_URL + reverse("integrations:events-v2")


def integration_create(
    *,
    team: Team,
    name: str,
    type: str,
    actor: User | None,
    severity_map: dict[str, str] | None = None,
    escalation_policy: EscalationPolicy | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[Integration, str]:
    """A new integration and its secret key (only the digest is stored)."""
    integration = Integration(
        team=team,
        name=name,
        type=type,
        escalation_policy=escalation_policy,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=actor,
    )
    if severity_map is not None:
        integration.severity_map = severity_map
    secret = integration_issue_key(integration=integration)
    integration.full_clean()
    integration.save()
    return integration, secret


def webhook_subscription_create(
    *, url: str, event_types: list[str], actor: User | None, team: Team | None = None
) -> WebhookSubscription:
    subscription = WebhookSubscription(
        url=url, event_types=event_types, team=team, created_by=actor
    )
    subscription.full_clean()
    subscription.save()
    return subscription


# --- The dedup core -----------------------------------------------------------------------


def _open_group(integration: Integration, dedup_key: str) -> AlertGroup | None:
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


def _trigger(
    *,
    integration: Integration,
    dedup_key: str,
    open_incident: Callable[[], Incident],
    fold: Callable[[AlertGroup], None],
) -> tuple[AlertGroup, bool]:
    """Fold into the open group, or open an incident and claim the key. Inside a transaction."""
    for _ in range(CLAIM_ATTEMPTS):
        group = _open_group(integration, dedup_key)
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


def _declare(integration: Integration, *, title: str, severity: str, dedup_key: str) -> Incident:
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
    )


def _stop(group: AlertGroup, *, resolve: bool, note: str) -> bool:
    """Acknowledge or resolve the group's incident; False when there was nothing to do."""
    incident = group.incident
    if resolve:
        group.is_open = False
        group.last_event_at = timezone.now()
        group.save(update_fields=["is_open", "last_event_at"])
        if incident.status != Status.RESOLVED:
            incident_resolve(incident=incident, actor=None, via=Via.INTEGRATION, note=note)
        return True
    if incident.status != Status.TRIGGERED:
        return False  # already acknowledged: a second acknowledge changes nothing
    incident_acknowledge(incident=incident, actor=None, via=Via.INTEGRATION)
    return True


# --- PagerDuty Events API v2 --------------------------------------------------------------


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


def event_v2_process(*, integration: Integration, event: EventV2, level: str = "") -> IngestResult:
    """Trigger, acknowledge or resolve by (integration, dedup key), PagerDuty's way.

    `level`: the incident severity decided when the event was accepted (default: map the
    event's severity through the integration's map now).
    """
    if event.event_action == "trigger":
        return _event_trigger(integration, event, level)
    with transaction.atomic():
        group = _open_group(integration, event.dedup_key)
        resolve = event.event_action == "resolve"
        if group is None or not _stop(group, resolve=resolve, note="resolved by the integration"):
            return IngestResult(event.dedup_key, Action.IGNORED, group.incident if group else None)
        action = Action.RESOLVED if resolve else Action.ACKNOWLEDGED
        return IngestResult(event.dedup_key, action, group.incident)


def _event_trigger(integration: Integration, event: EventV2, level: str = "") -> IngestResult:
    dedup_key = event.dedup_key or uuid.uuid4().hex
    severity = level or integration.severity_map[event.severity]
    now = timezone.now()

    def fold(group: AlertGroup) -> None:
        AlertGroup.objects.filter(pk=group.pk).update(
            alert_count=F("alert_count") + 1, last_event_at=now
        )
        group.alert_count += 1

    with transaction.atomic():
        group, created = _trigger(
            integration=integration,
            dedup_key=dedup_key,
            open_incident=lambda: _declare(
                integration, title=event.summary, severity=severity, dedup_key=dedup_key
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


# --- Alertmanager -------------------------------------------------------------------------


def alertmanager_severity(*, integration: Integration, message: AmMessage) -> str:
    """The highest level among the firing alerts' labels.severity (InvalidMessage if unknown).

    An alert without a severity label counts as "warning".
    """
    mapping = integration.severity_map
    alerts = [a for a in message.alerts if a.status == AlertStatus.FIRING] or message.alerts
    levels, errors = [], []
    for index, alert in enumerate(message.alerts):
        if alert not in alerts:
            continue
        source = alert.labels.get("severity") or message.common_labels.get("severity") or "warning"
        if source not in mapping:
            known = ", ".join(sorted(mapping))
            errors.append(
                f"'alerts[{index}].labels.severity' {source!r} is not in the integration's "
                f"severity map ({known})"
            )
        else:
            levels.append(mapping[source])
    if errors:
        raise InvalidMessage("Alertmanager message is invalid", errors)
    return min(levels, default=Severity.SEV3)


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
    *, integration: Integration, message: AmMessage, level: str = ""
) -> IngestResult:
    """One incident per groupKey: firing opens or updates it, resolved resolves it.

    `level`: the severity decided when the message was accepted (default: decide it now).
    """
    dedup_key = message.dedup_key
    if message.status == AlertStatus.RESOLVED:
        with transaction.atomic():
            group = _open_group(integration, dedup_key)
            if group is None:
                return IngestResult(dedup_key, Action.IGNORED, None)
            firing, resolved = _am_upsert_alerts(group, message)
            _am_record(group, message, firing, resolved)
            _stop(group, resolve=True, note="Alertmanager sent the group resolved")
            return IngestResult(dedup_key, Action.RESOLVED, group.incident)
    severity = level or alertmanager_severity(integration=integration, message=message)
    with transaction.atomic():
        group, created = _trigger(
            integration=integration,
            dedup_key=dedup_key,
            open_incident=lambda: _declare(
                integration, title=_am_title(message), severity=severity, dedup_key=dedup_key
            ),
            fold=lambda group: None,
        )
        firing, resolved = _am_upsert_alerts(group, message)
        _am_record(group, message, firing, resolved)
    return IngestResult(dedup_key, Action.CREATED if created else Action.UPDATED, group.incident)
