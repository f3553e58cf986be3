"""Hostile query strings on the incident pages: never a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from oncall.roles import SUPPORT
from tests.factories import DirectNumberFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("team", ["²", "99999999999999999999", "-1", "\x00", ""])
def test_the_engage_preview_ignores_a_team_that_is_no_id(client: Client, team: str) -> None:
    """Found by the page fuzz: "²".isdigit() is true and int("²") failed (500)."""
    client.force_login(UserFactory.create(username="sam", roles=[SUPPORT]))

    response = client.get(reverse("incidents:engage-preview"), {"team": team, "ticket": "csd-1"})

    assert response.status_code == 200
    assert response.context["preview_team"] is None
    assert "CSD-1" in response.content.decode()


def test_the_engage_preview_names_a_call_directly_team_by_id(client: Client) -> None:
    client.force_login(UserFactory.create(username="sam", roles=[SUPPORT]))
    team = TeamFactory.create(slug="billing", contact_mode="call")
    DirectNumberFactory.create(team=team, phone="+12025550188")

    response = client.get(reverse("incidents:engage-preview"), {"team": str(team.pk)})

    assert response.context["preview_team"] == team
    assert "+12025550188" in response.content.decode()
