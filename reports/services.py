"""Every write of the reports app: one keyword-only function per use case.

A report's status changes only in `report_transition`; submitting freezes its facts and
emails it through the notifications outbox (delivered after commit). The beat's writes
(`shift_reports_create`, `report_reminders_send`, `handoff_pages_send`) are idempotent: the
unique (rotation, shift start) and the outbox's keys make a second run write nothing.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.callbacks import AckSubject
from notifications.models import Channel, Notification, Urgency
from notifications.services import (
    Page,
    notification_enqueue,
    notifications_cancel_pending,
    notifications_page_many,
)
from oncall.models import User
from reports import messages, rules, selectors
from reports.models import TRANSITIONS, OnCallReport, ReportStatus
from rotations import resolver
from rotations.models import Rotation, Tier
from rotations.selectors import (
    override_specs,
    overrides_between,
    rotation_spec,
    rotations_with_members,
    users_of,
)

logger = logging.getLogger(__name__)

SUBJECT_TYPE = "oncall_report"


# --- domain errors -------------------------------------------------------------------------


class ReportError(Exception):
    """A domain error of the reports app (the API maps it to a 4xx)."""

    code = "report_error"


class IllegalTransition(ReportError):
    code = "illegal_transition"


class NotAllowed(ReportError):
    code = "not_allowed"


class NotADraft(ReportError):
    """A submitted report is a record: it is not written any more (409)."""

    code = "report_submitted"


class NoHandoff(ReportError):
    code = "no_handoff"


# --- drafted at shift start ----------------------------------------------------------------


@dataclass(frozen=True)
class ShiftStartRun:
    created: int
    moved: int


def _started_shifts(
    spec: resolver.RotationSpec, since: datetime, now: datetime
) -> list[tuple[datetime, datetime]]:
    """[start, end) of the rotation's shifts that started in (since, now], newest first (the
    resolver's own boundaries: weekly, sprint or hourly alike)."""
    k = resolver.shift_index_at(spec, now)
    found: list[tuple[datetime, datetime]] = []
    while k is not None and k >= 0:
        start = resolver.shift_boundary(spec, k)
        if start <= since:
            break
        found.append((start, resolver.shift_boundary(spec, k + 1)))
        k -= 1
    return found


def _coverer(
    spec: resolver.RotationSpec,
    overrides: list[resolver.OverrideSpec],
    start: datetime,
    end: datetime,
    now: datetime,
) -> int | None:
    """Who actually covers a shift: whoever is on call as it starts (an override included),
    else the first person on call in it so far (a shift starting outside working hours)."""
    found = resolver.oncall_at(spec, overrides, start)
    if found is not None:
        return found.user
    segments = resolver.shifts_between(
        spec, overrides, start, min(end, now + timedelta(microseconds=1))
    )
    return segments[0].user if segments else None


def shift_reports_create(*, now: datetime) -> ShiftStartRun:
    """Draft a report for every shift of a tiered rotation that started within
    REPORTS_CATCH_UP before `now` (so a missed beat or a restart catches up), for whoever
    covers it; move an untouched draft whose shift an override gave to someone else since.

    Six queries however many rotations: rotations, members, overrides, existing reports, one
    INSERT … ON CONFLICT DO NOTHING and one UPDATE.
    """
    since = now - settings.REPORTS_CATCH_UP
    rotations = list(
        rotations_with_members(Rotation.objects.filter(tier__in=(Tier.VETERAN, Tier.NEW)))
    )
    overrides = overrides_between([r.pk for r in rotations], since, now + timedelta(microseconds=1))
    wanted: dict[tuple[int, datetime], tuple[int, datetime]] = {}
    for rotation in rotations:
        spec = rotation_spec(rotation)
        specs = override_specs(overrides[rotation.pk])
        known = users_of(rotation, overrides[rotation.pk])
        for start, end in _started_shifts(spec, since, now):
            user_id = _coverer(spec, specs, start, end, now)
            if user_id is not None and user_id in known:
                wanted[(rotation.pk, start)] = (user_id, end)
    if not wanted:
        return ShiftStartRun(0, 0)
    existing = {
        (r.rotation_id, r.shift_start): r
        for r in OnCallReport.objects.filter(
            rotation_id__in={rid for rid, _ in wanted}, shift_start__gt=since
        )
    }
    moved = [
        report
        for key, report in existing.items()
        if key in wanted
        and report.user_id != wanted[key][0]
        and report.status == ReportStatus.DRAFT
        and not report.is_written
        and report.shift_end > now
    ]
    for report in moved:
        report.user_id = wanted[(report.rotation_id, report.shift_start)][0]
        report.updated_at = now
    # Values come from the resolver, not from people: the constraint is the only check that
    # can fail, and ON CONFLICT makes a racing run (two beats) harmless.
    new = [
        OnCallReport(rotation_id=rid, user_id=user_id, shift_start=start, shift_end=end)
        for (rid, start), (user_id, end) in wanted.items()
        if (rid, start) not in existing
    ]
    with transaction.atomic():
        OnCallReport.objects.bulk_create(new, ignore_conflicts=True)
        if moved:
            OnCallReport.objects.bulk_update(moved, ["user", "updated_at"])
    return ShiftStartRun(len(new), len(moved))


