"""The drop-in doors: `POST /v2/enqueue` (Events API v2) and the Alertmanager receiver.

No session, no CSRF: the integration key is the credential. Every refusal is a 4xx that
names the problem, in the format's own shape (PagerDuty's for /v2/enqueue, the portal's
error shape for Alertmanager, which ignores bodies).
"""

import dataclasses
import re
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.integrations.ingest import (
    alertmanager_payload,
    event_v2_payload,
    inbound_store,
    ingest_fold_now,
)
from incidents.integrations.models import AlertStatus, InboundEvent, Integration, IntegrationType
from incidents.integrations.parsing import (
    InvalidMessage,
    alertmanager_parse,
    event_v2_parse,
    json_object,
    routing_key_of,
)
from incidents.integrations.ratelimit import RateDecision, ingest_rate_take
from incidents.integrations.services import (
    alertmanager_severity,
    integration_by_key,
    integration_key_cache_clear,
)

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^'([^']+)' (.+)$")


class TooLarge(Exception):
    pass


def _body(request: HttpRequest) -> bytes:
    """The raw body, refused before reading when its declared length is over the cap."""
    cap = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        raise TooLarge
    try:
        body = request.body
    except RequestDataTooBig as error:
        raise TooLarge from error
    if len(body) > cap:
        raise TooLarge
    return body


def _store(
    integration: Integration, kind: str, payload: dict[str, Any], dedup_key: str
) -> InboundEvent | None:
    """Store the accepted event; None when the integration was deleted meanwhile."""
    try:
        return inbound_store(
            integration=integration, kind=kind, payload=payload, dedup_key=dedup_key
        )
    except IntegrityError:  # a cached lookup of an integration deleted since
        integration_key_cache_clear()
        return None


# --- PagerDuty Events API v2 --------------------------------------------------------------


def _pd_invalid(errors: list[str], message: str = "Event object is invalid") -> JsonResponse:
    return JsonResponse(
        {"status": "invalid event", "message": message, "errors": errors}, status=400
    )


def _throttled(decision: RateDecision, body: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(body, status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


@login_not_required
@csrf_exempt
@require_POST
def events_v2(request: HttpRequest) -> JsonResponse:
    try:
        data = json_object(_body(request))
        integration = integration_by_key(key=routing_key_of(data), cached=True)
    except TooLarge:
        limit = settings.INGEST_MAX_BODY_BYTES // 1024
        return JsonResponse(
            {
                "status": "invalid event",
                "message": "Event object is too large",
                "errors": [f"the body is larger than {limit} KB"],
            },
            status=413,
        )
    except InvalidMessage as error:
        return _pd_invalid(error.errors, error.message)
    if integration is None or integration.type != IntegrationType.EVENTS_V2:
        why = "is not an integration key" if integration is None else "is not an Events v2 key"
        return _pd_invalid([f"'routing_key' {why}"])
    decision = ingest_rate_take(integration=integration)
    if not decision.allowed:
        return _throttled(
            decision,
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. "
                "Please retry later.",
                "errors": [
                    f"more than {decision.limit} events a minute for this routing_key; "
                    f"retry after {decision.retry_after} s"
                ],
            },
        )
    try:
        event = event_v2_parse(data, severities=integration.severity_map)
    except InvalidMessage as error:
        return _pd_invalid(error.errors, error.message)
    level = ""
    if event.event_action == "trigger":
        level = integration.severity_map[event.severity]
        if not event.dedup_key:  # PagerDuty makes one up and returns it
            event = dataclasses.replace(event, dedup_key=uuid.uuid4().hex)
    payload = event_v2_payload(event, level=level)
    stored = _store(integration, IntegrationType.EVENTS_V2, payload, event.dedup_key)
    if stored is None:
        return _pd_invalid(["'routing_key' is not an integration key"])
    if settings.INGEST_INLINE:
        ingest_fold_now(stored)
    return JsonResponse(
        {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key},
        status=202,
    )


# --- Alertmanager -------------------------------------------------------------------------


def _error(status: int, code: str, message: str, errors: Sequence[str] = ()) -> JsonResponse:
    fields: dict[str, list[str]] = {}
    for item in errors:
        match = _FIELD.match(item)
        if match:
            fields.setdefault(match.group(1), []).append(match.group(2))
    text = message + (": " + "; ".join(errors) if errors else "")
    return JsonResponse({"error": {"code": code, "message": text, "fields": fields}}, status=status)


def _am_integration(request: HttpRequest, key: str | None) -> Integration | JsonResponse:
    if key is None:
        match = _BEARER.match(request.headers.get("Authorization", ""))
        if match is None:
            return _error(
                401,
                "not_authenticated",
                "Send the integration key as 'Authorization: Bearer <key>' or in the URL",
            )
        key = match.group(1)
    integration = integration_by_key(key=key, cached=True)
    if integration is None or integration.type != IntegrationType.ALERTMANAGER:
        return _error(401, "invalid_key", "This is not an Alertmanager integration key")
    return integration


@login_not_required
@csrf_exempt
@require_POST
def alertmanager(request: HttpRequest, key: str | None = None) -> JsonResponse:
    found = _am_integration(request, key)
    if isinstance(found, JsonResponse):
        return found
    integration = found
    try:
        data = json_object(_body(request))
    except TooLarge:
        limit = settings.INGEST_MAX_BODY_BYTES // 1024
        return _error(413, "too_large", f"The body is larger than {limit} KB")
    except InvalidMessage as error:
        return _error(400, "invalid", error.message, error.errors)
    decision = ingest_rate_take(integration=integration)
    if not decision.allowed:
        return _throttled(
            decision,
            {
                "error": {
                    "code": "throttled",
                    "message": f"More than {decision.limit} messages a minute for this key; "
                    f"retry after {decision.retry_after} s",
                    "fields": {},
                }
            },
        )
    try:
        message = alertmanager_parse(data)
        level = ""
        if message.status == AlertStatus.FIRING:
            level = alertmanager_severity(integration=integration, message=message)
    except InvalidMessage as error:
        return _error(400, "invalid", error.message, error.errors)
    payload = alertmanager_payload(message, level=level)
    stored = _store(integration, IntegrationType.ALERTMANAGER, payload, message.dedup_key)
    if stored is None:
        return _error(401, "invalid_key", "This is not an Alertmanager integration key")
    # Folded later (`accepted`), or now under INGEST_INLINE: then what it did.
    result = ingest_fold_now(stored) if settings.INGEST_INLINE else None
    incident = result.incident if result is not None else None
    return JsonResponse(
        {
            "status": "success",
            "action": result.action if result is not None else "accepted",
            "dedup_key": message.dedup_key,
            "incident": incident.number if incident is not None else None,
        }
    )
