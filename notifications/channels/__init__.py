"""Channel backends behind one interface; settings.NOTIFY_BACKENDS picks one per channel."""

from notifications.channels.base import (
    Backend,
    OutgoingMessage,
    PermanentError,
    SendResult,
    TransientError,
    backend_for,
)

__all__ = [
    "Backend",
    "OutgoingMessage",
    "PermanentError",
    "SendResult",
    "TransientError",
    "backend_for",
]
