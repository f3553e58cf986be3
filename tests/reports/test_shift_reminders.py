"""Shift reminders: each person told once per shift and kind, at their own lead (default an
hour before the start, nothing before the end; off respected), in their own zone, across a
DST change, in a fixed number of queries; the settings page."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import DjangoAssertNumQueries

from notifications.models import Notification, Urgency
from notifications.services import notification_acknowledge
from oncall.models import User
from reports.models import ShiftReminderSetting
from reports.shift_reminders import shift_reminder_set, shift_reminders_send
from rotations.models import Override, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory
from tests.incidents.conftest import Core

# Monday 2026-01-12 09:00 New York (EST): bob takes the veteran list, erin the new one.
WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
WEEK3 = WEEK2 + timedelta(days=7)


def reminders() -> list[tuple[str, str]]:
    """(username, subject) of each reminder person and kind (one row per channel: deduped)."""
    rows = Notification.objects.filter(idempotency_key__startswith="shift-reminder:")
    return sorted(set(rows.values_list("recipient__username", "subject")))


def test_an_hour_before_the_start_by_default_exactly_once(core: Core) -> None:
    assert shift_reminders_send(now=WEEK2 - timedelta(minutes=61)) == 0
    assert reminders() == []
    shift_reminders_send(now=WEEK2 - timedelta(minutes=60))
    expected = [
        ("bob", "You go on call for Core · Veteran primary at Mon 09:00 EST"),
        ("erin", "You go on call for Core · New primary at Mon 09:00 EST"),
    ]
    assert reminders() == expected
    count = Notification.objects.count()
    for minutes in (59, 30, 1):
        shift_reminders_send(now=WEEK2 - timedelta(minutes=minutes))
    assert Notification.objects.count() == count
    assert reminders() == expected
    row = Notification.objects.filter(recipient=core.people["bob"]).first()
    assert row is not None
    assert row.urgency == Urgency.LOW
    # The shift's end lies beyond the two days looked ahead: not guessed.
    assert row.body == "You go on call for Core · Veteran primary at Mon 09:00 EST."
    # Once the shift has started, a late beat no longer says "you go on call".
    Notification.objects.all().delete()
    shift_reminders_send(now=WEEK2)
    assert reminders() == []


def test_off_is_respected_and_a_lead_before_the_end_is_sent_once(core: Core) -> None:
    shift_reminder_set(user=core.people["bob"], before_start=None, before_end=None)
    shift_reminder_set(user=core.people["erin"], before_start=15, before_end=120)
    shift_reminders_send(now=WEEK2 - timedelta(minutes=30))
    assert reminders() == []  # bob is off, erin's is 15 minutes
    shift_reminders_send(now=WEEK2 - timedelta(minutes=15))
    assert [who for who, _ in reminders()] == ["erin"]
    shift_reminders_send(now=WEEK3 - timedelta(minutes=121))
    shift_reminders_send(now=WEEK3 - timedelta(minutes=120))
    shift_reminders_send(now=WEEK3 - timedelta(minutes=5))
    assert [r for r in reminders() if r[0] == "erin"] == [
        ("erin", "You go on call for Core · New primary at Mon 09:00 EST"),
        ("erin", "Your on-call shift for Core · New primary ends at Mon 09:00 EST"),
    ]


def test_an_override_reminds_whoever_covers(core: Core) -> None:
    Override.objects.create(
        rotation=core.veteran,
        user=core.people["carol"],
        start=WEEK2,
        end=WEEK2 + timedelta(days=1),
        created_by=core.people["morgan"],
    )
    shift_reminders_send(now=WEEK2 - timedelta(minutes=30))
    assert [who for who, _ in reminders()] == ["carol", "erin"]
    # bob is told when his part starts, after carol's day.
    shift_reminders_send(now=WEEK2 + timedelta(hours=23, minutes=30))
    assert ("bob", "You go on call for Core · Veteran primary at Tue 09:00 EST") in reminders()


def test_in_the_persons_zone_across_a_dst_change(db: None) -> None:
    # New York springs forward on Sunday 2026-03-08: Monday 09:00 EDT is 13:00 UTC.
    london = UserFactory.create(username="lena", timezone="Europe/London")
    york = UserFactory.create(username="yan")
    # Week 10 of rotations started 2026-01-05: the second of two people is on call.
    RotationFactory.create(
        team=TeamFactory.create(name="Core"), members=[UserFactory.create(), london]
    )
    RotationFactory.create(
        team=TeamFactory.create(name="Edge"), tier=Tier.NEW, members=[UserFactory.create(), york]
    )
    start = datetime(2026, 3, 9, 13, tzinfo=UTC)
    shift_reminders_send(now=start - timedelta(minutes=61))
    assert reminders() == []
    shift_reminders_send(now=start - timedelta(minutes=60))
    assert reminders() == [
        ("lena", "You go on call for Core · Veteran primary at Mon 13:00 GMT"),
        ("yan", "You go on call for Edge · New primary at Mon 09:00 EDT"),
    ]


def test_queries_do_not_grow_with_rotations(
    db: None, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    def team_of(n: int) -> None:
        people = [UserFactory.create() for _ in range(3)]
        RotationFactory.create(team=TeamFactory.create(), members=people)
        ShiftReminderSetting.objects.create(user=people[1], before_start=60, before_end=60)

    team_of(0)
    Notification.objects.all().delete()
    with time_machine.travel(WEEK2 - timedelta(minutes=30), tick=False):
        with CaptureQueriesContext(connection) as one:
            assert shift_reminders_send(now=WEEK2 - timedelta(minutes=30)) == 1
        for n in range(1, 6):
            team_of(n)
        Notification.objects.all().delete()
        with django_assert_num_queries(len(one.captured_queries)):
            assert shift_reminders_send(now=WEEK2 - timedelta(minutes=30)) == 6


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_page_shows_the_defaults_saves_and_refuses_bad_input(core: Core) -> None:
    bob = core.people["bob"]
    client = client_of(bob)
    page = client.get("/reports/reminders/").content.decode()
    assert '<option value="60" selected>1 hour before</option>' in page
    saved = client.post(
        "/reports/reminders/", {"before_start": "", "before_end": "30", "slack_user_id": "U0BOB1"}
    )
    assert (saved.status_code, saved["Location"]) == (302, "/reports/reminders/")
    setting = ShiftReminderSetting.objects.get(user=bob)
    assert (setting.before_start, setting.before_end) == (None, 30)
    bob.refresh_from_db()
    assert bob.slack_user_id == "U0BOB1"
    assert 'value="U0BOB1"' in client.get("/reports/reminders/").content.decode()
    for data, words in (
        ({"before_start": "61", "before_end": ""}, "61 is not one of the available choices"),
        ({"before_start": "", "slack_user_id": "@bob"}, "A Slack user id starts with U or W"),
    ):
        refused = client.post("/reports/reminders/", data)
        assert refused.status_code == 400
        assert words in refused.content.decode()
    setting.refresh_from_db()
    bob.refresh_from_db()
    assert (setting.before_start, setting.before_end, bob.slack_user_id) == (None, 30, "U0BOB1")
    assert client.put("/reports/reminders/").status_code == 405
    assert Client().get("/reports/reminders/").status_code == 302


def test_a_reminders_ack_link_answers_without_an_error(core: Core) -> None:
    shift_reminders_send(now=WEEK2 - timedelta(minutes=60))
    row = Notification.objects.filter(recipient=core.people["bob"]).first()
    assert row is not None
    # Before the handler was registered this raised UnknownSubject (a 4xx for a valid link).
    assert notification_acknowledge(notification_id=row.pk, channel="link").pk == row.pk
