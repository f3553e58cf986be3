"""The daily coverage watch, delivered through the outbox.

rotations.coverage finds each team's real gaps in the next 14 days and words the email;
this module sends it to the team's escalation contact as an outbox row, so it is retried,
visible on the outbox page, and never sent twice for one team and day (its idempotency key).
"""

import logging
from datetime import UTC, datetime

from notifications.models import Channel, Notification, Urgency
from notifications.services import notification_enqueue
from rotations.coverage import WATCH_DAYS, coverage_email, coverage_gaps_report

logger = logging.getLogger(__name__)


def coverage_notice_key(*, team_id: int, now: datetime) -> str:
    return f"coverage:team{team_id}:{now.astimezone(UTC).date().isoformat()}"


def coverage_watch_send(*, now: datetime, days: int = WATCH_DAYS) -> int:
    """Tell each team's escalation contact about its real gaps; the number of new emails."""
    reports = coverage_gaps_report(now=now, days=days)
    if not reports:
        logger.info("Coverage watch: no gaps in the next %d days.", days)
    sent = 0
    for report in reports:
        contact = report.contact
        if contact is None or not contact.email:
            logger.warning(
                "Coverage watch: team %s has %d gap(s) but no escalation contact with an "
                "email address; nobody was told.",
                report.team.slug,
                report.gap_count,
            )
            continue
        key = coverage_notice_key(team_id=report.team.pk, now=now)
        if Notification.objects.filter(idempotency_key=key).exists():
            logger.info("Coverage watch: %s was already told today.", report.team.slug)
            continue
        subject, body = coverage_email(report, contact)
        notification_enqueue(
            idempotency_key=key,
            channel=Channel.EMAIL,
            address=contact.email,
            recipient=contact,
            subject=subject,
            body=body,
            reason=f"coverage watch for {report.team.name}",
            urgency=Urgency.LOW,
        )
        sent += 1
        logger.info(
            "Coverage watch: told %s about %d gap(s) in team %s.",
            contact.email,
            report.gap_count,
            report.team.slug,
        )
    return sent
