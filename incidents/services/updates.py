"""Status updates to the company, triage confirmation and the triage/cadence timers."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.acks import TRIAGE_REMINDER, UPDATE_REMINDER
from incidents.engine import page_content
from incidents.models import (
    Incident,
    Severity,
    SeverityPolicy,
    Status,
    StatusUpdate,
    TimelineKind,
    Via,
)
from incidents.services.lifecycle import TriageIncomplete, locked, severity_policy
from incidents.services.steering import page_new_tier_if_raised
from incidents.services.targets import incident_target_refresh
from incidents.timeline import timeline_write
from notifications.models import Channel, Urgency
from notifications.services import (
    notification_enqueue,
    notifications_cancel_pending,
    notifications_page,
)
from oncall.models import User
from oncall.roles import SUPPORT_MANAGER

logger = logging.getLogger(__name__)

FIVE_WS = ("who", "what", "where", "when", "how")


# --- the timers' rules: the incident page shows them, the sweep acts on them ------------


@dataclass(frozen=True)
class TriageDeadline:
    target: timedelta
    at: datetime
    confirmed: bool
    overdue: bool  # open, not confirmed, and the deadline has come


def triage_deadline(
    *, incident: Incident, policy: SeverityPolicy | None, now: datetime
) -> TriageDeadline:
    """Handbook 004: severity and 5Ws confirmed within the severity's triage target."""
    target = policy.triage_target if policy else settings.TRIAGE_TARGET_DEFAULT
    at = incident.triggered_at + target
    confirmed = incident.triage_confirmed_at is not None
    return TriageDeadline(target, at, confirmed, not confirmed and incident.is_open and now >= at)


@dataclass(frozen=True)
class UpdateDue:
    since: datetime  # the last update, else the trigger
    interval: timedelta
    at: datetime
    overdue: bool


def status_update_due(
    *, incident: Incident, policy: SeverityPolicy | None, now: datetime
) -> UpdateDue | None:
    """When the next company status update is due; None when none is required."""
    if not incident.is_open or policy is None or not policy.status_updates_required:
        return None
    since = incident.last_status_update_at or incident.triggered_at
    interval = policy.status_update_interval
    return UpdateDue(since, interval, since + interval, now >= since + interval)


def status_update_recipients(incident: Incident) -> list[str]:
    """The severity's audience: the team's announcement address and the company's."""
    addresses = [
        incident.team.announcement_email if incident.team else "",
        settings.COMPANY_STATUS_EMAIL,
    ]
    return list(dict.fromkeys(a for a in addresses if a))


def incident_post_status_update(
    *, incident: Incident, message: str, actor: User | None, via: str = Via.DASHBOARD
) -> StatusUpdate:
    """Record a status update and email it to the team and the company through the outbox."""
    if not message.strip():
        raise ValidationError({"message": "Write the update."})
    now = timezone.now()
    with transaction.atomic():
        incident = locked(incident)
        recipients = status_update_recipients(incident)
        update = StatusUpdate(
            incident=incident,
            author=actor,
            message=message.strip(),
            severity=incident.severity,
            status=incident.status,
            recipients=recipients,
            created_at=now,
        )
        update.full_clean()
        update.save()
        incident.last_status_update_at = now
        incident.save(update_fields=["last_status_update_at"])
        timeline_write(
            incident=incident,
            kind=TimelineKind.STATUS_UPDATE,
            message=update.message,
            actor=actor,
            via=via,
            data={"status_update_id": update.pk, "recipients": recipients},
            at=now,
        )
        # The update is posted: a reminder call not yet made has no point any more.
        notifications_cancel_pending(subject_type=UPDATE_REMINDER, subject_id=incident.pk)
        subject = (
            f"[{incident.severity}] {incident.number} {incident.get_status_display()}: "
            f"{incident.title}"
        )
        text = f"{update.message}\n\n— {actor or 'On-call portal'}, {now:%Y-%m-%d %H:%M} UTC"
        # Through the outbox, like every page: retried, visible, never lost with a mail server.
        for address in recipients:
            notification_enqueue(
                idempotency_key=f"status-update:{update.pk}:{address}",
                channel=Channel.EMAIL,
                address=address,
                subject=subject,
                body=text,
                reason=f"status update on {incident.number}",
                urgency=Urgency.LOW,
            )
    return update


