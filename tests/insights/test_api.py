"""`GET /api/v1/insights/`: the contract (every name, ISO 8601 durations), filters, errors in
the portal's shape, sign-in, and a fixed number of queries."""

from django.test import Client
from pytest_django import DjangoAssertNumQueries

from insights.classify import classify_pending
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.api.conftest import assert_error, bearer_client
from tests.factories import UserFactory
from tests.insights.conftest import History

URL = "/api/v1/insights/?from=2026-03-02&to=2026-03-15"


def viewer(role: str = MANAGER, name: str = "morgan") -> User:
    return UserFactory.create(username=name, timezone="UTC", roles=[role])


def test_the_contract(history: History) -> None:
    body = bearer_client(viewer()).get(URL).json()
    assert set(body) >= {
        "from", "to", "incidents", "acknowledged", "resolved", "escalated", "mtta",
        "mtta_median", "mtta_p90", "mttr", "mttr_median", "mttr_p90", "triage",
        "interruptions", "noise", "tiers", "people", "weeks",
    }  # fmt: skip
    assert (body["from"], body["to"]) == ("2026-03-02T00:00:00Z", "2026-03-16T00:00:00Z")
    assert (body["incidents"], body["acknowledged"], body["resolved"]) == (7, 5, 6)
    assert body["escalated"] == 1
    assert (body["mtta"], body["mtta_median"], body["mtta_p90"]) == ("PT8M", "PT6M", "PT15M12S")
    assert (body["mttr"], body["mttr_median"], body["mttr_p90"]) == (
        "PT52M10S",
        "PT45M",
        "PT1H45M",
    )
    assert body["triage"] == "PT10M"
    assert body["interruptions"] == {"business": 4, "off_hours": 4, "sleep_hours": 3}
    assert body["noise"] == {"unacknowledged_quick_resolves": 1, "not_actionable": 1}
    assert body["tiers"] == {
        "veteran": {"pages": 8, "acknowledged": 3, "ended_with_veteran": None},
        "new": {"pages": 3, "acknowledged": 1, "ended_with_veteran": 1},
    }
    people = {row["name"]: row for row in body["people"]}
    assert people["Alice A"] == {
        "user": history.alice.pk,
        "name": "Alice A",
        "pages": 7,
        "sleep_hours_pages": 2,
        "acknowledged": 3,
        "hours_on_call": "P14D",
    }
    assert [(w["week"], w["incidents"], w["mtta"]) for w in body["weeks"]] == [
        ("2026-03-02T00:00:00Z", 6, "PT8M"),
        ("2026-03-09T00:00:00Z", 1, "PT8M"),
    ]
    assert body["previous"]["incidents"] == 1
    assert body["previous"]["mtta"] == "PT10M"


def test_team_filters_by_slug_and_unknown_values_name_the_field(history: History) -> None:
    client = bearer_client(viewer())
    assert client.get(URL + "&team=edge").json()["incidents"] == 1
    assert client.get(URL + "&severity=SEV1").json()["mtta"] is None
    assert_error(client.get(URL + "&team=nope"), 400, field="team")
    assert_error(client.get(URL + "&severity=SEV9"), 400, field="severity")
    assert_error(client.get(URL + "&tier=old"), 400, field="tier")
    assert_error(client.get("/api/v1/insights/?from=2026-03-10&to=2026-03-01"), 400, field="to")
    assert_error(client.get("/api/v1/insights/?from=2020-01-01&to=2026-03-01"), 400, field="to")
    assert_error(client.get("/api/v1/insights/?from=yesterday"), 400, field="from")
    assert_error(client.get(URL + "&integration=999999"), 400, field="integration")


def test_every_role_reads_and_anonymous_is_refused(history: History) -> None:
    for n, role in enumerate((MANAGER, ENGINEER, SUPPORT_MANAGER, SUPPORT)):
        response = bearer_client(viewer(role, f"v{n}")).get(URL)
        assert response.status_code == 200, role
    assert_error(Client().get(URL), 403, "not_authenticated")


def test_queries_are_fixed(
    history: History, django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    client = bearer_client(viewer())
    classify_pending()  # as the beat task does between the pages and a view
    with django_assert_max_num_queries(11):  # the key and its user, then the figures
        assert client.get(URL).status_code == 200
