"""Managers create integrations in the admin; the key is shown once."""

from django.contrib.messages import get_messages
from django.test import Client

from incidents.integrations.models import Integration
from oncall.keys import key_digest
from oncall.roles import ENGINEER, MANAGER
from tests.factories import IntegrationFactory, TeamFactory, UserFactory

ADD = "/admin/incidents/integration/add/"


def staff(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory.create(roles=[role], is_staff=True))
    return client


def test_a_manager_adds_an_integration_and_sees_its_key_once(db: None) -> None:
    team = TeamFactory.create()
    client = staff(MANAGER)

    response = client.post(
        ADD,
        {
            "team": team.pk,
            "name": "Prometheus",
            "type": "alertmanager",
            "severity_map": '{"critical": "SEV1", "warning": "SEV3"}',
            "rate_limit_per_minute": "120",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    integration = Integration.objects.get()
    shown = [str(m) for m in get_messages(response.wsgi_request) if "shown once" in str(m)]
    assert len(shown) == 1
    key = shown[0].split(": ")[1].split(" ")[0]
    assert integration.key_digest == key_digest(key)
    assert integration.rate_limit == 120


def test_the_list_shows_refused_events(db: None) -> None:
    IntegrationFactory.create(refused_events=7)
    page = staff(MANAGER).get("/admin/incidents/integration/")
    assert page.status_code == 200
    assert "Refused events" in page.content.decode()


def test_engineers_cannot_reach_integrations_in_the_admin(db: None) -> None:
    assert staff(ENGINEER).get(ADD).status_code == 403
