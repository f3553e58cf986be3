"""The channel interface: `send(message) -> SendResult`, raising Transient/PermanentError."""

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from notifications.outbound import OutboundRefused, guarded_client, guarded_url, url_shown

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(DeliveryError):
    """Worth trying again later (timeouts, 5xx, 429)."""


class PermanentError(DeliveryError):
    """Trying again cannot help (4xx, invalid number, refused address)."""


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: int
    idempotency_key: str
    channel: str
    address: str
    subject: str
    body: str
    urgency: str
    reason: str = ""
    subject_type: str = ""
    subject_id: int | None = None
    ack_url: str = ""
    # Twilio posts delivery reports and keypresses here.
    status_callback_url: str = ""
    voice_ack_url: str = ""
    secret: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    html_body: str = ""  # an email's own HTML part (cleaned again by the email channel)
    # How many pages this message carries (storm control); its ack acknowledges them all.
    bundle_size: int = 1

    @property
    def ack_label(self) -> str:
        return f"Ack all {self.bundle_size}" if self.bundle_size > 1 else "Ack"


# C0 and C1 controls, DEL, the Unicode line/paragraph separators and lone surrogates: text
# from an alert or a title must not break a header, an SMS or TwiML (XML forbids most C0).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """Printable text on one line: every control character (newlines too) becomes a space."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())


def printable_lines(text: str) -> str:
    """Printable text keeping its newlines (an SMS): other control characters become spaces."""
    return _CONTROLS_BUT_NEWLINE.sub(" ", text.replace("\r\n", "\n"))


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str = ""


class Backend:
    """Send one message. Subclasses raise TransientError or PermanentError on failure."""

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError


@functools.cache
def _backend(path: str) -> Backend:
    backend = import_string(path)()
    assert isinstance(backend, Backend), f"{path} is not a notifications Backend"
    return backend


def backend_for(channel: str) -> Backend:
    return _backend(settings.NOTIFY_BACKENDS[channel])


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is true, float("²") fails
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


def http_timeout() -> httpx.Timeout:
    return httpx.Timeout(settings.NOTIFY_HTTP_TIMEOUT)


@functools.cache
def http_client() -> httpx.Client:
    """One pooled client per process: building a TLS context per request costs ~20 ms."""
    return httpx.Client(follow_redirects=False, headers={"User-Agent": "oncall-portal"})


def post(
    url: str,
    *,
    user_given: bool = False,
    error_detail: Callable[[httpx.Response], str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """POST and sort the outcome: 2xx returns, 429/5xx/network → transient, other → permanent.

    `user_given` URLs (webhooks, Slack hooks) go through `outbound.guarded_client`: an
    address we must not reach fails the message permanently and nothing is sent. An error
    says the status and its reason phrase (plus `error_detail`'s short words), never the
    peer's body: it is shown on the outbox, the incident timeline and the admin.
    """
    try:
        if user_given:
            response = guarded_client().post(guarded_url(url), timeout=http_timeout(), **kwargs)
        else:
            response = http_client().post(url, timeout=http_timeout(), **kwargs)
    except OutboundRefused as error:
        raise PermanentError(f"refused: {error}") from error
    except httpx.TimeoutException as error:
        raise TransientError(f"timeout talking to {httpx.URL(url).host}: {error}") from error
    except httpx.TransportError as error:
        raise TransientError(f"cannot reach {httpx.URL(url).host}: {error}") from error
    if response.is_success:
        return response
    # The host only: a Slack or webhook URL's path is its secret.
    logger.debug("HTTP %s from %s: %s", response.status_code, url_shown(url), response.text[:2000])
    detail = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    extra = error_detail(response) if error_detail is not None else ""
    if extra:
        detail = f"{detail} ({extra})"
    if response.status_code == 429 or response.status_code >= 500:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise TransientError(detail, retry_after=retry_after)
    raise PermanentError(detail)
