"""The words of the message telling a colleague about a cover or a swap that concerns them.

The notifications app sends it through the outbox (rotations cannot import it); this module
only decides who is told and what they read, with times in the reader's own timezone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.urls import reverse

from oncall.models import User
from rotations.models import Override


@dataclass(frozen=True)
class OverrideNotice:
    recipient: User
    override: Override  # the first override of the change (a swap has two)
    subject: str
    body: str


def _when(at: datetime, reader: User) -> str:
    local = at.astimezone(reader.tzinfo)
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def _line(override: Override, reader: User) -> str:
    replaced = f" in place of {override.replaces.name}" if override.replaces else ""
    return (
        f"- {override.user.name} is on call{replaced} for {override.rotation.label} "
        f"from {_when(override.start, reader)} until {_when(override.end, reader)}."
    )


def override_notices(overrides: Sequence[Override], actor: User) -> list[OverrideNotice]:
    """One notice per colleague concerned (covering or replaced), never the actor."""
    if not overrides:
        return []
    people: dict[int, User] = {}
    for override in overrides:
        for person in (override.user, override.replaces):
            if person is not None and person.pk != actor.pk:
                people.setdefault(person.pk, person)
    swap = len(overrides) > 1
    notices = []
    for person in people.values():
        what = "swapped shifts with you" if swap else "changed a shift of yours"
        lines = "\n".join(_line(o, person) for o in overrides)
        reason = f"\nReason: {overrides[0].reason}" if overrides[0].reason else ""
        body = (
            f"{actor.name} {what}:\n{lines}{reason}\n\n"
            f"Your shifts: {settings.SITE_URL}{reverse('rotations:my-shifts')}\n"
            "If this is wrong, talk to them or to your manager."
        )
        subject = f"{actor.name} {what} ({overrides[0].rotation.label})"
        notices.append(OverrideNotice(person, overrides[0], subject, body))
    return notices
