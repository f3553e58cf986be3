"""POST /v2/enqueue: PagerDuty Events API v2 wire format, dedup and lifecycle."""

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from incidents.models import Incident, Source, Status, TimelineKind
from integrations.models import INBOUND_PENDING, Alert, AlertGroup, InboundEvent, Integration
from oncall.roles import ENGINEER
from tests.factories import UserFactory
from tests.integrations.support import fold_accepted, post_json, timeline_line, trigger

URL = "/v2/enqueue"


def send(client: Client, body: Any) -> Any:
    return post_json(client, URL, body)


def test_trigger_answers_202_with_the_dedup_key_and_opens_an_incident(
    client: Client, integration: Integration
) -> None:
    event = trigger(
        integration.key,  # type: ignore[attr-defined]
        "checkout-latency",
        component="checkout",
        group="web",
        **{"class": "latency", "custom_details": {"p99": 2.4}},
    )
    event["links"] = [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}]
    event["images"] = [{"src": "https://grafana.example.com/p.png", "alt": "graph"}]
    event["client"] = "Prometheus"

    response = send(client, event)

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "checkout-latency",
    }
    incident = Incident.objects.get()
    assert incident.title == "Checkout latency over 2 s"
    assert incident.severity == "SEV1"  # critical → SEV1
    assert (incident.source, incident.dedup_key, incident.team) == (
        Source.INTEGRATION,
        "checkout-latency",
        integration.team,
    )
    alert = Alert.objects.get()
    assert (alert.source, alert.component, alert.group, alert.event_class) == (
        "web-01",
        "checkout",
        "web",
        "latency",
    )
    assert alert.custom_details == {"p99": 2.4}
    assert alert.links == [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}]
    assert alert.images == [{"src": "https://grafana.example.com/p.png", "alt": "graph"}]
    note = incident.timeline.get(kind=TimelineKind.ALERT)
    assert "web-01" in note.message
    assert "component checkout" in note.message
    assert note.data["custom_details"] == {"p99": 2.4}


def test_trigger_without_dedup_key_gets_one_generated(
    client: Client, integration: Integration
) -> None:
    response = send(client, trigger(integration.key))  # type: ignore[attr-defined]

    assert response.status_code == 202
    generated = response.json()["dedup_key"]
    assert generated
    assert Incident.objects.get().dedup_key == generated


def test_repeated_triggers_fold_into_one_incident_and_count(
    client: Client, integration: Integration
) -> None:
    key = integration.key  # type: ignore[attr-defined]
    for _ in range(3):
        assert send(client, trigger(key, "disk-full")).status_code == 202

    incident = Incident.objects.get()
    group = AlertGroup.objects.get()
    assert group.alert_count == 3
    assert incident.alerts.count() == 3
    assert incident.timeline.filter(kind=TimelineKind.ALERT).count() == 3
    assert incident.timeline.filter(kind=TimelineKind.DECLARED).count() == 1


def test_acknowledge_then_resolve_then_trigger_opens_a_new_incident(
    client: Client, integration: Integration
) -> None:
    key = integration.key  # type: ignore[attr-defined]
    send(client, trigger(key, "db-down"))
    ack = send(client, {"routing_key": key, "event_action": "acknowledge", "dedup_key": "db-down"})
    first = Incident.objects.get()
    assert ack.status_code == 202
    assert first.status == Status.ACKNOWLEDGED
    assert first.acknowledged_via == "integration"

    resolved = send(client, {"routing_key": key, "event_action": "resolve", "dedup_key": "db-down"})
    first.refresh_from_db()
    assert resolved.json()["dedup_key"] == "db-down"
    assert first.status == Status.RESOLVED
    assert first.resolved_via == "integration"

    send(client, trigger(key, "db-down"))
    assert Incident.objects.count() == 2
    assert Incident.objects.exclude(pk=first.pk).get().status == Status.TRIGGERED


def test_a_resolve_says_via_integration_once(client: Client, integration: Integration) -> None:
    key = integration.key  # type: ignore[attr-defined]
    send(client, trigger(key, "db-down"))
    send(client, {"routing_key": key, "event_action": "resolve", "dedup_key": "db-down"})
    reader = Client()
    reader.force_login(UserFactory.create(roles=[ENGINEER]))

    page = reader.get(f"/incidents/{Incident.objects.get().pk}/")

    assert page.status_code == 200
    assert timeline_line(page.content.decode(), "resolved") == "Resolved — via integration"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_with_nothing_open_is_accepted_and_ignored(
    client: Client, integration: Integration, action: str
) -> None:
    key = integration.key  # type: ignore[attr-defined]
    response = send(client, {"routing_key": key, "event_action": action, "dedup_key": "nope"})

    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "nope",
    }
    assert not Incident.objects.exists()


