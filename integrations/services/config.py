"""Integrations as configuration: create, change and delete the doors (keys are in keys.py)."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from integrations.models import HeartbeatMonitor, Integration, IntegrationType
from integrations.services.heartbeats import (
    HEARTBEAT_FIELDS,
    heartbeat_monitor_build,
    heartbeat_monitor_save_new,
    heartbeat_monitor_update,
    heartbeat_settings_check,
)
from integrations.services.keys import (
    integration_cache_clear_on_commit,
    integration_issue_key,
)
from oncall.models import User
from rotations.models import EscalationPolicy, Team

# What `integration_update` may change: everything create sets except the type.
INTEGRATION_CHANGEABLE = (
    "team",
    "name",
    "severity_map",
    "escalation_policy",
    "rate_limit_per_minute",
    *HEARTBEAT_FIELDS,  # a heartbeat integration's only
)


def integration_url(*, integration: Integration, key: str) -> str:
    """Where the monitoring tool sends its events."""
    if integration.type == IntegrationType.ALERTMANAGER:
        return settings.SITE_URL + reverse("integrations:alertmanager-key", args=[key])
    if integration.type == IntegrationType.HEARTBEAT:
        return settings.SITE_URL + reverse("integrations:heartbeat", args=[key])
    return settings.SITE_URL + reverse("integrations:events-v2")


KEY_PLACEHOLDER = "{key}"


def integration_url_shown(*, integration: Integration) -> str:
    """The address without its secret: `{key}` stands where the key goes (shown once)."""
    marker = "KEY-PLACEHOLDER"
    return integration_url(integration=integration, key=marker).replace(marker, KEY_PLACEHOLDER)


def _integration_clean(
    integration: Integration, heartbeat: Mapping[str, Any] | None = None
) -> None:
    """full_clean, with a name the team already uses reported on `name` (not the form); a
    new heartbeat integration's monitor is checked with it (`heartbeat`: its settings)."""
    errors: dict[str, list[str]] = {}
    try:
        integration.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
    if heartbeat is not None:
        try:
            heartbeat_monitor_build(integration=integration, settings=heartbeat)
        except ValidationError as error:
            errors.update(error.message_dict)
    taken = Integration.objects.filter(team_id=integration.team_id, name=integration.name)
    if integration.team_id and taken.exclude(pk=integration.pk).exists():
        errors.setdefault("name", []).append("The team already has an integration of this name.")
    if errors:
        raise ValidationError(errors)


def integration_create(
    *,
    team: Team,
    name: str,
    type: str,
    actor: User | None,
    severity_map: dict[str, str] | None = None,
    escalation_policy: EscalationPolicy | None = None,
    rate_limit_per_minute: int | None = None,
    interval: timedelta | None = None,
    grace: timedelta | None = None,
    severity: str | None = None,
    is_enabled: bool | None = None,
) -> tuple[Integration, str]:
    """A new integration and its secret key (only the digest is stored).

    A heartbeat integration needs `interval` and `grace` (1 minute to 7 days each) and may
    set `severity` (its late incident's level, SEV2 by default) and `is_enabled`; other types
    refuse them.
    """
    heartbeat: dict[str, Any] = {"interval": interval, "grace": grace, "severity": severity}
    heartbeat["is_enabled"] = is_enabled
    heartbeat_settings_check(type=type, settings=heartbeat, creating=True)
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
    is_heartbeat = type == IntegrationType.HEARTBEAT
    _integration_clean(integration, heartbeat if is_heartbeat else None)
    with transaction.atomic():
        integration.save()
        heartbeat_monitor_save_new(integration=integration)
    return integration, secret


def integration_update(*, integration: Integration, changes: Mapping[str, Any]) -> Integration:
    """Change any of INTEGRATION_CHANGEABLE, checked as `integration_create` checks a new one.

    `type` may be given only as it is (a tool's door cannot become another tool's); the key
    changes only through `integration_rotate_key`. The doors see the change at once in this
    process (the key cache is emptied), in others within INGEST_KEY_CACHE_SECONDS.
    """
    changes = dict(changes)
    if changes.pop("type", integration.type) != integration.type:
        raise ValidationError(
            {"type": "The type of an integration cannot change; create a new integration."}
        )
    unknown = sorted(set(changes) - set(INTEGRATION_CHANGEABLE))
    if unknown:
        raise TypeError(f"integration_update cannot change {', '.join(unknown)}")
    heartbeat = {name: changes.pop(name) for name in HEARTBEAT_FIELDS if name in changes}
    heartbeat_settings_check(type=integration.type, settings=heartbeat, creating=False)
    for name, value in changes.items():
        setattr(integration, name, value)
    with transaction.atomic():
        _integration_clean(integration)
        if changes:
            integration.save(update_fields=list(changes))
        if heartbeat:
            monitor = HeartbeatMonitor.objects.get(integration=integration)
            heartbeat_monitor_update(monitor=monitor, changes=heartbeat)
        integration_cache_clear_on_commit()
    return integration


def integration_delete(*, integration: Integration) -> None:
    """Remove the door: its key stops working; alert groups and unprocessed events go with it,
    the incidents it opened stay."""
    with transaction.atomic():
        integration.delete()
        integration_cache_clear_on_commit()
