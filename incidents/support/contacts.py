"""Customer contacts (handbook 004, COMMUNICATE): second-tier support logs each one; the next
is due after the severity's `customer_contact_interval`, and when that passes the second tier
on duty is reminded, once per due time."""

import logging
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from incidents.acks import CONTACT_REMINDER
from incidents.engine import page_content
from incidents.models import (
    ContactChannel,
    CustomerContact,
    Incident,
    Status,
    TimelineKind,
    Via,
)
from incidents.services.lifecycle import severity_policy
from incidents.timeline import timeline_write
from notifications.models import Urgency
from notifications.services import notifications_cancel_pending, notifications_page
from oncall.models import User
from oncall.roles import MANAGER, SUPPORT, SUPPORT_MANAGER, user_roles
from rotations.models import Position, Rotation, TeamKind, Tier
from rotations.selectors import oncall_for_rotations, rotations_with_members

logger = logging.getLogger(__name__)

# When no severity policy names one (a policy row deleted): handbook 004's moderate cadence.
DEFAULT_CONTACT_INTERVAL = timedelta(hours=4)
CONTACT_ROLES = frozenset({SUPPORT, SUPPORT_MANAGER, MANAGER})


class ContactRefused(PermissionDenied):
    code = "contact_refused"


def can_log_contact(user: User) -> bool:
    """Second-tier support logs customer contacts (the Support roles), and Managers."""
    return bool(user.is_authenticated and user_roles(user) & CONTACT_ROLES)


def contact_interval(incident: Incident) -> timedelta:
    policy = severity_policy(incident.severity)
    return policy.customer_contact_interval if policy else DEFAULT_CONTACT_INTERVAL


def customer_contact_log(
    *,
    incident: Incident,
    actor: User,
    channel: str,
    summary: str,
    at: datetime | None = None,
    next_due_at: datetime | None = None,
    via: str = Via.DASHBOARD,
) -> CustomerContact:
    """Record a contact with the customer; the next is due after the severity's interval
    unless given (none once the incident is resolved). Stops the reminder of the last one."""
    if not can_log_contact(actor):
        raise ContactRefused(
            "Only support (second tier, the support manager) and Managers log customer contacts."
        )
    now = timezone.now()
    at = at or now
    errors: dict[str, str] = {}
    if at > now + timedelta(minutes=1):
        errors["at"] = "A contact cannot be in the future."
    if next_due_at is None and incident.is_open:
        next_due_at = at + contact_interval(incident)
    if next_due_at is not None and next_due_at <= at:
        errors["next_due_at"] = "The next contact must be due after this one."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        contact = CustomerContact(
            incident=incident,
            channel=channel,
            summary=summary.strip(),
            at=at,
            by=actor,
            next_due_at=next_due_at,
        )
        contact.full_clean(exclude=["incident", "by"])
        contact.save()
        due = f"; next due {next_due_at:%Y-%m-%d %H:%M} UTC" if next_due_at else ""
        timeline_write(
            incident=incident,
            kind=TimelineKind.CUSTOMER_CONTACT,
            message=f"Customer contacted by {contact.get_channel_display().lower()}{due}",
            actor=actor,
            via=via,
            data={
                "contact_id": contact.pk,
                "channel": channel,
                "next_due_at": next_due_at.isoformat() if next_due_at else None,
            },
        )
        notifications_cancel_pending(subject_type=CONTACT_REMINDER, subject_id=incident.pk)
    return contact


def latest_contacts() -> QuerySet[CustomerContact]:
    """Each incident's latest contact (the one whose due time counts)."""
    later = CustomerContact.objects.filter(incident=OuterRef("incident")).filter(
        Q(at__gt=OuterRef("at")) | Q(at=OuterRef("at"), pk__gt=OuterRef("pk"))
    )
    return CustomerContact.objects.filter(~Exists(later))


def contacts_due(*, now: datetime) -> QuerySet[CustomerContact]:
    """Open incidents' latest contacts whose next contact is due by `now`."""
    return (
        latest_contacts()
        .filter(next_due_at__lte=now)
        .filter(incident__status__in=(Status.TRIGGERED, Status.ACKNOWLEDGED))
        .select_related("incident", "by")
        .order_by("next_due_at", "pk")
    )


def second_tier_on_duty(*, now: datetime) -> dict[int, User]:
    """The second tier on duty, by support team id (one primary per team)."""
    rotations = list(
        rotations_with_members(
            Rotation.objects.filter(team__kind=TeamKind.SUPPORT, tier=Tier.SECOND)
        ).order_by("team_id", "position")
    )
    found: dict[int, User] = {}
    for oncall in oncall_for_rotations(rotations, now):
        if oncall.user is not None and (
            oncall.rotation.team_id not in found or oncall.rotation.position == Position.PRIMARY
        ):
            found.setdefault(oncall.rotation.team_id, oncall.user)
    return found


def customer_contacts_remind(*, now: datetime | None = None) -> int:
    """Remind the second tier on duty of each contact past its due time, once per due time
    (the reminder's outbox key and `reminded_at` both say so)."""
    now = now or timezone.now()
    due_ids = list(contacts_due(now=now).filter(reminded_at=None).values_list("pk", flat=True))
    if not due_ids:
        return 0
    on_duty = second_tier_on_duty(now=now)
    reminded = 0
    for contact_id in due_ids:
        with transaction.atomic():
            contact = (
                CustomerContact.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("incident__team")
                .filter(pk=contact_id, reminded_at=None)
                .first()
            )
            if contact is None or contact.next_due_at is None:
                continue
            incident = contact.incident
            team_id = incident.team_id if incident.team_id in on_duty else None
            targets = (
                [on_duty[team_id]]
                if team_id
                else list({u.pk: u for u in on_duty.values()}.values())
            )
            key = (
                f"inc{incident.pk}:contact-due:{contact.pk}:{int(contact.next_due_at.timestamp())}"
            )
            content = page_content(incident)
            for user in targets:
                notifications_page(
                    user=user,
                    urgency=Urgency.LOW,
                    subject_type=CONTACT_REMINDER,
                    subject_id=incident.pk,
                    key=f"{key}:u{user.pk}",
                    reason="the customer is due to hear from support again",
                    subject=f"Customer contact due: {content['subject']}",
                    body=f"The customer of {incident.number} is due a contact "
                    f"(last: {contact.get_channel_display().lower()}, {contact.summary[:200]}).",
                    data={**content["data"], "reminder_key": key},
                )
            contact.reminded_at = now
            contact.save(update_fields=["reminded_at"])
            names = ", ".join(u.name for u in targets)
            timeline_write(
                incident=incident,
                kind=TimelineKind.CUSTOMER_CONTACT,
                message=f"Customer contact due; reminded {names}"
                if targets
                else "Customer contact due, and no second tier is on duty to remind",
                data={"key": key, "user_ids": [u.pk for u in targets], "reminder": True},
                at=now,
            )
            reminded += 1
    return reminded


__all__ = ["ContactChannel", "ContactRefused", "can_log_contact", "customer_contact_log"]
