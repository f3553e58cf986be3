"""Storm control: the minimum interval limits how often a phone rings, not how late a page is."""

import heapq
import itertools
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs
from xml.etree import ElementTree

import pytest
import time_machine
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels.twilio import voice_twiml
from notifications.models import Channel, Notification, Status, Urgency
from notifications.services.delivery import outgoing_message
from notifications.services.storm import (
    LastMessages,
    bundle_order,
    bundle_text,
    next_slot,
)
from tests.notifications.conftest import TWILIO_SID, SentTasks

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 19, 43, 28, tzinfo=UTC)
INTERVAL = timedelta(seconds=30)
NUMBER = "+12025550190"
TWILIO_SMS = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
TWILIO_CALL = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Calls.json"


@pytest.fixture
def storm_settings(real_channels: HTTPServer, settings: Settings) -> HTTPServer:
    settings.NOTIFY_MIN_INTERVAL = {**settings.NOTIFY_MIN_INTERVAL, "sms": 30, "voice": 60}
    settings.NOTIFY_BUNDLE_WINDOW = {**settings.NOTIFY_BUNDLE_WINDOW, "sms": 5, "voice": 5}
    real_channels.expect_request(TWILIO_SMS).respond_with_json({"sid": "SM1"}, status=201)
    real_channels.expect_request(TWILIO_CALL).respond_with_json({"sid": "CA1"}, status=201)
    return real_channels


def page(
    n: int,
    *,
    channel: str = Channel.SMS,
    urgency: str = Urgency.HIGH,
    severity: str = "SEV3",
    not_before: datetime | None = None,
) -> Notification:
    return services.notification_enqueue(
        idempotency_key=f"storm-{channel}-{n}",
        channel=channel,
        address=NUMBER,
        subject=f"[{severity}] INC-{n}: Incident {n}",
        urgency=urgency,
        subject_type="incident",
        subject_id=n,
        data={"severity": severity, "number": f"INC-{n}"},
        not_before=not_before,
    )


def bodies(server: HTTPServer, path: str = TWILIO_SMS) -> list[str]:
    found = []
    for request, _ in server.log:
        if request.path == path:
            form = parse_qs(request.get_data(as_text=True))
            found.append(form.get("Body", form.get("Twiml", [""]))[0])
    return found


# --- the slot rule ---------------------------------------------------------------------------


def test_the_next_slot_counts_messages_that_went_out_and_high_urgency_only_counts_high() -> None:
    nothing = LastMessages()
    assert next_slot(start=T0, interval=INTERVAL, urgency="high", last=nothing) == T0
    recent = LastMessages(any=T0 - timedelta(seconds=10), high=T0 - timedelta(seconds=10))
    assert next_slot(start=T0, interval=INTERVAL, urgency="high", last=recent) == T0 + timedelta(
        seconds=20
    )
    assert next_slot(start=T0, interval=timedelta(0), urgency="high", last=recent) == T0
    # A low-urgency text 10 s ago: a high page does not wait behind it, a low one does.
    low_only = LastMessages(any=T0 - timedelta(seconds=10), high=T0 - timedelta(minutes=5))
    assert next_slot(start=T0, interval=INTERVAL, urgency="high", last=low_only) == T0
    assert next_slot(start=T0, interval=INTERVAL, urgency="low", last=low_only) == T0 + timedelta(
        seconds=20
    )
    # A rule's own delay past the slot stands.
    later = T0 + timedelta(minutes=2)
    assert next_slot(start=later, interval=INTERVAL, urgency="high", last=recent) == later


def test_pages_written_while_a_text_is_fresh_share_one_slot_instead_of_queueing(
    storm_settings: HTTPServer, sent_tasks: SentTasks
) -> None:
    with time_machine.travel(T0, tick=False):
        first = page(1)
        assert services.notification_deliver(notification_id=first.pk) == "sent"
    waiting = []
    for n in range(2, 12):
        with time_machine.travel(T0 + timedelta(seconds=n), tick=False):
            waiting.append(page(n))
    assert {row.not_before for row in waiting} == {T0 + INTERVAL}
    assert all(row.throttled for row in waiting)


# --- one message carries every page pending for the address ------------------------------------


