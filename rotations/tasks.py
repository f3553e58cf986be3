"""Periodic rotation tasks: the daily coverage watch."""

import logging

from celery import shared_task
from django.utils import timezone

from rotations.coverage import coverage_watch_send

logger = logging.getLogger(__name__)


@shared_task(
    name="rotations.coverage_watch",
    ignore_result=True,
    autoretry_for=(OSError,),  # SMTP down or refusing: try again; teams already told are skipped
    retry_backoff=60,
    retry_jitter=True,
    max_retries=3,
    time_limit=300,
    soft_time_limit=240,
)
def coverage_watch(**kwargs: object) -> int:
    """Scheduled daily by beat: tell each team's escalation contact about gaps ahead."""
    sent = coverage_watch_send(now=timezone.now())
    logger.info("Coverage watch sent %d email(s).", sent)
    return sent
