from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from oncall.celery import app
from oncall.health import heartbeat_record
from oncall.models import Heartbeat
from tests.support import use_broker


@pytest.mark.django_db
def test_healthz_is_200_when_database_broker_and_beat_are_alive(client: Client) -> None:
    heartbeat_record()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "beat",
        # The monitoring app's self-checks (monitoring/selfcheck.py).
        "escalation",
        "outbox",
        "ingestion",
    }


@pytest.mark.django_db
def test_healthz_needs_no_login_and_is_503_without_a_heartbeat(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["beat"] == {"ok": False, "detail": "no heartbeat yet"}


@pytest.mark.django_db
def test_healthz_is_503_when_beat_heartbeat_is_stale(client: Client, settings) -> None:
    Heartbeat.objects.create(
        name="beat", at=timezone.now() - settings.HEARTBEAT_MAX_AGE - timedelta(seconds=1)
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "last heartbeat" in response.json()["checks"]["beat"]["detail"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client: Client) -> None:
    heartbeat_record()
    previous = app.conf.broker_url
    use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        use_broker(previous)
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["database"]["ok"] is True


def test_healthz_is_503_when_the_database_is_down(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import connection

    # Point the connection at a server that does not exist; no test database is touched.
    monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/db.sqlite3")
    monkeypatch.setitem(connection.settings_dict, "ENGINE", "django.db.backends.sqlite3")
    connection.close()
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


@pytest.mark.django_db
def test_healthz_reports_the_restarts_of_make_runs_processes(
    client: Client, settings, tmp_path
) -> None:
    settings.VAR_DIR = tmp_path
    heartbeat_record()
    assert "restarts" not in client.get("/healthz").json()  # not started by oncall.runner
    (tmp_path / "runner.json").write_text(
        '{"pid": 1, "processes": {"web": {"restarts": 0}, "worker": {"restarts": 2}}}'
    )
    body = client.get("/healthz").json()
    assert body["restarts"] == {"web": 0, "worker": 2}
    assert body["status"] == "ok"  # the worker is back: the heartbeat says so


@pytest.mark.django_db
def test_healthz_is_503_naming_an_escalation_step_overdue_past_two_sweeps(
    client: Client, settings
) -> None:
    import uuid

    from incidents.models import EscalationState, EscalationStatus
    from tests.factories import IncidentFactory

    heartbeat_record()
    settings.ESCALATION_SWEEP_SECONDS = 5
    EscalationState.objects.create(
        incident=IncidentFactory.create(),
        track="main",
        status=EscalationStatus.ACTIVE,
        next_action_at=timezone.now() - timedelta(seconds=30),
        guard_token=uuid.uuid4(),
        snapshot={"name": "p", "steps": []},
        triggered_at=timezone.now(),
    )
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert [name for name, check in body["checks"].items() if not check["ok"]] == ["escalation"]
    assert body["checks"]["escalation"]["detail"].startswith(
        "1 escalation step(s) late by more than 10s (the oldest by 3"
    )


@pytest.mark.django_db
def test_healthz_is_503_naming_a_page_stuck_in_the_outbox(client: Client) -> None:
    from notifications import services
    from notifications.models import Notification

    heartbeat_record()
    row = services.notification_enqueue(
        idempotency_key="stuck", channel="email", address="a@example.com", subject="x"
    )
    Notification.objects.filter(pk=row.pk).update(not_before=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 503
    failing = [n for n, c in response.json()["checks"].items() if not c["ok"]]
    assert failing == ["outbox"]
