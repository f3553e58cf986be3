"""Heartbeat monitors: settings, pings, and the sweep that opens an incident when one is late.

A ping and the sweep both lock the monitor's row, so they see each other's writes in order;
the sweep claims due monitors with SKIP LOCKED, so two sweeps (two beats, a slow one and the
next) act once. The late incident is opened through the alert-group core every integration
folds through (`groups.trigger_group`, one open group per (integration, dedup key)), with the
monitor's own key: however often it goes late, one incident is open at a time.
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Severity, Status, TimelineKind, Via
from incidents.services import incident_resolve
from incidents.timeline import timeline_write
from integrations.models import (
    Alert,
    AlertGroup,
    AlertStatus,
    HeartbeatMonitor,
    HeartbeatState,
    Integration,
    IntegrationType,
)
from integrations.services.groups import declare_from, open_group, trigger_group

logger = logging.getLogger(__name__)

# What a heartbeat integration's create and update take beyond an integration's own fields.
HEARTBEAT_FIELDS = ("interval", "grace", "severity", "is_enabled")
# Monitors one sweep transaction claims; the sweep goes on until none is due.
SWEEP_BATCH = 50


def human_duration(value: timedelta) -> str:
    """`1 h 30 min` for the timeline and pages (seconds only when there are some)."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "0 s"


def heartbeat_settings_check(*, type: str, settings: Mapping[str, Any], creating: bool) -> None:
    """Refuse heartbeat settings on another type, and a new heartbeat without its interval
    and grace (ValidationError naming each field)."""
    given = [name for name in HEARTBEAT_FIELDS if settings.get(name) is not None]
    if type != IntegrationType.HEARTBEAT:
        if given:
            raise ValidationError(
                {name: "Only a heartbeat integration has this setting." for name in given}
            )
        return
    if creating:
        missing = [name for name in ("interval", "grace") if settings.get(name) is None]
        if missing:
            raise ValidationError(
                {name: "A heartbeat integration needs this duration." for name in missing}
            )


def heartbeat_monitor_build(*, integration: Integration, settings: Mapping[str, Any]) -> None:
    """The new heartbeat integration's monitor, checked (saved with the integration)."""
    monitor = HeartbeatMonitor(
        integration=integration,
        interval=settings["interval"],
        grace=settings["grace"],
        severity=settings.get("severity") or Severity.SEV2,
        is_enabled=settings.get("is_enabled", True) is not False,
    )
    monitor.full_clean(exclude=["integration"])
    integration._heartbeat_new = monitor  # type: ignore[attr-defined]


def heartbeat_monitor_save_new(*, integration: Integration) -> None:
    monitor: HeartbeatMonitor | None = getattr(integration, "_heartbeat_new", None)
    if monitor is not None:
        monitor.integration = integration
        monitor.save()
        del integration._heartbeat_new  # type: ignore[attr-defined]


def heartbeat_monitor_update(*, monitor: HeartbeatMonitor, changes: Mapping[str, Any]) -> None:
    """Change the settings; the due time follows at once. Re-enabling a healthy monitor makes
    it inactive: it is armed again by its next ping, not by one from before it was off."""
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        return
    with transaction.atomic():
        monitor = HeartbeatMonitor.objects.select_for_update().get(pk=monitor.pk)
        re_enabled = changes.get("is_enabled") is True and not monitor.is_enabled
        for name, value in changes.items():
            setattr(monitor, name, value)
        if re_enabled and monitor.state == HeartbeatState.HEALTHY:
            monitor.state = HeartbeatState.INACTIVE
        monitor.full_clean(exclude=["integration"])
        monitor.arm()
        monitor.save(update_fields=[*changes, "state", "next_due_at"])


def heartbeat_monitor_save(*, integration: Integration, settings: Mapping[str, Any]) -> None:
    """The admin's door: create the saved heartbeat integration's monitor, or change it."""
    monitor = HeartbeatMonitor.objects.filter(integration=integration).first()
    if monitor is None:
        heartbeat_monitor_build(integration=integration, settings=settings)
        heartbeat_monitor_save_new(integration=integration)
    else:
        changes = {k: v for k, v in settings.items() if getattr(monitor, k) != v}
        heartbeat_monitor_update(monitor=monitor, changes=changes)