def incident_triage_confirm(
    *,
    incident: Incident,
    severity: str,
    actor: User | None,
    who: str,
    what: str,
    where: str,
    when: str,
    how: str,
    via: str = Via.DASHBOARD,
) -> Incident:
    """Triage done (handbook 004): the severity and the 5Ws are confirmed."""
    answers = {"who": who, "what": what, "where": where, "when": when, "how": how}
    missing = [name for name, value in answers.items() if not value.strip()]
    if missing:
        raise TriageIncomplete(f"Triage needs all 5Ws; missing: {', '.join(missing)}")
    if severity not in Severity.values:
        raise ValidationError({"severity": f"{severity} is not a severity."})
    with transaction.atomic():
        incident = locked(incident)
        previous = incident.severity
        for name, value in answers.items():
            setattr(incident, name, value.strip())
        incident.severity = severity
        incident.triage_confirmed_at = timezone.now()
        incident.full_clean()
        incident.save(update_fields=[*FIVE_WS, "severity", "triage_confirmed_at"])
        timeline_write(
            incident=incident,
            kind=TimelineKind.TRIAGE,
            message=f"Triage confirmed: {severity}"
            + (f" (was {previous})" if previous != severity else ""),
            actor=actor,
            via=via,
            data={"severity": severity, "previous": previous, **answers},
        )
        notifications_cancel_pending(subject_type=TRIAGE_REMINDER, subject_id=incident.pk)
        page_new_tier_if_raised(incident=incident, previous=previous, actor=actor)
        incident_target_refresh(incident=incident)
    return incident


def _support_managers() -> list[User]:
    group = Group.objects.filter(name=SUPPORT_MANAGER).first()
    if group is None:
        return []
    return list(User.objects.filter(groups=group, is_active=True).order_by("pk"))


def _page_triage_overdue(incident: Incident, now: datetime) -> int:
    managers = _support_managers()
    content = page_content(incident)
    # A reminder of its own (not the incident's paging): acknowledging it stops it alone.
    reminder_key = f"inc{incident.pk}:triage"
    for manager in managers:
        notifications_page(
            user=manager,
            urgency=Urgency.HIGH,
            subject_type=TRIAGE_REMINDER,
            subject_id=incident.pk,
            key=f"{reminder_key}:u{manager.pk}",
            reason="triage overdue: severity and 5Ws not confirmed in time",
            subject=f"Triage overdue: {content['subject']}",
            body=content["body"],
            data={**content["data"], "reminder_key": reminder_key},
        )
    incident.triage_paged_at = now
    incident.save(update_fields=["triage_paged_at"])
    timeline_write(
        incident=incident,
        kind=TimelineKind.TRIAGE_OVERDUE,
        message=(
            f"Triage overdue: paged the support manager(s) {', '.join(map(str, managers))}"
            if managers
            else "Triage overdue, and nobody is in the Support manager group to page"
        ),
        data={"user_ids": [m.pk for m in managers]},
        at=now,
    )
    return len(managers)


def _update_reminder_target(incident: Incident) -> User | None:
    if incident.commander is not None:
        return incident.commander
    if incident.acknowledged_by is not None:
        return incident.acknowledged_by
    return incident.team.escalation_contact if incident.team else None


def _remind_update_due(incident: Incident, now: datetime) -> bool:
    due = status_update_due(incident=incident, policy=severity_policy(incident.severity), now=now)
    if due is None or not due.overdue:
        return False
    since, interval = due.since, due.interval
    # The n-th missed interval since the last update: one reminder each, never two.
    missed = int((now - since) / interval)
    key = f"inc{incident.pk}:update-due:{int(since.timestamp())}:n{missed}"
    if incident.timeline.filter(kind=TimelineKind.UPDATE_DUE, data__key=key).exists():
        return False
    target = _update_reminder_target(incident)
    if target is not None:
        content = page_content(incident)
        notifications_page(
            user=target,
            urgency=Urgency.LOW,
            subject_type=UPDATE_REMINDER,
            subject_id=incident.pk,
            key=f"{key}:u{target.pk}",
            reason=f"a company status update is due every {interval}",
            subject=f"Status update due: {content['subject']}",
            body=f"A status update to the company is due for {incident.number}.",
            data={**content["data"], "reminder_key": key},
        )
    timeline_write(
        incident=incident,
        kind=TimelineKind.UPDATE_DUE,
        message=f"Status update due; reminded {target}"
        if target
        else "Status update due; nobody to remind",
        data={"key": key, "user_id": target.pk if target else None},
        at=now,
    )
    return True


def incident_timers_sweep(*, now: datetime | None = None) -> int:
    """Page support managers about overdue triage; remind about due status updates."""
    now = now or timezone.now()
    open_ids = list(
        Incident.objects.exclude(status=Status.RESOLVED).order_by("pk").values_list("pk", flat=True)
    )
    acted = 0
    for incident_id in open_ids:
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team__escalation_contact", "commander", "acknowledged_by")
                .filter(pk=incident_id)
                .exclude(status=Status.RESOLVED)
                .first()
            )
            if incident is None:
                continue
            triage = triage_deadline(
                incident=incident, policy=severity_policy(incident.severity), now=now
            )
            if triage.overdue and incident.triage_paged_at is None:
                _page_triage_overdue(incident, now)
                acted += 1
            if _remind_update_due(incident, now):
                acted += 1
    return acted
