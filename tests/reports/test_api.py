"""The on-call reports REST API: list filters, read, write, submit, acknowledge the handoff,
the role matrix, the error shape and bounded list queries."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from incidents.models import TimelineEvent, TimelineKind
from oncall.models import User
from reports.models import OnCallReport
from reports.services import shift_reports_create
from tests.api.conftest import assert_error, bearer_client
from tests.factories import IncidentFactory
from tests.incidents.conftest import Core

API = "/api/v1/oncall-reports"
WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
WEEK3 = WEEK2 + timedelta(days=7)


@pytest.fixture
def report(core: Core) -> OnCallReport:
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    shift_reports_create(now=WEEK3 + timedelta(minutes=1))
    return OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, data=body, content_type="application/json")


def post(client: Client, url: str, body: Any = None) -> Any:
    return client.post(url, data=body if body is not None else {}, content_type="application/json")


def test_read_a_report_with_its_facts_and_iso_durations(report: OnCallReport, core: Core) -> None:
    bob = core.people["bob"]
    incident = IncidentFactory.create(
        team=core.team,
        triggered_at=WEEK2 + timedelta(hours=1),
        acknowledged_by=bob,
        acknowledged_at=WEEK2 + timedelta(hours=1),
        status="acknowledged",
    )
    TimelineEvent.objects.create(
        incident=incident,
        kind=TimelineKind.PAGED,
        at=WEEK2 + timedelta(hours=1),
        data={"user_id": bob.pk},
    )
    body = bearer_client(core.people["alice"]).get(f"{API}/{report.pk}/").json()
    assert body["team"] == "core"
    assert body["user"] == bob.pk
    assert body["rotation"] == core.veteran.pk
    assert body["status"] == "draft"
    assert body["shift_start"] == "2026-01-12T14:00:00Z"
    assert body["stats"]["pages"] == 1
    assert body["stats"]["business_hours_pages"] == 1  # Monday 10:00 New York
    assert body["stats"]["engaged"].startswith("P")
    assert body["stats"]["incidents"][0]["roles"] == ["paged", "acknowledged", "open"]


def test_list_filters_by_team_user_and_status(report: OnCallReport, core: Core) -> None:
    client = bearer_client(core.people["alice"])
    assert len(client.get(f"{API}/").json()["results"]) == 4
    assert len(client.get(f"{API}/?team=core&user={core.people['bob'].pk}").json()["results"]) == 1
    assert client.get(f"{API}/?status=submitted").json()["results"] == []
    assert client.get(f"{API}/?team=nope").json()["results"] == []
    assert_error(client.get(f"{API}/?status=lost"), 400, field="status")
    assert_error(client.get(f"{API}/?user=abc"), 400, field="user")
    assert_error(client.get(f"{API}/?user=99999999999999999999"), 400, field="user")


@pytest.mark.parametrize("count", [1, 12])
def test_the_list_costs_the_same_queries_for_any_number_of_drafts(
    core: Core, count: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    start = WEEK2
    for k in range(count):
        OnCallReport.objects.create(
            rotation=core.veteran,
            user=core.people["bob"],
            shift_start=start + timedelta(days=7 * k),
            shift_end=start + timedelta(days=7 * k + 7),
        )
    client = bearer_client(core.people["alice"])
    client.get(f"{API}/")  # warm the key cache
    # key, reports, pages, incidents
    with django_assert_num_queries(4):
        answer = client.get(f"{API}/")
    assert len(answer.json()["results"]) == count


@pytest.mark.parametrize(
    ("who", "status"),
    [("bob", 200), ("manager", 200), ("alice", 403), ("support", 403), ("support_manager", 403)],
)
def test_who_writes_a_report(
    report: OnCallReport, core: Core, people: dict[str, User], who: str, status: int
) -> None:
    user = core.people.get(who) or people[who]
    answer = patch(
        bearer_client(user), f"{API}/{report.pk}/", {"summary": "Quiet", "effort": "low"}
    )
    assert answer.status_code == status, answer.content
    report.refresh_from_db()
    assert (report.summary == "Quiet") is (status == 200)


def test_bad_writes_are_400s_naming_the_field_and_write_nothing(
    report: OnCallReport, core: Core
) -> None:
    client = bearer_client(core.people["bob"])
    url = f"{API}/{report.pk}/"
    assert_error(patch(client, url, {"effort": "enormous"}), 400, field="effort")
    assert_error(patch(client, url, {"off_hours_spent": -1}), 400, field="off_hours_spent")
    assert_error(patch(client, url, {"off_hours_spent": 1e9}), 400, field="off_hours_spent")
    assert_error(patch(client, url, {"summary": "x" * 20_001}), 400, field="summary")
    assert_error(patch(client, url, {"summary": 5, "effort": "bad"}), 400, field="effort")
    assert_error(patch(client, url, [1]), 400)
    report.refresh_from_db()
    assert (report.summary, report.effort) == ("", "")
    assert_error(bearer_client(core.people["bob"]).get(f"{API}/999999/"), 404)


def test_submit_then_refused_a_second_time_and_written_no_more(
    report: OnCallReport, core: Core
) -> None:
    client = bearer_client(core.people["bob"])
    assert_error(post(bearer_client(core.people["alice"]), f"{API}/{report.pk}/submit/"), 403)
    answer = post(client, f"{API}/{report.pk}/submit/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "submitted"
    assert answer.json()["submitted_at"]
    assert_error(post(client, f"{API}/{report.pk}/submit/"), 409, "illegal_transition")
    assert_error(patch(client, f"{API}/{report.pk}/", {"summary": "x"}), 409, "report_submitted")


@pytest.mark.parametrize(
    ("who", "status"), [("carol", 200), ("manager", 200), ("bob", 403), ("alice", 403)]
)
def test_the_incoming_oncall_acknowledges_the_handoff(
    report: OnCallReport, core: Core, people: dict[str, User], who: str, status: int
) -> None:
    user = core.people.get(who) or people[who]
    answer = post(bearer_client(user), f"{API}/{report.pk}/acknowledge-handoff/")
    assert answer.status_code == status, answer.content
    report.refresh_from_db()
    assert (report.handoff_acknowledged_by == user) is (status == 200)


def test_signed_out_is_refused(report: OnCallReport) -> None:
    assert_error(Client().get(f"{API}/"), 403, "not_authenticated")
