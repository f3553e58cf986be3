"""What the notifications app tells us: acknowledgements and finished deliveries."""

import contextlib
import logging

from django.db import transaction

from incidents.engine import SUBJECT_TYPE
from incidents.models import Incident, Status, TimelineKind, Via
from incidents.services.common import IllegalTransition
from incidents.services.transitions import incident_acknowledge
from incidents.timeline import timeline_write
from notifications.models import Notification
from notifications.models import Status as NotificationStatus
from oncall.models import User

logger = logging.getLogger(__name__)

_KINDS = {
    NotificationStatus.SENT: TimelineKind.PAGE_SENT,
    NotificationStatus.FAILED: TimelineKind.PAGE_FAILED,
    NotificationStatus.CANCELLED: TimelineKind.PAGE_CANCELLED,
}


def acknowledge_from_page(
    *, subject_id: int, user: User | None, channel: str, notification: Notification
) -> None:
    """A link or keypress in a page acknowledges the incident (a second one is harmless)."""
    incident = Incident.objects.filter(pk=subject_id).first()
    if incident is None:
        logger.info("ack for missing incident %s", subject_id)
        return
    if incident.status != Status.TRIGGERED:
        return
    via = channel if channel in Via.values else Via.LINK
    # Someone may have acknowledged or resolved it a moment earlier: that is fine.
    with contextlib.suppress(IllegalTransition):
        incident_acknowledge(incident=incident, actor=user, via=via)


def page_delivery_finished(notification: Notification) -> None:
    """Put a page's outcome on the incident's timeline (a failed page must show there)."""
    if notification.subject_type != SUBJECT_TYPE or notification.subject_id is None:
        return
    kind = _KINDS.get(NotificationStatus(notification.status))
    if kind is None:
        return
    with transaction.atomic():
        incident = Incident.objects.filter(pk=notification.subject_id).first()
        if incident is None:
            return
        who = notification.recipient or notification.address
        message = {
            TimelineKind.PAGE_SENT: f"{notification.get_channel_display()} to {who} sent",
            TimelineKind.PAGE_FAILED: f"{notification.get_channel_display()} to {who} FAILED: "
            f"{notification.last_error or 'no reason given'}",
            TimelineKind.PAGE_CANCELLED: f"{notification.get_channel_display()} to {who} cancelled",
        }[kind]
        timeline_write(
            incident=incident,
            kind=kind,
            message=message,
            data={
                "notification_id": notification.pk,
                "channel": notification.channel,
                "user_id": notification.recipient_id,
                "error": notification.last_error,
            },
        )


def register() -> None:
    from notifications.callbacks import register_ack_handler, register_delivery_listener

    register_ack_handler(SUBJECT_TYPE, acknowledge_from_page)
    register_delivery_listener(page_delivery_finished)
