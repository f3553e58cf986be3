"""Validating the wire formats (FORMATS.md) into plain dataclasses, naming every problem.

Nothing here touches the database: a message is either fully valid or refused whole.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from oncall.strictjson import JSONRefused, strict_json_loads
from oncall.validators import instant_in_range

EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_TEXT = 255
MAX_URL = 1000
# Alertmanager's "no end yet".
ZERO_DAY = "0001-01-01"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with a message: the field it concerns (a dotted path such as
    `payload.severity` or `alerts[0].labels`; None: the body as a whole) and what is wrong."""

    field: str | None
    problem: str

    def __str__(self) -> str:
        """As PagerDuty words it: `'payload.summary' is missing`."""
        return f"'{self.field}' {self.problem}" if self.field else self.problem


class InvalidMessage(Exception):
    """The message cannot be accepted; `errors` names each problem."""

    def __init__(self, message: str, errors: list[FieldProblem], *, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.code = code


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or InvalidMessage (code `invalid_json`) naming where the
    strict reader refused it (too deep, NaN or an overflowing number, a NUL or a lone
    surrogate)."""
    try:
        data = strict_json_loads(body)
    except JSONRefused as refused:
        where = refused.bracketed()
        problem = refused.problem if where else f"body {refused.problem}"
        raise InvalidMessage(
            "Event object is invalid",
            [FieldProblem(where or None, problem)],
            code="invalid" if refused.syntax else "invalid_json",
        ) from None
    if not isinstance(data, dict):
        raise InvalidMessage(
            "Event object is invalid", [FieldProblem(None, "body must be a JSON object")]
        )
    return data


def _text(
    data: dict[str, Any],
    name: str,
    errors: list[FieldProblem],
    *,
    required: bool = False,
    limit: int,
    prefix: str = "",
) -> str:
    value = data.get(name)
    label = prefix + name
    if value is None:
        if required:
            errors.append(FieldProblem(label, "is missing"))
        return ""
    if not isinstance(value, str):
        errors.append(FieldProblem(label, "must be a string"))
        return ""
    if required and not value.strip():
        errors.append(FieldProblem(label, "must not be empty"))
    if len(value) > limit:
        errors.append(FieldProblem(label, f"is longer than {limit} characters"))
    return value


def _timestamp(value: Any, name: str, errors: list[FieldProblem]) -> datetime | None:
    if value is None:
        return None
    parsed = None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors.append(FieldProblem(name, "must be an ISO 8601 timestamp with a timezone"))
        return None
    if not instant_in_range(parsed):
        errors.append(FieldProblem(name, "must lie between the years 2000 and 2199"))
        return None
    return parsed


# --- PagerDuty Events API v2 --------------------------------------------------------------


@dataclass(frozen=True)
class EventV2:
    routing_key: str
    event_action: str
    dedup_key: str
    summary: str = ""
    source: str = ""
    severity: str = ""
    timestamp: datetime | None = None
    component: str = ""
    group: str = ""
    event_class: str = ""
    custom_details: dict[str, Any] = field(default_factory=dict)
    client: str = ""
    client_url: str = ""
    links: list[dict[str, str]] = field(default_factory=list)
    images: list[dict[str, str]] = field(default_factory=list)


def routing_key_of(data: dict[str, Any]) -> str:
    """The routing key, or InvalidMessage naming it."""
    value = data.get("routing_key")
    if value is None:
        raise InvalidMessage("Event object is invalid", [FieldProblem("routing_key", "is missing")])
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage(
            "Event object is invalid", [FieldProblem("routing_key", "must be a string")]
        )
    return value


def _refs(
    value: Any, name: str, required: str, keys: tuple[str, ...], errors: list[FieldProblem]
) -> list[dict[str, str]]:
    """links[] / images[]: objects of strings with one required key."""
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(FieldProblem(name, "must be an array"))
        return []
    out = []
    for index, item in enumerate(value):
        where = f"{name}[{index}]."
        if not isinstance(item, dict):
            errors.append(FieldProblem(where[:-1], "must be an object"))
            continue
        ref = {}
        for key in keys:
            text = _text(item, key, errors, required=key == required, limit=MAX_URL, prefix=where)
            if text:
                ref[key] = text
        out.append(ref)
    return out


def event_v2_parse(data: dict[str, Any], *, severities: dict[str, str]) -> EventV2:
    """Validate an Events v2 object (the routing key is checked by the caller)."""
    errors: list[FieldProblem] = []
    action = data.get("event_action")
    if action is None:
        errors.append(FieldProblem("event_action", "is missing"))
    elif action not in EVENT_ACTIONS:
        errors.append(FieldProblem("event_action", f"must be one of {', '.join(EVENT_ACTIONS)}"))
    dedup_key = _text(data, "dedup_key", errors, limit=MAX_DEDUP_KEY)
    if action in ("acknowledge", "resolve") and not dedup_key:
        if data.get("dedup_key") is None:
            errors.append(FieldProblem("dedup_key", f"is required to {action}"))
        elif isinstance(data["dedup_key"], str):
            errors.append(FieldProblem("dedup_key", "must not be empty"))
    client = _text(data, "client", errors, limit=MAX_TEXT)
    client_url = _text(data, "client_url", errors, limit=MAX_URL)
    links = _refs(data.get("links"), "links", "href", ("href", "text"), errors)
    images = _refs(data.get("images"), "images", "src", ("src", "href", "alt"), errors)
    fields: dict[str, Any] = {}
    payload = data.get("payload")
    if action == "trigger" or payload is not None:
        if payload is None:
            errors.append(FieldProblem("payload", "is missing"))
        elif not isinstance(payload, dict):
            errors.append(FieldProblem("payload", "must be an object"))
        else:
            fields = _payload(payload, errors, severities=severities, required=action == "trigger")
    if errors:
        raise InvalidMessage("Event object is invalid", errors)
    return EventV2(
        routing_key=data["routing_key"],
        event_action=str(action),
        dedup_key=dedup_key,
        client=client,
        client_url=client_url,
        links=links,
        images=images,
        **fields,
    )


def _payload(
    payload: dict[str, Any],
    errors: list[FieldProblem],
    *,
    severities: dict[str, str],
    required: bool,
) -> dict[str, Any]:
    p = "payload."
    summary = _text(payload, "summary", errors, required=required, limit=MAX_SUMMARY, prefix=p)
    source = _text(payload, "source", errors, required=required, limit=MAX_TEXT, prefix=p)
    severity = payload.get("severity")
    if severity is None:
        if required:
            errors.append(FieldProblem("payload.severity", "is missing"))
        severity = ""
    elif not isinstance(severity, str) or severity not in severities:
        known = ", ".join(sorted(severities))
        errors.append(
            FieldProblem(
                "payload.severity", f"must be one of {known} (got {json.dumps(severity)[:50]})"
            )
        )
        severity = ""
    timestamp = _timestamp(payload.get("timestamp"), "payload.timestamp", errors)
    component = _text(payload, "component", errors, limit=MAX_TEXT, prefix=p)
    group = _text(payload, "group", errors, limit=MAX_TEXT, prefix=p)
    event_class = _text(payload, "class", errors, limit=MAX_TEXT, prefix=p)
    custom: Any = payload.get("custom_details")
    if custom is None:
        custom = {}
    elif isinstance(custom, str):
        # PagerDuty accepts a string too; keep it under a key so the column stays an object.
        custom = {"details": custom}
    elif not isinstance(custom, dict):
        errors.append(FieldProblem("payload.custom_details", "must be an object"))
        custom = {}
    return {
        "summary": summary,
        "source": source,
        "severity": severity,
        "timestamp": timestamp,
        "component": component,
        "group": group,
        "event_class": event_class,
        "custom_details": custom or {},
    }


# --- Alertmanager webhook (version 4) -----------------------------------------------------


@dataclass(frozen=True)
class AmAlert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str
    fingerprint: str


@dataclass(frozen=True)
class AmMessage:
    group_key: str
    dedup_key: str
    status: str
    receiver: str
    truncated_alerts: int
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    alerts: list[AmAlert]


def _string_map(value: Any, name: str, errors: list[FieldProblem]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        errors.append(FieldProblem(name, "must be an object of strings"))
        return {}
    return value


def _am_alert(item: Any, where: str, errors: list[FieldProblem]) -> AmAlert | None:
    if not isinstance(item, dict):
        errors.append(FieldProblem(where, "must be an object"))
        return None
    before = len(errors)
    status = item.get("status")
    if status not in ("firing", "resolved"):
        errors.append(FieldProblem(f"{where}.status", "must be firing or resolved"))
    labels = _string_map(item.get("labels"), f"{where}.labels", errors)
    annotations = _string_map(item.get("annotations"), f"{where}.annotations", errors)
    starts_at = _timestamp(item.get("startsAt"), f"{where}.startsAt", errors)
    ends_raw = item.get("endsAt")
    # Alertmanager's zero time (year 1, however written) means "no end yet".
    no_end = ends_raw is None or (isinstance(ends_raw, str) and ends_raw.startswith(ZERO_DAY))
    ends_at = None if no_end else _timestamp(ends_raw, f"{where}.endsAt", errors)
    generator_url = _text(item, "generatorURL", errors, limit=MAX_URL)
    fingerprint = _text(item, "fingerprint", errors, limit=MAX_TEXT)
    if len(errors) > before:
        return None
    if not fingerprint:  # older senders: the label set identifies the alert
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    return AmAlert(
        status=str(status),
        labels=labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=generator_url,
        fingerprint=fingerprint,
    )


def am_dedup_key(group_key: str) -> str:
    """groupKey is the dedup key; a very long one is replaced by its digest."""
    if len(group_key) <= MAX_DEDUP_KEY:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def alertmanager_parse(data: dict[str, Any]) -> AmMessage:
    errors: list[FieldProblem] = []
    version = data.get("version")
    if version != "4":
        errors.append(FieldProblem("version", 'must be "4"'))
    group_key = data.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        errors.append(FieldProblem("groupKey", "must be a non-empty string"))
        group_key = ""
    status = data.get("status")
    if status not in ("firing", "resolved"):
        errors.append(FieldProblem("status", "must be firing or resolved"))
    receiver = _text(data, "receiver", errors, limit=MAX_TEXT)
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        errors.append(FieldProblem("truncatedAlerts", "must be a whole number ≥ 0"))
        truncated = 0
    group_labels = _string_map(data.get("groupLabels"), "groupLabels", errors)
    common_labels = _string_map(data.get("commonLabels"), "commonLabels", errors)
    common_annotations = _string_map(data.get("commonAnnotations"), "commonAnnotations", errors)
    external_url = _text(data, "externalURL", errors, limit=MAX_URL)
    raw_alerts = data.get("alerts")
    alerts: list[AmAlert] = []
    if not isinstance(raw_alerts, list):
        errors.append(FieldProblem("alerts", "must be an array"))
    else:
        if not raw_alerts:
            errors.append(FieldProblem("alerts", "must not be empty"))
        for index, item in enumerate(raw_alerts):
            alert = _am_alert(item, f"alerts[{index}]", errors)
            if alert is not None:
                alerts.append(alert)
    if errors:
        raise InvalidMessage("Alertmanager message is invalid", errors)
    return AmMessage(
        group_key=group_key,
        dedup_key=am_dedup_key(group_key),
        status=str(status),
        receiver=receiver,
        truncated_alerts=truncated,
        group_labels=group_labels,
        common_labels=common_labels,
        common_annotations=common_annotations,
        external_url=external_url,
        alerts=alerts,
    )
