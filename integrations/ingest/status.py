"""The one place an `InboundEvent` changes status, and the map of what may follow what.

    accepted ──► processed
        │  └──► retrying ──► processed
        │          │  ▲ └──► failed ──► retrying (the admin's retry)
        │          └──┘ (failed again, or retried now)
        └──► failed (INGEST_MAX_ATTEMPTS = 1)

Each status sets the fields that go with it: processed stamps `processed_at` and the
`action`; retrying records the error and `next_attempt_at`; failed stamps `failed_at`.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F

from integrations.models import InboundEvent, InboundStatus
from oncall.metrics import record_inbound

INBOUND_TRANSITIONS: dict[str, frozenset[str]] = {
    InboundStatus.ACCEPTED: frozenset(
        {InboundStatus.PROCESSED, InboundStatus.RETRYING, InboundStatus.FAILED}
    ),
    InboundStatus.RETRYING: frozenset(
        {InboundStatus.PROCESSED, InboundStatus.RETRYING, InboundStatus.FAILED}
    ),
    InboundStatus.FAILED: frozenset({InboundStatus.RETRYING}),
    InboundStatus.PROCESSED: frozenset(),
}


class InboundTransitionError(Exception):
    """A status change the map does not allow (a processed event is never folded again)."""


def _sources(to: str) -> list[str]:
    return [source for source, targets in INBOUND_TRANSITIONS.items() if to in targets]


def _fields(
    to: str, *, at: datetime, action: str, error: str, next_attempt_at: datetime | None
) -> dict[str, Any]:
    match to:
        case InboundStatus.PROCESSED:
            return {"processed_at": at, "action": action, "next_attempt_at": None}
        case InboundStatus.RETRYING:
            return {"next_attempt_at": next_attempt_at, "failed_at": None, "last_error": error}
        case InboundStatus.FAILED:
            return {"failed_at": at, "next_attempt_at": None, "last_error": error}
    raise InboundTransitionError(f"no event moves to {to!r}")


def inbound_transition(
    event: InboundEvent,
    *,
    to: InboundStatus,
    at: datetime,
    action: str = "",
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    attempted: bool = True,
) -> None:
    """Move one (locked) event to `to` and save what changed.

    `attempted`: the change ends a fold (counts an attempt); the admin's retry is not one.
    `error`: for retrying or failed, the failure (None keeps the last one, as a retry does).
    """
    if to not in INBOUND_TRANSITIONS[event.status]:
        raise InboundTransitionError(f"event {event.pk}: {event.status} → {to} is not allowed")
    fields = _fields(to, at=at, action=action, error=error or "", next_attempt_at=next_attempt_at)
    if error is None:
        fields.pop("last_error", None)
    for name, value in fields.items():
        setattr(event, name, value)
    event.status = to
    changed = ["status", *fields]
    if attempted:
        event.attempts += 1
        changed.append("attempts")
    event.save(update_fields=changed)
    if to == InboundStatus.FAILED:
        integration = str(event.integration_id)
        transaction.on_commit(lambda: record_inbound(integration=integration, outcome="failed"))


def inbound_transition_many(
    ids: Iterable[int],
    *,
    to: InboundStatus,
    at: datetime,
    action: str = "",
    next_attempt_at: datetime | None = None,
    attempted: bool = True,
) -> int:
    """Move many events at once (one UPDATE); rows whose status may not move are left.

    Returns how many moved. Used where a batch of events ends alike (a batch folded, the
    admin's retry); errors are per event and go through `inbound_transition`.
    """
    fields = _fields(to, at=at, action=action, error="", next_attempt_at=next_attempt_at)
    fields.pop("last_error", None)
    if attempted:
        fields["attempts"] = F("attempts") + 1
    return InboundEvent.objects.filter(pk__in=list(ids), status__in=_sources(to)).update(
        status=to, **fields
    )
