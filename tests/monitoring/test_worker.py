"""Through a real Celery worker on Redis: a page the worker sends shows on /metrics (its
counts reach the web process through PROMETHEUS_MULTIPROC_DIR), and the beat task of the
auditor pings the dead-man service."""

from collections.abc import Callable, Iterator
from pathlib import Path

import kombu.pools
import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.models import Channel, Notification
from oncall.celery import app as celery_app
from oncall.health import heartbeat_record
from tests.notifications.conftest import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def metrics_dir(tmp_path: Path) -> Path:
    return tmp_path / "prometheus"


@pytest.fixture
def celery_worker_env(httpserver: HTTPServer, metrics_dir: Path) -> Iterator[dict[str, str]]:
    yield {
        "NOTIFY_CONSOLE": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DEADMAN_URL": httpserver.url_for("/ping/worker"),
    }
    kombu.pools.reset()


@pytest.fixture
def worker(celery_worker: Callable[[], str]) -> Callable[[], str]:
    kombu.pools.reset()
    return celery_worker


def sent_webhooks(client: Client) -> float:
    body = client.get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "oncall_notifications_total" and sample.labels == {
                "channel": "webhook",
                "status": "sent",
            }:
                return sample.value
    return 0.0


def test_a_page_the_worker_sends_is_counted_on_the_web_side(
    worker: Callable[[], str],
    httpserver: HTTPServer,
    metrics_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    client: Client,
) -> None:
    settings.METRICS_TOKEN = "t"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    before = sent_webhooks(client)
    row = services.notification_enqueue(
        idempotency_key="worker-metrics",
        channel=Channel.WEBHOOK,
        address=httpserver.url_for("/hook"),
        subject="SEV1 #1",
        body="down",
    )

    def sent() -> bool:
        return Notification.objects.get(pk=row.pk).status == "sent"

    wait_for(sent, timeout=60, what=f"the worker to send it; log:\n{worker()}")
    wait_for(lambda: sent_webhooks(client) == before + 1, timeout=10, what="the count")


def test_the_auditor_task_pings_the_deadman_service_from_the_worker(
    worker: Callable[[], str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/ping/worker", method="GET").respond_with_data("OK")
    heartbeat_record()
    celery_app.send_task("monitoring.auditor", queue="default")

    def pinged() -> bool:
        return any(request.path == "/ping/worker" for request, _ in httpserver.log)

    wait_for(pinged, timeout=60, what=f"the ping; worker log:\n{worker()}")
