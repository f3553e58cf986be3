"""Structured logs (issue 18 point 8): JSON lines in production, plain text on a laptop; one
line per request (request id echoed) and per task (with the ids it worked on); secrets stay
masked in JSON too."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from notifications import services
from notifications.models import Channel, Notification, Status
from notifications.tasks import DELIVER_TASKS
from oncall.celery import app as celery_app
from oncall.logs import JsonFormatter, log_context
from oncall.settings.base import logging_config
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent.parent
KEY = "oncall_integration_AbCdSECRETsecretSECRETsecret0123456789"
MASKED = "oncall_integration_AbCd…"


@pytest.fixture
def json_logs() -> Iterator["Lines"]:
    """The project's LOGGING with LOG_FORMAT=json, its console writing to a buffer."""
    config = logging_config("json")
    stream = io.StringIO()
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        yield Lines(stream)
    finally:
        logging.config.dictConfig(settings.LOGGING)


class Lines(list[dict[str, object]]):
    def __init__(self, stream: io.StringIO) -> None:
        super().__init__()
        self.stream = stream

    def refresh(self) -> "Lines":
        self[:] = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return self


def _request_lines(lines: list[dict[str, object]]) -> list[dict[str, object]]:
    return [line for line in lines if line["logger"] == "oncall.request"]


def test_a_request_is_one_json_line_with_its_fields_and_request_id(db: None, json_logs) -> None:
    user = UserFactory.create()
    client = Client()
    client.force_login(user)

    response = client.get("/", headers={"X-Request-ID": "lb-7f3a.42"})

    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a.42"
    (line,) = _request_lines(json_logs.refresh())
    assert line["method"] == "GET"
    assert line["path"] == "/"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] == user.pk
    assert line["request_id"] == "lb-7f3a.42"
    assert line["level"] == "INFO"
    assert str(line["time"]).startswith("20")


def test_a_request_without_a_sane_request_id_gets_a_fresh_one(db: None, json_logs) -> None:
    first = Client().get("/healthz")
    forged = Client().get("/healthz", headers={"X-Request-ID": 'x" level=ERROR fake'})

    lines = _request_lines(json_logs.refresh())
    assert len(first["X-Request-ID"]) == 32
    assert forged["X-Request-ID"] != 'x" level=ERROR fake'
    assert len(forged["X-Request-ID"]) == 32
    assert [line["request_id"] for line in lines] == [
        first["X-Request-ID"],
        forged["X-Request-ID"],
    ]
    assert lines[0]["user_id"] is None


def test_a_key_in_the_path_stays_masked_in_every_json_line(db: None, json_logs) -> None:
    response = Client().get(f"/integrations/alertmanager/{KEY}/")

    assert response.status_code == 405
    lines = json_logs.refresh()
    (line,) = _request_lines(lines)
    assert line["path"] == f"/integrations/alertmanager/{MASKED}/"
    assert any(entry["logger"] == "django.request" for entry in lines)  # "Method Not Allowed"
    assert all(KEY not in json.dumps(entry, ensure_ascii=False) for entry in lines)


def test_a_traceback_and_extra_fields_are_masked_in_json(json_logs) -> None:
    path = f"/integrations/alertmanager/{KEY}/"
    logger = logging.getLogger("oncall.test")
    try:
        raise ValueError(f"could not route {path}")
    except ValueError:
        with log_context(incident_id=42):
            logger.exception("failed on %s", path, extra={"url": f"https://x{path}"})

    (line,) = json_logs.refresh()
    assert line["message"] == f"failed on /integrations/alertmanager/{MASKED}/"
    assert f"/alertmanager/{MASKED}" in str(line["exc_info"])
    assert line["url"] == f"https://x/integrations/alertmanager/{MASKED}/"
    assert line["incident_id"] == 42
    assert KEY not in json.dumps(line, ensure_ascii=False)


def test_a_task_is_one_line_with_its_notification_and_incident(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    notification = services.notification_enqueue(
        idempotency_key="log-1",
        channel=Channel.EMAIL,
        address="alice@example.com",
        subject="SEV2 #7 Search slow",
        body="p99 above 2s",
        subject_type="incident",
        subject_id=7,
    )
    Notification.objects.filter(pk=notification.pk).update(status=Status.CANCELLED)

    with caplog.at_level(logging.INFO, logger="oncall.task"):
        DELIVER_TASKS["email"].apply(args=(notification.pk,))

    (record,) = [r for r in caplog.records if r.name == "oncall.task"]
    line = json.loads(JsonFormatter().format(record))
    assert line["task"] == "notifications.deliver.email"
    assert line["state"] == "SUCCESS"
    assert line["notification_id"] == notification.pk
    assert line["incident_id"] == 7
    assert isinstance(line["duration_ms"], float)
    assert line["task_id"]


def test_an_idle_periodic_sweep_is_debug_not_info(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="oncall.task"):
        celery_app.tasks["notifications.sweep"].apply()

    assert [r for r in caplog.records if r.name == "oncall.task"] == []


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    return {"LOG_FORMAT": "json"}


def test_a_real_worker_logs_each_task_as_a_json_line_with_its_ids(celery_worker) -> None:
    celery_app.send_task("incidents.ingest_process", args=[987654321], queue="ingest")

    deadline = time.monotonic() + 30
    while '"oncall.task"' not in celery_worker():
        assert time.monotonic() < deadline, celery_worker()
        time.sleep(0.2)
    lines = [json.loads(text) for text in celery_worker().splitlines() if text.startswith("{")]
    (task,) = [line for line in lines if line["logger"] == "oncall.task"]
    assert task["task"] == "incidents.ingest_process"
    assert task["inbound_event_id"] == 987654321
    assert task["state"] == "SUCCESS"
    assert any("ready." in str(line["message"]) for line in lines)  # Celery's own lines too


def _log_a_line(settings_module: str, log_format: str | None) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "SECRET_KEY": "x" * 50}
    env.pop("LOG_FORMAT", None)
    if log_format:
        env["LOG_FORMAT"] = log_format
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('oncall.request').info('GET / 200', extra={'status': 200})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stderr.strip()


def test_production_logs_json_and_a_laptop_plain_text() -> None:
    production = json.loads(_log_a_line("oncall.settings.production", None))
    assert production["message"] == "GET / 200"
    assert production["status"] == 200

    local = _log_a_line("oncall.settings.local", None)
    assert local.endswith("INFO oncall.request: GET / 200")
    assert not local.startswith("{")

    assert _log_a_line("oncall.settings.production", "plain").endswith("GET / 200")


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT='xml' must be json or plain"):
        logging_config("xml")
