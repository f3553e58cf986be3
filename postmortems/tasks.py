"""Thin, idempotent tasks of the postmortems app."""

import logging

from celery import shared_task
from django.utils import timezone

from postmortems.services import action_items_digest_send

logger = logging.getLogger(__name__)


@shared_task(
    name="postmortems.action_items_digest",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=60,
    retry_jitter=True,
    max_retries=3,
    time_limit=300,
    soft_time_limit=240,
)
def action_items_digest(**kwargs: object) -> int:
    """Scheduled daily by beat: one digest per owner of overdue action items (keyed per owner
    and day, so a second delivery of this task sends nothing)."""
    sent = action_items_digest_send(now=timezone.now())
    logger.info("Action items digest queued %d email(s).", sent)
    return sent
