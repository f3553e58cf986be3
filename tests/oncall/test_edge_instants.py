"""No stored row makes a page fail for a viewer in another time zone (issue 13.7).

Rows at the edges of the portal's years (2000-01-01 00:00 UTC and 2199-12-31 23:59 UTC)
are shown on every page that shows them, to viewers at UTC+14 (Pacific/Kiritimati) and
UTC-11 (Pacific/Pago_Pago): the incident list and page, the rotation page, my shifts, the
team page, the iCal feeds and the API.
"""

from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from incidents.models import Incident, Status
from oncall.models import User
from oncall.roles import MANAGER
from rotations.models import Override, PersonalFeed, Rotation
from rotations.views.links import person_feed_url, rotation_feed_url
from tests.api.conftest import bearer_client
from tests.factories import IncidentFactory, RotationFactory, TeamFactory, UserFactory

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2199, 12, 31, 23, 59, tzinfo=UTC)
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago"]


@pytest.fixture(params=ZONES)
def viewer(request: pytest.FixtureRequest, db: None) -> User:
    zone: str = request.param
    return UserFactory.create(username="viewer", roles=[MANAGER], timezone=zone)


@pytest.fixture
def edges(viewer: User) -> dict[str, object]:
    team = TeamFactory.create(slug="core", escalation_contact=viewer)
    other = UserFactory.create(username="bob")
    early = RotationFactory.create(team=team, members=[viewer, other], start_date=date(2000, 1, 1))
    later = TeamFactory.create(slug="later", escalation_contact=viewer)
    late = RotationFactory.create(
        team=later, members=[other, viewer], start_date=date(2199, 12, 31)
    )
    for rotation in (early, late):
        Override.objects.create(rotation=rotation, user=other, start=EARLIEST, end=LATEST)
    first = IncidentFactory.create(team=team, title="First of the years", triggered_at=EARLIEST)
    last = IncidentFactory.create(
        team=team,
        title="Last of the years",
        triggered_at=LATEST,
        status=Status.RESOLVED,
        acknowledged_at=LATEST,
        resolved_at=LATEST,
    )
    return {"team": team, "early": early, "late": late, "first": first, "last": last}


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return response.content.decode()


@pytest.mark.django_db
def test_rows_at_the_edges_of_the_years_render_on_every_page(
    client: Client, viewer: User, edges: dict[str, object]
) -> None:
    client.force_login(viewer)
    first, last = edges["first"], edges["last"]
    early, late = edges["early"], edges["late"]
    assert isinstance(first, Incident)
    assert isinstance(last, Incident)
    assert isinstance(early, Rotation)
    assert isinstance(late, Rotation)

    assert "First of the years" in _page(client, reverse("incidents:list"))
    assert "Last of the years" in _page(client, reverse("incidents:list") + "?status=resolved")
    first_page = _page(client, reverse("incidents:detail", args=[first.pk]))
    last_page = _page(client, reverse("incidents:detail", args=[last.pk]))
    assert 'datetime="2000-01-01T00:00:00Z"' in first_page
    assert 'datetime="2199-12-31T23:59:00Z"' in last_page
    # Shown in the viewer's zone, a day later or earlier than in UTC.
    local = {"Pacific/Kiritimati": ("1 Jan, 14:00", "1 Jan, 13:59")}
    first_local, last_local = local.get(viewer.timezone, ("31 Dec, 13:00", "31 Dec, 12:59"))
    assert first_local in first_page
    assert last_local in last_page
    for rotation in (early, late):
        _page(client, reverse("rotations:rotation", args=[rotation.pk]))
        _page(
            client,
            reverse("rotations:rotation", args=[rotation.pk]) + "?start=2199-12-31T23:59:00Z",
        )
    _page(client, reverse("rotations:my-shifts"))
    _page(client, reverse("rotations:team", args=["core"]))
    _page(client, reverse("rotations:team", args=["later"]))
    _page(client, reverse("rotations:oncall"))
    _page(client, reverse("home"))
    _page(client, reverse("incidents:mine"))


@pytest.mark.django_db
def test_rows_at_the_edges_of_the_years_are_in_the_feeds_and_the_api(
    viewer: User, edges: dict[str, object]
) -> None:
    early, late = edges["early"], edges["late"]
    assert isinstance(early, Rotation)
    assert isinstance(late, Rotation)
    anonymous = Client()
    for rotation in (early, late):
        feed = _page(anonymous, rotation_feed_url(rotation).removeprefix(settings.SITE_URL))
        assert "BEGIN:VCALENDAR" in feed
    person = PersonalFeed.objects.create(user=viewer)
    feed = _page(anonymous, person_feed_url(person).removeprefix(settings.SITE_URL))
    assert "BEGIN:VCALENDAR" in feed

    api = bearer_client(viewer)
    incidents = api.get(reverse("api:incident-list") + "?status=resolved")
    assert incidents.status_code == 200
    detail = api.get(reverse("api:incident-detail", args=[edges["last"].pk]))  # type: ignore[attr-defined]
    assert detail.status_code == 200
    assert detail.json()["triggered_at"].startswith("2199-12-31T23:59")
    for rotation in (early, late):
        assert api.get(reverse("api:rotation-detail", args=[rotation.pk])).status_code == 200
        shifts = api.get(
            reverse("api:rotation-shifts", args=[rotation.pk]),
            {"start": "2199-12-01T00:00:00Z", "end": "2199-12-31T23:59:00Z"},
        )
        assert shifts.status_code == 200, shifts.content[:300]
    assert api.get(reverse("api:override-list")).status_code == 200
    for at in ("", "2199-12-31T23:59:00Z", "2000-01-01T00:00:00Z"):
        for team in ("core", "later"):
            query = {"team": team, **({"at": at} if at else {})}
            oncall = api.get(reverse("api:oncall"), query)
            assert oncall.status_code == 200, oncall.content[:300]
