"""The weekly review page, its meeting (save with versions, held, who may), the iCal file of
the recurring meeting, invalid weeks, and a fixed number of queries however busy the week."""

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
import time_machine
from django import forms
from django.test import Client
from pytest_django import DjangoAssertNumQueries, Settings

from incidents.models import Severity
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from postmortems import meetings
from postmortems.models import Postmortem, PostmortemStatus, ReviewMeeting
from postmortems.review import IsoWeek
from postmortems.services import NotAllowed, action_item_create, postmortem_start
from postmortems.views.review import MeetingForm
from tests.factories import IncidentFactory, TeamFactory, UserFactory

W11 = IsoWeek(2026, 11)
IN_W11 = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
ROLES = {MANAGER: True, SUPPORT_MANAGER: True, ENGINEER: False, SUPPORT: False}


def person(role: str) -> User:
    return UserFactory.create(username=f"p-{role.lower().replace(' ', '-')}", roles=[role])


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager(db: None) -> User:
    return person(MANAGER)


def test_the_review_redirects_to_the_current_week_in_the_company_zone(manager: User) -> None:
    # Monday 16 March 03:30 UTC is still Sunday 15 March in New York: week 11 there.
    with time_machine.travel(datetime(2026, 3, 16, 3, 30, tzinfo=UTC)):
        response = client_of(manager).get("/postmortems/review/")
    assert response.status_code == 302
    assert response["Location"] == "/postmortems/review/2026-W11/"


@pytest.mark.parametrize(
    "week", ["2026-W54", "2026-W00", "9999-W01", "1999-W52", "2200-W01", "garbage", "2026-W1"]
)
def test_invalid_weeks_are_404s(manager: User, week: str) -> None:
    assert client_of(manager).get(f"/postmortems/review/{week}/").status_code == 404
    response = client_of(manager).post(f"/postmortems/review/{week}/meeting/", {"version": 0})
    assert response.status_code == 404


