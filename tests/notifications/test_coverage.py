"""Coverage watch: each morning, tell each team's escalation contact about real gaps ahead.

rotations.coverage finds the gaps; the email goes out through the notifications outbox.
"""

import logging
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.core import mail
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from notifications.coverage import coverage_watch_send
from notifications.models import Notification, Status
from notifications.services import notification_deliver
from notifications.tasks import coverage_watch
from oncall.models import User
from rotations.coverage import coverage_gaps_report
from rotations.models import Position, Team, Tier
from tests.factories import OverrideFactory, RotationFactory, TeamFactory, UserFactory

# Monday 2 March 2026, 08:00 UTC (the beat's hour): 03:00 in New York, which springs
# forward on Sunday 8 March. The watch looks at [2 March 08:00, 16 March 08:00) UTC.
NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
END = NOW + timedelta(days=14)


def utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def deliver_outbox() -> None:
    """Run the delivery of every pending outbox row, as the notify-email worker would."""
    for row in Notification.objects.filter(status=Status.PENDING).order_by("id"):
        notification_deliver(notification_id=row.pk)


@pytest.fixture
def people(db: None) -> dict[str, User]:
    names = ("alice", "bob", "carol", "morgan", "quinn")
    users = {
        n: UserFactory.create(username=n, first_name=n.title(), last_name="Example") for n in names
    }
    users["quinn"].timezone = "Europe/London"
    users["quinn"].save(update_fields=["timezone"])
    return users


@pytest.fixture
def covered(people: dict[str, User]) -> Team:
    """Weekly rotations running since January: nobody is ever missing."""
    team = TeamFactory.create(slug="covered", name="Covered", escalation_contact=people["quinn"])
    RotationFactory.create(team=team, members=[people["alice"], people["bob"]])
    RotationFactory.create(team=team, position=Position.SECONDARY, members=[people["bob"]])
    return team


@pytest.fixture
def office_hours(people: dict[str, User]) -> Team:
    """Mon–Fri 09:00–17:00 New York only: nights and weekends are uncovered by design."""
    team = TeamFactory.create(slug="vro", name="VRO", escalation_contact=people["quinn"])
    RotationFactory.create(team=team, tier=Tier.NONE, working_hours=True, members=[people["carol"]])
    return team


@pytest.fixture
def core(people: dict[str, User]) -> Team:
    """Real gaps: the primary starts on Monday 9 March; the secondary has nobody in it."""
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=people["morgan"])
    RotationFactory.create(
        team=team, start_date=date(2026, 3, 9), members=[people["alice"], people["bob"]]
    )
    RotationFactory.create(team=team, position=Position.SECONDARY)
    return team


def test_report_finds_real_gaps_only_in_three_queries(
    core: Team,
    covered: Team,
    office_hours: Team,
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_max_num_queries(3):
        report = coverage_gaps_report(now=NOW)

    assert [r.team for r in report] == [core]
    assert report[0].contact == core.escalation_contact
    primary, secondary = report[0].rotations
    # Before the first handoff, Monday 9 March 09:00 EDT = 13:00 UTC.
    assert primary.gaps == [(NOW, utc(3, 9, 13))]
    assert secondary.gaps == [(NOW, END)]


def test_a_working_hours_rotation_with_nobody_reports_only_its_working_hours(
    people: dict[str, User],
) -> None:
    team = TeamFactory.create(slug="sprint", name="Sprint")
    RotationFactory.create(team=team, tier=Tier.NONE, working_hours=True)

    (report,) = coverage_gaps_report(now=NOW)

    gaps = report.rotations[0].gaps
    # Ten weekdays; 09:00–17:00 EST is 14:00–22:00 UTC, EDT from 9 March 13:00–21:00 UTC.
    assert len(gaps) == 10
    assert gaps[0] == (utc(3, 2, 14), utc(3, 2, 22))
    assert gaps[5] == (utc(3, 9, 13), utc(3, 9, 21))
    assert all(end - start == timedelta(hours=8) for start, end in gaps)


def test_an_override_closes_a_gap(core: Team, people: dict[str, User]) -> None:
    primary = core.rotations.get(position=Position.PRIMARY)
    OverrideFactory.create(rotation=primary, user=people["carol"], start=NOW, end=utc(3, 9, 13))

    (report,) = coverage_gaps_report(now=NOW)

    assert [r.rotation.position for r in report.rotations] == [Position.SECONDARY]


def test_send_mails_each_team_with_real_gaps_once_to_its_escalation_contact(
    core: Team, covered: Team, office_hours: Team, people: dict[str, User]
) -> None:
    sprint = TeamFactory.create(slug="sprint", name="Sprint", escalation_contact=people["quinn"])
    RotationFactory.create(team=sprint, tier=Tier.NONE, working_hours=True)

    sent = coverage_watch_send(now=NOW)
    deliver_outbox()

    assert sent == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("morgan@example.com", "[On-call] Core: 2 coverage gaps in the next 14 days"),
        ("quinn@example.com", "[On-call] Sprint: 10 coverage gaps in the next 14 days"),
    ]
    core_mail = next(m for m in mail.outbox if m.to == ["morgan@example.com"])
    body = core_mail.body
    assert "Hello Morgan Example," in body
    assert "Core · Veteran primary (Around the clock)" in body
    assert "The rotation starts on Mon 9 Mar 2026." in body
    assert "Nobody is in this rotation." in body
    # In the contact's timezone (New York, across spring forward), with UTC beside it.
    assert (
        "Mon 2 Mar 2026 03:00 EST to Mon 9 Mar 2026 09:00 EDT "
        "(Mon 2 Mar 08:00 to Mon 9 Mar 13:00 UTC), 7 days 5 hours" in body
    )
    assert (
        "Mon 2 Mar 2026 03:00 EST to Mon 16 Mar 2026 04:00 EDT "
        "(Mon 2 Mar 08:00 to Mon 16 Mar 08:00 UTC), 2 weeks" in body
    )
    sprint_mail = next(m for m in mail.outbox if m.to == ["quinn@example.com"])
    # Quinn reads London time: New York's 09:00 EDT on 9 March is 13:00 GMT.
    assert "Mon 9 Mar 2026 13:00 GMT to Mon 9 Mar 2026 21:00 GMT" in sprint_mail.body
    assert "Sat" not in sprint_mail.body
    assert "Sun" not in sprint_mail.body


