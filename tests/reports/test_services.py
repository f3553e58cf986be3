"""The shift-start drafts (once per shift, catching up, overrides), writing and submitting
(rights, the map, facts frozen, the email over real SMTP), reminders and the handoff page."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from pytest_django import DjangoAssertNumQueries, Settings

from notifications.models import Notification
from notifications.services import notification_acknowledge, notification_deliver
from reports.models import OnCallReport, ReportStatus
from reports.services import (
    IllegalTransition,
    NotADraft,
    NotAllowed,
    handoff_pages_send,
    report_handoff_acknowledge,
    report_reminders_send,
    report_submit,
    report_update,
    shift_reports_create,
)
from rotations.models import Override, Rotation, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory
from tests.incidents.conftest import Core
from tests.notifications.conftest import SmtpServer

# Week 2 of Core's weekly rotations (Monday 09:00 New York): bob is the veteran, erin new.
WEEK2 = datetime(2026, 1, 12, 14, tzinfo=UTC)
WEEK3 = WEEK2 + timedelta(days=7)


def drafts() -> list[tuple[str, str, datetime]]:
    return sorted(
        (r.rotation.tier, r.user.username, r.shift_start)
        for r in OnCallReport.objects.select_related("rotation", "user")
    )


def test_a_draft_per_tiered_rotation_once_even_when_the_beat_runs_twice(core: Core) -> None:
    RotationFactory.create(team=core.team, tier=Tier.NONE, members=[core.people["john"]])
    now = WEEK2 + timedelta(minutes=1)
    assert shift_reports_create(now=now).created == 2
    assert shift_reports_create(now=now + timedelta(minutes=1)).created == 0
    assert drafts() == [("new", "erin", WEEK2), ("veteran", "bob", WEEK2)]
    report = OnCallReport.objects.get(rotation=core.veteran)
    assert report.shift_end == WEEK3
    assert report.status == ReportStatus.DRAFT


def test_a_late_beat_catches_up_but_not_beyond_its_window(core: Core, settings: Settings) -> None:
    settings.REPORTS_CATCH_UP = timedelta(hours=24)
    assert shift_reports_create(now=WEEK2 + timedelta(hours=23)).created == 2
    OnCallReport.objects.all().delete()
    assert shift_reports_create(now=WEEK2 + timedelta(hours=25)).created == 0


def test_short_shifts_missed_while_down_are_all_drafted(core: Core) -> None:
    rotation = core.veteran
    rotation.shift_length = timedelta(hours=8)
    rotation.save()
    # Down for a day from the first handoff: three 8-hour shifts started since.
    shift_reports_create(now=datetime(2026, 1, 6, 13, 30, tzinfo=UTC))
    starts = [
        r.shift_start
        for r in OnCallReport.objects.filter(rotation=rotation).order_by("shift_start")
    ]
    assert [s - starts[0] for s in starts] == [
        timedelta(0),
        timedelta(hours=8),
        timedelta(hours=16),
    ]


def test_the_report_goes_to_whoever_covers_by_override(core: Core) -> None:
    carol = core.people["carol"]
    Override.objects.create(
        rotation=core.veteran,
        start=WEEK2 - timedelta(hours=1),
        end=WEEK3,
        user=carol,
        replaces=core.people["bob"],
    )
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    assert OnCallReport.objects.get(rotation=core.veteran).user == carol


def test_an_override_made_after_the_draft_moves_an_untouched_report(core: Core) -> None:
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    carol, dave = core.people["carol"], core.people["dave"]
    Override.objects.create(rotation=core.veteran, start=WEEK2, end=WEEK3, user=carol)
    Override.objects.create(rotation=core.new, start=WEEK2, end=WEEK3, user=dave)
    new_report = OnCallReport.objects.get(rotation=core.new)
    report_update(report=new_report, actor=new_report.user, summary="Already writing")

    run = shift_reports_create(now=WEEK2 + timedelta(minutes=2))

    assert run.moved == 1
    assert OnCallReport.objects.get(rotation=core.veteran).user == carol
    assert OnCallReport.objects.get(rotation=core.new).user.username == "erin"  # written: kept


def tiered_rotations(count: int) -> None:
    for n in range(count):
        team = TeamFactory.create(slug=f"bench{n}")
        people = [UserFactory.create(username=f"bench{n}-{i}") for i in range(2)]
        RotationFactory.create(team=team, tier=Tier.VETERAN, members=people)
        rotation = RotationFactory.create(team=team, tier=Tier.NEW, members=people[::-1])
        Override.objects.create(rotation=rotation, start=WEEK2, end=WEEK3, user=people[0])


@pytest.mark.parametrize("count", [1, 15])
def test_the_shift_start_run_costs_the_same_queries_for_any_number_of_rotations(
    db: None, count: int, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    tiered_rotations(count)
    # rotations, members, overrides, existing reports, the insert (in a savepoint pair).
    with django_assert_num_queries(7):
        assert shift_reports_create(now=WEEK2 + timedelta(minutes=1)).created == 2 * count
    assert Rotation.objects.count() == 2 * count


# --- writing and submitting ----------------------------------------------------------------


@pytest.fixture
def report(core: Core) -> OnCallReport:
    shift_reports_create(now=WEEK2 + timedelta(minutes=1))
    shift_reports_create(now=WEEK3 + timedelta(minutes=1))  # carol's week, the next shift
    OnCallReport.objects.filter(rotation=core.new).delete()  # the veteran list's only
    return OnCallReport.objects.get(rotation=core.veteran, shift_start=WEEK2)


def test_the_owner_writes_and_a_teammate_may_not(report: OnCallReport, core: Core) -> None:
    report = report_update(
        report=report, actor=core.people["bob"], summary="Quiet week", effort="low"
    )
    assert (report.summary, report.effort) == ("Quiet week", "low")
    with pytest.raises(NotAllowed):
        report_update(report=report, actor=core.people["alice"], summary="Not mine")
    with pytest.raises(ValidationError) as caught:
        report_update(report=report, actor=core.people["bob"], effort="enormous")
    assert "effort" in caught.value.message_dict
    report.refresh_from_db()
    assert report.summary == "Quiet week"


def test_a_manager_submits_for_them_and_a_second_submit_is_refused(
    report: OnCallReport, people: dict[str, Any]
) -> None:
    submitted = report_submit(report=report, actor=people["manager"])
    assert submitted.status == ReportStatus.SUBMITTED
    assert submitted.submitted_by == people["manager"]
    assert submitted.stats["pages"] == 0
    with pytest.raises(IllegalTransition):
        report_submit(report=submitted, actor=people["manager"])
    with pytest.raises(NotADraft):
        report_update(report=submitted, actor=people["manager"], summary="late edit")


def test_submitting_emails_the_members_and_the_incoming_oncall_over_smtp(
    report: OnCallReport, core: Core, email_over_smtp: SmtpServer
) -> None:
    bob = core.people["bob"]
    report_update(
        report=report,
        actor=bob,
        summary="Deployed **twice**. <script>x</script>",
        handoff_notes="Watch the queue",
    )
    with time_machine.travel(WEEK3 - timedelta(hours=1), tick=False):
        report_submit(report=report, actor=bob)
    rows = Notification.objects.filter(idempotency_key__contains=":submitted:")
    assert sorted(r.address for r in rows) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    for row in rows:
        assert notification_deliver(notification_id=row.pk) == "sent"
    mail = next(m for m in email_over_smtp.messages if m["X-Rcpt-To"] == "carol@example.com")
    assert mail["Subject"].startswith("[On-call report] Core")
    parts = {part.get_content_type(): part for part in mail.walk()}
    text = str(parts["text/plain"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    html = str(parts["text/html"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    assert "Watch the queue" in text
    assert "<strong>twice</strong>" in html
    assert "<script>" not in html


def test_a_team_address_replaces_the_members(report: OnCallReport, core: Core) -> None:
    core.team.email = "core-oncall@example.com"
    core.team.save()
    report_submit(report=report, actor=core.people["bob"])
    rows = Notification.objects.filter(idempotency_key__contains=":submitted:")
    # The team's list, and the incoming on-call (carol, next week) directly.
    assert sorted(r.address for r in rows) == ["carol@example.com", "core-oncall@example.com"]


# --- reminders ------------------------------------------------------------------------------


def reminders_at(at: datetime) -> list[str]:
    with time_machine.travel(at, tick=False):
        report_reminders_send(now=at)
        report_reminders_send(now=at)  # the beat twice: nothing twice
    return sorted(
        f"{n.idempotency_key.split(':', 2)[2]}→{n.address}"
        for n in Notification.objects.filter(idempotency_key__startswith="oncall-report:")
    )


def test_reminders_at_shift_end_and_a_day_later_each_exactly_once(
    report: OnCallReport, core: Core
) -> None:
    OnCallReport.objects.exclude(pk=report.pk).delete()
    assert reminders_at(WEEK3 - timedelta(minutes=1)) == []
    first = ["reminder:end→bob@example.com"]
    assert reminders_at(WEEK3) == first
    assert reminders_at(WEEK3 + timedelta(hours=23)) == first
    later = reminders_at(WEEK3 + timedelta(hours=24, minutes=1))
    assert later == sorted(
        [*first, "reminder:day→bob@example.com", "overdue:contact→morgan@example.com"]
    )
    assert reminders_at(WEEK3 + timedelta(days=2)) == later


def test_a_submitted_report_is_not_reminded(report: OnCallReport, core: Core) -> None:
    OnCallReport.objects.exclude(pk=report.pk).delete()
    report_submit(report=report, actor=core.people["bob"])
    assert [k for k in reminders_at(WEEK3 + timedelta(days=2)) if "reminder" in k] == []


# --- the handoff ----------------------------------------------------------------------------


def handoff_pages() -> list[str]:
    return sorted(
        f"{n.recipient.username}:{n.urgency}"
        for n in Notification.objects.filter(subject_type="oncall_report")
        if n.recipient
    )


def test_an_unacknowledged_handoff_pages_the_incoming_at_low_urgency_once(
    report: OnCallReport, settings: Settings
) -> None:
    settings.HANDOFF_ACK_MINUTES = 60
    for minutes in (59, 61, 90):
        at = WEEK3 + timedelta(minutes=minutes)
        with time_machine.travel(at, tick=False):
            handoff_pages_send(now=at)
        if minutes == 59:
            assert handoff_pages() == []
    assert handoff_pages() == ["carol:low"]


def test_an_acknowledged_handoff_pages_nobody(report: OnCallReport, core: Core) -> None:
    with pytest.raises(NotAllowed):
        report_handoff_acknowledge(report=report, actor=core.people["alice"])
    report_handoff_acknowledge(report=report, actor=core.people["carol"])
    at = WEEK3 + timedelta(hours=2)
    with time_machine.travel(at, tick=False):
        assert handoff_pages_send(now=at) == 0
    report.refresh_from_db()
    assert report.handoff_acknowledged_by == core.people["carol"]


def test_the_pages_ack_link_acknowledges_the_handoff(report: OnCallReport, core: Core) -> None:
    at = WEEK3 + timedelta(hours=2)
    with time_machine.travel(at, tick=False):
        handoff_pages_send(now=at)
        [row] = Notification.objects.filter(subject_type="oncall_report")
        notification_acknowledge(notification_id=row.pk, channel="email")
    report.refresh_from_db()
    assert report.handoff_acknowledged_by == core.people["carol"]
