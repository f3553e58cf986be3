"""Changing an incident's details (title, description, ticket, bridge) in one call."""

from typing import Any

from django.db import transaction

from incidents.models import Incident, TimelineKind, Via
from incidents.services.lifecycle import locked
from incidents.services.steering import incident_set_commander, incident_set_severity
from incidents.timeline import timeline_write
from oncall.models import User

DETAILS = ("title", "description", "ticket", "bridge")
_UNSET: Any = object()


def incident_update(
    *,
    incident: Incident,
    actor: User | None,
    details: dict[str, str],
    severity: str | None = None,
    commander: User | None = _UNSET,
    via: str = Via.API,
) -> Incident:
    """Change title/description/ticket/bridge, and severity or commander through theirs."""
    with transaction.atomic():
        incident = locked(incident)
        changed = {
            name: {"from": getattr(incident, name), "to": value}
            for name, value in details.items()
            if name in DETAILS and getattr(incident, name) != value
        }
        if changed:
            for name, change in changed.items():
                setattr(incident, name, change["to"])
            incident.full_clean()
            incident.save(update_fields=list(changed))
            timeline_write(
                incident=incident,
                kind=TimelineKind.DETAILS,
                message=f"Details changed: {', '.join(changed)}",
                actor=actor,
                via=via,
                data={"changed": changed},
            )
        if severity is not None:
            incident = incident_set_severity(
                incident=incident, severity=severity, actor=actor, via=via
            )
        if commander is not _UNSET and commander != incident.commander:
            incident = incident_set_commander(
                incident=incident, commander=commander, actor=actor, via=via
            )
    return incident
