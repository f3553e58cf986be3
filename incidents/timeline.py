"""Writing the timeline: every change, page, delivery, note and update of an incident.

One rule for the words: a row's `message` says what happened and never who did it or how;
`actor` and `via` say that, and whatever shows the timeline adds them once, through
`timeline_attribution` ("Acknowledged — Bob via dashboard").
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from incidents.models import Incident, TimelineEvent, TimelineKind, Via
from oncall.models import User

# Called with each saved row inside the transaction that wrote it (an app above, such as
# the integrations' outgoing webhooks, registers one at ready time; no signals).
TimelineListener = Callable[[TimelineEvent], object]
_listeners: list[TimelineListener] = []


def register_timeline_listener(listener: TimelineListener) -> TimelineListener:
    """Call `listener(event)` for every timeline row written, in the writer's transaction."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def _tell_listeners(event: TimelineEvent) -> None:
    for listener in _listeners:
        listener(event)


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
    """One timeline row; call it inside the transaction that made the change.

    The registered listeners hear of it in that transaction (outgoing webhooks write their
    outbox rows there).
    """
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
    _tell_listeners(event)
    return event


def timeline_write_many(events: list[TimelineEvent]) -> list[TimelineEvent]:
    """Unsaved timeline rows (built like `timeline_write` builds one) in one INSERT, in
    order; call it inside the transaction that made the changes."""
    for event in events:
        event.full_clean(exclude=["incident", "actor"])
    written = TimelineEvent.objects.bulk_create(events)
    for event in written:
        _tell_listeners(event)
    return written


def timeline_attribution(event: TimelineEvent) -> str:
    """Who made the change and how ("Bob via dashboard"); see `TimelineEvent.attribution`."""
    return event.attribution
