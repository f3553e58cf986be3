"""Thin, idempotent tasks of the postmortems app."""

import logging

from celery import shared_task
from django.utils import timezone

from oncall.celery import DAILY_MAIL_TASK_OPTIONS
from postmortems.services import action_items_digest_send

logger = logging.getLogger(__name__)


@shared_task(name="postmortems.action_items_digest", **DAILY_MAIL_TASK_OPTIONS)
def action_items_digest(**kwargs: object) -> int:
    """Scheduled daily by beat: one digest per owner of overdue action items (keyed per owner
    and day, so a second delivery of this task sends nothing)."""
    sent = action_items_digest_send(now=timezone.now())
    logger.info("Action items digest queued %d email(s).", sent)
    return sent
