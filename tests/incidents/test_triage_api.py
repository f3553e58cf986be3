"""POST /api/v1/incidents/<id>/triage/ as the issue's Contract says, and its role matrix."""

from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from incidents.models import Incident, TimelineKind
from incidents.services import incident_declare
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.api.conftest import assert_error, bearer_client
from tests.factories import TeamFactory, UserFactory
from tests.incidents.conftest import answers_suggesting

pytestmark = pytest.mark.django_db

FIVE_WS = {"who": "EU shoppers", "what": "500s", "where": "eu-west", "when": "14:50", "how": "812"}
ROLES = {"support": SUPPORT, "support_manager": SUPPORT_MANAGER, "engineer": ENGINEER}
ROLES |= {"manager": MANAGER}


@pytest.fixture
def people(db: None) -> dict[str, User]:
    return {key: UserFactory.create(username=key, roles=[role]) for key, role in ROLES.items()}


@pytest.fixture
def incident(people: dict[str, User]) -> Incident:
    team = TeamFactory.create(slug="core", name="Core")
    return incident_declare(
        title="Checkout down", actor=people["support"], team=team, severity="SEV3"
    )


def triage(api: Client, incident: Incident | int, body: dict[str, Any]) -> Any:
    pk = getattr(incident, "pk", incident)
    path = reverse("api:incident-triage", args=[pk])
    return api.post(path, body, content_type="application/json")


@override_settings(TICKET_URL_TEMPLATE="https://jira.example.com/browse/{key}")
def test_answers_give_the_suggestion_and_nothing_is_confirmed(
    people: dict[str, User], incident: Incident
) -> None:
    api = bearer_client(people["support"])
    response = triage(
        api,
        incident,
        {
            "who": "EU shoppers",
            "evidence": ["https://logs.example.com/q/1"],
            "ticket": "MCT-123",
            "service": "checkout-api",
            # 3 + 3 + 3 + 2 + 2 = 13 points: SEV1
            "answers": {
                "users_affected": 3,
                "which_users": 3,
                "user_impact": 3,
                "company_impact": 2,
                "stakeholder_view": 2,
            },
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["suggested_severity"] == "SEV1"
    assert body["confirmed"] is False
    assert body["ticket_url"] == "https://jira.example.com/browse/MCT-123"
    assert body["evidence"] == ["https://logs.example.com/q/1"]
    words = {a["name"]: a["words"] for a in body["answers"]}
    assert words["company_impact"] == "Minor: support load, reputation"
    assert body["incident"]["severity"] == "SEV3"
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert incident.service == "checkout-api"


def test_with_a_severity_it_confirms(people: dict[str, User], incident: Incident) -> None:
    api = bearer_client(people["support"])
    body = {**FIVE_WS, "answers": answers_suggesting("SEV2"), "severity": "P2"}
    response = triage(api, incident, body)
    assert response.status_code == 200, response.content
    assert response.json()["confirmed"] is True
    assert response.json()["incident"]["severity"] == "SEV2"
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is not None
    event = incident.timeline.get(kind=TimelineKind.TRIAGE)
    assert (event.via, event.actor) == ("api", people["support"])


def test_a_different_severity_without_a_reason_is_400_naming_reason(
    people: dict[str, User], incident: Incident
) -> None:
    api = bearer_client(people["support"])
    body = {**FIVE_WS, "answers": answers_suggesting("SEV2"), "severity": "SEV0"}
    assert_error(triage(api, incident, body), 400, field="reason")
    response = triage(api, incident, {**body, "reason": "Launch day of our top customer"})
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.triage_reason == "Launch day of our top customer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": {"users_affected": 5}}, "answers.users_affected"),
        ({"answers": {"users_affected": "x"}}, "answers.users_affected"),
        ({"answers": {"mood": 2}}, "answers.mood"),
        ({"answers": [1, 2]}, "answers.non_field_errors"),
        ({"evidence": ["javascript:alert(1)"]}, "evidence.0"),
        ({"evidence": "https://a.io"}, "evidence"),
        ({"evidence": [f"https://a.io/{n}" for n in range(21)]}, "evidence"),
        ({"ticket": "not a key"}, "ticket"),
        ({"service": "two words"}, "service"),
        ({"severity": "SEV7"}, "severity"),
        ({"who": "x" * 2001}, "who"),
        ({**FIVE_WS, "severity": "SEV1"}, "answers.user_impact"),
        ({"answers": answers_suggesting("SEV1"), "severity": "SEV1"}, "how"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_stores_nothing(
    people: dict[str, User], incident: Incident, body: dict[str, Any], field: str
) -> None:
    response = triage(bearer_client(people["engineer"]), incident, body)
    assert_error(response, 400, field=field)
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert (incident.triage_answers, incident.evidence, incident.who) == ({}, [], "")


@pytest.mark.parametrize("role", list(ROLES))
def test_every_role_may_triage_the_existing_rule(
    people: dict[str, User], incident: Incident, role: str
) -> None:
    body = {**FIVE_WS, "answers": answers_suggesting("SEV3"), "severity": "SEV3"}
    response = triage(bearer_client(people[role]), incident, body)
    assert response.status_code == 200, response.content


def test_an_inactive_account_or_nobody_signed_in_may_not(
    people: dict[str, User], incident: Incident
) -> None:
    api = bearer_client(people["support"])
    people["support"].is_active = False
    people["support"].save(update_fields=["is_active"])
    assert triage(api, incident, {"who": "x"}).status_code in (401, 403)
    # The API's convention for nobody signed in (session auth first): 403 not_authenticated.
    assert_error(triage(Client(), incident, {"who": "x"}), 403, "not_authenticated")
    incident.refresh_from_db()
    assert incident.who == ""


def test_an_unknown_incident_is_404(people: dict[str, User]) -> None:
    assert_error(triage(bearer_client(people["support"]), 999_999, {"who": "x"}), 404)


def test_the_schema_documents_the_contract() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/incidents/{incident_id}/triage/"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][request.rsplit("/", 1)[1]]["properties"]
    assert set(fields) == {
        "who",
        "what",
        "where",
        "when",
        "how",
        "evidence",
        "ticket",
        "service",
        "answers",
        "severity",
        "reason",
    }
    ref = fields["answers"].get("$ref") or fields["answers"]["allOf"][0]["$ref"]
    answers = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert set(answers) == {
        "users_affected",
        "which_users",
        "user_impact",
        "company_impact",
        "stakeholder_view",
    }
    assert answers["users_affected"]["minimum"] == 1
    assert answers["users_affected"]["maximum"] == 4
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
