"""Demo on-call reports (called by `manage.py seed_demo` through `ReportsConfig.demo_seed`,
after the rotations, incidents and postmortems), so a new user finds the handoff lived in:
the shifts of the last two weeks with their reports written, submitted and the handoffs
acknowledged, and each running shift's report a draft (one with notes started).

Through the services (drafting, writing, submitting, acknowledging), then each row moved to
when it happened. Idempotent: only an untouched draft is written, so a second run adds
nothing.
"""

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from oncall.models import User
from reports.models import Effort, OnCallReport, ReportStatus
from reports.selectors import incoming_report
from reports.services import (
    report_handoff_acknowledge,
    report_submit,
    report_update,
    shift_reports_create,
)

logger = logging.getLogger(__name__)

# How far back the demo's past shifts go.
DEMO_WEEKS = 2

WRITING: tuple[dict[str, Any], ...] = (
    {
        "summary": "Quiet week: two pages, both *disk usage* warnings on `search-7`; "
        "log rotation was stuck after Tuesday's deploy.",
        "ongoing": "None open.",
        "unplanned": "CI was red for half a day (flaky `test_checkout_timeout`).",
        "engineering": "- Alert on log rotation age, not only disk usage.",
        "handoff_notes": "Nothing burning. The deploy freeze starts Friday 17:00.",
        "effort": Effort.LOW,
        "off_hours_spent": Decimal("1.5"),
    },
    {
        "summary": "Busy: the payment webhooks incident at night (see its postmortem) and "
        "three pages from the queue depth alarm.",
        "ongoing": "The queue depth alarm is still noisy; its threshold review is an action item.",
        "unplanned": "Helped support with a customer export twice; QA environment down on "
        "Wednesday.",
        "engineering": "- Dead-letter queue for malformed webhooks (proposed).",
        "handoff_notes": "Watch the queue depth after the 02:00 batch; the runbook is linked "
        "from the postmortem.",
        "effort": Effort.HIGH,
        "off_hours_spent": Decimal("4.0"),
    },
)


def seed(users: dict[str, User]) -> None:
    now = timezone.now()
    # Draft every shift of the last weeks as the beat would have at each start.
    at = now - timedelta(weeks=DEMO_WEEKS, days=1)
    while at <= now:
        shift_reports_create(now=at)
        at += timedelta(hours=12)
    shift_reports_create(now=now)
    past = list(
        OnCallReport.objects.select_related("rotation__team", "user")
        .filter(status=ReportStatus.DRAFT, shift_end__lte=now)
        .order_by("shift_start", "rotation_id")
    )
    written = 0
    for n, report in enumerate(past):
        if report.is_written:
            continue
        report = report_update(report=report, actor=report.user, **WRITING[n % len(WRITING)])
        report = report_submit(report=report, actor=report.user)
        OnCallReport.objects.filter(pk=report.pk).update(
            created_at=report.shift_start, submitted_at=report.shift_end - timedelta(minutes=30)
        )
        following = incoming_report(report)
        if following is not None:
            report_handoff_acknowledge(
                report=report,
                actor=following.user,
                at=report.shift_end + timedelta(minutes=10 + 15 * (n % 3)),
            )
        written += 1
    running = (
        OnCallReport.objects.select_related("user")
        .filter(status=ReportStatus.DRAFT, shift_start__lte=now, shift_end__gt=now)
        .order_by("rotation_id")
        .first()
    )
    if running is not None and not running.is_written:
        report_update(
            report=running,
            actor=running.user,
            summary="So far: one page for the search cluster's heap, acknowledged in 4 minutes.",
            handoff_notes="(notes for the next on-call go here)",
        )
    if written:
        logger.info("Demo on-call reports: %d written and submitted.", written)
