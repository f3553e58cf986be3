"""Accepted events as stored in `InboundEvent.payload` (JSON) and back."""

from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from integrations.parsing import AmAlert, AmMessage, EventV2


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def event_v2_payload(event: EventV2, *, level: str) -> dict[str, Any]:
    """The event as stored: every field but the routing key (a secret), plus the level."""
    return {
        "event_action": event.event_action,
        "dedup_key": event.dedup_key,
        "summary": event.summary,
        "source": event.source,
        "severity": event.severity,
        "timestamp": _iso(event.timestamp),
        "component": event.component,
        "group": event.group,
        "event_class": event.event_class,
        "custom_details": event.custom_details,
        "client": event.client,
        "client_url": event.client_url,
        "links": event.links,
        "images": event.images,
        "level": level,
    }


def event_v2_from_payload(payload: dict[str, Any]) -> EventV2:
    fields = {k: v for k, v in payload.items() if k != "level"}
    fields["timestamp"] = _dt(fields.get("timestamp"))
    return EventV2(routing_key="", **fields)


def alertmanager_payload(message: AmMessage, *, level: str) -> dict[str, Any]:
    return {
        "group_key": message.group_key,
        "dedup_key": message.dedup_key,
        "status": message.status,
        "receiver": message.receiver,
        "truncated_alerts": message.truncated_alerts,
        "group_labels": message.group_labels,
        "common_labels": message.common_labels,
        "common_annotations": message.common_annotations,
        "external_url": message.external_url,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": _iso(a.starts_at),
                "ends_at": _iso(a.ends_at),
                "generator_url": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in message.alerts
        ],
        "level": level,
    }


def alertmanager_from_payload(payload: dict[str, Any]) -> AmMessage:
    fields = {k: v for k, v in payload.items() if k not in ("level", "alerts")}
    alerts = [
        AmAlert(**{**a, "starts_at": _dt(a["starts_at"]), "ends_at": _dt(a["ends_at"])})
        for a in payload["alerts"]
    ]
    return AmMessage(alerts=alerts, **fields)