# --- writing -------------------------------------------------------------------------------


def _locked(report: OnCallReport) -> OnCallReport:
    return (
        OnCallReport.objects.select_for_update(of=("self",))
        .select_related("rotation__team", "user")
        .get(pk=report.pk)
    )


def report_update(
    *,
    report: OnCallReport,
    actor: User | None,
    summary: str | None = None,
    ongoing: str | None = None,
    unplanned: str | None = None,
    engineering: str | None = None,
    handoff_notes: str | None = None,
    effort: str | None = None,
    off_hours_spent: Decimal | None = None,
    clear_off_hours: bool = False,
) -> OnCallReport:
    """Change what the person wrote in a draft (None: leave a field as it is)."""
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("summary", summary),
            ("ongoing", ongoing),
            ("unplanned", unplanned),
            ("engineering", engineering),
            ("handoff_notes", handoff_notes),
            ("effort", effort),
            ("off_hours_spent", off_hours_spent),
        )
        if value is not None
    }
    if clear_off_hours:
        changes["off_hours_spent"] = None
    with transaction.atomic():
        report = _locked(report)
        if not rules.report_can_edit(actor, report):
            raise NotAllowed("Only the person on call (or a Manager) writes this report.")
        if not report.is_draft:
            raise NotADraft("This report is submitted; it is not changed any more.")
        for name, value in changes.items():
            setattr(report, name, value)
        report.full_clean(exclude=["rotation", "user", "submitted_by", "handoff_acknowledged_by"])
        if changes:
            report.save(update_fields=[*changes, "updated_at"])
    return report


def _recipients(report: OnCallReport) -> list[tuple[str, User | None]]:
    """The team's address (else every member of the rotation) and the incoming on-call."""
    team = report.rotation.team
    found: dict[str, User | None] = {}
    if team.email:
        found[team.email] = None
    else:
        for member in report.rotation.members.select_related("user").order_by("position", "id"):
            if member.user.is_active and member.user.email:
                found.setdefault(member.user.email, member.user)
    incoming = selectors.incoming_oncall(report)
    if incoming is not None and incoming.is_active and incoming.email:
        found.setdefault(incoming.email, incoming)
    return list(found.items())


def _email_submitted(report: OnCallReport) -> list[str]:
    subject, text, html = messages.submitted_email(report, report.stats)
    recipients = _recipients(report)
    for address, person in recipients:
        notification_enqueue(
            idempotency_key=f"oncall-report:{report.pk}:submitted:{address}",
            channel=Channel.EMAIL,
            address=address,
            recipient=person,
            subject=subject,
            body=text,
            html_body=html,
            reason=f"on-call report of {report.rotation.label}",
            urgency=Urgency.LOW,
        )
    if not recipients:
        logger.warning("On-call report %s submitted, but nobody has an email address.", report.pk)
    return [address for address, _ in recipients]


def report_transition(
    *, report: OnCallReport, to: ReportStatus, actor: User | None
) -> OnCallReport:
    """The one place a report's status changes: the map, the rights, the facts frozen and
    the email to the team and the incoming on-call."""
    with transaction.atomic():
        report = _locked(report)
        if to not in TRANSITIONS[report.status]:
            raise IllegalTransition(
                f"The report is {report.get_status_display().lower()}; it cannot become "
                f"{ReportStatus(to).label.lower()}."
            )
        if not rules.report_can_edit(actor, report):
            raise NotAllowed("Only the person on call (or a Manager) submits this report.")
        now = timezone.now()
        report.stats = selectors.report_stats(report, now=now)
        report.status = to
        report.submitted_at = now
        report.submitted_by = actor
        report.save(update_fields=["stats", "status", "submitted_at", "submitted_by", "updated_at"])
        _email_submitted(report)
    return report


def report_submit(*, report: OnCallReport, actor: User | None) -> OnCallReport:
    return report_transition(report=report, to=ReportStatus.SUBMITTED, actor=actor)


# --- the handoff ---------------------------------------------------------------------------


def report_handoff_acknowledge(
    *, report: OnCallReport, actor: User | None, at: datetime | None = None
) -> OnCallReport:
    """The incoming on-call got the handoff of `report` (the outgoing shift's report).

    A second acknowledgement changes nothing (the first is kept)."""
    with transaction.atomic():
        report = _locked(report)
        if report.handoff_acknowledged_at is not None:
            return report
        incoming = selectors.incoming_oncall(report)
        if not rules.report_can_acknowledge(actor, report, incoming.pk if incoming else None):
            raise NotAllowed("Only the incoming on-call (or a Manager) acknowledges this handoff.")
        report.handoff_acknowledged_at = at or timezone.now()
        report.handoff_acknowledged_by = actor
        report.save(
            update_fields=["handoff_acknowledged_at", "handoff_acknowledged_by", "updated_at"]
        )
        # Pages about it still waiting are no longer needed.
        notifications_cancel_pending(subject_type=SUBJECT_TYPE, subject_id=report.pk)
    return report


