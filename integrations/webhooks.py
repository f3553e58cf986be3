"""Outgoing webhooks: incident changes written to the notifications outbox, signed.

`webhooks_on_timeline_event(event)` is the one entry point. It maps a timeline row to a
webhook event type and writes one outbox row per interested subscription, in the caller's
transaction (delivery is queued on commit by the outbox). The idempotency key is per
subscription and timeline row, so calling it twice for one change sends once. The `body`
reads as the incident page's timeline line does: the message, then who and how
("Acknowledged — Bob via dashboard").
"""

from typing import Any

from django.conf import settings
from django.db.models import Q

from incidents.models import Incident, TimelineEvent, TimelineKind
from integrations.models import WebhookEvent, WebhookSubscription
from notifications.models import Channel, Notification, Urgency
from notifications.services import notification_enqueue
from oncall.memo import memoized

_KIND_EVENTS: dict[str, str] = {
    TimelineKind.DECLARED: WebhookEvent.TRIGGERED,
    TimelineKind.ENGAGED: WebhookEvent.TRIGGERED,
    TimelineKind.REOPENED: WebhookEvent.TRIGGERED,
    TimelineKind.ACKNOWLEDGED: WebhookEvent.ACKNOWLEDGED,
    TimelineKind.RESOLVED: WebhookEvent.RESOLVED,
    TimelineKind.ESCALATED_NOW: WebhookEvent.ESCALATED,
    TimelineKind.REASSIGNED: WebhookEvent.ESCALATED,
    TimelineKind.STATUS_UPDATE: WebhookEvent.STATUS_UPDATE,
}


def webhook_event_type(event: TimelineEvent) -> str | None:
    """The webhook event a timeline row stands for, if any (a page past step 1 escalates)."""
    if event.kind == TimelineKind.PAGED:
        data = event.data or {}
        later = (data.get("step") or 1) > 1 or data.get("repeat") or data.get("walk")
        return WebhookEvent.ESCALATED if later else None
    return _KIND_EVENTS.get(event.kind)


def webhook_payload(*, event_type: str, incident: Incident, event: TimelineEvent) -> dict[str, Any]:
    return {
        "event": event_type,
        "incident": {
            "id": incident.pk,
            "number": incident.number,
            "title": incident.title,
            "severity": incident.severity,
            "status": incident.status,
            "team": incident.team.slug if incident.team else None,
            "dedup_key": incident.dedup_key,
            "source": incident.source,
            "url": f"{settings.SITE_URL}/admin/incidents/incident/{incident.pk}/change/",
        },
        "change": {
            "id": event.pk,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "via": event.via,
            "actor": event.actor_id,
            "message": event.message,
        },
    }


def _subscriptions(team_id: int | None) -> list[WebhookSubscription]:
    """The active subscriptions that hear of a team's incidents (all teams' and its own)."""
    return memoized(
        ("webhook_subscriptions", team_id),
        lambda: list(
            WebhookSubscription.objects.filter(is_active=True).filter(
                Q(team__isnull=True) | Q(team_id=team_id)
            )
        ),
    )


def _wanted(incident: Incident, event_type: str) -> list[WebhookSubscription]:
    # Filtered here: JSON containment lookups are not portable to SQLite.
    subscriptions = _subscriptions(incident.team_id)
    return [s for s in subscriptions if event_type in (s.event_types or [])]


def _enqueue(
    wanted: list[WebhookSubscription], incident: Incident, event: TimelineEvent, event_type: str
) -> list[Notification]:
    data = webhook_payload(event_type=event_type, incident=incident, event=event)
    body = " — ".join(part for part in (event.message, event.attribution) if part)
    rows = []
    for subscription in wanted:
        rows.append(
            notification_enqueue(
                idempotency_key=f"webhook:s{subscription.pk}:t{event.pk}",
                channel=Channel.WEBHOOK,
                address=subscription.url,
                subject=f"{incident.number} {event_type}: {incident.title}"[:300],
                body=body,
                reason=f"webhook subscription {subscription.pk}: {event_type}",
                urgency=Urgency.LOW,
                data={**data, "subscription": subscription.pk},
                signing_secret=subscription.secret,
            )
        )
    return rows


def webhooks_on_timeline_event(event: TimelineEvent) -> list[Notification]:
    """Write the outbox rows for this change (call inside the transaction that made it)."""
    event_type = webhook_event_type(event)
    if event_type is None:
        return []
    wanted = _wanted(event.incident, event_type)
    return _enqueue(wanted, event.incident, event, event_type) if wanted else []