def test_at_its_slot_one_text_carries_every_pending_page_and_none_is_sent_twice(
    storm_settings: HTTPServer,
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with time_machine.travel(T0, tick=False):
        services.notification_deliver(notification_id=page(1).pk)
    waiting = []
    for n in range(2, 30):
        with time_machine.travel(T0 + timedelta(seconds=n), tick=False):
            waiting.append(page(n))
    with (
        time_machine.travel(T0 + INTERVAL, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        # Whichever task comes first carries the rest; their own tasks then do nothing.
        assert services.notification_deliver(notification_id=waiting[5].pk) == (
            "sent (carrying 27 more)"
        )
        for row in waiting:
            assert services.notification_deliver(notification_id=row.pk) == "skipped: sent"
    assert len(bodies(storm_settings)) == 2
    carried = Notification.objects.filter(pk__in=[row.pk for row in waiting])
    assert {(row.status, row.attempted_at) for row in carried} == {(Status.SENT, T0 + INTERVAL)}
    assert {row.bundled_into_id for row in carried} == {waiting[5].pk, None}
    # Every page's delivery is announced (the incident timeline lists each as paged).
    assert {pk for pk, status in delivered if status == Status.SENT} >= {r.pk for r in waiting}


def test_a_task_that_arrives_inside_the_interval_waits_for_the_slot_and_sends_nothing(
    storm_settings: HTTPServer,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """A page written before the first text went out, due 10 s later (a rule's delay, past the
    bundle window): its task finds the number texted 10 s ago and waits for the slot."""
    with time_machine.travel(T0, tick=False):
        first = page(1)
        second = page(2, not_before=T0 + timedelta(seconds=10))
        assert not second.throttled
        assert services.notification_deliver(notification_id=first.pk) == "sent"
    with (
        time_machine.travel(T0 + timedelta(seconds=10), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.notification_deliver(notification_id=second.pk) == (
            "deferred to the next slot"
        )
    second.refresh_from_db()
    assert second.status == Status.PENDING
    assert second.not_before == T0 + INTERVAL
    assert sent_tasks.for_notification(second.pk)[-1]["countdown"] == pytest.approx(20, abs=1)
    assert len(bodies(storm_settings)) == 1
    with time_machine.travel(T0 + INTERVAL, tick=False):
        assert services.notification_deliver(notification_id=second.pk) == "sent"


def test_a_call_whose_incident_was_acknowledged_before_its_slot_is_never_made(
    storm_settings: HTTPServer, sent_tasks: SentTasks
) -> None:
    with time_machine.travel(T0, tick=False):
        services.notification_deliver(notification_id=page(1, channel=Channel.VOICE).pk)
        acknowledged = page(2, channel=Channel.VOICE)
        still_open = page(3, channel=Channel.VOICE)
        services.notifications_cancel_pending(subject_type="incident", subject_id=2)
    with time_machine.travel(T0 + timedelta(seconds=60), tick=False):
        assert services.notification_deliver(notification_id=acknowledged.pk) == (
            "skipped: cancelled"
        )
        assert services.notification_deliver(notification_id=still_open.pk) == "sent"
    acknowledged.refresh_from_db()
    assert acknowledged.status == Status.CANCELLED
    assert acknowledged.bundled_into_id is None
    calls = bodies(storm_settings, TWILIO_CALL)
    assert len(calls) == 2
    assert "Incident 2" not in calls[1]


def test_a_high_urgency_page_never_waits_behind_low_urgency_ones(
    storm_settings: HTTPServer, sent_tasks: SentTasks
) -> None:
    with time_machine.travel(T0, tick=False):
        low = page(1, urgency=Urgency.LOW)
        assert services.notification_deliver(notification_id=low.pk) == "sent"
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        another_low = page(2, urgency=Urgency.LOW)
        high = page(3, urgency=Urgency.HIGH, severity="SEV1")
        assert another_low.not_before == T0 + INTERVAL
        assert high.not_before is None
        # Out at once, carrying the low page that was waiting.
        assert services.notification_deliver(notification_id=high.pk) == "sent (carrying 1 more)"
    with time_machine.travel(T0 + timedelta(seconds=10), tick=False):
        second_high = page(4, urgency=Urgency.HIGH)
        assert second_high.not_before == T0 + timedelta(seconds=35), "high paces high"
    sms = bodies(storm_settings)
    assert sms[1].startswith("[SEV1] INC-3: Incident 3 and 1 more")


# --- what the message says ---------------------------------------------------------------------


def test_a_bundle_lists_the_most_urgent_first_then_the_most_recent_and_stays_short(
    storm_settings: HTTPServer, sent_tasks: SentTasks
) -> None:
    rows = []
    for n in range(1, 61):
        with time_machine.travel(T0 + timedelta(seconds=n), tick=False):
            rows.append(page(n, severity="SEV1" if n == 7 else "SEV3"))
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        rows.append(page(61, urgency=Urgency.LOW, severity="SEV2"))
    ordered = bundle_order(rows)
    assert [row.subject_id for row in ordered[:3]] == [7, 60, 59]
    assert ordered[-1].subject_id == 61, "low urgency last, whatever its severity"
    subject, body = bundle_text(ordered, channel=Channel.SMS)
    assert subject == "[SEV1] INC-7: Incident 7 and 60 more"
    lines = body.splitlines()
    assert lines[0] == "61 pages for you:"
    assert lines[1:3] == ["- [SEV1] INC-7: Incident 7", "- [SEV3] INC-60: Incident 60"]
    assert len(body) < 600
    listed = len(lines) - 2
    assert lines[-1] == f"…and {61 - listed} more in the portal"

    with time_machine.travel(T0 + timedelta(seconds=62), tick=False):
        assert services.notification_deliver(notification_id=rows[0].pk) == (
            "sent (carrying 60 more)"
        )
    [text] = bodies(storm_settings)
    assert len(text) < 800, "a few SMS segments, not thirty"
    assert "\nAck all 61: http" in text


def test_a_call_carrying_several_pages_says_how_many_and_the_most_urgent_one() -> None:
    rows = [page(n, channel=Channel.VOICE, severity=s) for n, s in ((1, "SEV3"), (2, "SEV1"))]
    twiml = voice_twiml(outgoing_message(rows[0], rows[1:]))
    spoken = ElementTree.fromstring(twiml).find("Gather/Say")
    assert spoken is not None
    assert spoken.text == (
        "You have 2 pages. The most urgent: [SEV1] INC-2: Incident 2. Press 1 to acknowledge all 2."
    )


# --- the storm of the issue, compressed: one page every 10 s for 10 minutes --------------------


def test_a_storm_of_sixty_pages_in_ten_minutes_is_never_later_than_one_interval(
    storm_settings: HTTPServer,
    sent_tasks: SentTasks,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    """Each task runs at its ETA (as the worker would); pages arrive every 10 s. Before the
    fix the 60th text was due 30 minutes after it was written."""
    events: list[tuple[datetime, int, str, int]] = []  # (at, order, kind, notification id)
    order = 0
    for n in range(60):
        heapq.heappush(events, (T0 + timedelta(seconds=10 * n), order, "page", n))
        order += 1
    rows: list[Notification] = []
    while events:
        at, _, kind, ident = heapq.heappop(events)
        before = len(sent_tasks.calls)
        with time_machine.travel(at, tick=False), django_capture_on_commit_callbacks(execute=True):
            if kind == "page":
                rows.append(page(ident, severity="SEV1" if ident == 41 else "SEV3"))
            else:
                services.notification_deliver(notification_id=ident)
        for call in sent_tasks.calls[before:]:
            eta = at + timedelta(seconds=call["countdown"] or 0)
            heapq.heappush(events, (eta, order, "deliver", call["args"][0]))
            order += 1
    stored = Notification.objects.filter(pk__in=[row.pk for row in rows])
    assert {row.status for row in stored} == {Status.SENT}
    started = {row.pk: row.attempted_at for row in stored if row.attempted_at is not None}
    assert len(started) == len(rows)
    lateness = max(started[row.pk] - row.created_at for row in stored)
    assert lateness <= INTERVAL
    messages = sorted(set(started.values()))
    gaps = [later - earlier for earlier, later in itertools.pairwise(messages)]
    assert min(gaps) >= INTERVAL
    assert len(bodies(storm_settings)) == len(messages) <= 600 // 30 + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_two_pages_to_one_number_at_once_send_one_message(
    postgres: None, storm_settings: HTTPServer, sent_tasks: SentTasks
) -> None:
    """Each locks the address's pending pages in id order: one claims both, the other finds
    its page carried (or, had the first already sent, waits for the next slot)."""
    import threading

    from django.db import connection

    rows = [page(n) for n in (1, 2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver(row: Notification) -> None:
        try:
            barrier.wait()
            outcomes.append(services.notification_deliver(notification_id=row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    carried, skipped = sorted(outcomes)
    assert carried == "sent (carrying 1 more)"
    assert skipped in ("skipped: sending", "skipped: sent")
    assert len(bodies(storm_settings)) == 1
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}
