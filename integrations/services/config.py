"""Integrations as configuration: create, change and delete the doors (keys are in keys.py)."""

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from integrations.models import Integration, IntegrationType
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
)


def integration_url(*, integration: Integration, key: str) -> str:
    """Where the monitoring tool sends its events."""
    if integration.type == IntegrationType.ALERTMANAGER:
        return settings.SITE_URL + reverse("integrations:alertmanager-key", args=[key])
    return settings.SITE_URL + reverse("integrations:events-v2")


def _integration_clean(integration: Integration) -> None:
    """full_clean, with a name the team already uses reported on `name` (not the form)."""
    errors: dict[str, list[str]] = {}
    try:
        integration.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
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
    _integration_clean(integration)
    integration.save()
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
    for name, value in changes.items():
        setattr(integration, name, value)
    with transaction.atomic():
        _integration_clean(integration)
        integration.save(update_fields=list(changes))
        integration_cache_clear_on_commit()
    return integration


def integration_delete(*, integration: Integration) -> None:
    """Remove the door: its key stops working; alert groups and unprocessed events go with it,
    the incidents it opened stay."""
    with transaction.atomic():
        integration.delete()
        integration_cache_clear_on_commit()
