"""Fixtures for the notifications tests: real channel backends pointed at local peers."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from notifications import callbacks
from notifications.channels import base
from notifications.models import Notification
from oncall.celery import app as celery_app

REAL_BACKENDS = {
    "email": "notifications.channels.email.EmailBackend",
    "sms": "notifications.channels.twilio.TwilioSmsBackend",
    "voice": "notifications.channels.twilio.TwilioVoiceBackend",
    "slack": "notifications.channels.slack.SlackBackend",
    "webhook": "notifications.channels.webhook.WebhookBackend",
}
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_TOKEN = "twilio-test-token"
TWILIO_FROM = "+15005550006"


@pytest.fixture
def real_channels(settings: Settings, httpserver: HTTPServer) -> HTTPServer:
    """Every channel uses its real backend; Twilio is the local HTTP server."""
    settings.NOTIFY_BACKENDS = REAL_BACKENDS
    settings.TWILIO_BASE_URL = httpserver.url_for("/twilio")
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.TWILIO_FROM = TWILIO_FROM
    settings.NOTIFY_MIN_INTERVAL = dict.fromkeys(REAL_BACKENDS, 0)
    settings.NOTIFY_HTTP_TIMEOUT = 2.0
    base._backend.cache_clear()
    return httpserver


def local_peers_env(httpserver: HTTPServer, smtp_url: str, **extra: str) -> dict[str, str]:
    """A real worker's environment: every channel real, Twilio the local HTTP server, mail
    the local SMTP server, quick retries (`extra` adds or overrides settings)."""
    return {
        "NOTIFY_CONSOLE": "0",
        "TWILIO_BASE_URL": httpserver.url_for("/twilio"),
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM": TWILIO_FROM,
        "TEST_EMAIL_URL": smtp_url,
        "NOTIFY_RETRY_BASE_SECONDS": "0.5",
        **extra,
    }


@dataclass
class SentTasks:
    calls: list[dict[str, Any]] = field(default_factory=list)

    def for_notification(self, pk: int) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["args"] == [pk]]


@pytest.fixture
def sent_tasks(monkeypatch: pytest.MonkeyPatch) -> SentTasks:
    """Record the delivery tasks the services queue instead of sending them to a broker."""
    sent = SentTasks()

    def send_task(name: str, args: list[Any], **options: Any) -> None:
        sent.calls.append({"name": name, "args": list(args), **options})

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent


@pytest.fixture
def delivered() -> Iterator[list[tuple[int, str]]]:
    """(notification id, status) for every final state the delivery listener hears of."""
    heard: list[tuple[int, str]] = []

    def listener(notification: Notification) -> None:
        heard.append((notification.pk, notification.status))

    callbacks.register_delivery_listener(listener)
    yield heard
    callbacks.unregister_delivery_listener(listener)


@dataclass
class AckCall:
    subject_id: int
    user: object
    channel: str
    notification: Notification


@pytest.fixture
def ack_calls() -> Iterator[list[AckCall]]:
    """An ack handler registered for subject type "incident" that records its calls."""
    calls: list[AckCall] = []

    def handler(*, subject_id: int, user: Any, channel: str, notification: Notification) -> None:
        calls.append(AckCall(subject_id, user, channel, notification))

    # This app's own view of an ack: the page describes itself (no incident app behind it).
    handler_before = callbacks.ack_handler_for("incident")
    describer_before = callbacks.ack_describer_for("incident")
    callbacks.unregister_ack_describer("incident")
    callbacks.register_ack_handler("incident", handler)
    yield calls
    callbacks.unregister_ack_handler("incident")
    if handler_before is not None:
        callbacks.register_ack_handler("incident", handler_before)
    if describer_before is not None:
        callbacks.register_ack_describer("incident", describer_before)


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        message["X-Rcpt-To"] = ",".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Message]

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free local port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler.messages)
    finally:
        controller.stop()


@pytest.fixture
def smtp_mailer(settings: Settings, smtp_server: SmtpServer) -> SmtpServer:
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": smtp_server.host, "port": smtp_server.port, "timeout": 5},
        }
    }
    return smtp_server


def wait_for(predicate: Callable[[], bool], *, timeout: float = 20, what: str = "") -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
