"""Hostile input at the API and the ingestion doors is a 400 naming the value, never a 500.

The `_on_postgresql` variants run the same requests where they used to fail: PostgreSQL
cannot store a NUL in text or jsonb, nor 10**30 in an integer column.
"""

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import Incident
from integrations.models import InboundEvent, Integration
from rotations.models import EscalationPolicy, Override, Rotation
from tests.api.conftest import Core, assert_error
from tests.factories import EscalationPolicyFactory, EscalationStepFactory, IntegrationFactory
from tests.integrations.support import am_alert, am_message, trigger

pytestmark = pytest.mark.django_db
INCIDENTS = reverse("api:incident-list")
GOOD = {"title": "Checkout down", "severity": "SEV1", "team": "core"}
DEEP = "[" * 100_000 + "]" * 100_000


def post_raw(client: Client, path: str, raw: str, **headers: str) -> Any:
    return client.generic(
        "POST", path, raw.encode(), content_type="application/json", headers=headers
    )


def test_a_deeply_nested_body_is_400_invalid_json(manager_api: Client, core: Core) -> None:
    error = assert_error(post_raw(manager_api, INCIDENTS, DEEP), 400, "invalid_json")

    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize(
    ("extra", "field", "problem"),
    [
        ({"context": {"note": "a\x00b"}}, "context.note", "NUL character"),
        ({"context": ["\ud800"]}, "context.0", "lone surrogate"),
        ({"commander": 10**30}, "commander", "out of range"),
        ({"context": {"load": float("inf")}}, "context.load", "out of range"),
    ],
)
def test_unstorable_values_anywhere_in_a_body_are_400_naming_them(
    manager_api: Client, core: Core, extra: dict[str, Any], field: str, problem: str
) -> None:
    raw = json.dumps({**GOOD, **extra}).replace("Infinity", "1e999")

    error = assert_error(post_raw(manager_api, INCIDENTS, raw), 400, "invalid_json", field=field)

    assert problem in error["fields"][field][0]
    assert not Incident.objects.exists()


def test_a_policy_patch_whose_step_lacks_its_action_is_400(manager_api: Client, core: Core) -> None:
    policy = EscalationPolicyFactory.create(team=core.team)
    EscalationStepFactory.create(policy=policy)
    url = reverse("api:escalation-policy-detail", args=[policy.pk])

    response = manager_api.patch(
        url, {"steps": [{"wait": "PT5M"}]}, content_type="application/json"
    )

    assert_error(response, 400, field="steps.0.action")
    assert EscalationPolicy.objects.get().steps.get().wait.total_seconds() == 600


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T20:00:00Z", "9999-12-31T21:00:00Z"),  # fits in UTC, not in UTC+14
        ("1999-12-31T00:00:00Z", "2026-01-01T00:00:00Z"),
        ("2199-12-31T23:00:00-05:00", "2200-01-01T06:00:00-05:00"),
    ],
)
def test_overrides_outside_2000_to_2199_are_400(
    manager_api: Client, core: Core, start: str, end: str
) -> None:
    body = {"rotation": core.veteran.pk, "user": core.alice.pk, "start": start, "end": end}

    response = manager_api.post(reverse("api:override-list"), body, content_type="application/json")

    error = assert_error(response, 400)
    assert {"start", "end"} & set(error["fields"])
    assert not Override.objects.exists()


def test_a_rotation_starting_in_year_one_is_400(manager_api: Client, core: Core) -> None:
    url = reverse("api:rotation-detail", args=[core.veteran.pk])

    response = manager_api.patch(url, {"start_date": "0001-01-01"}, content_type="application/json")

    assert_error(response, 400, field="start_date")
    assert Rotation.objects.get(pk=core.veteran.pk).start_date.year > 1


# --- the ingestion doors ---------------------------------------------------------------


@pytest.fixture
def events(core: Core) -> Integration:
    return IntegrationFactory.create(team=core.team)


@pytest.fixture
def am(core: Core) -> Integration:
    return IntegrationFactory.create(team=core.team, alertmanager=True)


def test_events_v2_refuses_deep_nesting(events: Integration) -> None:
    response = post_raw(Client(), "/v2/enqueue", DEEP)

    assert response.status_code == 400
    assert any("nested too deeply" in e for e in response.json()["errors"])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"custom_details": {"note": "disk\x00full"}}, "payload.custom_details.note"),
        ({"custom_details": {"n": [1, 10**30]}}, "payload.custom_details.n[1]"),
        ({"summary": "a\ud800"}, "payload.summary"),
        ({"timestamp": "9999-12-31T23:00:00-05:00"}, "payload.timestamp"),
        ({"timestamp": "0001-01-01T00:00:00+05:00"}, "payload.timestamp"),
    ],
)
def test_events_v2_refuses_unstorable_values_naming_them(
    events: Integration, payload: dict[str, Any], field: str
) -> None:
    body = trigger(events.key, **payload)  # type: ignore[attr-defined]

    response = post_raw(Client(), "/v2/enqueue", json.dumps(body))

    assert response.status_code == 400, response.content
    assert any(e.startswith(f"'{field}'") for e in response.json()["errors"]), response.json()
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    ("alert", "field"),
    [
        ({"labels": {"note": "x\x00"}}, "alerts[0].labels.note"),
        ({"annotations": {"\ud800": "x"}}, "alerts[0].annotations"),
        ({"startsAt": "0001-01-01T00:00:00+05:00"}, "alerts[0].startsAt"),
    ],
)
def test_alertmanager_refuses_unstorable_values_naming_them(
    am: Integration, alert: dict[str, Any], field: str
) -> None:
    message = am_message(alerts=[{**am_alert("a1"), **alert}])
    key = am.key  # type: ignore[attr-defined]

    response = post_raw(
        Client(), "/integrations/alertmanager/", json.dumps(message), Authorization=f"Bearer {key}"
    )

    error = assert_error(response, 400)
    assert field in error["fields"], error
    assert not InboundEvent.objects.exists()


def test_alertmanager_zero_end_time_still_means_not_ended(am: Integration) -> None:
    alert = {**am_alert("a1"), "endsAt": "0001-01-01T00:00:00.000+00:00"}
    key = am.key  # type: ignore[attr-defined]

    response = post_raw(
        Client(),
        "/integrations/alertmanager/",
        json.dumps(am_message(alerts=[alert])),
        Authorization=f"Bearer {key}",
    )

    assert response.status_code == 200, response.content


# --- the same on PostgreSQL, where these used to be 500s ----------------------------------


def test_unstorable_values_are_400_on_postgresql(
    postgres: None, manager_api: Client, core: Core, events: Integration
) -> None:
    incident = {**GOOD, "commander": 10**30, "context": {"note": "\x00"}}
    event = trigger(events.key, custom_details={"note": "a\x00"})  # type: ignore[attr-defined]

    api = post_raw(manager_api, INCIDENTS, json.dumps(incident))
    door = post_raw(Client(), "/v2/enqueue", json.dumps(event))

    assert_error(api, 400, "invalid_json")
    assert door.status_code == 400
    assert door.json()["errors"] == [
        "'payload.custom_details.note' contains a NUL character (\\u0000)"
    ]
    assert not Incident.objects.exists()
    assert not InboundEvent.objects.exists()