def test_the_page_shows_the_week(manager: User) -> None:
    incident = IncidentFactory.create(
        severity=Severity.SEV1,
        triggered_at=IN_W11,
        acknowledged_at=IN_W11 + timedelta(minutes=7),
        status="acknowledged",
    )
    pm = postmortem_start(incident=incident, actor=manager)
    Postmortem.objects.filter(pk=pm.pk).update(status=PostmortemStatus.IN_REVIEW)
    response = client_of(manager).get("/postmortems/review/2026-W11/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Postmortem review 2026-W11" in page
    assert incident.number in page
    assert "7 minutes / 7 minutes" in page
    assert "Root cause found" in page
    assert 'href="/postmortems/review/2026-W10/"' in page
    assert 'href="/postmortems/review/2026-W12/"' in page
    assert "Monday 9 Mar 2026, 00:00 to Monday 16 Mar 2026, 00:00 EDT" in page


def test_the_meeting_is_saved_rendered_and_linked_from_the_next_week(manager: User) -> None:
    client = client_of(manager)
    response = client.post(
        "/postmortems/review/2026-W11/meeting/",
        {
            "version": 0,
            "notes": "Discussed **INC-1**. <script>alert(1)</script>",
            "decisions": "[x](javascript:alert(1)) Raise the alarm threshold.",
            "attendees": [manager.pk],
        },
    )
    assert response.status_code == 302
    meeting = ReviewMeeting.objects.get()
    assert (meeting.week, meeting.version) == (W11.monday, 1)
    assert list(meeting.attendees.all()) == [manager]
    page = client.get("/postmortems/review/2026-W11/").content.decode()
    assert "<strong>INC-1</strong>" in page
    assert "<script>alert(1)" not in page
    assert 'href="javascript' not in page
    assert "<strong>INC-1</strong>" in page.split("<h3>Notes</h3>")[1]
    # The saved attendee is ticked, in Django's own checkbox markup.
    ticked = f'value="{manager.pk}" id="id_attendees_0" checked>'
    assert ticked in page.split("<h2>The meeting</h2>")[1]
    # Week 13's page links to the latest meeting before it (week 12 had none).
    later = client.get("/postmortems/review/2026-W13/").content.decode()
    assert 'href="/postmortems/review/2026-W11/#meeting"' in later


def test_a_stale_save_is_refused_with_both_texts_and_nothing_written(manager: User) -> None:
    meetings.review_meeting_save(week=W11.monday, actor=manager, version=0, notes="Theirs.")
    response = client_of(manager).post(
        "/postmortems/review/2026-W11/meeting/", {"version": 0, "notes": "Mine."}
    )
    assert response.status_code == 409
    page = response.content.decode()
    assert "Theirs." in page
    assert "Mine." in page
    meeting = ReviewMeeting.objects.get()
    assert (meeting.notes, meeting.version) == ("Theirs.", 1)
    # The form now carries the saved version: sending it again saves.
    assert 'name="version" value="1"' in page


def test_the_meeting_form_answers_htmx_with_the_region(manager: User) -> None:
    response = client_of(manager).post(
        "/postmortems/review/2026-W11/meeting/",
        {"version": 0, "decisions": "Add a playbook entry."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="meeting">')
    assert "Meeting saved." in body
    assert "Add a playbook entry." in body


def test_held_records_who_and_when_and_can_be_taken_back(manager: User) -> None:
    client = client_of(manager)
    at = datetime(2026, 3, 12, 19, 5, tzinfo=UTC)
    with time_machine.travel(at, tick=False):
        assert client.post("/postmortems/review/2026-W11/held/", {"held": "yes"}).status_code == 302
    meeting = ReviewMeeting.objects.get()
    assert (meeting.held_at, meeting.held_by) == (at, manager)
    assert meeting.version == 0  # held is not an edit of the notes: nobody's save goes stale
    page = client.get("/postmortems/review/2026-W11/").content.decode()
    assert f"marked by {manager.name}" in page
    client.post("/postmortems/review/2026-W11/held/", {"held": "no"})
    meeting.refresh_from_db()
    assert (meeting.held_at, meeting.held_by) == (None, None)


@pytest.mark.parametrize(("role", "may"), ROLES.items())
def test_who_writes_the_meeting(db: None, role: str, may: bool) -> None:
    user = person(role)
    client = client_of(user)
    page = client.get("/postmortems/review/2026-W11/").content.decode()
    assert ("Save the meeting" in page) is may
    client.post("/postmortems/review/2026-W11/meeting/", {"version": 0, "notes": "N"})
    client.post("/postmortems/review/2026-W11/held/", {"held": "yes"})
    meeting = ReviewMeeting.objects.filter(week=W11.monday).first()
    if may:
        assert meeting is not None
        assert (meeting.notes, meeting.held_by) == ("N", user)
    else:
        assert meeting is None
        with pytest.raises(NotAllowed):
            meetings.review_meeting_save(week=W11.monday, actor=user, version=0, notes="N")
        with pytest.raises(NotAllowed):
            meetings.review_meeting_mark_held(week=W11.monday, actor=user, held=True)


def test_bad_meeting_input_is_a_400_naming_the_field(manager: User) -> None:
    client = client_of(manager)
    response = client.post(
        "/postmortems/review/2026-W11/meeting/", {"version": "x", "attendees": ["99999999999"]}
    )
    assert response.status_code == 400
    assert b"version" in response.content.lower()
    assert not ReviewMeeting.objects.exists()
    assert client.post("/postmortems/review/2026-W11/held/", {"held": "maybe"}).status_code == 302
    assert not ReviewMeeting.objects.exists()


def test_the_ical_file_is_a_weekly_meeting_in_the_company_zone(
    manager: User, settings: Settings
) -> None:
    settings.REVIEW_MEETING_WEEKDAY = 1  # Tuesday
    settings.REVIEW_MEETING_TIME = datetime(2026, 1, 1, 10, 30).time()
    settings.REVIEW_MEETING_MINUTES = 45
    response = client_of(manager).get("/postmortems/review/meeting.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "America/New_York"
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None
    assert str(start.tzinfo) == "America/New_York"
    assert (start.weekday(), start.hour, start.minute) == (1, 10, 30)
    assert event.decoded("DTEND") - start == timedelta(minutes=45)
    rule = event.decoded("RRULE")
    assert (rule["FREQ"], rule["BYDAY"]) == (["WEEKLY"], ["TU"])
    assert "TZID=America/New_York" in response.content.decode()
    assert str(event["URL"]).endswith("/postmortems/review/")
    again = icalendar.Calendar.from_ical(
        client_of(manager).get("/postmortems/review/meeting.ics").content
    )
    assert again.walk("VEVENT")[0]["UID"] == event["UID"]  # a stable UID


def test_the_ical_file_needs_a_login(db: None) -> None:
    response = Client().get("/postmortems/review/meeting.ics")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_page_reads_in_a_fixed_number_of_queries(
    manager: User, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    client = client_of(manager)
    meetings.review_meeting_save(
        week=W11.monday, actor=manager, version=0, notes="N", attendees=[manager]
    )

    def add(n: int) -> None:
        for _ in range(n):
            incident = IncidentFactory.create(triggered_at=IN_W11)
            pm = postmortem_start(incident=incident, actor=manager)
            Postmortem.objects.filter(pk=pm.pk).update(
                status=PostmortemStatus.IN_REVIEW, due_at=IN_W11
            )
            action_item_create(
                postmortem=pm, actor=manager, title="t", owner=manager, kind="detect"
            )

    add(1)
    with time_machine.travel(IN_W11 + timedelta(days=30)):
        # 14 for the review and its meeting (the viewer's groups read once for every rule;
        # the week's headline is read with the review's figures, page facts joined), the
        # playbook entries proposed (1) and the council decisions of the week (1).
        # With the review's tokens: 17.
        with django_assert_num_queries(17):
            assert client.get("/postmortems/review/2026-W11/").status_code == 200
        add(6)
        with django_assert_num_queries(17):
            assert client.get("/postmortems/review/2026-W11/").status_code == 200
        # Viewed again with no write since: the review (9, its headline with it) and the
        # playbook entries (1) are kept, the sections that show them too; the tokens are read.
        with django_assert_num_queries(8):
            assert client.get("/postmortems/review/2026-W11/").status_code == 200


def test_the_attendee_checkboxes_are_djangos_markup(manager: User) -> None:
    """The meeting form's people are rendered from one template: the very markup of Django's
    checkbox list, ticks included."""
    others = [UserFactory.create(first_name=name) for name in ("Ann & Co", "Bo", "Cy")]
    form = MeetingForm(initial={"attendees": [others[1], manager], "version": 0})
    field = form["attendees"]
    djangos = forms.CheckboxSelectMultiple()
    djangos.choices = field.field.choices  # type: ignore[attr-defined]
    ours = str(field.as_widget())
    assert ours == str(field.as_widget(widget=djangos))
    assert ours.count(" checked>") == 2
    assert "Ann &amp; Co" in ours


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_the_when_filter_is_the_when_templates_markup(zone: str) -> None:
    """Rows render times with `|when` instead of including `rotations/when.html` per row:
    the same markup, in the viewer's zone, across a DST change."""
    from django.template import Context, Template
    from django.template.loader import render_to_string
    from django.utils import timezone as django_timezone

    with django_timezone.override(zone):
        for at in (
            datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),  # 01:59:59 EST
            datetime(2026, 3, 8, 7, 0, 0, 123, tzinfo=UTC),  # 03:00 EDT
            datetime(2199, 12, 31, 23, 59, tzinfo=UTC),
        ):
            filtered = Template("{% load review_words %}{{ at|when }}").render(Context({"at": at}))
            assert filtered == render_to_string("rotations/when.html", {"at": at})


def test_the_lists_filter_selects_are_djangos_markup(manager: User) -> None:
    """The postmortem list's selects are rendered from one template: the very markup of
    Django's select, the chosen option marked and names escaped."""
    from postmortems.views.lists import PostmortemListFilter

    TeamFactory.create(slug="ops", name="Ops & Co")
    UserFactory.create(first_name="<b>Bo</b>")
    form = PostmortemListFilter({"team": "ops", "status": "published"}).form
    for name in ("team", "severity", "status", "owner"):
        field = form[name]
        djangos = forms.Select()
        djangos.choices = field.field.choices
        ours = str(field.as_widget())
        assert ours == str(field.as_widget(widget=djangos)), name
    assert 'value="ops" selected>Ops &amp; Co</option>' in str(form["team"])
    assert "&lt;b&gt;Bo&lt;/b&gt;" in str(form["owner"])
