"""The dead-man switch: the auditor pings the outside monitor only while every self-check
passes; a failing check is logged, exported and shown on /healthz."""

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from incidents.models import EscalationState, EscalationStatus
from integrations.models import InboundEvent, InboundStatus
from monitoring.auditor import auditor_run
from monitoring.gauges import monitoring_cache
from monitoring.tasks import auditor_task
from notifications import services
from notifications.models import Channel, Notification
from oncall.health import heartbeat_record
from oncall.models import Heartbeat
from tests.factories import IncidentFactory, IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deadman(settings: Settings, httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """The outside monitor: a local HTTP peer answering GET /ping/<uuid>."""
    settings.DEADMAN_URL = httpserver.url_for("/ping/5f0c")
    settings.DEADMAN_TIMEOUT = 2.0
    settings.METRICS_TOKEN = "t"
    httpserver.expect_request("/ping/5f0c", method="GET").respond_with_data("OK")
    monitoring_cache().clear()
    heartbeat_record()
    yield httpserver
    monitoring_cache().clear()


def pings(server: HTTPServer) -> int:
    return sum(1 for request, _ in server.log if request.path == "/ping/5f0c")


def overdue_step(seconds: int) -> EscalationState:
    return EscalationState.objects.create(
        incident=IncidentFactory.create(),
        track="main",
        status=EscalationStatus.ACTIVE,
        next_action_at=timezone.now() - timedelta(seconds=seconds),
        guard_token=uuid.uuid4(),
        snapshot={"name": "p", "steps": []},
        triggered_at=timezone.now(),
    )


def selfcheck_metric(client: Client) -> dict[str, float]:
    body = client.get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    for family in text_string_to_metric_families(body):
        if family.name == "oncall_selfcheck_ok":
            return {s.labels["check"]: s.value for s in family.samples}
    return {}


def test_healthy_portal_pings_the_outside_monitor(deadman: HTTPServer) -> None:
    assert auditor_run() == "all checks pass; pinged"
    assert pings(deadman) == 1
    assert auditor_task.apply().get() == "all checks pass; pinged"  # the beat task, in process
    assert pings(deadman) == 2


def test_no_ping_while_a_step_is_overdue_then_pings_again_when_healthy(
    deadman: HTTPServer, settings: Settings, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ESCALATION_SWEEP_SECONDS = 5
    # Late by less than two sweeps: the sweeper will still take it, nothing is wrong yet.
    state = overdue_step(seconds=9)
    assert auditor_run() == "all checks pass; pinged"
    # Past two sweeps: the engine is stuck.
    EscalationState.objects.filter(pk=state.pk).update(
        next_action_at=timezone.now() - timedelta(seconds=11)
    )
    with caplog.at_level("ERROR", logger="monitoring.auditor"):
        assert auditor_run() == "not pinging: escalation failing"
    assert pings(deadman) == 1
    assert "self-check escalation failed: 1 escalation step(s) late by more than 10s" in caplog.text
    assert selfcheck_metric(client) == {
        "escalation": 0.0,
        "outbox": 1.0,
        "beat": 1.0,
        "ingestion": 1.0,
    }

    EscalationState.objects.filter(pk=state.pk).update(status=EscalationStatus.DONE)
    assert auditor_run() == "all checks pass; pinged"
    assert pings(deadman) == 2
    assert selfcheck_metric(client)["escalation"] == 1.0


def test_a_page_stuck_in_the_outbox_stops_the_ping(deadman: HTTPServer) -> None:
    row = services.notification_enqueue(
        idempotency_key="stuck", channel=Channel.EMAIL, address="a@example.com", subject="x"
    )
    # Due 59 s ago: within the minute's slack.
    Notification.objects.filter(pk=row.pk).update(not_before=timezone.now() - timedelta(seconds=59))
    assert auditor_run() == "all checks pass; pinged"
    Notification.objects.filter(pk=row.pk).update(not_before=timezone.now() - timedelta(seconds=61))
    assert auditor_run() == "not pinging: outbox failing"
    # A page held for later (storm control's slot, a rule's delay) is not late.
    Notification.objects.filter(pk=row.pk).update(not_before=timezone.now() + timedelta(hours=1))
    assert auditor_run() == "all checks pass; pinged"
    assert pings(deadman) == 2


def test_a_stale_beat_and_a_waiting_event_stop_the_ping(
    deadman: HTTPServer, settings: Settings
) -> None:
    settings.INGEST_SWEEP_GRACE = timedelta(seconds=10)
    event = InboundEvent.objects.create(
        integration=IntegrationFactory.create(),
        kind="events_v2",
        payload={},
        dedup_key="k",
        received_at=timezone.now() - timedelta(seconds=71),
    )
    assert auditor_run() == "not pinging: ingestion failing"
    InboundEvent.objects.filter(pk=event.pk).update(status=InboundStatus.PROCESSED)
    Heartbeat.objects.filter(name="beat").update(
        at=timezone.now() - settings.HEARTBEAT_MAX_AGE - timedelta(seconds=1)
    )
    assert auditor_run() == "not pinging: beat failing"
    assert pings(deadman) == 0


def test_a_failing_or_unreachable_monitor_is_logged_never_raised(
    settings: Settings, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    heartbeat_record()
    settings.DEADMAN_URL = httpserver.url_for("/down")
    httpserver.expect_request("/down").respond_with_data("no", status=503)
    with caplog.at_level("WARNING", logger="monitoring.auditor"):
        assert auditor_run() == "all checks pass; ping failed"
    assert "dead-man ping" in caplog.text
    settings.DEADMAN_URL = "http://127.0.0.1:1/nothing-listens"
    assert auditor_run() == "all checks pass; ping failed"


def test_without_a_deadman_url_it_only_checks(settings: Settings) -> None:
    heartbeat_record()
    settings.DEADMAN_URL = ""
    assert auditor_run() == "all checks pass; no DEADMAN_URL to ping"


def test_the_checks_use_the_time_they_are_given(deadman: HTTPServer) -> None:
    overdue_step(seconds=-60)  # due in a minute
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        heartbeat_record()
        assert auditor_run() == "not pinging: escalation failing"
