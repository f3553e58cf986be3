"""Security incidents (issue 16 point 8): the category, the security owner told at once, and
who may see one until it is resolved (`incidents.selectors.incidents_visible_to`)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents import engine
from incidents.models import Category, Incident, TimelineKind, Via
from incidents.services.lifecycle import locked
from incidents.services.rules import group_members
from incidents.timeline import timeline_write
from notifications.models import Channel, Urgency
from notifications.services import notification_enqueue, notifications_page
from oncall.models import User
from oncall.roles import group_names

SECURITY_OWNERS = "Security owners"
SECURITY_NOTICE = "incident.security"


def security_owners() -> list[User]:
    """The members of the Security owners group (active)."""
    return group_members(SECURITY_OWNERS)


def is_security_owner_by_email(user: User) -> bool:
    address = settings.SECURITY_OWNER_EMAIL.strip().lower()
    return bool(address and user.is_authenticated and user.email.strip().lower() == address)


def is_security_owner(user: User) -> bool:
    """SECURITY_OWNER_EMAIL's person or a member of the Security owners group."""
    if not user.is_authenticated:
        return False
    return is_security_owner_by_email(user) or SECURITY_OWNERS in group_names(user)


def notify_security_owner(*, incident: Incident) -> list[str]:
    """Tell the security owner now, through the outbox (inside the caller's transaction):
    an email to SECURITY_OWNER_EMAIL and a page to each of the Security owners group."""
    content = engine.page_content(incident)
    subject = f"Security incident {content['subject']}"
    told = []
    address = settings.SECURITY_OWNER_EMAIL.strip()
    if address:
        notification_enqueue(
            idempotency_key=f"inc{incident.pk}:security:{address.lower()}",
            channel=Channel.EMAIL,
            address=address,
            subject=subject,
            body=f"{content['body']}\n\n{content['data']['url']}".strip(),
            reason=f"security incident {incident.number}",
            urgency=Urgency.HIGH,
            subject_type=SECURITY_NOTICE,
            subject_id=incident.pk,
        )
        told.append(address)
    for owner in security_owners():
        notifications_page(
            user=owner,
            urgency=Urgency.HIGH,
            subject_type=SECURITY_NOTICE,
            subject_id=incident.pk,
            key=f"inc{incident.pk}:security:u{owner.pk}",
            reason=f"security incident {incident.number}",
            subject=subject,
            body=content["body"],
            data=content["data"],
        )
        told.append(str(owner))
    timeline_write(
        incident=incident,
        kind=TimelineKind.CATEGORY,
        message="Security owner notified: " + (", ".join(told) or "nobody is configured"),
        data={"notified": told},
    )
    return told


def incident_set_category(
    *, incident: Incident, category: str, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    """Change the category (timeline); becoming a security incident tells the owner."""
    if category not in Category.values:
        raise ValidationError({"category": f"{category!r} is not a category."})
    with transaction.atomic():
        incident = locked(incident)
        previous = incident.category
        if previous == category:
            return incident
        incident.category = category
        incident.save(update_fields=["category"])
        timeline_write(
            incident=incident,
            kind=TimelineKind.CATEGORY,
            message=f"Category {Category(previous).label} → {Category(category).label}",
            actor=actor,
            via=via,
            data={"from": previous, "to": category},
        )
        if category == Category.SECURITY:
            notify_security_owner(incident=incident)
    return incident