def test_a_trigger_after_the_incident_was_resolved_in_the_portal_opens_a_new_one(
    client: Client, integration: Integration
) -> None:
    from incidents.services import incident_resolve

    key = integration.key  # type: ignore[attr-defined]
    send(client, trigger(key, "k"))
    incident_resolve(incident=Incident.objects.get(), actor=None)

    send(client, trigger(key, "k"))

    assert Incident.objects.filter(status=Status.TRIGGERED).count() == 1
    assert AlertGroup.objects.filter(is_open=True).count() == 1


def _invalid(response: Any) -> list[str]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"]
    errors: list[str] = body["errors"]
    assert errors
    return errors


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        ({"event_action": "trigger"}, "routing_key"),
        ({"routing_key": 5, "event_action": "trigger"}, "routing_key"),
        ({"routing_key": "oncall_integration_unknown", "event_action": "trigger"}, "routing_key"),
    ],
)
def test_malformed_bodies_and_unknown_keys_are_400_naming_the_problem(
    client: Client, integration: Integration, body: Any, named: str
) -> None:
    errors = _invalid(send(client, body))
    assert any(named in e for e in errors), errors
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"event_action": "explode"}, "event_action"),
        ({"payload": None}, "payload"),
        ({"payload": "text"}, "payload"),
        ({"payload": {"source": "x", "severity": "critical"}}, "payload.summary"),
        ({"payload": {"summary": "x", "severity": "critical"}}, "payload.source"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"summary": "x", "source": "y", "severity": 3}}, "payload.severity"),
        ({"payload": {"summary": "x" * 1025, "source": "y", "severity": "info"}}, "1024"),
        ({"dedup_key": "k" * 256}, "dedup_key"),
        ({"dedup_key": 12}, "dedup_key"),
        ({"links": [{"text": "no href"}]}, "links[0].href"),
        ({"images": "x"}, "images"),
        (
            {"payload": {"summary": "x", "source": "y", "severity": "info", "timestamp": "soon"}},
            "payload.timestamp",
        ),
        (
            {"payload": {"summary": "x", "source": "y", "severity": "info", "custom_details": 3}},
            "custom_details",
        ),
    ],
)
def test_invalid_events_are_400_and_nothing_is_stored(
    client: Client, integration: Integration, change: dict[str, Any], named: str
) -> None:
    event = {**trigger(integration.key, "k"), **change}  # type: ignore[attr-defined]
    errors = _invalid(send(client, event))
    assert any(named in e for e in errors), errors
    assert not Incident.objects.exists()
    assert not Alert.objects.exists()


def test_acknowledge_without_dedup_key_is_400(client: Client, integration: Integration) -> None:
    key = integration.key  # type: ignore[attr-defined]
    errors = _invalid(send(client, {"routing_key": key, "event_action": "acknowledge"}))
    assert any("dedup_key" in e for e in errors)


def test_an_alertmanager_key_is_not_a_routing_key(
    client: Client, am_integration: Integration
) -> None:
    errors = _invalid(send(client, trigger(am_integration.key)))  # type: ignore[attr-defined]
    assert any("routing_key" in e for e in errors)


@override_settings(INGEST_MAX_BODY_BYTES=2048)
def test_oversized_bodies_are_refused_with_413(client: Client, integration: Integration) -> None:
    event = trigger(integration.key, custom_details={"blob": "x" * 4096})  # type: ignore[attr-defined]

    response = send(client, event)

    assert response.status_code == 413
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is too large",
        "errors": ["the body is larger than 2 KB"],
    }
    assert not Incident.objects.exists()


def test_the_default_cap_is_512_kb(client: Client, integration: Integration) -> None:
    event = trigger(integration.key, custom_details={"blob": "x" * (512 * 1024)})  # type: ignore[attr-defined]
    assert send(client, event).status_code == 413


def test_get_is_not_allowed_and_no_session_or_csrf_is_needed(integration: Integration) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.get(URL).status_code == 405
    assert send(client, trigger(integration.key)).status_code == 202  # type: ignore[attr-defined]


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_fifty_simultaneous_triggers_with_one_key_open_exactly_one_incident() -> None:
    from tests.factories import IntegrationFactory

    integration = IntegrationFactory.create()
    body = trigger(integration.key, "storm")  # type: ignore[attr-defined]
    barrier = threading.Barrier(50)
    statuses: list[int] = []

    def fire() -> None:
        try:
            barrier.wait()
            statuses.append(send(Client(), body).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=fire) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [202] * 50
    # Fifty drains raced: one that found the key held by another left it for the next drain
    # (in production the next wake-up or the sweeper); drain until nothing is pending.
    for _ in range(50):
        if not InboundEvent.objects.filter(status__in=INBOUND_PENDING).exists():
            break
        fold_accepted()
    assert Incident.objects.filter(dedup_key="storm").count() == 1
    assert AlertGroup.objects.get().alert_count == 50
    assert Alert.objects.count() == 50
