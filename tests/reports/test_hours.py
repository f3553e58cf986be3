"""Hours on call: hand-computed splits across midnight, a weekend and a DST change, in two
zones; overrides counted for whoever covered; pages and incidents; the viewer's dates; the
range cap and bad input (400 naming the field); the CSV; fixed queries."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from incidents.models import TimelineEvent, TimelineKind
from oncall.models import User
from rotations.models import Override, Team, Tier
from tests.factories import IncidentFactory, RotationFactory, TeamFactory, UserFactory

# New York springs forward on Sunday 2026-03-08 at 02:00; London stays on GMT until the 29th.
SAT_NOON = datetime(2026, 3, 7, 12, tzinfo=UTC)


@pytest.fixture
def team(db: None) -> Team:
    """One veteran rotation where nat (New York) is the only member (so always on call) and
    lena (London) covers Saturday 12:00 UTC to Sunday 12:00 UTC by override."""
    nat = UserFactory.create(username="nat", first_name="Nat")
    lena = UserFactory.create(username="lena", first_name="Lena", timezone="Europe/London")
    team = TeamFactory.create(slug="core", name="Core")
    rotation = RotationFactory.create(team=team, members=[nat])
    Override.objects.create(
        rotation=rotation, user=lena, start=SAT_NOON, end=SAT_NOON + timedelta(days=1)
    )
    incident = IncidentFactory.create(team=team)
    other = IncidentFactory.create(team=team)
    for at, who, about in (
        (datetime(2026, 3, 6, 15, tzinfo=UTC), nat, incident),  # Friday 10:00 EST: business
        (datetime(2026, 3, 7, 13, tzinfo=UTC), lena, incident),  # Saturday, lena's override
        (datetime(2026, 3, 7, 14, tzinfo=UTC), lena, other),
        (datetime(2026, 3, 5, 15, tzinfo=UTC), nat, other),  # Thursday: outside the range
    ):
        TimelineEvent.objects.create(
            incident=about, kind=TimelineKind.PAGED, at=at, data={"user_id": who.pk}
        )
    return team


def client_of(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def table(client: Client, query: str) -> dict[str, dict[str, str]]:
    answer = client.get(f"/reports/hours.csv?{query}")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    return {row["username"]: row for row in csv.DictReader(io.StringIO(answer.content.decode()))}


def test_hand_computed_split_in_two_zones_across_a_weekend_and_dst(team: Team) -> None:
    # nat's dates (New York): Friday 00:00 EST to Tuesday 00:00 EDT, 95 hours (DST).
    rows = table(client_of("nat"), "team=core&from=2026-03-06&to=2026-03-09")
    nat, lena = rows["nat"], rows["lena"]
    # nat, in New York, minus lena's Saturday 07:00 EST to Sunday 08:00 EDT: business is
    # Friday and Monday 09–17 (16); sleep 22–08 is Fri 0–8 (8) + Fri 22–24 (2) + Sat 0–7 (7)
    # + Sun 22–24 (2) + Mon 0–8 (8) + Mon 22–24 (2) = 29; off is Fri 8–9 and 17–22 (6)
    # + Sun 8–22 (14) + Mon 8–9 and 17–22 (6) = 26.
    assert (nat["hours"], nat["business_hours"], nat["sleep_hours"], nat["off_hours"]) == (
        "71.00",
        "16.00",
        "29.00",
        "26.00",
    )
    assert nat["override_hours"] == "0.00"
    assert (nat["pages"], nat["incidents"]) == ("1", "1")
    # lena, in London (GMT): Saturday 12–22 off (10), 22–08 sleep (10), Sunday 08–12 off (4).
    assert (lena["hours"], lena["business_hours"], lena["sleep_hours"], lena["off_hours"]) == (
        "24.00",
        "0.00",
        "10.00",
        "14.00",
    )
    assert lena["override_hours"] == "24.00"
    assert (lena["pages"], lena["incidents"]) == ("2", "2")


def test_the_range_is_in_the_viewers_zone(team: Team) -> None:
    # lena's dates (London): Friday 00:00 to Tuesday 00:00 GMT, 96 hours, none lost to DST.
    rows = table(client_of("lena"), "team=core&from=2026-03-06&to=2026-03-09")
    assert rows["nat"]["hours"] == "72.00"
    assert rows["lena"]["hours"] == "24.00"


def test_the_page_shows_the_same_numbers_and_defaults_to_this_month(team: Team) -> None:
    client = client_of("nat")
    page = client.get("/reports/hours/?team=core&from=2026-03-06&to=2026-03-09")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('class="hours-row"') == 2
    assert '<td class="total">71.00</td>' in html
    assert "hours.csv?team=core&amp;from=2026-03-06&amp;to=2026-03-09" in html
    assert client.get("/reports/hours/").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-06&to=2027-03-07", "to"),  # 367 days
        ("from=2026-03-09&to=2026-03-06", "to"),
        ("from=yesterday&to=2026-03-06", "from"),
        ("from=1000-01-01&to=1000-01-02", "from"),
        ("from=2026-03-06&to=2026-13-01", "to"),
        ("team=nope&from=2026-03-06&to=2026-03-07", "team"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(team: Team, query: str, field: str) -> None:
    client = client_of("nat")
    answer = client.get(f"/reports/hours.csv?{query}")
    assert answer.status_code == 400
    assert answer.content.decode().startswith(f"{field}: ")
    assert client.get(f"/reports/hours/?{query}").status_code == 400


def test_a_year_is_allowed_and_everyone_signed_in_reads(team: Team) -> None:
    UserFactory.create(username="sam")  # no role at all
    answer = client_of("sam").get("/reports/hours.csv?from=2026-01-01&to=2026-12-31")
    assert answer.status_code == 200
    anonymous = Client().get("/reports/hours.csv")
    assert anonymous.status_code == 302


def test_queries_do_not_grow_with_rotations_or_range(
    team: Team, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_of("nat")
    client.get("/reports/hours.csv?from=2026-03-06&to=2026-03-09")
    with CaptureQueriesContext(connection) as one:
        client.get("/reports/hours.csv?from=2026-03-06&to=2026-03-09")
    for _ in range(4):
        RotationFactory.create(
            team=TeamFactory.create(),
            tier=Tier.NEW,
            members=[UserFactory.create() for _ in range(3)],
        )
    with django_assert_num_queries(len(one.captured_queries)):
        client.get("/reports/hours.csv?from=2026-01-01&to=2026-12-31")
