"""The drop-in doors: `POST /v2/enqueue` (Events API v2) and the Alertmanager receiver.

No session, no CSRF: the integration key is the credential. Each door reads the request
(the body, refused unread when its declared length is over the cap; the key Alertmanager
was given) and calls `ingest_accept`, which decides everything else; the door renders the
answer or the refusal in the format's own shape (PagerDuty's for /v2/enqueue, the portal's
API error shape for Alertmanager, which ignores bodies).
"""

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from integrations.ingest import IngestRefused, ingest_accept
from integrations.models import HeartbeatMonitor, IntegrationType
from integrations.ratelimit import ingest_rate_take
from integrations.services import heartbeat_ping, integration_by_key, integration_key_cache_clear

_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


def request_body(request: HttpRequest) -> bytes | None:
    """The raw body; None when it is over INGEST_MAX_BODY_BYTES (by its declared length,
    before reading it, or by what was read)."""
    cap = settings.INGEST_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > cap:
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None
    return body if len(body) <= cap else None


def _answer(body: dict[str, Any], refused: IngestRefused) -> JsonResponse:
    response = JsonResponse(body, status=refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def api_error(refused: IngestRefused) -> JsonResponse:
    """The portal's one API error shape, `{"error": {"code", "message", "fields"}}`; the
    message names every problem, `fields` holds those of a field."""
    text = refused.message
    if refused.problems:
        text += ": " + "; ".join(str(p) for p in refused.problems)
    body = {"error": {"code": refused.code, "message": text, "fields": refused.fields}}
    return _answer(body, refused)


def pagerduty_error(refused: IngestRefused) -> JsonResponse:
    """PagerDuty's own refusal: `{"status", "message", "errors"}` (FORMATS.md)."""
    status = "throttle event" if refused.status == 429 else "invalid event"
    errors = [str(p) for p in refused.problems]
    return _answer({"status": status, "message": refused.message, "errors": errors}, refused)


@login_not_required
@csrf_exempt
@require_POST
def events_v2(request: HttpRequest) -> JsonResponse:
    try:
        accepted = ingest_accept(
            integration=None, kind=IntegrationType.EVENTS_V2, body=request_body(request)
        )
    except IngestRefused as refused:
        return pagerduty_error(refused)
    return JsonResponse(
        {"status": "success", "message": "Event processed", "dedup_key": accepted.dedup_key},
        status=202,
    )


@login_not_required
@csrf_exempt
@require_POST
def alertmanager(request: HttpRequest, key: str | None = None) -> JsonResponse:
    if key is None:
        match = _BEARER.match(request.headers.get("Authorization", ""))
        key = match.group(1) if match else None
    try:
        accepted = ingest_accept(
            integration=key, kind=IntegrationType.ALERTMANAGER, body=request_body(request)
        )
    except IngestRefused as refused:
        return api_error(refused)
    # Folded later (`accepted`), or now under INGEST_INLINE: then what it did.
    folded = accepted.folded
    incident = folded.incident if folded is not None else None
    return JsonResponse(
        {
            "status": "success",
            "action": folded.action if folded is not None else "accepted",
            "dedup_key": accepted.dedup_key,
            "incident": incident.number if incident is not None else None,
        }
    )


def _no_heartbeat() -> JsonResponse:
    return JsonResponse(
        {
            "error": {
                "code": "not_found",
                "message": "This is not a heartbeat integration's address",
                "fields": {},
            }
        },
        status=404,
    )


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST", "HEAD"])
def heartbeat(request: HttpRequest, key: str) -> JsonResponse:
    """A heartbeat monitor's ping: GET or POST, any body (never read: an Alertmanager
    Watchdog message is a ping like any other). HEAD only says whether the address is one
    (link checkers): it is not a ping and not counted."""
    found = integration_by_key(key=key, cached=True)
    if found is None or found.type != IntegrationType.HEARTBEAT:
        return _no_heartbeat()
    if request.method == "HEAD":
        return JsonResponse({})
    decision = ingest_rate_take(integration=found)
    if not decision.allowed:
        wait = decision.retry_after
        message = f"More than {decision.limit} pings a minute for this key; retry after {wait} s"
        refused = IngestRefused(status=429, code="throttled", message=message, retry_after=wait)
        return api_error(refused)
    try:
        monitor = heartbeat_ping(integration=found)
    except HeartbeatMonitor.DoesNotExist:  # a cached lookup of an integration deleted since
        integration_key_cache_clear()
        return _no_heartbeat()
    return JsonResponse(
        {
            "status": "success" if monitor.is_enabled else "disabled",
            "state": monitor.state,
            "last_ping_at": monitor.last_ping_at,
            "next_due_at": monitor.next_due_at,
        }
    )
