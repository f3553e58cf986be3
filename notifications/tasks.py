"""Thin tasks: delivery (one per channel, each on its own queue), the sweeper, the coverage watch."""

import logging

from celery import Task, shared_task
from django.utils import timezone

from notifications.coverage import coverage_watch_send
from notifications.models import Channel
from notifications.services import notification_deliver, notifications_sweep
from notifications.services.outbox import deliver_task_name
from oncall.celery import DAILY_MAIL_TASK_OPTIONS

logger = logging.getLogger(__name__)


def _deliver_task(channel: str) -> Task:
    @shared_task(
        name=deliver_task_name(channel),
        ignore_result=True,
        time_limit=90,
        soft_time_limit=60,
    )
    def deliver(notification_id: int, **kwargs: object) -> str:
        # The row lock and status guard make a second delivery of this task harmless.
        outcome = notification_deliver(notification_id=notification_id)
        logger.info("notification %s: %s", notification_id, outcome)
        return outcome

    return deliver


DELIVER_TASKS = {channel: _deliver_task(channel) for channel in Channel.values}


@shared_task(name="notifications.sweep", ignore_result=True, time_limit=60, soft_time_limit=50)
def sweep(**kwargs: object) -> int:
    return notifications_sweep()


@shared_task(name="notifications.coverage_watch", **DAILY_MAIL_TASK_OPTIONS)
def coverage_watch(**kwargs: object) -> int:
    """Scheduled daily by beat: tell each team's escalation contact about gaps ahead."""
    sent = coverage_watch_send(now=timezone.now())
    logger.info("Coverage watch queued %d email(s).", sent)
    return sent
