"""Accepting an event at a door: everything decided before the 202, in one service.

`ingest_accept` parses the body, finds the integration by its key, counts the event
against the rate limit, validates the message, decides its severity level and dedup key,
and stores it (one `InboundEvent` row). A refusal is an `IngestRefused` carrying the HTTP
status, a code, the format's own message and the problems field by field (`FieldProblem`),
so each door only renders it in its wire format (FORMATS.md). The fold later applies the
stored event as decided here and decides nothing again.

Order (each refusal stops there): Events v2 reads the body, then the `routing_key` in it,
then the rate limit, then the message; Alertmanager checks the key it was given (URL or
bearer token) before the body, then the rate limit, then the message.
"""

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from incidents.models import Severity
from integrations.ingest.keyfold import ingest_fold_now
from integrations.ingest.payloads import alertmanager_payload, event_v2_payload
from integrations.ingest.wake import inbound_store
from integrations.models import AlertStatus, InboundEvent, Integration, IntegrationType
from integrations.parsing import (
    AmMessage,
    FieldProblem,
    InvalidMessage,
    alertmanager_parse,
    event_v2_parse,
    json_object,
    routing_key_of,
)
from integrations.ratelimit import ingest_rate_take
from integrations.services.groups import IngestResult
from integrations.services.keys import integration_by_key, integration_key_cache_clear
from oncall.metrics import record_inbound


class IngestRefused(Exception):
    """The door answers `status` (4xx) and stores nothing."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        message: str,
        problems: list[FieldProblem] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = problems or []
        self.retry_after = retry_after  # seconds, for a 429's Retry-After

    @property
    def fields(self) -> dict[str, list[str]]:
        """The problems by field, for the portal's API error shape (body-wide ones left out)."""
        out: dict[str, list[str]] = {}
        for item in self.problems:
            if item.field:
                out.setdefault(item.field, []).append(item.problem)
        return out


@dataclass(frozen=True)
class Accepted:
    """A stored event: its dedup key (made up for a trigger that sent none) and, when
    INGEST_INLINE folded it in the request, what the fold did."""

    integration: Integration
    event: InboundEvent
    dedup_key: str
    folded: IngestResult | None = None


def _invalid(error: InvalidMessage) -> IngestRefused:
    return IngestRefused(status=400, code=error.code, message=error.message, problems=error.errors)


def _too_large(kind: str) -> IngestRefused:
    limit = settings.INGEST_MAX_BODY_BYTES // 1024
    if kind == IntegrationType.EVENTS_V2:
        message, problem = "Event object is too large", f"the body is larger than {limit} KB"
        return IngestRefused(
            status=413, code="too_large", message=message, problems=[FieldProblem(None, problem)]
        )
    return IngestRefused(
        status=413, code="too_large", message=f"The body is larger than {limit} KB"
    )


def _integration(kind: str, key: str | None, data: dict[str, Any] | None) -> Integration:
    """The integration a key opens, for this kind of door, or the door's refusal."""
    if kind == IntegrationType.EVENTS_V2:
        assert data is not None
        try:
            key = routing_key_of(data)
        except InvalidMessage as error:
            raise _invalid(error) from error
        found = integration_by_key(key=key, cached=True)
        if found is None or found.type != kind:
            why = "is not an integration key" if found is None else "is not an Events v2 key"
            raise IngestRefused(
                status=400,
                code="invalid_key",
                message="Event object is invalid",
                problems=[FieldProblem("routing_key", why)],
            )
        return found
    if key is None:
        raise IngestRefused(
            status=401,
            code="not_authenticated",
            message="Send the integration key as 'Authorization: Bearer <key>' or in the URL",
        )
    found = integration_by_key(key=key, cached=True)
    if found is None or found.type != kind:
        raise _am_key_refused()
    return found


def _am_key_refused() -> IngestRefused:
    return IngestRefused(
        status=401, code="invalid_key", message="This is not an Alertmanager integration key"
    )


def _rate_take(integration: Integration, kind: str) -> None:
    decision = ingest_rate_take(integration=integration)
    if decision.allowed:
        return
    wait = decision.retry_after
    if kind == IntegrationType.EVENTS_V2:
        raise IngestRefused(
            status=429,
            code="throttled",
            message="Requests for this service are arriving too quickly. Please retry later.",
            problems=[
                FieldProblem(
                    None,
                    f"more than {decision.limit} events a minute for this routing_key; "
                    f"retry after {wait} s",
                )
            ],
            retry_after=wait,
        )
    raise IngestRefused(
        status=429,
        code="throttled",
        message=f"More than {decision.limit} messages a minute for this key; retry after {wait} s",
        retry_after=wait,
    )


