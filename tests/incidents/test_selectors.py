"""The incident list's one filter: the page and the API list the same incidents."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from incidents.models import Incident, Severity, Status
from incidents.selectors import incidents_filter
from tests.api.conftest import bearer_client
from tests.factories import IncidentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incidents() -> dict[str, Incident]:
    core, vro = TeamFactory.create(slug="core"), TeamFactory.create(slug="vro")
    return {
        "core-sev1": IncidentFactory.create(team=core, severity=Severity.SEV1, title="DB slow"),
        "core-sev2": IncidentFactory.create(team=core, severity=Severity.SEV2, title="Cache"),
        "vro-sev1": IncidentFactory.create(
            team=vro, severity=Severity.SEV1, title="Login", description="db errors"
        ),
        "core-done": IncidentFactory.create(
            team=core,
            severity=Severity.SEV1,
            status=Status.RESOLVED,
            resolved_at=datetime(2026, 1, 13, 16, 0, tzinfo=UTC),
            title="Old",
        ),
    }


def _names(incidents: dict[str, Incident], found: object) -> set[str]:
    ids = {i.pk for i in found}  # type: ignore[attr-defined]
    return {name for name, incident in incidents.items() if incident.pk in ids}


def test_the_filter_keeps_what_every_criterion_asks(incidents: dict[str, Incident]) -> None:
    everything = Incident.objects.all()

    assert _names(incidents, incidents_filter(everything, severity="SEV1", team_slug="core")) == {
        "core-sev1",
        "core-done",
    }
    assert _names(incidents, incidents_filter(everything, status=Status.RESOLVED)) == {"core-done"}
    assert _names(incidents, incidents_filter(everything, words="DB")) == {"core-sev1", "vro-sev1"}
    assert _names(incidents, incidents_filter(everything)) == set(incidents)


@pytest.mark.parametrize(
    ("page_query", "api_query"),
    [
        ({"severity": "SEV1", "team": "core"}, {"severity": "P1", "team": "core"}),
        ({"severity": "SEV2"}, {"severity": "SEV2"}),
        ({"team": "vro"}, {"team": "vro"}),
    ],
)
def test_the_page_and_the_api_list_the_same_open_incidents(
    client: Client,
    incidents: dict[str, Incident],
    page_query: dict[str, str],
    api_query: dict[str, str],
) -> None:
    user = UserFactory.create(username="sam")
    client.force_login(user)
    page = client.get("/incidents/", {"status": "open", **page_query}).content.decode()
    api = bearer_client(user).get("/api/v1/incidents/", {"status": "triggered", **api_query})

    on_page = {n for n, i in incidents.items() if re.search(rf"/incidents/{i.pk}/\"", page)}
    assert on_page == {
        n for n, i in incidents.items() if i.pk in {r["id"] for r in api.json()["results"]}
    }
    assert on_page == _names(
        incidents,
        incidents_filter(
            Incident.objects.filter(status=Status.TRIGGERED),
            severity=page_query.get("severity", ""),
            team_slug=page_query.get("team", ""),
        ),
    )
    assert on_page  # each case finds something
