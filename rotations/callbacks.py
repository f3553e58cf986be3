"""How the apps above hear about overrides made through the services (no signals).

The notifications app registers, at app ready time, a listener that tells the colleague an
override concerns, and one that tells the other person of a request (sent, answered). Listeners are called after commit; one failing listener neither stops
the others nor the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oncall.models import User
    from rotations.models import Override, OverrideRequest

logger = logging.getLogger(__name__)

OverrideListener = Callable[[Sequence["Override"], "User"], None]

_override_listeners: list[OverrideListener] = []


def register_override_listener(listener: OverrideListener) -> OverrideListener:
    """Call `listener(overrides, actor)` after commit whenever a cover or a swap is made."""
    if listener not in _override_listeners:
        _override_listeners.append(listener)
    return listener


def unregister_override_listener(listener: OverrideListener) -> None:
    if listener in _override_listeners:
        _override_listeners.remove(listener)


def overrides_made(overrides: Sequence[Override], actor: User) -> None:
    for listener in list(_override_listeners):
        try:
            listener(overrides, actor)
        except Exception:
            logger.exception(
                "override listener %r failed for overrides %s",
                listener,
                [o.pk for o in overrides],
            )


OverrideRequestListener = Callable[["OverrideRequest", "User"], None]

_request_listeners: list[OverrideRequestListener] = []


def register_override_request_listener(
    listener: OverrideRequestListener,
) -> OverrideRequestListener:
    """Call `listener(request, actor)` after commit when a request is sent or answered."""
    if listener not in _request_listeners:
        _request_listeners.append(listener)
    return listener


def override_request_changed(request: OverrideRequest, actor: User) -> None:
    for listener in list(_request_listeners):
        try:
            listener(request, actor)
        except Exception:
            logger.exception("override request listener %r failed for %s", listener, request.pk)
