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
from rotations.models import Override, OverrideRequest, OverrideRequestStatus


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


@dataclass(frozen=True)
class OverrideRequestNotice:
    recipient: User
    request: OverrideRequest
    subject: str
    body: str


def _request_lines(request: OverrideRequest, reader: User) -> str:
    label = request.rotation.label
    first = (
        f"- {request.recipient.name} takes {request.requester.name}'s shift"
        if request.is_swap
        else f"- {request.requester.name} covers {request.recipient.name}'s shift"
    )
    lines = [
        f"{first} of {label} from {_when(request.start, reader)} until "
        f"{_when(request.end, reader)}."
    ]
    if request.is_swap and request.swap_start and request.swap_end:
        lines.append(
            f"- {request.requester.name} takes {request.recipient.name}'s shift of {label} "
            f"from {_when(request.swap_start, reader)} until {_when(request.swap_end, reader)}."
        )
    return "\n".join(lines)


def override_request_notice(request: OverrideRequest, actor: User) -> OverrideRequestNotice | None:
    """Who hears of a request now, and what they read: the recipient when it is sent or
    withdrawn, the requester when it is answered; never the actor, nobody on expiry."""
    what = "swap shifts" if request.is_swap else "cover your shift"
    status = request.status
    if status == OverrideRequestStatus.PENDING:
        reader = request.recipient
        subject = f"{request.requester.name} asks to {what} ({request.rotation.label})"
        verb = f"{request.requester.name} asks to {what}:"
        tail = "Accept or decline it on your shifts page"
    elif status in (OverrideRequestStatus.ACCEPTED, OverrideRequestStatus.DECLINED):
        reader = request.requester
        answer = "accepted" if status == OverrideRequestStatus.ACCEPTED else "declined"
        kind = "swap" if request.is_swap else "cover"
        subject = (
            f"{request.recipient.name} {answer} your {kind} request ({request.rotation.label})"
        )
        verb = f"{actor.name} {answer} your request:"
        tail = "Your shifts"
    elif status == OverrideRequestStatus.CANCELLED:
        reader = request.recipient
        subject = f"{request.requester.name} withdrew a request ({request.rotation.label})"
        verb = f"{actor.name} withdrew the request:"
        tail = "Your shifts"
    else:
        return None
    if reader.pk == actor.pk:
        return None
    reason = f"\nReason: {request.reason}" if request.reason else ""
    body = (
        f"{verb}\n{_request_lines(request, reader)}{reason}\n\n"
        f"{tail}: {settings.SITE_URL}{reverse('rotations:my-shifts')}#requests"
    )
    return OverrideRequestNotice(reader, request, subject, body)
