"""What the notifications app tells us (acknowledgements, finished deliveries) and asks us
(what an acknowledge link is about).

Two kinds of subject are acknowledged through pages:
- an incident's engineering page (`SUBJECT_TYPE`): the link acknowledges the incident, if
  the page is from its current trigger;
- a reminder about an incident (`acks.REMINDER_TYPES`): the link stops that reminder and
  records who acknowledged it; the incident and its paging are untouched.
"""

import logging
from datetime import datetime, tzinfo

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from incidents import acks
from incidents.engine import SUBJECT_TYPE
from incidents.models import Incident, Status, TimelineKind, Via
from incidents.services.lifecycle import IncidentError
from incidents.services.transitions import incident_acknowledge
from incidents.timeline import timeline_write
from notifications.callbacks import AckSubject
from notifications.models import Notification
from notifications.models import Status as NotificationStatus
from notifications.services import notifications_cancel_pending
from oncall.models import User

logger = logging.getLogger(__name__)

_KINDS = {
    NotificationStatus.SENT: TimelineKind.PAGE_SENT,
    NotificationStatus.FAILED: TimelineKind.PAGE_FAILED,
    NotificationStatus.CANCELLED: TimelineKind.PAGE_CANCELLED,
}
_PAGE_SUBJECTS = (SUBJECT_TYPE, *acks.REMINDER_TYPES)


def _via(channel: str) -> str:
    return channel if channel in Via.values else Via.LINK


def _zone(notification: Notification) -> tzinfo:
    recipient = notification.recipient
    return recipient.tzinfo if recipient is not None else timezone.get_current_timezone()


def _when(at: datetime | None, zone: tzinfo) -> str:
    if at is None:
        return ""
    return timezone.localtime(at, zone).strftime("%Y-%m-%d %H:%M %Z")


def _incident(subject_id: int) -> Incident | None:
    return (
        Incident.objects.select_related("team", "acknowledged_by", "resolved_by", "commander")
        .filter(pk=subject_id)
        .first()
    )


def _facts(incident: Incident, zone: tzinfo) -> list[tuple[str, str]]:
    facts = [
        ("Severity", incident.get_severity_display()),
        ("Status", incident.get_status_display()),
        ("Team", incident.team.name if incident.team else ""),
        ("Requester", incident.requester_name),
        ("Call-back number", incident.requester_phone),
        ("Bridge", incident.bridge),
        ("Ticket", incident.ticket),
        ("Triggered", _when(incident.triggered_at, zone)),
        ("Commander", str(incident.commander) if incident.commander else ""),
    ]
    return [(label, value) for label, value in facts if value]


def _gone(subject_id: int, kind: str) -> AckSubject:
    return AckSubject(
        kind=kind,
        title=f"Incident #{subject_id}",
        actionable=False,
        state="This incident no longer exists; there is nothing to acknowledge.",
    )


# --------------------------------------------------------------------- engineering pages


def _page_state(incident: Incident, page: Notification, zone: tzinfo) -> tuple[bool, str]:
    """(still actionable, what acknowledging does or why it would change nothing)."""
    number = incident.number
    if incident.status == Status.RESOLVED:
        who = f" by {incident.resolved_by}" if incident.resolved_by else ""
        return False, (
            f"{number} was resolved {_when(incident.resolved_at, zone)}{who}. "
            "This link changes nothing."
        )
    if not acks.page_is_current(incident, page):
        restart = (
            incident.timeline.filter(kind__in=[TimelineKind.REOPENED, TimelineKind.REASSIGNED])
            .order_by("-at", "-pk")
            .first()
        )
        since = (
            f", which was {restart.get_kind_display().lower()} {_when(restart.at, zone)}"
            if restart is not None
            else ", which was reopened or reassigned since"
        )
        return False, (
            f"This page was for an earlier trigger of {number}{since}. This link changes "
            "nothing; open the incident to see who is paged now."
        )
    if incident.status == Status.ACKNOWLEDGED:
        who = str(incident.acknowledged_by or "the system")
        how = incident.get_acknowledged_via_display().lower()
        return False, (
            f"Acknowledged by {who}{f' ({how})' if how else ''} "
            f"{_when(incident.acknowledged_at, zone)}: the engineering paging has stopped."
        )
    return True, f"Acknowledging stops the engineering paging of {number} for everyone it pages."


def describe_page(*, subject_id: int, notification: Notification) -> AckSubject:
    incident = _incident(subject_id)
    if incident is None:
        return _gone(subject_id, "Incident")
    zone = _zone(notification)
    actionable, state = _page_state(incident, notification, zone)
    return AckSubject(
        kind="Incident",
        title=f"{incident.number}: {incident.title}",
        url=reverse("incidents:detail", args=[incident.pk]),
        facts=_facts(incident, zone),
        actionable=actionable,
        state=state,
    )


def acknowledge_from_page(
    *, subject_id: int, user: User | None, channel: str, notification: Notification
) -> None:
    """A link or keypress in a page acknowledges the incident, if the page is from its
    current trigger (a second acknowledgement, or an old link, changes nothing)."""
    incident = Incident.objects.filter(pk=subject_id).first()
    if incident is None:
        logger.info("ack for missing incident %s", subject_id)
        return
    if incident.status != Status.TRIGGERED:
        return
    try:
        incident_acknowledge(incident=incident, actor=user, via=_via(channel), page=notification)
    except IncidentError as refused:  # acknowledged a moment earlier, or an old page
        logger.info("ack of notification %s changed nothing: %s", notification.pk, refused)


