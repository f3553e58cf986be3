"""The insights page and its CSVs: what they show, sign-in, filters, bounded queries."""

import csv
import io

from django.test import Client
from pytest_django import DjangoAssertNumQueries

from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.factories import UserFactory
from tests.insights.conftest import History

PAGE = "/insights/?range=custom&from=2026-03-02&to=2026-03-15"


def signed_in(role: str = MANAGER, name: str = "morgan") -> Client:
    user: User = UserFactory.create(username=name, timezone="UTC", roles=[role])
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_charts_tables_and_definitions(history: History) -> None:
    response = signed_in().get(PAGE)
    assert response.status_code == 200
    text = response.content.decode()
    for part in (
        'id="insights-data"',
        'id="chart-weeks"',
        'id="chart-people"',
        'id="chart-tiers"',
        "vendor/chartjs/chart.umd.min.js",
        "js/insights.js",
        "Time to acknowledge: triggered to first acknowledgement",
        "one per person and incident per minute",
    ):
        assert part in text, part
    assert "<script>" not in text  # CSP: data goes through json_script, code in files
    data = response.context["chart_data"]
    assert data["people"]["labels"][0] == "Alice A"
    assert (data["people"]["business"][0], data["people"]["sleep"][0]) == (2, 2)
    assert data["weeks"]["incidents"] == [6, 1]
    assert data["tiers"]["ended_with_veteran"] == [0, 1]


def test_each_chart_downloads_as_csv(history: History) -> None:
    client = signed_in()
    query = PAGE.split("?", 1)[1]
    rows = list(
        csv.reader(io.StringIO(client.get(f"/insights/people.csv?{query}").content.decode()))
    )
    assert rows[0][:3] == ["person", "username", "pages"]
    assert rows[1][:7] == ["Alice A", "alice", "7", "2", "3", "2", "3"]
    headline = client.get(f"/insights/headline.csv?{query}")
    assert headline["Content-Type"].startswith("text/csv")
    assert ["mtta_p90", "912", "600"] in list(csv.reader(io.StringIO(headline.content.decode())))
    for chart in ("weeks", "interruptions", "heatmap", "tiers"):
        assert client.get(f"/insights/{chart}.csv?{query}").status_code == 200, chart
    assert client.get(f"/insights/nope.csv?{query}").status_code == 404
    assert client.get("/insights/weeks.csv?range=custom&from=bad").status_code == 400


def test_ranges_and_bad_filters(history: History) -> None:
    client = signed_in()
    assert client.get("/insights/").status_code == 200  # last 30 days
    assert client.get("/insights/?range=7").status_code == 200
    assert client.get("/insights/?range=custom&from=2026-03-10&to=2026-03-01").status_code == 400
    assert client.get("/insights/?team=nope").status_code == 400
    assert (
        client.get(
            "/insights/?range=custom&from=2026-03-02&to=2026-03-15&team=edge&tier=new"
        ).status_code
        == 200
    )


def test_every_role_reads_it_and_anonymous_signs_in_first(history: History) -> None:
    for n, role in enumerate((MANAGER, ENGINEER, SUPPORT_MANAGER, SUPPORT)):
        assert signed_in(role, f"p{n}").get(PAGE).status_code == 200, role
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_reads_in_a_fixed_number_of_queries(
    history: History, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = signed_in()
    # The outbox's new rows: read again, classified and written back (one chunk: a
    # savepoint, the lock, the update, its release) once.
    with django_assert_max_num_queries(18):
        assert client.get(PAGE).status_code == 200
    # Session, user and groups (the layout); the figures (9); people not on a rotation;
    # the filters' teams and integrations.
    with django_assert_max_num_queries(13):
        assert client.get(PAGE).status_code == 200


def test_the_review_links_the_weeks_headline(history: History) -> None:
    response = signed_in().get("/postmortems/review/2026-W10/")
    text = response.content.decode()
    assert 'id="week-headline"' in text
    assert "/insights/?range=custom&amp;from=2026-03-02&amp;to=2026-03-08" in text
