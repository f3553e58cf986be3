"""Who may acknowledge what: the one rule every door (dashboard, link, API, SMS, voice) asks.

An incident's *engineering paging* is the pages its escalation tracks sent in the current
generation (a reopen or reassignment starts a new one; see `EscalationState.key_prefix`).
Reminders about an incident (triage overdue, status update due) are their own subjects:
acknowledging one stops that reminder and nothing else.
"""

from enum import StrEnum

from django.db.models import Q, QuerySet

from incidents.engine import SUBJECT_TYPE
from incidents.models import ContactMode, EscalationState, EscalationStatus, Incident, Status
from notifications.models import Notification
from notifications.models import Status as NotificationStatus
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, user_roles

# Reminders: the subject id is the incident's, the type says which reminder it is.
TRIAGE_REMINDER = "incident.triage"
UPDATE_REMINDER = "incident.update_due"
CONTACT_REMINDER = "incident.contact_due"  # a customer contact is due (handbook 004)
# A missed target (incidents.services.ladder) pages the escalation contact once.
TARGET_REMINDER = "incident.target"
REMINDER_TYPES = (TRIAGE_REMINDER, UPDATE_REMINDER, CONTACT_REMINDER, TARGET_REMINDER)
REMINDER_LABELS = {
    TRIAGE_REMINDER: "triage overdue",
    UPDATE_REMINDER: "status update due",
    CONTACT_REMINDER: "customer contact due",
    TARGET_REMINDER: "target missed",
}

# A page is "paging you now" until it is sent and the incident is acknowledged or resolved.
LIVE_PAGE_STATUSES = (
    NotificationStatus.PENDING,
    NotificationStatus.SENDING,
    NotificationStatus.SENT,
)


class AckRight(StrEnum):
    """Why someone may acknowledge an incident's engineering paging."""

    PAGED = "paged"  # an engineering track of the current generation paged them
    COMMANDER = "commander"
    MANAGER = "manager"
    # The portal pages nobody (a call-directly team, phoned by support): an engineer takes it.
    ENGINEER = "engineer"


# Rights that act for someone else: the dashboard asks for a confirmation first.
ON_BEHALF = (AckRight.COMMANDER, AckRight.MANAGER)


def current_states(incident: Incident) -> list[EscalationState]:
    """The escalation tracks of the incident's latest generation (any status)."""
    states = list(EscalationState.objects.filter(incident=incident).order_by("generation", "pk"))
    if not states:
        return []
    latest = states[-1].generation
    return [s for s in states if s.generation == latest]


def _keys_of(states: list[EscalationState]) -> Q:
    keys = Q(pk__in=[])
    for state in states:
        keys |= Q(idempotency_key__startswith=f"{state.key_prefix}:")
    return keys


def engineering_pages(incident: Incident) -> QuerySet[Notification]:
    """The outbox rows the current generation's tracks wrote (every channel and status)."""
    return Notification.objects.filter(subject_type=SUBJECT_TYPE, subject_id=incident.pk).filter(
        _keys_of(current_states(incident))
    )


def page_is_current(incident: Incident, page: Notification) -> bool:
    """Was this page sent by one of the incident's tracks since its last (re)trigger?"""
    if page.subject_type != SUBJECT_TYPE or page.subject_id != incident.pk:
        return False
    return any(
        page.idempotency_key.startswith(f"{s.key_prefix}:") for s in current_states(incident)
    )


def paged_people(incident: Incident) -> list[User]:
    """Everyone the current generation's tracks paged, in the order they were paged."""
    ids = list(
        engineering_pages(incident)
        .filter(recipient__isnull=False)
        .order_by("created_at", "id")
        .values_list("recipient_id", flat=True)
    )
    by_id = User.objects.in_bulk(set(ids))
    return [by_id[uid] for uid in dict.fromkeys(ids) if uid in by_id]


def _support_only(roles: set[str]) -> bool:
    return bool(roles & {SUPPORT, SUPPORT_MANAGER}) and not roles & {ENGINEER, MANAGER}


def acknowledge_right(incident: Incident, user: User) -> AckRight | None:
    """Why `user` may acknowledge the incident's engineering paging, or None.

    The people its tracks paged; its commander; a Manager. Support tiers declare and watch:
    they never silence engineering paging they were not paged by, even as commander. When the
    portal pages nobody (a call-directly team) an engineer may take it.
    """
    roles = user_roles(user)
    if not user.is_active:
        return None
    if engineering_pages(incident).filter(recipient=user).exists():
        return AckRight.PAGED
    if MANAGER in roles:
        return AckRight.MANAGER
    if _support_only(roles):
        return None
    if incident.commander_id == user.pk:
        return AckRight.COMMANDER
    if ENGINEER in roles and (
        incident.contact_mode == ContactMode.CALL or not current_states(incident)
    ):
        return AckRight.ENGINEER
    return None


def incidents_paging(user: User) -> list[Incident]:
    """Triggered incidents whose active tracks have a live page to `user`, newest first.

    Three queries: my live incident pages of triggered incidents, the active states of those
    incidents, the incidents with their joins.
    """
    rows: list[tuple[int, str]] = list(
        Notification.objects.filter(
            subject_type=SUBJECT_TYPE,
            recipient=user,
            status__in=LIVE_PAGE_STATUSES,
            subject_id__in=Incident.objects.filter(status=Status.TRIGGERED).values("pk"),
        ).values_list("subject_id", "idempotency_key")  # type: ignore[arg-type]
    )
    if not rows:
        return []
    states = EscalationState.objects.filter(
        incident_id__in={incident_id for incident_id, _ in rows},
        status=EscalationStatus.ACTIVE,
    )
    prefixes: dict[int, list[str]] = {}
    for state in states:
        prefixes.setdefault(state.incident_id, []).append(f"{state.key_prefix}:")
    ids = {
        incident_id
        for incident_id, key in rows
        if any(key.startswith(prefix) for prefix in prefixes.get(incident_id, ()))
    }
    return list(
        Incident.objects.filter(pk__in=ids, status=Status.TRIGGERED)
        .select_related("team", "commander")
        .order_by("-triggered_at", "-id")
    )
