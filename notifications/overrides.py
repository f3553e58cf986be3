"""Covers and swaps told to the colleague they concern, through the outbox.

rotations.notices words the email; this module is the override listener the notifications
app registers at ready time (rotations.callbacks), sending one email per colleague and
override, never twice (its idempotency key).
"""

import logging
from collections.abc import Sequence

from notifications.models import Channel, Urgency
from notifications.services import notification_enqueue
from oncall.models import User
from rotations.models import Override, OverrideRequest
from rotations.notices import override_notices, override_request_notice

logger = logging.getLogger(__name__)


def override_notice_key(*, override_id: int, user_id: int) -> str:
    return f"override:{override_id}:user{user_id}"


def _email(*, person: User, key: str, subject: str, body: str, reason: str, about: str) -> None:
    """One low-urgency email through the outbox (once per key), or a warning without address."""
    if not person.email:
        logger.warning("%s concerns %s, who has no email address; nobody was told.", about, person)
        return
    notification_enqueue(
        idempotency_key=key,
        channel=Channel.EMAIL,
        address=person.email,
        recipient=person,
        subject=subject,
        body=body,
        reason=reason,
        urgency=Urgency.LOW,
    )


def overrides_tell_colleagues(overrides: Sequence[Override], actor: User) -> None:
    for notice in override_notices(overrides, actor):
        person = notice.recipient
        _email(
            person=person,
            key=override_notice_key(override_id=notice.override.pk, user_id=person.pk),
            subject=notice.subject,
            body=notice.body,
            reason="cover or swap of a shift",
            about=f"Override {notice.override.pk}",
        )


def override_request_notice_key(*, request_id: int, status: str, user_id: int) -> str:
    return f"override-request:{request_id}:{status}:user{user_id}"


def override_request_tell(request: OverrideRequest, actor: User) -> None:
    """A request sent, answered or withdrawn, told to the other person (once per status)."""
    notice = override_request_notice(request, actor)
    if notice is None:
        return
    person = notice.recipient
    _email(
        person=person,
        key=override_request_notice_key(
            request_id=request.pk, status=request.status, user_id=person.pk
        ),
        subject=notice.subject,
        body=notice.body,
        reason="cover or swap request",
        about=f"Override request {request.pk}",
    )
