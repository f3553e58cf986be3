"""The Alertmanager receiver: one incident per groupKey, alerts by fingerprint, keys."""

from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from incidents.models import Incident, Status
from integrations.models import Alert, AlertGroup, AlertStatus, Integration
from oncall.roles import ENGINEER
from tests.factories import UserFactory
from tests.integrations.support import (
    am_alert,
    am_message,
    last_fold_action,
    post_json,
    post_only,
    timeline_line,
)


def url(integration: Integration) -> str:
    return f"/integrations/alertmanager/{integration.key}/"  # type: ignore[attr-defined]


def test_firing_opens_one_incident_with_its_alerts(
    client: Client, am_integration: Integration
) -> None:
    response = post_json(client, url(am_integration), am_message())

    assert response.status_code == 200
    assert response.json() == {  # answered before the fold
        "status": "success",
        "action": "accepted",
        "dedup_key": '{}:{alertname="HighLatency"}',
        "incident": None,
    }
    assert last_fold_action() == "created"
    incident = Incident.objects.get()
    assert incident.title == "[HighLatency] p99 latency over 2 s"
    assert incident.severity == "SEV1"
    alerts = {a.fingerprint: a for a in incident.alerts.all()}
    assert set(alerts) == {"a1", "a2"}
    assert alerts["a1"].labels["instance"] == "a1:9100"
    assert alerts["a1"].annotations == {"summary": "latency on a1"}
    assert alerts["a1"].ends_at is None  # 0001-01-01 means "not ended"


def test_folded_in_the_request_the_answer_says_what_the_fold_did(
    client: Client, am_integration: Integration, settings: Settings
) -> None:
    # Inline on purpose: only a fold in the request can put its action and incident in the
    # answer (INGEST_INLINE's contract); queued, the answer says "accepted".
    settings.INGEST_INLINE = True
    response = post_only(client, url(am_integration), am_message())

    incident = Incident.objects.get()
    assert response.json() == {
        "status": "success",
        "action": "created",
        "dedup_key": '{}:{alertname="HighLatency"}',
        "incident": incident.number,
    }
    resolved = post_only(client, url(am_integration), am_message(status="resolved"))
    assert resolved.json()["action"] == "resolved"


def test_a_resend_updates_alerts_by_fingerprint_and_records_truncation(
    client: Client, am_integration: Integration
) -> None:
    post_json(client, url(am_integration), am_message())
    again = am_message(
        alerts=[am_alert("a1", status="resolved"), am_alert("a2"), am_alert("a3")], truncated=4
    )

    post_json(client, url(am_integration), again)

    assert last_fold_action() == "updated"
    incident = Incident.objects.get()
    assert incident.alerts.count() == 3
    assert incident.alerts.get(fingerprint="a1").status == AlertStatus.RESOLVED
    group = AlertGroup.objects.get()
    assert (group.truncated_alerts, group.alert_count) == (4, 3)
    assert "4 more left out" in incident.timeline.order_by("-id")[0].message


def test_resolved_resolves_and_firing_again_opens_a_new_incident(
    client: Client, am_integration: Integration
) -> None:
    post_json(client, url(am_integration), am_message())
    post_json(client, url(am_integration), am_message(status="resolved"))
    first = Incident.objects.get()
    assert last_fold_action() == "resolved"
    assert first.status == Status.RESOLVED
    assert first.resolved_via == "integration"

    post_json(client, url(am_integration), am_message())

    assert last_fold_action() == "created"
    assert Incident.objects.filter(status=Status.TRIGGERED).exclude(pk=first.pk).count() == 1


def test_a_resolve_names_the_tool_in_the_alert_line_and_says_via_integration_once(
    client: Client, am_integration: Integration
) -> None:
    post_json(client, url(am_integration), am_message())
    post_json(client, url(am_integration), am_message(status="resolved"))
    reader = Client()
    reader.force_login(UserFactory.create(roles=[ENGINEER]))

    page = reader.get(f"/incidents/{Incident.objects.get().pk}/").content.decode()

    assert timeline_line(page, "resolved") == "Resolved — via integration"
    assert "Alertmanager (portal): resolved, 0 firing, 2 resolved" in page


def test_resolved_with_nothing_open_is_ignored(client: Client, am_integration: Integration) -> None:
    response = post_json(client, url(am_integration), am_message(status="resolved"))
    assert response.status_code == 200
    assert last_fold_action() == "ignored"
    assert not Incident.objects.exists()


def test_the_key_can_be_a_bearer_token(client: Client, am_integration: Integration) -> None:
    key = am_integration.key  # type: ignore[attr-defined]
    response = post_json(
        client, "/integrations/alertmanager/", am_message(), Authorization=f"Bearer {key}"
    )
    assert response.status_code == 200
    assert Incident.objects.count() == 1


@pytest.mark.parametrize("authorization", ["", "Bearer nope", "Basic abc"])
def test_missing_or_wrong_bearer_is_401(
    client: Client, am_integration: Integration, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = post_json(client, "/integrations/alertmanager/", am_message(), **headers)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Incident.objects.exists()


def test_unknown_path_key_and_events_v2_keys_are_refused(
    client: Client, integration: Integration
) -> None:
    assert post_json(client, "/integrations/alertmanager/nope/", am_message()).status_code == 401
    events_key_url = f"/integrations/alertmanager/{integration.key}/"  # type: ignore[attr-defined]
    assert post_json(client, events_key_url, am_message()).status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "3"}, "version"),
        ({"groupKey": ""}, "groupKey"),
        ({"status": "pending"}, "status"),
        ({"alerts": "x"}, "alerts"),
        ({"alerts": []}, "alerts"),
        ({"alerts": [{"status": "firing", "labels": {"a": 1}}]}, "alerts[0].labels"),
        ({"alerts": [{**am_alert("a1"), "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
        ({"truncatedAlerts": -1}, "truncatedAlerts"),
        (
            {"commonLabels": {}, "alerts": [am_alert("a1", severity="page")]},
            "alerts[0].labels.severity",
        ),
    ],
)
def test_invalid_messages_are_400_naming_the_field(
    client: Client, am_integration: Integration, change: dict[str, Any], field: str
) -> None:
    response = post_json(client, url(am_integration), {**am_message(), **change})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert not Incident.objects.exists()
    assert not Alert.objects.exists()


def test_malformed_json_is_400(client: Client, am_integration: Integration) -> None:
    response = post_json(client, url(am_integration), b"{oops")
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]["message"]
