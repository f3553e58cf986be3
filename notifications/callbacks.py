"""How the apps above learn about deliveries and acknowledgements (no signals).

The incident side registers, at app ready time:
- a delivery listener, called after commit with the notification whenever a row reaches
  sent, failed or cancelled;
- an ack handler per subject type, called when someone acknowledges through a link or a
  keypress on a voice call;
- an ack describer per subject type, which says what a link acknowledges (shown on the
  link's page before and after) and whether acknowledging it would still change anything;
- a pages listener per subject type, called inside the transaction that wrote new outbox rows
  about subjects of that type, with their ids (the incident side keeps what an incident's
  pages tell, `incidents.pagefacts`, beside the pages);
- a sent listener per subject type, called inside the transaction that moved rows about
  subjects of that type to sent, or from sent to failed (the incident side keeps its
  interruptions, `incidents.interruptions`, in step with the pages sent).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from django.db import transaction

from oncall.metrics import record_notification

if TYPE_CHECKING:
    from notifications.models import Notification
    from oncall.models import User

logger = logging.getLogger(__name__)

DeliveryListener = Callable[["Notification"], None]
PagesListener = Callable[[list[int]], None]
SentListener = Callable[[list["Notification"]], None]


class AckHandler(Protocol):
    def __call__(
        self, *, subject_id: int, user: "User | None", channel: str, notification: "Notification"
    ) -> None: ...


@dataclass(frozen=True)
class AckSubject:
    """What an acknowledge link is about, in words for the person holding it."""

    kind: str  # "Incident", "Reminder: triage overdue"
    title: str
    url: str = ""  # the subject's page in the portal
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    # False when acknowledging would change nothing (resolved, reopened since, already done).
    actionable: bool = True
    state: str = ""  # what acknowledging does, or why it would do nothing


class AckDescriber(Protocol):
    def __call__(self, *, subject_id: int, notification: "Notification") -> AckSubject: ...


_delivery_listeners: list[DeliveryListener] = []
_ack_handlers: dict[str, AckHandler] = {}
_ack_describers: dict[str, AckDescriber] = {}
_pages_listeners: dict[str, PagesListener] = {}
_sent_listeners: dict[str, SentListener] = {}


def register_delivery_listener(listener: DeliveryListener) -> DeliveryListener:
    """Call `listener(notification)` after commit whenever a row reaches a final state."""
    if listener not in _delivery_listeners:
        _delivery_listeners.append(listener)
    return listener


def unregister_delivery_listener(listener: DeliveryListener) -> None:
    if listener in _delivery_listeners:
        _delivery_listeners.remove(listener)


def register_ack_handler(subject_type: str, handler: AckHandler) -> AckHandler:
    """Acknowledge links for notifications about `subject_type` call this handler."""
    _ack_handlers[subject_type] = handler
    return handler


def unregister_ack_handler(subject_type: str) -> None:
    _ack_handlers.pop(subject_type, None)


def ack_handler_for(subject_type: str) -> AckHandler | None:
    return _ack_handlers.get(subject_type)


def register_ack_describer(subject_type: str, describer: AckDescriber) -> AckDescriber:
    """The acknowledge link's page asks `describer` what a `subject_type` link is about."""
    _ack_describers[subject_type] = describer
    return describer


def unregister_ack_describer(subject_type: str) -> None:
    _ack_describers.pop(subject_type, None)


def ack_describer_for(subject_type: str) -> AckDescriber | None:
    return _ack_describers.get(subject_type)


def ack_describe(notification: "Notification") -> AckSubject | None:
    """What the row's link acknowledges; None when no app describes its subject type."""
    if notification.subject_id is None:
        return None
    describer = _ack_describers.get(notification.subject_type)
    if describer is not None:
        return describer(subject_id=notification.subject_id, notification=notification)
    if notification.subject_type in _ack_handlers:  # acknowledgeable, described by the page
        title = notification.subject or notification.body[:200]
        return AckSubject(kind="Page", title=title, state="Acknowledging stops this page.")
    return None


def register_pages_listener(subject_type: str, listener: PagesListener) -> PagesListener:
    """New outbox rows about `subject_type` call `listener(subject_ids)` in their transaction."""
    _pages_listeners[subject_type] = listener
    return listener


def pages_written(rows: "list[Notification]") -> None:
    """Tell each subject type's listener which of its subjects got new rows (ids sorted, so
    concurrent writers take the listener's row locks in one order)."""
    subjects: dict[str, set[int]] = {}
    for row in rows:
        if row.subject_id is not None and row.subject_type in _pages_listeners:
            subjects.setdefault(row.subject_type, set()).add(row.subject_id)
    for subject_type, ids in subjects.items():
        _pages_listeners[subject_type](sorted(ids))


def register_sent_listener(subject_type: str, listener: SentListener) -> SentListener:
    """Rows about `subject_type` reaching sent, or leaving it, call `listener(rows)` in the
    transaction that moves them (each row's status says which)."""
    _sent_listeners[subject_type] = listener
    return listener


def sent_changed(rows: "list[Notification]") -> None:
    """Tell each subject type's sent listener about its rows. A listener runs in a savepoint
    and its failure is logged, not raised: the status change (a page) is never lost to it."""
    subjects: dict[str, list[Notification]] = {}
    for row in rows:
        if row.subject_id is not None and row.subject_type in _sent_listeners:
            subjects.setdefault(row.subject_type, []).append(row)
    for subject_type, found in subjects.items():
        try:
            with transaction.atomic():
                _sent_listeners[subject_type](found)
        except Exception:
            logger.exception(
                "sent listener for %r failed for notifications %s",
                subject_type,
                [row.pk for row in found],
            )


def delivery_finished(notification: "Notification") -> None:
    """Count it (oncall_notifications_total, lateness), then tell every listener; one failing
    listener neither stops the others nor the caller."""
    due = notification.due_at or notification.not_before or notification.created_at
    record_notification(
        channel=notification.channel,
        status=notification.status,
        due_at=due,
        sent_at=notification.sent_at,
    )
    for listener in list(_delivery_listeners):
        try:
            listener(notification)
        except Exception:
            logger.exception(
                "delivery listener %r failed for notification %s", listener, notification.pk
            )
