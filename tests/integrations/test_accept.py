"""`ingest_accept`, the doors' one service: what it decides and how it refuses, field by field."""

import json

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from integrations.ingest import IngestRefused, ingest_accept
from integrations.models import InboundEvent, Integration, IntegrationType
from integrations.parsing import FieldProblem
from tests.integrations.support import am_alert, am_message, post_json, trigger

pytestmark = pytest.mark.django_db


def _body(data: object) -> bytes:
    return json.dumps(data).encode()


def test_a_trigger_is_stored_with_its_level_and_a_made_up_dedup_key(
    integration: Integration,
) -> None:
    key = integration.key  # type: ignore[attr-defined]

    accepted = ingest_accept(
        integration=None, kind=IntegrationType.EVENTS_V2, body=_body(trigger(key, severity="error"))
    )

    event = InboundEvent.objects.get()
    assert accepted.event == event
    assert accepted.integration == integration
    assert len(accepted.dedup_key) == 32
    assert event.dedup_key == accepted.dedup_key == event.payload["dedup_key"]
    assert event.payload["level"] == "SEV2"  # error → SEV2 in the default map
    assert "routing_key" not in event.payload
    assert accepted.folded is None  # folded later, by the worker


def test_each_problem_is_a_field_and_what_is_wrong_with_it(integration: Integration) -> None:
    key = integration.key  # type: ignore[attr-defined]
    body = trigger(key, severity="loud")
    del body["payload"]["summary"]

    with pytest.raises(IngestRefused) as refused:
        ingest_accept(integration=None, kind=IntegrationType.EVENTS_V2, body=_body(body))

    assert (refused.value.status, refused.value.code) == (400, "invalid")
    assert refused.value.problems == [
        FieldProblem("payload.summary", "is missing"),
        FieldProblem(
            "payload.severity", 'must be one of critical, error, info, warning (got "loud")'
        ),
    ]
    assert refused.value.fields == {
        "payload.summary": ["is missing"],
        "payload.severity": ['must be one of critical, error, info, warning (got "loud")'],
    }
    assert not InboundEvent.objects.exists()


def test_alertmanager_checks_the_key_before_the_body(am_integration: Integration) -> None:
    with pytest.raises(IngestRefused) as missing:
        ingest_accept(integration=None, kind=IntegrationType.ALERTMANAGER, body=b"not json")
    assert (missing.value.status, missing.value.code) == (401, "not_authenticated")

    with pytest.raises(IngestRefused) as wrong:
        ingest_accept(integration="nope", kind=IntegrationType.ALERTMANAGER, body=None)
    assert (wrong.value.status, wrong.value.code) == (401, "invalid_key")

    key = am_integration.key  # type: ignore[attr-defined]
    with pytest.raises(IngestRefused) as large:
        ingest_accept(integration=key, kind=IntegrationType.ALERTMANAGER, body=None)
    assert (large.value.status, large.value.code) == (413, "too_large")


def test_an_unknown_severity_label_is_named_in_the_api_error_fields(
    client: Client, am_integration: Integration
) -> None:
    key = am_integration.key  # type: ignore[attr-defined]
    message = am_message(alerts=[am_alert("a1"), am_alert("a2", severity="page-me")])
    message["commonLabels"].pop("severity")

    response = post_json(client, f"/integrations/alertmanager/{key}/", message)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {
        "alerts[1].labels.severity": [
            "'page-me' is not in the integration's severity map (critical, error, info, warning)"
        ]
    }
    assert error["message"].startswith("Alertmanager message is invalid: 'alerts[1].labels")


def test_a_429_names_its_wait_in_both_shapes(
    client: Client, integration: Integration, am_integration: Integration, settings: Settings
) -> None:
    settings.INGEST_RATE_LIMIT_PER_MINUTE = 0
    pd = post_json(client, "/v2/enqueue", trigger(integration.key))  # type: ignore[attr-defined]
    am_key = am_integration.key  # type: ignore[attr-defined]
    am = post_json(client, f"/integrations/alertmanager/{am_key}/", am_message())

    assert (pd.status_code, am.status_code) == (429, 429)
    assert pd.json()["status"] == "throttle event"
    assert pd.json()["errors"][0].startswith("more than 0 events a minute for this routing_key")
    assert am.json()["error"]["code"] == "throttled"
    assert int(pd["Retry-After"]) >= 1
    assert int(am["Retry-After"]) >= 1


def test_an_unknown_door_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="no door"):
        ingest_accept(integration=None, kind="smtp", body=b"{}")
