""" "Was this actionable?" (issue 17): who may answer, only once resolved, the timeline row,
from the portal (its own form and the resolve form) and the API (its endpoint and resolve's
field); a refused answer leaves nothing stored."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from incidents.models import Incident, Status, TimelineEvent, TimelineKind
from incidents.services import (
    ActionableRefused,
    NotResolved,
    incident_mark_actionable,
)
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from tests.api.conftest import assert_error, bearer_client
from tests.factories import IncidentFactory, UserFactory

T = datetime(2026, 3, 3, 10, tzinfo=UTC)


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {
        name: UserFactory.create(username=name, roles=[role])
        for name, role in (
            ("ack", ENGINEER),
            ("cmd", ENGINEER),
            ("other", ENGINEER),
            ("boss", MANAGER),
        )
    }


def resolved(people: dict[str, User], **extra: object) -> Incident:
    return IncidentFactory.create(
        triggered_at=T,
        acknowledged_at=T,
        acknowledged_by=people["ack"],
        commander=people["cmd"],
        resolved_at=T,
        status=Status.RESOLVED,
        **extra,
    )


def test_the_commander_whoever_acknowledged_or_a_manager_answers(people: dict[str, User]) -> None:
    incident = resolved(people)
    for name, answer in (("ack", False), ("cmd", True), ("boss", False)):
        incident = incident_mark_actionable(
            incident=incident, actor=people[name], actionable=answer, reason=f"by {name}"
        )
        assert (incident.actionable, incident.actionable_by) == (answer, people[name])
    row = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.ACTIONABLE).last()
    assert row is not None
    assert row.data == {"actionable": False, "reason": "by boss"}
    assert row.message == "Marked not actionable: by boss"
    with pytest.raises(ActionableRefused):
        incident_mark_actionable(incident=incident, actor=people["other"], actionable=True)
    incident.refresh_from_db()
    assert incident.actionable is False


def test_only_a_resolved_incident(people: dict[str, User]) -> None:
    incident = IncidentFactory.create(
        triggered_at=T, acknowledged_by=people["ack"], acknowledged_at=T, status=Status.ACKNOWLEDGED
    )
    with pytest.raises(NotResolved):
        incident_mark_actionable(incident=incident, actor=people["ack"], actionable=True)
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_the_api_endpoint_and_resolve_field(people: dict[str, User]) -> None:
    incident = resolved(people)
    url = f"/api/v1/incidents/{incident.pk}/actionable/"
    ack = bearer_client(people["ack"])
    body = ack.post(url, {"actionable": False, "reason": "flapping"}, "application/json").json()
    assert (body["actionable"], body["actionable_reason"]) == (False, "flapping")
    assert_error(
        bearer_client(people["other"]).post(url, {"actionable": True}, "application/json"),
        403,
        "not_allowed",
    )
    assert_error(ack.post(url, {}, "application/json"), 400, field="actionable")
    assert_error(
        ack.post(url, {"actionable": True, "reason": "x" * 501}, "application/json"),
        400,
        field="reason",
    )
    # Resolve with the answer: both or neither.
    open_one = IncidentFactory.create(
        triggered_at=T, acknowledged_by=people["ack"], acknowledged_at=T, status=Status.ACKNOWLEDGED
    )
    resolve = f"/api/v1/incidents/{open_one.pk}/resolve/"
    refused = bearer_client(people["other"]).post(resolve, {"actionable": True}, "application/json")
    assert_error(refused, 403, "not_allowed")
    open_one.refresh_from_db()
    assert open_one.status == Status.ACKNOWLEDGED
    done = ack.post(
        resolve, {"actionable": True, "actionable_reason": "disk"}, "application/json"
    ).json()
    assert (done["status"], done["actionable"], done["actionable_reason"]) == (
        "resolved",
        True,
        "disk",
    )


def test_the_portal_form_and_the_resolve_form(people: dict[str, User]) -> None:
    client = Client()
    client.force_login(people["ack"])
    incident = resolved(people)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Was this actionable?" in page
    assert 'id="answer-actionable"' in page
    client.post(f"/incidents/{incident.pk}/actionable/", {"actionable": "no", "reason": "noise"})
    incident.refresh_from_db()
    assert (incident.actionable, incident.actionable_reason) == (False, "noise")
    open_one = IncidentFactory.create(
        triggered_at=T, acknowledged_by=people["ack"], acknowledged_at=T, status=Status.ACKNOWLEDGED
    )
    client.post(f"/incidents/{open_one.pk}/resolve/", {"note": "", "actionable": "yes"})
    open_one.refresh_from_db()
    assert (open_one.status, open_one.actionable) == (Status.RESOLVED, True)
    # Someone else sees the answer but no form.
    other = Client()
    other.force_login(people["other"])
    assert 'id="answer-actionable"' not in other.get(f"/incidents/{incident.pk}/").content.decode()
