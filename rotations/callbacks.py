"""How the apps above hear about overrides made through the services (no signals).

The notifications app registers, at app ready time, a listener that tells the colleague an
override concerns. Listeners are called after commit; one failing listener neither stops
the others nor the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oncall.models import User
    from rotations.models import Override

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