def handoff_acknowledge_by_page(
    *, subject_id: int, user: User | None, channel: str, notification: Notification
) -> None:
    """The ack link (or keypress) of a handoff page acknowledges the handoff."""
    report = OnCallReport.objects.filter(pk=subject_id).first()
    if report is None or user is None:
        logger.info(
            "Handoff page %s: report %s is gone or has no recipient.", notification.pk, subject_id
        )
        return
    try:
        report_handoff_acknowledge(report=report, actor=user)
    except NotAllowed:
        logger.info("Handoff page %s: %s no longer takes over this shift.", notification.pk, user)


# --- the beat's reminders and pages --------------------------------------------------------


def reminder_key(report_id: int, which: str) -> str:
    return f"oncall-report:{report_id}:{which}"


def report_reminders_send(*, now: datetime) -> int:
    """Remind the person of each report not submitted when its shift ended; a day later
    remind them again and tell the team's escalation contact. Each once (outbox keys)."""
    window = now - settings.REPORTS_REMINDER_WINDOW
    due = list(
        OnCallReport.objects.filter(
            status=ReportStatus.DRAFT, shift_end__lte=now, shift_end__gt=window
        ).select_related("user", "rotation__team__escalation_contact")
    )
    late = now - settings.REPORTS_SECOND_REMINDER
    wanted: list[tuple[str, OnCallReport, str]] = []
    for report in due:
        wanted.append((reminder_key(report.pk, "reminder:end"), report, "first"))
        if report.shift_end <= late:
            wanted.append((reminder_key(report.pk, "reminder:day"), report, "second"))
            if report.rotation.team.escalation_contact_id:
                wanted.append((reminder_key(report.pk, "overdue:contact"), report, "contact"))
    done = set(
        Notification.objects.filter(idempotency_key__in=[k for k, _, _ in wanted]).values_list(
            "idempotency_key", flat=True
        )
    )
    sent = 0
    for key, report, which in wanted:
        if key in done:
            continue
        person = report.user if which != "contact" else report.rotation.team.escalation_contact
        assert person is not None
        if not person.is_active or not person.email:
            logger.warning(
                "On-call report %s: %s has no active email; not told.", report.pk, person
            )
            continue
        if which == "contact":
            subject, body = messages.overdue_email(report, person)
        else:
            subject, body = messages.reminder_email(report, second=which == "second")
        with transaction.atomic():
            notification_enqueue(
                idempotency_key=key,
                channel=Channel.EMAIL,
                address=person.email,
                recipient=person,
                subject=subject,
                body=body,
                reason=f"on-call report of {report.rotation.label} not submitted",
                urgency=Urgency.LOW,
            )
        sent += 1
    return sent


def handoff_pages_send(*, now: datetime) -> int:
    """Page, at low urgency through their own rules, each incoming on-call who has not
    acknowledged the handoff HANDOFF_ACK_MINUTES after their shift started (once: keyed)."""
    cut = now - timedelta(minutes=settings.HANDOFF_ACK_MINUTES)
    incoming = list(
        OnCallReport.objects.filter(
            shift_start__lte=cut, shift_start__gt=now - settings.REPORTS_CATCH_UP, shift_end__gt=now
        ).select_related("user")
    )
    if not incoming:
        return 0
    outgoing = {
        (r.rotation_id, r.shift_end): r
        for r in OnCallReport.objects.filter(
            handoff_acknowledged_at__isnull=True,
            rotation_id__in={r.rotation_id for r in incoming},
            shift_end__in={r.shift_start for r in incoming},
        ).select_related("user", "rotation__team")
    }
    pages: list[Page] = []
    for report in incoming:
        previous = outgoing.get((report.rotation_id, report.shift_start))
        if previous is None or not report.user.is_active:
            continue
        subject, body = messages.handoff_page(previous, report.user)
        pages.append(
            Page(
                user=report.user,
                urgency=Urgency.LOW,
                subject_type=SUBJECT_TYPE,
                subject_id=previous.pk,
                key=reminder_key(previous.pk, f"handoff:user{report.user_id}"),
                subject=subject,
                body=body,
                reason=f"handoff of {previous.rotation.label} not acknowledged",
                data={"url": messages.report_link(previous)},
            )
        )
    if pages:
        with transaction.atomic():
            notifications_page_many(pages)
    return len(pages)


def handoff_describe(*, subject_id: int, notification: Notification) -> AckSubject:
    """What a handoff page's link acknowledges, for its page."""
    report = (
        OnCallReport.objects.select_related("rotation__team", "user").filter(pk=subject_id).first()
    )
    if report is None:
        return AckSubject(
            kind="Handoff",
            title="A report that no longer exists",
            actionable=False,
            state="Nothing to acknowledge.",
        )
    done = report.handoff_acknowledged_at is not None
    return AckSubject(
        kind="Handoff",
        title=f"{report.rotation.label} from {report.user.name}",
        url=messages.report_link(report),
        facts=[("Handoff notes", report.handoff_notes.strip() or "(none yet)")],
        actionable=not done,
        state="Already acknowledged."
        if done
        else "Acknowledging records that you got the handoff.",
    )