def heartbeat_ping(*, integration: Integration, at: datetime | None = None) -> HeartbeatMonitor:
    """Record a ping: the monitor is healthy and due again after interval + grace; an open
    late incident is resolved, its timeline saying the heartbeat came back."""
    now = at or timezone.now()
    with transaction.atomic():
        monitor = HeartbeatMonitor.objects.select_for_update().get(integration=integration)
        was = monitor.state
        monitor.last_ping_at = now
        if monitor.is_enabled:
            monitor.state = HeartbeatState.HEALTHY
            monitor.late_since = None
        monitor.arm()
        monitor.save(update_fields=["last_ping_at", "state", "late_since", "next_due_at"])
        group = open_group(integration, monitor.dedup_key)
        if group is not None:
            _resolve_late(group, now, was_late=was == HeartbeatState.LATE)
    return monitor


def _resolve_late(group: AlertGroup, now: datetime, *, was_late: bool) -> None:
    group.is_open = False
    group.last_event_at = now
    group.save(update_fields=["is_open", "last_event_at"])
    Alert.objects.filter(alert_group=group, status=AlertStatus.FIRING).update(
        status=AlertStatus.RESOLVED, ends_at=now, updated_at=now
    )
    incident = group.incident
    if incident.status != Status.RESOLVED:
        when = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        note = f"the heartbeat came back (a ping at {when})"
        if not was_late:
            note += "; the monitor was not late any more"
        incident_resolve(incident=incident, actor=None, via=Via.INTEGRATION, note=note)


def heartbeat_sweep(*, now: datetime | None = None) -> int:
    """Open an incident for each enabled monitor whose ping is overdue; how many went late."""
    now = now or timezone.now()
    late = 0
    while True:
        batch_late = 0
        with transaction.atomic():
            due = list(
                HeartbeatMonitor.objects.select_for_update(of=("self",), skip_locked=True)
                .select_related("integration__team", "integration__escalation_policy")
                .filter(next_due_at__lte=now, is_enabled=True)
                .order_by("next_due_at")[:SWEEP_BATCH]
            )
            for monitor in due:
                try:
                    with transaction.atomic():
                        _go_late(monitor, now)
                    batch_late += 1
                except Exception:
                    # Left due: the next sweep tries again; the others of the batch go on.
                    logger.exception("heartbeat %s: could not open its incident", monitor.pk)
        late += batch_late
        if len(due) < SWEEP_BATCH or batch_late == 0:
            return late


def _go_late(monitor: HeartbeatMonitor, now: datetime) -> Incident:
    integration = monitor.integration
    due_at = monitor.next_due_at
    assert due_at is not None
    assert monitor.last_ping_at is not None
    monitor.state, monitor.late_since, monitor.next_due_at = HeartbeatState.LATE, due_at, None
    monitor.save(update_fields=["state", "late_since", "next_due_at"])
    last = monitor.last_ping_at.astimezone(UTC)
    summary = f"Heartbeat {integration.name}: no ping since {last:%Y-%m-%d %H:%M} UTC"
    why = (
        f"No heartbeat from {integration.name} since {last:%Y-%m-%d %H:%M:%S} UTC: a ping "
        f"is expected every {human_duration(monitor.interval)}, and "
        f"{human_duration(monitor.grace)} of grace has passed too."
    )
    group, _ = trigger_group(
        integration=integration,
        dedup_key=monitor.dedup_key,
        open_incident=lambda: declare_from(
            integration, title=summary, severity=monitor.severity, dedup_key=monitor.dedup_key
        ),
        fold=lambda group: None,  # still open from an earlier silence: said again below
    )
    Alert.objects.create(
        alert_group=group,
        incident=group.incident,
        summary=summary,
        source="heartbeat",
        severity=monitor.severity,
        custom_details={
            "last_ping_at": monitor.last_ping_at.isoformat(),
            "interval_seconds": int(monitor.interval.total_seconds()),
            "grace_seconds": int(monitor.grace.total_seconds()),
        },
        starts_at=due_at,
        received_at=now,
        updated_at=now,
    )
    timeline_write(
        incident=group.incident,
        kind=TimelineKind.ALERT,
        message=why,
        via=Via.INTEGRATION,
        data={"heartbeat": integration.pk, "last_ping_at": monitor.last_ping_at.isoformat()},
    )
    return group.incident
