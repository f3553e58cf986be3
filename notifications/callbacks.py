"""How the apps above learn about deliveries and acknowledgements (no signals).

The incident side registers, at app ready time:
- a delivery listener, called after commit with the notification whenever a row reaches
  sent, failed or cancelled;
- an ack handler per subject type, called when someone acknowledges through a link or a
  keypress on a voice call.
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from notifications.models import Notification
    from oncall.models import User

logger = logging.getLogger(__name__)

DeliveryListener = Callable[["Notification"], None]


class AckHandler(Protocol):
    def __call__(
        self, *, subject_id: int, user: "User | None", channel: str, notification: "Notification"
    ) -> None: ...


_delivery_listeners: list[DeliveryListener] = []
_ack_handlers: dict[str, AckHandler] = {}


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


def delivery_finished(notification: "Notification") -> None:
    """Tell every listener; one failing listener neither stops the others nor the caller."""
    for listener in list(_delivery_listeners):
        try:
            listener(notification)
        except Exception:
            logger.exception(
                "delivery listener %r failed for notification %s", listener, notification.pk
            )
