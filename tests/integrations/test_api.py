"""Managers keep integrations (key shown once, digest stored) and webhook subscriptions
(signing secret shown once) as configuration: create, read, change, delete, rotate the key
or secret; other roles get 403."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from pytest_django.fixtures import Settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from incidents.models import Incident
from integrations.api.serializers import HEARTBEAT_OUT
from integrations.models import Integration, WebhookSubscription
from integrations.services import webhook_subscription_create
from notifications.models import Channel, Notification
from oncall.keys import key_digest
from oncall.roles import ENGINEER, MANAGER, SUPPORT
from tests.api.conftest import assert_error
from tests.factories import (
    ApiKeyFactory,
    EscalationPolicyFactory,
    IntegrationFactory,
    TeamFactory,
    UserFactory,
)
from tests.integrations.support import am_message, post_json, trigger

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
    assert set(body) == {"id", "name", "type", "key", "url", *HEARTBEAT_OUT}
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
    assert response.json()["secret"] == subscription.secret  # shown on create, once

    wrong = signed_in(MANAGER).post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/x", "event_types": ["exploded"]},
        "application/json",
    )
    assert wrong.status_code == 400
    assert signed_in(ENGINEER).get("/api/v1/webhooks/").status_code == 403


# --- Integrations as configuration: read, change, delete, rotate the key ----------------------


def detail(integration: Integration | int) -> str:
    pk = integration if isinstance(integration, int) else integration.pk
    return reverse("api:integration-detail", args=[pk])


def rotate(integration: Integration | int) -> str:
    pk = integration if isinstance(integration, int) else integration.pk
    return reverse("api:integration-rotate-key", args=[pk])


def stored(integration: Integration) -> tuple[Any, ...]:
    """Everything the API could change about an integration, as stored."""
    return tuple(
        Integration.objects.filter(pk=integration.pk).values_list(
            "team",
            "name",
            "type",
            "key_prefix",
            "key_digest",
            "severity_map",
            "escalation_policy",
            "rate_limit_per_minute",
        )
    )


def enqueue(key: str, dedup_key: str, severity: str = "critical") -> Any:
    return post_json(Client(), "/v2/enqueue", trigger(key, dedup_key, severity=severity))


@pytest.fixture
def keys_cached(settings: Settings) -> None:
    """The doors cache key lookups, as in production: changes must still hold at once."""
    settings.INGEST_KEY_CACHE_SECONDS = 60


def test_an_integration_round_trips_and_never_shows_its_key(db: None) -> None:
    team = TeamFactory.create(slug="core")
    policy = EscalationPolicyFactory.create(team=team)
    manager = signed_in(MANAGER)
    created = manager.post(
        URL, {"team": "core", "name": "Checks", "type": "events_v2"}, "application/json"
    ).json()
    path = detail(created["id"])

    read = manager.get(path)
    listed = manager.get(URL).json()
    changed = manager.patch(
        path,
        {
            "name": "Checks (prod)",
            "severity_map": {"critical": "SEV0", "warning": "SEV2"},
            "escalation_policy": policy.pk,
            "rate_limit_per_minute": 30,
            "type": "events_v2",  # as it is: accepted, so a whole desired state can be sent
        },
        "application/json",
    )

    assert read.status_code == 200
    one = read.json()
    assert one.pop("failed_events") == {"count": 0, "latest": []}  # on the detail only
    assert listed == [one]
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert {k: body[k] for k in ("name", "severity_map", "escalation_policy")} == {
        "name": "Checks (prod)",
        "severity_map": {"critical": "SEV0", "warning": "SEV2"},
        "escalation_policy": policy.pk,
    }
    assert (body["rate_limit_per_minute"], body["team"], body["type"]) == (30, "core", "events_v2")
    assert manager.get(path).json() == body
    assert created["key"] not in str(body)
    assert body["key_prefix"] == read.json()["key_prefix"]  # a change keeps the key
    cleared = manager.patch(
        path, {"escalation_policy": None, "rate_limit_per_minute": None}, "application/json"
    ).json()
    assert (cleared["escalation_policy"], cleared["rate_limit_per_minute"]) == (None, None)

    assert manager.delete(path).status_code == 204
    assert_error(manager.get(path), 404, "not_found")
    assert enqueue(created["key"], "after-delete").status_code == 400


def test_a_changed_severity_map_is_used_by_the_next_event(
    db: None, integration: Integration, keys_cached: None
) -> None:
    key = integration.key  # type: ignore[attr-defined]
    assert enqueue(key, "before").status_code == 202  # the door has the integration cached

    response = signed_in(MANAGER).patch(
        detail(integration), {"severity_map": {"critical": "SEV0"}}, "application/json"
    )

    assert response.status_code == 200, response.content
    assert enqueue(key, "after").status_code == 202
    assert Incident.objects.get(dedup_key="before").severity == "SEV1"
    assert Incident.objects.get(dedup_key="after").severity == "SEV0"
    refused = enqueue(key, "warning", severity="warning")  # no longer in the map
    assert refused.status_code == 400


def door(alertmanager: bool, key: str) -> int:
    """What the monitoring tool gets for one event sent with `key`."""
    if alertmanager:
        return int(
            post_json(Client(), f"/integrations/alertmanager/{key}/", am_message()).status_code
        )
    return int(enqueue(key, "k").status_code)


@pytest.mark.parametrize("alertmanager", [False, True])
def test_rotating_the_key_refuses_the_old_one_at_once_and_shows_the_new_one_once(
    db: None, keys_cached: None, alertmanager: bool
) -> None:
    integration = IntegrationFactory.create(alertmanager=alertmanager)
    old = integration.key  # type: ignore[attr-defined]
    assert door(alertmanager, old) in (200, 202)  # and now cached
    manager = signed_in(MANAGER)
    prefix = manager.get(detail(integration)).json()["key_prefix"]

    response = manager.post(rotate(integration))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"id", "name", "type", "key", "url", *HEARTBEAT_OUT}
    new = body["key"]
    assert new != old
    assert Integration.objects.get().key_digest == key_digest(new)
    assert door(alertmanager, old) == (401 if alertmanager else 400)
    assert door(alertmanager, new) in (200, 202)
    if alertmanager:
        assert body["url"].endswith(f"/integrations/alertmanager/{new}/")
    shown = manager.get(detail(integration)).json()
    assert new not in str(shown)
    assert new not in str(manager.get(URL).json())
    assert shown["key_prefix"] != prefix
    assert new.startswith(shown["key_prefix"])


def test_a_name_the_team_already_uses_is_refused_on_create_and_change(db: None) -> None:
    team = TeamFactory.create(slug="core")
    IntegrationFactory.create(team=team, name="Prometheus")
    other = IntegrationFactory.create(team=team, name="Checks")
    manager = signed_in(MANAGER)

    created = manager.post(
        URL, {"team": "core", "name": "Prometheus", "type": "events_v2"}, "application/json"
    )
    renamed = manager.patch(detail(other), {"name": "Prometheus"}, "application/json")

    assert_error(created, 400, field="name")
    assert_error(renamed, 400, field="name")
    assert Integration.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "alertmanager"}, "type"),
        ({"type": "nagios"}, "type"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"team": "nope"}, "team"),
        ({"team": "no\x00pe"}, "team"),
        ({"team": "other"}, "escalation_policy"),  # the policy it keeps is core's
        ({"severity_map": {"critical": "SEV9"}}, "severity_map"),
        ({"severity_map": {}}, "severity_map"),
        ({"severity_map": None}, "severity_map"),
        ({"severity_map": {"": "SEV1"}}, "severity_map"),
        ({"severity_map": {"crit\x00ical": "SEV1"}}, "severity_map"),
        ({"escalation_policy": 999999}, "escalation_policy"),
        ({"escalation_policy": 2**63}, "escalation_policy"),  # past any database's integers
        ({"escalation_policy": "other"}, "escalation_policy"),  # another team's policy
        ({"rate_limit_per_minute": -1}, "rate_limit_per_minute"),
        ({"rate_limit_per_minute": 2**31}, "rate_limit_per_minute"),
    ],
)
def test_a_bad_integration_change_is_400_naming_the_field_and_changes_nothing(
    db: None, body: dict[str, Any], field: str
) -> None:
    core = TeamFactory.create(slug="core")
    other = TeamFactory.create(slug="other")
    integration = IntegrationFactory.create(
        team=core, escalation_policy=EscalationPolicyFactory.create(team=core)
    )
    if body.get("escalation_policy") == "other":
        body = {"escalation_policy": EscalationPolicyFactory.create(team=other).pk}
    before = stored(integration)

    response = signed_in(MANAGER).patch(detail(integration), body, "application/json")

    assert_error(response, 400, field=field)
    assert stored(integration) == before


def test_moving_an_integration_to_another_team_takes_a_policy_of_that_team(db: None) -> None:
    core = TeamFactory.create(slug="core")
    other = TeamFactory.create(slug="other")
    integration = IntegrationFactory.create(
        team=core, escalation_policy=EscalationPolicyFactory.create(team=core)
    )
    theirs = EscalationPolicyFactory.create(team=other)

    response = signed_in(MANAGER).patch(
        detail(integration), {"team": "other", "escalation_policy": theirs.pk}, "application/json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["team"], response.json()["escalation_policy"]) == ("other", theirs.pk)
    key = integration.key  # type: ignore[attr-defined]
    assert enqueue(key, "moved").status_code == 202
    assert Incident.objects.get(dedup_key="moved").team == other


@pytest.mark.parametrize("role", [ENGINEER, SUPPORT])
def test_a_non_managers_writes_change_nothing(
    db: None, integration: Integration, role: str
) -> None:
    subscription = webhook()
    before = stored(integration), subscription_state(subscription)
    client = signed_in(role)

    answers = [
        client.get(detail(integration)),
        client.patch(detail(integration), {"name": "mine"}, "application/json"),
        client.post(rotate(integration)),
        client.delete(detail(integration)),
        client.get(hook(subscription)),
        client.patch(hook(subscription), {"is_active": False}, "application/json"),
        client.post(rotate_secret(subscription)),
        client.delete(hook(subscription)),
    ]

    for answer in answers:
        assert_error(answer, 403, "permission_denied")
    assert (stored(integration), subscription_state(subscription)) == before
    assert enqueue(integration.key, "still").status_code == 202  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", lambda: detail(424242)),
        ("patch", lambda: detail(424242)),
        ("delete", lambda: detail(424242)),
        ("post", lambda: rotate(424242)),
        ("get", lambda: hook(424242)),
        ("patch", lambda: hook(424242)),
        ("delete", lambda: hook(424242)),
        ("post", lambda: rotate_secret(424242)),
        ("get", lambda: detail(2**63)),  # past any database's integers: still a 404
    ],
)
def test_unknown_ids_are_404(db: None, method: str, path: Callable[[], str]) -> None:
    client = signed_in(MANAGER)

    response = getattr(client, method)(path(), {"name": "x"}, "application/json")

    assert_error(response, 404, "not_found")


# --- Webhook subscriptions as configuration ---------------------------------------------------


def webhook(**fields: Any) -> WebhookSubscription:
    return webhook_subscription_create(
        url="https://hooks.example.com/x", event_types=["triggered"], actor=None, **fields
    )


def hook(subscription: WebhookSubscription | int) -> str:
    pk = subscription if isinstance(subscription, int) else subscription.pk
    return reverse("api:webhook-detail", args=[pk])


def rotate_secret(subscription: WebhookSubscription | int) -> str:
    pk = subscription if isinstance(subscription, int) else subscription.pk
    return reverse("api:webhook-rotate-secret", args=[pk])


def subscription_state(subscription: WebhookSubscription) -> tuple[Any, ...]:
    return tuple(
        WebhookSubscription.objects.filter(pk=subscription.pk).values_list(
            "url", "team", "event_types", "is_active", "secret"
        )
    )


def test_a_webhook_subscription_round_trips_and_shows_its_secret_only_on_create(
    db: None,
) -> None:
    TeamFactory.create(slug="core")
    manager = signed_in(MANAGER)
    created = manager.post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/a"}, "application/json"
    ).json()
    path = hook(created["id"])
    secret = WebhookSubscription.objects.get().secret
    assert created.pop("secret") == secret
    assert manager.get(path).json() == created

    changed = manager.patch(
        path,
        {
            "url": "https://hooks.example.com/b",
            "team": "core",
            "event_types": ["resolved"],
            "is_active": False,
        },
        "application/json",
    )

    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert {k: body[k] for k in ("url", "team", "event_types", "is_active")} == {
        "url": "https://hooks.example.com/b",
        "team": "core",
        "event_types": ["resolved"],
        "is_active": False,
    }
    assert manager.get(path).json() == body == manager.get("/api/v1/webhooks/").json()[0]
    everyone = manager.patch(path, {"team": None}, "application/json").json()
    assert everyone["team"] is None
    assert WebhookSubscription.objects.get().secret == secret  # a change keeps the secret
    for answer in (created, body, everyone, manager.get("/api/v1/webhooks/").json()[0]):
        assert "secret" not in answer
        assert secret not in str(answer)

    assert manager.delete(path).status_code == 204
    assert_error(manager.get(path), 404, "not_found")
    assert not WebhookSubscription.objects.exists()


def test_rotating_the_secret_shows_the_new_one_once(db: None) -> None:
    subscription = webhook()
    old = subscription.secret
    manager = signed_in(MANAGER)

    response = manager.post(rotate_secret(subscription))

    assert response.status_code == 200, response.content
    body = response.json()
    new = body.pop("secret")
    assert new != old
    assert WebhookSubscription.objects.get().secret == new
    assert manager.get(hook(subscription)).json() == body
    assert new not in str(manager.get("/api/v1/webhooks/").json())
    again = manager.post(rotate_secret(subscription)).json()["secret"]
    assert again not in {old, new}


def test_a_paused_or_narrowed_subscription_is_sent_nothing(db: None) -> None:
    from incidents.services import incident_declare

    core, other = TeamFactory.create(slug="core"), TeamFactory.create(slug="other")
    paused, narrowed = webhook(), webhook()
    manager = signed_in(MANAGER)
    manager.patch(hook(paused), {"is_active": False}, "application/json")
    manager.patch(hook(narrowed), {"team": "other"}, "application/json")

    incident_declare(title="Checkout down", actor=None, team=core)
    assert not Notification.objects.filter(channel=Channel.WEBHOOK).exists()
    incident_declare(title="Search down", actor=None, team=other)
    sent = Notification.objects.filter(channel=Channel.WEBHOOK)
    assert [n.data["subscription"] for n in sent] == [narrowed.pk]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": ""}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["exploded"]}, "event_types.0"),
        ({"event_types": "triggered"}, "event_types"),
        ({"team": "nope"}, "team"),
        ({"is_active": "maybe"}, "is_active"),
    ],
)
def test_a_bad_webhook_change_is_400_naming_the_field_and_changes_nothing(
    db: None, body: dict[str, Any], field: str
) -> None:
    subscription = webhook()
    before = subscription_state(subscription)

    response = signed_in(MANAGER).patch(hook(subscription), body, "application/json")

    assert_error(response, 400, field=field)
    assert subscription_state(subscription) == before


# --- The schema, and a fuzzing run of these operations ----------------------------------------

OURS = ("/api/v1/integrations/", "/api/v1/webhooks/")


def test_every_operation_documents_its_bodies_and_errors(db: None) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith(OURS)
        for method, op in item.items()
        if method in {"get", "post", "patch", "put", "delete"}
    ]
    assert len(operations) == 12
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert {"401", "403"} <= set(op["responses"]), where
        assert "404" in op["responses"] or "{" not in path, where
        success = [s for s in op["responses"] if s.startswith("2")]
        assert success, where
        if method != "delete":
            assert "content" in op["responses"][success[0]], where
        if method in {"post", "patch"} and not path.endswith(("/rotate-key/", "/rotate-secret/")):
            assert "requestBody" in op, where
            assert "400" in op["responses"], where
        for status in set(op["responses"]) - {"200", "201", "204"}:
            body = op["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, where
    components = schema["components"]["schemas"]
    assert "key" not in components["Integration"]["properties"]
    assert "secret" not in components["Webhook"]["properties"]
    assert "secret" in components["WebhookCreated"]["required"]
    with_secret = {  # only create and rotate-secret answer with it
        (path, method)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if "#/components/schemas/WebhookCreated" in str(op.get("responses"))
    }
    assert with_secret == {
        ("/api/v1/webhooks/", "post"),
        ("/api/v1/webhooks/{subscription_id}/rotate-secret/", "post"),
    }


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Like Django's test client: a request must not close the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzzing_key(db: None) -> str:
    # Rows to find, so ids in paths sometimes hit real ones; a team and policy to name.
    team = TeamFactory.create(slug="core")
    IntegrationFactory.create(
        team=team, escalation_policy=EscalationPolicyFactory.create(team=team)
    )
    webhook(team=team)
    key: Any = ApiKeyFactory.create(user=UserFactory.create(roles=[MANAGER]))
    secret: str = key.secret
    return secret


fuzzed = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application()).include(
    path_regex=r"^/api/v1/(integrations|webhooks)/"
)


@fuzzed.parametrize()
@hypothesis_settings(
    max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
@pytest.mark.usefixtures("keep_test_connection")
def test_these_operations_never_error_and_match_their_schema(case: Any, fuzzing_key: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {fuzzing_key}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
