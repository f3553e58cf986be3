"""Heartbeat monitors: a job pings its address; silence past interval + grace opens one
incident on the team (escalated like any other) and the next ping resolves it."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks

from incidents.models import Incident, Severity, Status, TimelineKind
from integrations.models import (
    AlertGroup,
    HeartbeatMonitor,
    HeartbeatState,
    InboundEvent,
    Integration,
)
from integrations.services import (
    heartbeat_ping,
    heartbeat_sweep,
    integration_create,
    integration_delete,
    integration_update,
)
from integrations.tasks import heartbeat_monitors_sweep
from notifications.models import Notification
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Team, Tier
from tests.api.conftest import assert_error
from tests.factories import IntegrationFactory, RotationFactory, TeamFactory, UserFactory
from tests.integrations.support import am_message

API = "/api/v1/integrations/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def oncall_team() -> Team:
    """A team whose veteran rotation has alice on call (so a late heartbeat pages her)."""
    team = TeamFactory.create(slug="core", name="Core")
    RotationFactory.create(
        team=team, tier=Tier.VETERAN, members=[UserFactory.create(username="alice")]
    )
    return team


def heartbeat(team: Team | None = None, **settings: Any) -> tuple[Integration, str]:
    """A heartbeat integration (5 minutes, 1 minute of grace) and its key."""
    return integration_create(
        team=team or oncall_team(),
        name=settings.pop("name", "Nightly backup"),
        type="heartbeat",
        actor=None,
        interval=settings.pop("interval", timedelta(minutes=5)),
        grace=settings.pop("grace", timedelta(minutes=1)),
        **settings,
    )


def ping_url(key: str) -> str:
    return f"/integrations/heartbeat/{key}/"


def monitor_of(integration: Integration) -> HeartbeatMonitor:
    return HeartbeatMonitor.objects.get(integration=integration)


def open_incidents(integration: Integration) -> list[Incident]:
    return list(
        Incident.objects.filter(alert_group__integration=integration).exclude(
            status=Status.RESOLVED
        )
    )


# --- State and the sweep ---------------------------------------------------------------------


def test_an_inactive_monitor_never_fires(db: None) -> None:
    integration, _ = heartbeat()
    assert monitor_of(integration).state == HeartbeatState.INACTIVE
    assert heartbeat_sweep(now=T0 + timedelta(days=30)) == 0
    assert not Incident.objects.exists()
    assert monitor_of(integration).next_due_at is None


def test_a_late_heartbeat_opens_exactly_one_incident_and_a_ping_resolves_it(
    db: None, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    integration, key = heartbeat(severity=Severity.SEV1)
    client = Client()
    with time_machine.travel(T0, tick=False):
        assert client.get(ping_url(key)).status_code == 200
    monitor = monitor_of(integration)
    assert (monitor.state, monitor.last_ping_at) == (HeartbeatState.HEALTHY, T0)
    assert monitor.next_due_at == T0 + timedelta(minutes=6)

    assert heartbeat_sweep(now=T0 + timedelta(minutes=5, seconds=59)) == 0  # within grace
    with django_capture_on_commit_callbacks(execute=False):
        assert heartbeat_sweep(now=T0 + timedelta(minutes=6)) == 1
    assert heartbeat_sweep(now=T0 + timedelta(minutes=7)) == 0  # once, not every sweep
    assert heartbeat_sweep(now=T0 + timedelta(hours=3)) == 0

    [incident] = open_incidents(integration)
    assert (incident.team, incident.severity) == (integration.team, Severity.SEV1)
    assert incident.dedup_key == f"heartbeat:{integration.pk}"
    assert incident.escalation_states.exists()  # escalates like any other incident
    why = incident.timeline.get(kind=TimelineKind.ALERT).message
    assert "No heartbeat from Nightly backup since 2026-03-02 09:00:00 UTC" in why
    monitor.refresh_from_db()
    assert (monitor.state, monitor.next_due_at) == (HeartbeatState.LATE, None)

    back = T0 + timedelta(minutes=12)
    with time_machine.travel(back, tick=False):
        assert client.post(ping_url(key), "done", content_type="text/plain").status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    resolved = incident.timeline.get(kind=TimelineKind.RESOLVED).message
    assert "the heartbeat came back (a ping at 2026-03-02 09:12:00 UTC)" in resolved
    monitor.refresh_from_db()
    assert monitor.state == HeartbeatState.HEALTHY
    assert monitor.next_due_at == back + timedelta(minutes=6)
    assert not AlertGroup.objects.filter(is_open=True).exists()


def test_a_second_silence_opens_a_new_incident(db: None) -> None:
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    heartbeat_sweep(now=T0 + timedelta(minutes=6))
    heartbeat_ping(integration=integration, at=T0 + timedelta(minutes=8))
    assert heartbeat_sweep(now=T0 + timedelta(minutes=14)) == 1
    assert Incident.objects.count() == 2
    assert len(open_incidents(integration)) == 1


def test_a_disabled_or_deleted_monitor_never_fires(db: None) -> None:
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    integration_update(integration=integration, changes={"is_enabled": False})
    assert heartbeat_sweep(now=T0 + timedelta(days=1)) == 0
    heartbeat_ping(integration=integration, at=T0 + timedelta(minutes=1))
    assert heartbeat_sweep(now=T0 + timedelta(days=1)) == 0

    integration_update(integration=integration, changes={"is_enabled": True})
    assert monitor_of(integration).state == HeartbeatState.INACTIVE  # waits for a new ping
    assert heartbeat_sweep(now=T0 + timedelta(days=1)) == 0

    other, _ = heartbeat(team=integration.team, name="Other")
    heartbeat_ping(integration=other, at=T0)
    integration_delete(integration=other)
    assert heartbeat_sweep(now=T0 + timedelta(days=1)) == 0
    assert not Incident.objects.exists()


def test_changing_the_interval_moves_the_due_time(db: None) -> None:
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    integration_update(integration=integration, changes={"interval": timedelta(hours=1)})
    assert monitor_of(integration).next_due_at == T0 + timedelta(hours=1, minutes=1)


@pytest.mark.postgres
def test_a_monitor_another_sweep_holds_is_skipped_not_fired_twice(
    transactional_db: None,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    held, release = threading.Event(), threading.Event()

    def other_sweep() -> None:
        with transaction.atomic():
            HeartbeatMonitor.objects.select_for_update().get(pk=integration.pk)
            held.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_sweep)
    thread.start()
    assert held.wait(10)
    try:
        assert heartbeat_sweep(now=T0 + timedelta(minutes=7)) == 0  # skipped, not waited for
    finally:
        release.set()
        thread.join()
    assert heartbeat_sweep(now=T0 + timedelta(minutes=7)) == 1
    assert Incident.objects.count() == 1


# --- The ping door ---------------------------------------------------------------------------


def test_get_and_post_ping_and_head_is_harmless(db: None) -> None:
    integration, key = heartbeat()
    client = Client()
    assert client.head(ping_url(key)).status_code == 200
    assert monitor_of(integration).state == HeartbeatState.INACTIVE  # HEAD is not a ping

    with time_machine.travel(T0, tick=False):
        response = client.get(ping_url(key))
    assert response.status_code == 200
    assert response.json()["state"] == "healthy"
    later = T0 + timedelta(minutes=2)
    with time_machine.travel(later, tick=False):
        body = b"x" * 100_000  # any body, never read
        assert client.post(ping_url(key), body, content_type="application/zip").status_code == 200
    assert monitor_of(integration).last_ping_at == later
    assert client.put(ping_url(key)).status_code == 405
    assert not InboundEvent.objects.exists()


def test_a_wrong_key_is_404_and_keys_open_only_their_own_door(db: None) -> None:
    integration, key = heartbeat()
    client = Client()
    assert_error(client.get(ping_url("nope")), 404, "not_found")
    assert client.head(ping_url("nope")).status_code == 404
    events = IntegrationFactory.create(team=integration.team)
    events_key: str = events.key  # type: ignore[attr-defined]
    assert_error(client.post(ping_url(events_key)), 404, "not_found")
    # A heartbeat key is no Alertmanager key.
    response = client.post(
        f"/integrations/alertmanager/{key}/", am_message(), content_type="application/json"
    )
    assert response.status_code == 401
    assert monitor_of(integration).state == HeartbeatState.INACTIVE


def test_alertmanager_s_watchdog_posting_to_the_address_is_a_ping(db: None) -> None:
    integration, key = heartbeat()
    watchdog = am_message(
        group_key='{}:{alertname="Watchdog"}',
        alerts=[
            {
                "status": "firing",
                "labels": {"alertname": "Watchdog", "severity": "none"},
                "annotations": {"summary": "An alert that should always be firing"},
                "startsAt": "2026-03-02T08:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "e2a9f2b1c2d3e4f5",
            }
        ],
    )
    with time_machine.travel(T0, tick=False):
        response = Client().post(ping_url(key), watchdog, content_type="application/json")
    assert response.status_code == 200, response.content
    monitor = monitor_of(integration)
    assert (monitor.state, monitor.last_ping_at) == (HeartbeatState.HEALTHY, T0)
    assert not Incident.objects.exists()
    assert not InboundEvent.objects.exists()


def test_pings_are_rate_limited_like_every_door(db: None) -> None:
    integration, key = heartbeat(rate_limit_per_minute=1)
    client = Client()
    assert client.get(ping_url(key)).status_code == 200
    refused = client.get(ping_url(key))
    assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) >= 1
    integration.refresh_from_db()
    assert integration.refused_events == 1


# --- The API contract ------------------------------------------------------------------------


def manager_client() -> Client:
    client = Client()
    client.force_login(UserFactory.create(roles=[MANAGER]))
    return client


def test_the_api_creates_a_heartbeat_and_answers_its_url_and_state(db: None) -> None:
    oncall_team()
    client = manager_client()
    response = client.post(
        API,
        {
            "team": "core",
            "name": "Watchdog",
            "type": "heartbeat",
            "interval": "PT5M",
            "grace": "PT2M",
            "severity": "SEV1",
        },
        "application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["url"].endswith(f"/integrations/heartbeat/{body['key']}/")
    assert (body["state"], body["last_ping_at"]) == ("inactive", None)
    assert (body["interval"], body["grace"], body["severity"]) == ("PT5M", "PT2M", "SEV1")

    assert Client().get(body["url"].split("testserver")[-1]).status_code == 200
    read = client.get(f"{API}{body['id']}/").json()
    assert read["state"] == "healthy"
    assert read["last_ping_at"] is not None
    assert read["next_due_at"] is not None
    assert read["url"].endswith("/integrations/heartbeat/{key}/")  # the key is shown once
    assert body["key"] not in str(client.get(API).json())

    changed = client.patch(
        f"{API}{body['id']}/", {"grace": "PT10M", "is_enabled": False}, "application/json"
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["grace"], changed.json()["is_enabled"]) == ("PT10M", False)
    assert changed.json()["next_due_at"] is None


@pytest.mark.parametrize("field", ["interval", "grace"])
@pytest.mark.parametrize("value", ["PT0S", "PT30S", "P8D", "abc", "P9999999999D", 300, None])
def test_a_bad_interval_or_grace_is_a_400_naming_the_field(
    db: None, field: str, value: Any
) -> None:
    oncall_team()
    body = {"team": "core", "name": "x", "type": "heartbeat", "interval": "PT5M", "grace": "PT1M"}
    body[field] = value
    response = manager_client().post(API, body, "application/json")
    assert_error(response, 400, field=field)
    assert not Integration.objects.exists()


def test_a_heartbeat_needs_its_durations_and_others_refuse_them(db: None) -> None:
    oncall_team()
    client = manager_client()
    missing = client.post(
        API, {"team": "core", "name": "x", "type": "heartbeat"}, "application/json"
    )
    assert set(assert_error(missing, 400)["fields"]) == {"interval", "grace"}
    other = client.post(
        API,
        {"team": "core", "name": "x", "type": "alertmanager", "interval": "PT5M"},
        "application/json",
    )
    assert_error(other, 400, field="interval")
    assert not Integration.objects.exists()


@pytest.mark.parametrize("role", [ENGINEER, SUPPORT, SUPPORT_MANAGER])
def test_only_managers_create_heartbeats(db: None, role: str) -> None:
    oncall_team()
    client = Client()
    client.force_login(UserFactory.create(roles=[role]))
    body = {"team": "core", "name": "x", "type": "heartbeat", "interval": "PT5M", "grace": "PT1M"}
    assert client.post(API, body, "application/json").status_code == 403
    assert not Integration.objects.exists()


# --- Pages: the portal and the admin ---------------------------------------------------------


@pytest.mark.parametrize("role", [MANAGER, ENGINEER, SUPPORT, SUPPORT_MANAGER])
def test_every_role_sees_the_monitor_page_and_the_team_lists_it(db: None, role: str) -> None:
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    client = Client()
    client.force_login(UserFactory.create(roles=[role]))

    page = client.get(f"/integrations/{integration.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-state="healthy"' in html
    assert 'datetime="2026-03-02T09:00:00Z"' in html  # last ping
    assert 'datetime="2026-03-02T09:06:00Z"' in html  # late after
    assert ("Edit in the admin" in html) == (role == MANAGER)

    team = client.get("/teams/core/").content.decode()
    assert f'href="/integrations/{integration.pk}/"' in team
    assert 'data-type="heartbeat" data-state="healthy"' in team


def test_a_late_monitor_s_page_links_its_open_incident(db: None) -> None:
    integration, _ = heartbeat()
    heartbeat_ping(integration=integration, at=T0)
    heartbeat_sweep(now=T0 + timedelta(minutes=6))
    [incident] = open_incidents(integration)
    client = Client()
    client.force_login(UserFactory.create(roles=[ENGINEER]))
    html = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert 'data-state="late"' in html
    assert f'href="/incidents/{incident.pk}/"' in html
    heartbeat_ping(integration=integration, at=T0 + timedelta(minutes=7))
    html = client.get(f"/integrations/{integration.pk}/").content.decode()
    assert f'href="/incidents/{incident.pk}/"' not in html


def test_the_monitor_page_needs_a_sign_in_and_an_existing_integration(db: None) -> None:
    integration, _ = heartbeat()
    assert Client().get(f"/integrations/{integration.pk}/").status_code == 302
    client = Client()
    client.force_login(UserFactory.create(roles=[ENGINEER]))
    assert client.get("/integrations/999999/").status_code == 404


def admin_staff(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(roles=[role], is_staff=True))
    return client


def admin_form(team: Team, **fields: str) -> dict[str, Any]:
    return {
        "team": team.pk,
        "name": "Backup",
        "type": "heartbeat",
        "severity_map": '{"critical": "SEV1"}',
        "interval": "00:05:00",
        "grace": "00:01:00",
        "severity": "SEV3",
        "is_enabled": "on",
        **fields,
    }


def test_a_manager_adds_a_heartbeat_in_the_admin_and_sees_its_state(db: None) -> None:
    team = oncall_team()
    client = admin_staff(MANAGER)
    response = client.post("/admin/integrations/integration/add/", admin_form(team))
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = Integration.objects.get(name="Backup")
    monitor = monitor_of(integration)
    assert (monitor.interval, monitor.grace, monitor.severity) == (
        timedelta(minutes=5),
        timedelta(minutes=1),
        "SEV3",
    )
    heartbeat_ping(integration=integration, at=T0)

    page = client.get(f"/admin/integrations/integration/{integration.pk}/change/")
    assert "Healthy" in page.content.decode()
    changed = client.post(
        f"/admin/integrations/integration/{integration.pk}/change/",
        admin_form(team, interval="01:00:00"),
    )
    assert changed.status_code == 302, changed.content.decode()[:3000]
    assert monitor_of(integration).next_due_at == T0 + timedelta(hours=1, minutes=1)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"interval": "8 00:00:00"}, "interval"),
        ({"grace": "00:00:30"}, "grace"),
        ({"interval": ""}, "interval"),
        ({"interval": "999999999 00:00:00"}, "interval"),
        ({"type": "alertmanager"}, "interval"),
    ],
)
def test_the_admin_refuses_bad_heartbeat_settings(
    db: None, fields: dict[str, str], field: str
) -> None:
    team = oncall_team()
    response = admin_staff(MANAGER).post(
        "/admin/integrations/integration/add/", admin_form(team, **fields)
    )
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Integration.objects.exists()


# --- Through a real worker -------------------------------------------------------------------


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    return {"NOTIFY_CONSOLE": "1"}


def wait_for(check: Callable[[], bool], log: Callable[[], str], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"{what}; worker log:\n{log()}"
        time.sleep(0.2)


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_opens_pages_and_a_ping_resolves(celery_worker: Callable[[], str]) -> None:
    integration, key = heartbeat()
    client = Client()
    # The worker lives in real time: the last ping was ten minutes ago.
    with time_machine.travel(datetime.now(UTC) - timedelta(minutes=10), tick=False):
        assert client.get(ping_url(key)).status_code == 200

    heartbeat_monitors_sweep.delay()
    heartbeat_monitors_sweep.delay()  # a second sweep at once: still one incident
    wait_for(lambda: bool(open_incidents(integration)), celery_worker, "no incident")
    [incident] = open_incidents(integration)
    paged = Notification.objects.filter(subject_type="incident", subject_id=incident.pk)
    wait_for(lambda: paged.filter(recipient__username="alice").exists(), celery_worker, "no page")
    assert "integrations.heartbeat_sweep" in celery_worker()

    assert client.post(ping_url(key)).status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert Incident.objects.filter(alert_group__integration=integration).count() == 1