# --------------------------------------------------------------------- reminders


def _reminder_key(notification: Notification) -> str:
    key = notification.data.get("reminder_key") if isinstance(notification.data, dict) else None
    return str(key or notification.idempotency_key)


def _reminder_state(incident: Incident, reminder: Notification, zone: tzinfo) -> tuple[bool, str]:
    number = incident.number
    if incident.status == Status.RESOLVED:
        return False, f"{number} is resolved; this reminder needs nothing more."
    if reminder.created_at < incident.triggered_at:
        return False, f"This reminder is from before {number} was reopened; it changes nothing."
    if reminder.subject_type == acks.TRIAGE_REMINDER and incident.triage_confirmed_at:
        return (
            False,
            f"Triage of {number} was confirmed {_when(incident.triage_confirmed_at, zone)}.",
        )
    done = (
        incident.timeline.filter(
            kind=TimelineKind.REMINDER_ACKNOWLEDGED, data__key=_reminder_key(reminder)
        )
        .select_related("actor")
        .first()
    )
    if done is not None:
        return False, (
            f"This reminder was acknowledged by {done.actor or 'someone'} "
            f"{_when(done.at, zone)}: it has stopped. The incident's paging goes on."
        )
    return True, (
        "Acknowledging stops this reminder (no further texts or calls about it). It does not "
        f"acknowledge {number}: its engineering paging goes on until an engineer acknowledges."
    )


def describe_reminder(*, subject_id: int, notification: Notification) -> AckSubject:
    label = acks.REMINDER_LABELS.get(notification.subject_type, "reminder")
    kind = f"Reminder: {label}"
    incident = _incident(subject_id)
    if incident is None:
        return _gone(subject_id, kind)
    zone = _zone(notification)
    actionable, state = _reminder_state(incident, notification, zone)
    return AckSubject(
        kind=kind,
        title=f"{incident.number}: {incident.title}",
        url=reverse("incidents:detail", args=[incident.pk]),
        facts=_facts(incident, zone),
        actionable=actionable,
        state=state,
    )


def acknowledge_reminder(
    *, subject_id: int, user: User | None, channel: str, notification: Notification
) -> None:
    """Stop the reminder (its texts and calls not yet made) and record who acknowledged it.

    The incident's status and its engineering paging are not touched.
    """
    with transaction.atomic():
        incident = Incident.objects.select_for_update().filter(pk=subject_id).first()
        if incident is None:
            return
        actionable, why = _reminder_state(incident, notification, _zone(notification))
        if not actionable:
            logger.info("reminder ack %s changed nothing: %s", notification.pk, why)
            return
        cancelled = notifications_cancel_pending(
            subject_type=notification.subject_type, subject_id=incident.pk
        )
        label = acks.REMINDER_LABELS.get(notification.subject_type, "reminder")
        timeline_write(
            incident=incident,
            kind=TimelineKind.REMINDER_ACKNOWLEDGED,
            message=f"Reminder acknowledged ({label}); the incident's paging goes on",
            actor=user,
            via=_via(channel),
            data={
                "reminder": notification.subject_type,
                "key": _reminder_key(notification),
                "notification_id": notification.pk,
                "pages_cancelled": cancelled,
            },
        )


# --------------------------------------------------------------------- deliveries


def page_delivery_finished(notification: Notification) -> None:
    """Put a page's outcome on the incident's timeline (a failed page must show there)."""
    if notification.subject_type not in _PAGE_SUBJECTS or notification.subject_id is None:
        return
    kind = _KINDS.get(NotificationStatus(notification.status))
    if kind is None:
        return
    with transaction.atomic():
        incident = Incident.objects.filter(pk=notification.subject_id).first()
        if incident is None:
            return
        who = notification.recipient or notification.address
        what = notification.get_channel_display()
        if notification.subject_type in acks.REMINDER_LABELS:
            what = f"{what} reminder ({acks.REMINDER_LABELS[notification.subject_type]})"
        message = {
            TimelineKind.PAGE_SENT: f"{what} to {who} sent",
            TimelineKind.PAGE_FAILED: f"{what} to {who} FAILED: "
            f"{notification.last_error or 'no reason given'}",
            TimelineKind.PAGE_CANCELLED: f"{what} to {who} cancelled",
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
    from incidents.interruptions import interruptions_record
    from incidents.pagefacts import page_facts_refresh
    from notifications.callbacks import (
        register_ack_describer,
        register_ack_handler,
        register_delivery_listener,
        register_pages_listener,
        register_sent_listener,
    )

    register_ack_handler(SUBJECT_TYPE, acknowledge_from_page)
    register_ack_describer(SUBJECT_TYPE, describe_page)
    for reminder in acks.REMINDER_TYPES:
        register_ack_handler(reminder, acknowledge_reminder)
        register_ack_describer(reminder, describe_reminder)
    register_delivery_listener(page_delivery_finished)
    register_pages_listener(SUBJECT_TYPE, page_facts_refresh)
    register_sent_listener(SUBJECT_TYPE, interruptions_record)
