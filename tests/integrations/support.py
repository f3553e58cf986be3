"""Helpers for the ingestion doors: post JSON, build Events v2 and Alertmanager bodies, read
the incident page's timeline."""

import json
import re
from typing import Any

from django.test import Client


def post_only(client: Client, url: str, body: Any, **headers: str) -> Any:
    """POST a JSON body and nothing else: the accepted event waits for its worker."""
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data=raw, content_type="application/json", headers=headers)


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    """POST a JSON body, then do what the ingest worker does when the accepted event wakes
    it (the drain task), so the test sees what a client sees a moment after the 202: the
    path production takes, not INGEST_INLINE's."""
    response = post_only(client, url, body, **headers)
    if 200 <= response.status_code < 300:
        fold_accepted()
    return response


def last_fold_action() -> str:
    """What folding the last accepted event did (created, updated, resolved, ignored, …)."""
    from integrations.models import InboundEvent

    return InboundEvent.objects.latest("id").action


def fold_accepted() -> str:
    """Run the ingest worker's drain task in this process: fold every due accepted event."""
    from integrations.tasks import ingest_drain

    return ingest_drain()


def trigger(key: str, dedup_key: str | None = None, **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {
            "summary": "Checkout latency over 2 s",
            "source": "web-01",
            "severity": "critical",
            **payload,
        },
    }
    if dedup_key is not None:
        event["dedup_key"] = dedup_key
    return event


def am_message(
    group_key: str = '{}:{alertname="HighLatency"}',
    status: str = "firing",
    alerts: list[dict[str, Any]] | None = None,
    truncated: int = 0,
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": "portal",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "p99 latency over 2 s"},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts
        if alerts is not None
        else [am_alert("a1", status=status), am_alert("a2", status=status)],
    }


def am_alert(fingerprint: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighLatency", "instance": f"{fingerprint}:9100", **labels},
        "annotations": {"summary": f"latency on {fingerprint}"},
        "startsAt": "2026-01-13T15:00:00Z",
        "endsAt": "2026-01-13T15:10:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": fingerprint,
    }


def timeline_line(page: str, kind: str) -> str:
    """The incident page's timeline entry of this kind as a reader sees it: the message,
    then who and how."""
    (entry,) = re.findall(rf'<li class="event event-{kind}">(.*?)</li>', page, re.S)
    parts = re.findall(r'<(?:span class="message"|small class="muted by")>(.*?)</', entry, re.S)
    return " ".join(" ".join(parts).split())
