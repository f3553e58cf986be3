"""Writing the timeline: every change, page, delivery, note and update of an incident."""

from datetime import datetime
from typing import Any

from django.utils import timezone

from incidents.models import Incident, TimelineEvent, TimelineKind, Via
from oncall.models import User


def timeline_write(
    *,
    incident: Incident,
    kind: TimelineKind,
    message: str,
    actor: User | None = None,
    via: str = Via.SYSTEM,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """One timeline row; call it inside the transaction that made the change."""
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        actor=actor,
        via=via,
        at=at or timezone.now(),
        data=data or {},
        message=message,
    )
    event.full_clean(exclude=["incident", "actor"])
    event.save()
    return event
