"""Reports on other apps' pages: the team page lists the team's reports and each handoff;
who's on call shows the incoming on-call their handoff box; My shifts links My reports."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from incidents.models import Status
from oncall.models import User
from reports.models import OnCallReport
from reports.services import report_handoff_acknowledge, report_update, shift_reports_create
from tests.factories import IncidentFactory
from tests.incidents.conftest import Core

WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
WEEK3 = WEEK2 + timedelta(days=7)
WEEK4 = WEEK3 + timedelta(days=7)


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def three_weeks(core: Core) -> None:
    for start in (WEEK2, WEEK3, WEEK4):
        shift_reports_create(now=start + timedelta(minutes=1))


def rows(page: str) -> list[str]:
    return [chunk.split("</tr>")[0] for chunk in page.split('class="team-report-row"')[1:]]


def test_the_team_page_lists_reports_newest_first_with_each_handoff(core: Core) -> None:
    three_weeks(core)
    week2 = OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)
    report_handoff_acknowledge(
        report=week2, actor=core.people["carol"], at=WEEK3 + timedelta(minutes=20)
    )
    with time_machine.travel(WEEK4 + timedelta(hours=1), tick=False):
        page = client_of(core.people["dave"]).get("/teams/core/").content.decode()
    found = rows(page)
    # Newest shift first: week 4 (veteran and new), week 3, week 2.
    assert len(found) == 6
    assert {"Veteran" in found[0], "Veteran" in found[1]} == {True, False}
    assert all("shift runs until" in row for row in found[:2])
    veteran_week2 = next(r for r in found[4:] if "Veteran" in r)
    assert 'data-status="draft"' in page
    assert f'href="/reports/{week2.pk}/"' in veteran_week2
    # bob handed to carol at the week 3 handoff; carol acknowledged 20 minutes later.
    handoff = veteran_week2.split('class="handoff"')[1]
    assert handoff.index(core.people["bob"].name) < handoff.index(core.people["carol"].name)
    assert "acknowledged" in handoff
    assert "not acknowledged yet" not in handoff
    assert "Mon 19 Jan, 09:20" in handoff  # in dave's zone (New York by default)
    veteran_week3 = next(r for r in found[2:4] if "Veteran" in r)
    assert "not acknowledged yet" in veteran_week3


def test_the_team_page_costs_the_same_queries_for_any_number_of_reports(
    core: Core,
    django_assert_num_queries: DjangoAssertNumQueries,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    client = client_of(core.people["dave"])
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    client.get("/teams/core/")
    with django_assert_max_num_queries(30) as few:
        client.get("/teams/core/")
    three_weeks(core)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/teams/core/")


def test_a_team_without_reports_says_so(core: Core) -> None:
    page = client_of(core.people["dave"]).get("/teams/core/").content.decode()
    assert "No reports yet" in page


def test_who_is_on_call_shows_the_incoming_oncall_their_handoff_box(core: Core) -> None:
    three_weeks(core)
    week2 = OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)
    report_update(report=week2, actor=core.people["bob"], handoff_notes="Queue is **slow**")
    open_one = IncidentFactory.create(team=core.team, title="Disk filling up")
    IncidentFactory.create(team=core.team, title="Long gone", status=Status.RESOLVED)
    carol, alice = client_of(core.people["carol"]), client_of(core.people["alice"])
    with time_machine.travel(WEEK3 + timedelta(minutes=5), tick=False):
        page = carol.get("/oncall/").content.decode()
        assert "Queue is **slow**" in page  # shown as written, escaped, never as HTML
        assert "Disk filling up" in page
        assert f"/incidents/{open_one.pk}/" in page
        assert "Long gone" not in page
        assert "Got the handoff" in page
        assert 'name="next" value="oncall"' in page
        assert "Got the handoff" not in alice.get("/oncall/").content.decode()
        answer = carol.post(f"/reports/{week2.pk}/handoff/", {"next": "oncall"})
        assert (answer.status_code, answer["Location"]) == (302, "/oncall/")
        assert "Got the handoff" not in carol.get("/oncall/").content.decode()
    week2.refresh_from_db()
    assert week2.handoff_acknowledged_by == core.people["carol"]


def test_got_the_handoff_by_htmx_returns_the_box_for_the_same_page(core: Core) -> None:
    three_weeks(core)
    week2 = OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)
    erin_week2 = OnCallReport.objects.get(rotation=core.new, shift_start=WEEK2)
    with time_machine.travel(WEEK3 + timedelta(minutes=5), tick=False):
        incoming = OnCallReport.objects.get(rotation=core.new, shift_start=WEEK3).user
        # dave takes over the new list from erin: two boxes for nobody, one each here.
        answer = client_of(incoming).post(
            f"/reports/{erin_week2.pk}/handoff/", {"next": "oncall"}, HTTP_HX_REQUEST="true"
        )
    assert answer.status_code == 200
    assert "Got the handoff" not in answer.content.decode()
    erin_week2.refresh_from_db()
    week2.refresh_from_db()
    assert erin_week2.handoff_acknowledged_at is not None
    assert week2.handoff_acknowledged_at is None


def test_my_shifts_links_my_reports(core: Core) -> None:
    page = client_of(core.people["bob"]).get("/me/shifts/").content.decode()
    assert 'href="/reports/"' in page
