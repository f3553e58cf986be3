"""Thin delivery tasks: one per channel (each routed to its own queue) and the sweeper."""

import logging

from celery import Task, shared_task

from notifications.models import Channel
from notifications.services import notification_deliver, notifications_sweep
from notifications.services.outbox import deliver_task_name

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