def test_nothing_is_sent_when_every_team_is_covered(covered: Team, office_hours: Team) -> None:
    assert coverage_watch_send(now=NOW) == 0
    assert mail.outbox == []


def test_a_team_without_a_contact_is_logged_not_mailed(
    core: Team, caplog: pytest.LogCaptureFixture
) -> None:
    core.escalation_contact = None
    core.save(update_fields=["escalation_contact"])

    with caplog.at_level(logging.WARNING, logger="notifications.coverage"):
        assert coverage_watch_send(now=NOW) == 0

    assert mail.outbox == []
    assert "core" in caplog.text
    assert "no escalation contact" in caplog.text


def test_a_second_run_the_same_day_sends_nothing_and_the_next_day_sends_again(
    core: Team,
) -> None:
    assert coverage_watch_send(now=NOW) == 1
    assert coverage_watch_send(now=NOW + timedelta(hours=3)) == 0
    deliver_outbox()
    assert len(mail.outbox) == 1

    assert coverage_watch_send(now=NOW + timedelta(days=1)) == 1
    deliver_outbox()
    assert len(mail.outbox) == 2


def test_the_task_tolerates_extra_kwargs_and_uses_now(core: Team) -> None:
    coverage_watch.apply(kwargs={"unexpected": 1}).get()
    deliver_outbox()

    assert [m.to for m in mail.outbox] == [["morgan@example.com"]]
    assert coverage_watch.name == "notifications.coverage_watch"
    assert coverage_watch.time_limit
    assert coverage_watch.soft_time_limit


# --- through a real worker ----------------------------------------------------------------------


class Inbox:
    """A local SMTP server's received messages (aiosmtpd calls handle_DATA)."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.port = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp_inbox() -> Iterator[Inbox]:
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def celery_worker_env(smtp_inbox: Inbox) -> dict[str, str]:
    return {"TEST_EMAIL_URL": f"smtp://127.0.0.1:{smtp_inbox.port}"}


@pytest.mark.redis
def test_coverage_watch_through_a_real_worker_mails_over_smtp(
    celery_worker: Callable[[], str], smtp_inbox: Inbox
) -> None:
    contact = UserFactory.create(username="morgan", email="morgan@example.com")
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=contact)
    RotationFactory.create(team=team, start_date=timezone.now().date())  # nobody in it

    coverage_watch.delay()

    deadline = time.monotonic() + 30
    while not smtp_inbox.messages:
        assert time.monotonic() < deadline, f"no mail arrived; worker log:\n{celery_worker()}"
        time.sleep(0.2)
    (message,) = smtp_inbox.messages
    assert message.rcpt_tos == ["morgan@example.com"]
    content = message.content if isinstance(message.content, bytes) else b""
    assert b"Subject: [On-call] Core: 1 coverage gap in the next 14 days" in content
    assert b"Nobody is in this rotation." in content
    assert "notifications.coverage_watch" in celery_worker()