def alertmanager_level(*, integration: Integration, message: AmMessage) -> str:
    """The highest level among the firing alerts' labels.severity (InvalidMessage if unknown).

    An alert without a severity label counts as "warning".
    """
    mapping = integration.severity_map
    alerts = [a for a in message.alerts if a.status == AlertStatus.FIRING] or message.alerts
    levels, errors = [], []
    for index, alert in enumerate(message.alerts):
        if alert not in alerts:
            continue
        source = alert.labels.get("severity") or message.common_labels.get("severity") or "warning"
        if source not in mapping:
            known = ", ".join(sorted(mapping))
            errors.append(
                FieldProblem(
                    f"alerts[{index}].labels.severity",
                    f"{source!r} is not in the integration's severity map ({known})",
                )
            )
        else:
            levels.append(mapping[source])
    if errors:
        raise InvalidMessage("Alertmanager message is invalid", errors)
    return min(levels, default=Severity.SEV3)


def _message(
    integration: Integration, kind: str, data: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The validated message as stored (with its level) and its dedup key."""
    try:
        if kind == IntegrationType.EVENTS_V2:
            event = event_v2_parse(data, severities=integration.severity_map)
            level = ""
            if event.event_action == "trigger":
                level = integration.severity_map[event.severity]
                if not event.dedup_key:  # PagerDuty makes one up and returns it
                    event = dataclasses.replace(event, dedup_key=uuid.uuid4().hex)
            return event_v2_payload(event, level=level), event.dedup_key
        message = alertmanager_parse(data)
        level = ""
        if message.status == AlertStatus.FIRING:
            level = alertmanager_level(integration=integration, message=message)
        return alertmanager_payload(message, level=level), message.dedup_key
    except InvalidMessage as error:
        raise _invalid(error) from error


def _body_object(body: bytes | None, kind: str) -> dict[str, Any]:
    if body is None or len(body) > settings.INGEST_MAX_BODY_BYTES:
        raise _too_large(kind)
    try:
        return json_object(body)
    except InvalidMessage as error:
        raise _invalid(error) from error


def ingest_accept(*, integration: str | None, kind: str, body: bytes | None) -> Accepted:
    """`_accept`, counted in oncall_inbound_events_total (accepted, refused, rate_limited)
    under the integration's id ("unknown" when the key named none)."""
    found: list[Integration] = []
    try:
        accepted = _accept(integration=integration, kind=kind, body=body, found=found)
    except IngestRefused as refused:
        label = str(found[0].pk) if found else "unknown"
        outcome = "rate_limited" if refused.status == 429 else "refused"
        record_inbound(integration=label, outcome=outcome)
        raise
    label = str(accepted.integration.pk)
    transaction.on_commit(lambda: record_inbound(integration=label, outcome="accepted"))
    return accepted


def _accept(
    *, integration: str | None, kind: str, body: bytes | None, found: list[Integration]
) -> Accepted:
    """Accept one event at a door, or raise `IngestRefused`.

    `integration`: the integration key the request presented outside its body (the
    Alertmanager URL or bearer token), None where the format carries it inside (Events
    v2's `routing_key`). `kind`: the door (`IntegrationType`). `body`: the raw body, None
    when the door already knows it is over INGEST_MAX_BODY_BYTES (declared length).
    Under INGEST_INLINE the event is folded before this returns (`Accepted.folded`).
    """
    if kind not in IntegrationType.values:
        raise ValueError(f"no door for {kind!r}")
    if kind == IntegrationType.EVENTS_V2:
        data = _body_object(body, kind)
        integration_found = _integration(kind, None, data)
    else:
        integration_found = _integration(kind, integration, None)
    found.append(integration_found)
    if kind != IntegrationType.EVENTS_V2:
        data = _body_object(body, kind)
    _rate_take(integration_found, kind)
    payload, dedup_key = _message(integration_found, kind, data)
    try:
        stored = inbound_store(
            integration=integration_found, kind=kind, payload=payload, dedup_key=dedup_key
        )
    except IntegrityError as error:  # a cached lookup of an integration deleted since
        integration_key_cache_clear()
        if kind == IntegrationType.EVENTS_V2:
            raise IngestRefused(
                status=400,
                code="invalid_key",
                message="Event object is invalid",
                problems=[FieldProblem("routing_key", "is not an integration key")],
            ) from error
        raise _am_key_refused() from error
    folded = ingest_fold_now(stored) if settings.INGEST_INLINE else None
    return Accepted(integration=integration_found, event=stored, dedup_key=dedup_key, folded=folded)
