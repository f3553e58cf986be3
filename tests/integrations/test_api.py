"""Managers create integrations (key shown once, digest stored) and webhook subscriptions."""

from django.test import Client

from incidents.integrations.models import Integration, WebhookSubscription
from oncall.keys import key_digest
from oncall.roles import ENGINEER, MANAGER
from tests.factories import TeamFactory, UserFactory

URL = "/api/v1/integrations/"


def signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(roles=[role]))
    return client


def test_a_manager_creates_an_integration_and_sees_the_key_once(db: None) -> None:
    team = TeamFactory.create(slug="core")
    client = signed_in(MANAGER)

    response = client.post(
        URL, {"team": "core", "name": "Prometheus", "type": "alertmanager"}, "application/json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "name", "type", "key", "url"}
    integration = Integration.objects.get(pk=body["id"])
    assert integration.team == team
    assert integration.key_digest == key_digest(body["key"])
    assert body["key"] not in {integration.key_prefix, integration.key_digest}
    assert body["url"].endswith(f"/integrations/alertmanager/{body['key']}/")
    assert integration.severity_map["critical"] == "SEV1"
    listed = client.get(URL).json()
    assert body["key"] not in str(listed)
    assert listed[0]["key_prefix"] == integration.key_prefix


def test_the_key_opens_the_door_it_was_made_for(db: None) -> None:
    TeamFactory.create(slug="core")
    created = signed_in(MANAGER).post(
        URL, {"team": "core", "name": "Checks", "type": "events_v2"}, "application/json"
    )
    key = created.json()["key"]
    assert created.json()["url"].endswith("/v2/enqueue")

    response = Client().post(
        "/v2/enqueue",
        {
            "routing_key": key,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "x", "severity": "info"},
        },
        "application/json",
    )
    assert response.status_code == 202


def test_non_managers_get_403(db: None) -> None:
    TeamFactory.create(slug="core")
    response = signed_in(ENGINEER).post(
        URL, {"team": "core", "name": "x", "type": "events_v2"}, "application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not Integration.objects.exists()


def test_invalid_input_names_the_fields(db: None) -> None:
    TeamFactory.create(slug="core")
    response = signed_in(MANAGER).post(
        URL,
        {"team": "core", "name": "x", "type": "nagios", "severity_map": {"critical": "SEV9"}},
        "application/json",
    )
    assert response.status_code == 400
    assert "type" in response.json()["error"]["fields"]

    bad_map = signed_in(MANAGER).post(
        URL,
        {"team": "core", "name": "x", "type": "events_v2", "severity_map": {"critical": "SEV9"}},
        "application/json",
    )
    assert bad_map.status_code == 400
    assert "severity_map" in bad_map.json()["error"]["fields"]
    assert not Integration.objects.exists()


def test_a_manager_subscribes_a_webhook(db: None) -> None:
    response = signed_in(MANAGER).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/x", "event_types": ["triggered", "resolved"]},
        "application/json",
    )
    assert response.status_code == 201, response.content
    subscription = WebhookSubscription.objects.get()
    assert subscription.event_types == ["triggered", "resolved"]
    assert "secret" not in response.json()

    wrong = signed_in(MANAGER).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/x", "event_types": ["exploded"]},
        "application/json",
    )
    assert wrong.status_code == 400
    assert signed_in(ENGINEER).get("/api/v1/webhooks/").status_code == 403
