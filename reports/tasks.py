"""Thin, idempotent tasks of the reports app (beat)."""

import logging

from celery import shared_task
from django.utils import timezone

from oncall.celery import DAILY_MAIL_TASK_OPTIONS
from reports.services import handoff_pages_send, report_reminders_send, shift_reports_create
from reports.shift_reminders import shift_reminders_send
from reports.slack_group import slack_groups_update

logger = logging.getLogger(__name__)


@shared_task(name="reports.shift_start", **DAILY_MAIL_TASK_OPTIONS)
def shift_start(**kwargs: object) -> int:
    """Draft the report of every shift that started (catching up REPORTS_CATCH_UP back) and
    set each team's on-call Slack group."""
    now = timezone.now()
    run = shift_reports_create(now=now)
    if run.created or run.moved:
        logger.info("Shift reports: %d drafted, %d moved.", run.created, run.moved)
    # The handoff also hands over each team's on-call Slack group.
    groups = slack_groups_update(now=now)
    if groups:
        logger.info("Slack on-call groups: %d updates queued.", groups)
    return run.created


@shared_task(name="reports.reminders", **DAILY_MAIL_TASK_OPTIONS)
def reminders(**kwargs: object) -> int:
    """Reports not submitted at shift end (and a day later), and handoffs not acknowledged."""
    now = timezone.now()
    return report_reminders_send(now=now) + handoff_pages_send(now=now)


@shared_task(name="reports.shift_reminders", **DAILY_MAIL_TASK_OPTIONS)
def shift_reminders(**kwargs: object) -> int:
    """Tell people their shift starts (or ends) soon, each reminder once."""
    return shift_reminders_send(now=timezone.now())
