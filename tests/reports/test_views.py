"""The report pages: My reports, a report's facts beside its form (plain and htmx), saving,
submitting, and "Got the handoff" on the home page."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from oncall.models import User
from reports.models import OnCallReport
from reports.services import report_update, shift_reports_create
from tests.incidents.conftest import Core

WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
WEEK3 = WEEK2 + timedelta(days=7)


@pytest.fixture
def report(core: Core) -> OnCallReport:
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    shift_reports_create(now=WEEK3 + timedelta(minutes=1))
    return OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_report_page_shows_the_facts_beside_the_form(report: OnCallReport, core: Core) -> None:
    page = client_of(core.people["bob"]).get(f"/reports/{report.pk}/").content.decode()
    assert "From the record" in page
    assert 'name="handoff_notes"' in page
    assert "Submit and email the report" in page
    other = client_of(core.people["alice"]).get(f"/reports/{report.pk}/").content.decode()
    assert 'name="handoff_notes"' not in other  # read only for a teammate


def test_saving_plain_redirects_and_htmx_returns_the_region_with_a_sanitised_preview(
    report: OnCallReport, core: Core
) -> None:
    client = client_of(core.people["bob"])
    plain = client.post(f"/reports/{report.pk}/save/", {"summary": "Quiet", "effort": "low"})
    assert plain.status_code == 302
    region = client.post(
        f"/reports/{report.pk}/save/",
        {"summary": "**Busy** <script>x</script>", "effort": "high"},
        HTTP_HX_REQUEST="true",
    )
    assert region.status_code == 200
    html = region.content.decode()
    assert html.lstrip().startswith('<section class="card" id="writing"')
    assert "<strong>Busy</strong>" in html
    assert "<script>" not in html
    report.refresh_from_db()
    assert (report.summary, report.effort) == ("**Busy** <script>x</script>", "high")


def test_bad_input_is_a_400_naming_the_field_and_saves_nothing(
    report: OnCallReport, core: Core
) -> None:
    client = client_of(core.people["bob"])
    answer = client.post(f"/reports/{report.pk}/save/", {"effort": "enormous", "summary": "x"})
    assert answer.status_code == 400
    assert "effort" in answer.content.decode()
    answer = client.post(f"/reports/{report.pk}/save/", {"off_hours_spent": "-3"})
    assert answer.status_code == 400
    report.refresh_from_db()
    assert report.summary == ""
    refused = client_of(core.people["alice"]).post(f"/reports/{report.pk}/save/", {"summary": "x"})
    assert refused.status_code == 403


def test_submitting_from_the_page(report: OnCallReport, core: Core) -> None:
    answer = client_of(core.people["bob"]).post(f"/reports/{report.pk}/submit/")
    assert answer.status_code == 302
    report.refresh_from_db()
    assert report.status == "submitted"


def test_the_incoming_oncall_gets_the_handoff_on_the_home_page(
    report: OnCallReport, core: Core
) -> None:
    report_update(report=report, actor=core.people["bob"], handoff_notes="Queue is slow")
    carol = client_of(core.people["carol"])
    with time_machine.travel(WEEK3 + timedelta(minutes=5), tick=False):
        box = carol.get("/reports/handoffs/", HTTP_HX_REQUEST="true").content.decode()
        assert "Queue is slow" in box
        assert "Got the handoff" in box
        assert "Got the handoff" in carol.get("/reports/").content.decode()
        assert (
            "Got the handoff"
            not in client_of(core.people["alice"]).get("/reports/handoffs/").content.decode()
        )
        answer = carol.post(f"/reports/{report.pk}/handoff/", {"next": "home"})
        assert answer.status_code == 302
        assert answer["Location"] == "/"
        assert "Got the handoff" not in carol.get("/reports/handoffs/").content.decode()
    report.refresh_from_db()
    assert report.handoff_acknowledged_by == core.people["carol"]


@pytest.mark.parametrize("count", [1, 10])
def test_my_reports_costs_the_same_queries_for_any_number(
    core: Core, count: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    bob = core.people["bob"]
    for k in range(count):
        OnCallReport.objects.create(
            rotation=core.veteran,
            user=bob,
            shift_start=WEEK2 - timedelta(days=7 * (k + 1)),
            shift_end=WEEK2 - timedelta(days=7 * k),
        )
    client = client_of(bob)
    # session, user, groups (roles), reports, running shifts (none)
    with django_assert_num_queries(5):
        answer = client.get("/reports/")
    assert answer.content.decode().count('class="report-row"') == count
