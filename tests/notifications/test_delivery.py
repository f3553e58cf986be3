"""Delivery of one row (claim under lock, send, record), retries, the sweeper."""

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import time_machine
from django.utils import timezone
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels.base import Backend, OutgoingMessage, SendResult, retry_after_seconds
from notifications.channels.webhook import webhook_signature
from notifications.models import Channel, Notification, Status
from notifications.services import delivery
from tests.factories import UserFactory
from tests.notifications.conftest import TWILIO_SID, SentTasks, SmtpServer

pytestmark = pytest.mark.django_db


def webhook_row(httpserver: HTTPServer, key: str = "w1") -> Notification:
    return services.notification_enqueue(
        idempotency_key=key,
        channel=Channel.WEBHOOK,
        address=httpserver.url_for("/hook"),
        subject="SEV2 #7 Search slow",
        body="p99 above 2s",
        subject_type="incident",
        subject_id=7,
    )


def test_a_delivered_row_is_sent_and_listeners_hear_it(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    real_channels.expect_oneshot_request("/hook", method="POST").respond_with_data(
        "ok", headers={"X-Request-Id": "req-1"}
    )
    notification = webhook_row(real_channels)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert services.notification_deliver(notification_id=notification.pk) == "sent"
    real_channels.check_assertions()
    notification.refresh_from_db()
    assert notification.status == Status.SENT
    assert notification.attempts == 1
    assert notification.provider_message_id == "req-1"
    assert notification.sent_at is not None
    assert delivered == [(notification.pk, Status.SENT)]


def test_a_second_delivery_of_the_same_row_sends_nothing(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request("/hook", method="POST").respond_with_data("ok")
    notification = webhook_row(real_channels)
    assert services.notification_deliver(notification_id=notification.pk) == "sent"
    assert services.notification_deliver(notification_id=notification.pk) == "skipped: sent"
    assert len(real_channels.log) == 1


def test_a_503_is_retried_with_backoff_then_sent(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    settings: Settings,
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.NOTIFY_RETRY_BASE_DELAY = timedelta(seconds=10)
    real_channels.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    real_channels.expect_ordered_request("/hook").respond_with_data("busy", status=503)
    real_channels.expect_ordered_request("/hook").respond_with_data("ok")
    notification = webhook_row(real_channels)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert services.notification_deliver(notification_id=notification.pk) == "retry"
    notification.refresh_from_db()
    assert notification.status == Status.PENDING
    assert "HTTP 503" in notification.last_error
    assert notification.not_before is not None
    first_wait = (notification.not_before - timezone.now()).total_seconds()
    assert first_wait == pytest.approx(10, abs=2)
    assert sent_tasks.for_notification(notification.pk)[-1]["countdown"] == pytest.approx(10, abs=2)
    # Too early: a duplicate task does nothing.
    assert services.notification_deliver(notification_id=notification.pk) == "early"
    with time_machine.travel(notification.not_before + timedelta(seconds=1)):
        assert services.notification_deliver(notification_id=notification.pk) == "retry"
        notification.refresh_from_db()
        second_wait = (notification.not_before - timezone.now()).total_seconds()
        assert second_wait == pytest.approx(20, abs=2), "the backoff doubles"
    with time_machine.travel(notification.not_before + timedelta(seconds=1)):
        assert services.notification_deliver(notification_id=notification.pk) == "sent"
    notification.refresh_from_db()
    assert notification.status == Status.SENT
    assert notification.attempts == 3
    assert len(real_channels.log) == 3


def test_a_400_fails_at_once_with_the_reason(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    real_channels.expect_request("/hook").respond_with_data("no such hook", status=400)
    notification = webhook_row(real_channels)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert services.notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert notification.last_error == "HTTP 400 BAD REQUEST"  # the peer's body is not shown
    assert notification.failed_at is not None
    assert len(real_channels.log) == 1
    assert delivered == [(notification.pk, Status.FAILED)]


def test_a_429_waits_as_long_as_retry_after_says(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "120"}
    )
    notification = webhook_row(real_channels)
    assert services.notification_deliver(notification_id=notification.pk) == "retry"
    notification.refresh_from_db()
    assert notification.not_before is not None
    wait = (notification.not_before - timezone.now()).total_seconds()
    assert wait == pytest.approx(120, abs=2)


def test_transient_errors_give_up_after_the_attempt_limit(
    real_channels: HTTPServer, sent_tasks: SentTasks, settings: Settings
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 2
    settings.NOTIFY_RETRY_BASE_DELAY = timedelta(0)
    real_channels.expect_request("/hook").respond_with_data("down", status=502)
    notification = webhook_row(real_channels)
    assert services.notification_deliver(notification_id=notification.pk) == "retry"
    assert services.notification_deliver(notification_id=notification.pk) == "failed"
    notification.refresh_from_db()
    assert notification.status == Status.FAILED
    assert notification.attempts == 2
    assert "HTTP 502" in notification.last_error


def test_an_unreachable_peer_is_a_transient_error(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    notification = services.notification_enqueue(
        idempotency_key="unreachable",
        channel=Channel.WEBHOOK,
        address="http://127.0.0.1:9/hook",
        body="x",
    )
    assert services.notification_deliver(notification_id=notification.pk) == "retry"
    notification.refresh_from_db()
    assert "cannot reach" in notification.last_error


def test_the_sweeper_requeues_rows_stuck_in_sending_or_pending_past_their_deadline(
    real_channels: HTTPServer, sent_tasks: SentTasks, django_capture_on_commit_callbacks: object
) -> None:
    stuck_sending = webhook_row(real_channels, "stuck-sending")
    stuck_pending = webhook_row(real_channels, "stuck-pending")
    fresh = webhook_row(real_channels, "fresh")
    past = timezone.now() - timedelta(seconds=1)
    Notification.objects.filter(pk=stuck_sending.pk).update(
        status=Status.SENDING, attempts=1, deadline=past
    )
    Notification.objects.filter(pk=stuck_pending.pk).update(deadline=past)
    sent_tasks.calls.clear()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert services.notifications_sweep() == 2
    assert sorted(c["args"][0] for c in sent_tasks.calls) == sorted(
        [stuck_sending.pk, stuck_pending.pk]
    )
    stuck_sending.refresh_from_db()
    assert stuck_sending.status == Status.PENDING
    assert "never finished" in stuck_sending.last_error
    assert stuck_sending.deadline is not None
    assert stuck_sending.deadline > timezone.now()
    fresh.refresh_from_db()
    assert fresh.status == Status.PENDING
    # A swept row is then delivered normally; the sweep is harmless a second time.
    real_channels.expect_request("/hook").respond_with_data("ok")
    assert services.notification_deliver(notification_id=stuck_sending.pk) == "sent"
    assert services.notifications_sweep() == 0


def test_a_worker_that_outlived_its_deadline_does_not_overwrite_the_new_attempt(
    real_channels: HTTPServer, sent_tasks: SentTasks, monkeypatch: pytest.MonkeyPatch
) -> None:
    notification = webhook_row(real_channels)

    class SweptWhileSending(Backend):
        def send(self, message: OutgoingMessage) -> SendResult:
            # While this worker is sending, the sweeper hands the row to another attempt.
            Notification.objects.filter(pk=notification.pk).update(status=Status.PENDING)
            return SendResult(provider_message_id="late")

    monkeypatch.setattr(delivery, "backend_for", lambda channel: SweptWhileSending())
    assert services.notification_deliver(notification_id=notification.pk) == "superseded"
    notification.refresh_from_db()
    assert notification.status == Status.PENDING
    assert notification.provider_message_id == ""


def test_the_body_sent_is_the_rows_message(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request("/hook").respond_with_data("ok")
    notification = webhook_row(real_channels)
    services.notification_deliver(notification_id=notification.pk)
    request, _ = real_channels.log[0]
    payload = json.loads(request.get_data())
    assert payload["subject"] == "SEV2 #7 Search slow"
    assert payload["subject_type"] == "incident"
    assert payload["subject_id"] == 7


@pytest.mark.parametrize(
    ("with_method", "signing_secret", "signer"),
    [(True, "row-secret", "row"), (True, "", "method"), (False, "", "global")],
)
def test_a_webhook_is_signed_with_the_rows_secret_else_the_methods_else_the_global_one(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    settings: Settings,
    with_method: bool,
    signing_secret: str,
    signer: str,
) -> None:
    settings.NOTIFY_WEBHOOK_SECRET = "global-secret"
    real_channels.expect_request("/hook", method="POST").respond_with_data("ok")
    method = services.contact_method_create(
        user=UserFactory.create(),
        channel=Channel.WEBHOOK,
        address=real_channels.url_for("/hook"),
        send_code=False,
    )
    notification = services.notification_enqueue(
        idempotency_key="signed",
        channel=Channel.WEBHOOK,
        address=method.address,
        contact_method=method if with_method else None,
        body="x",
        signing_secret=signing_secret,
    )
    assert services.notification_deliver(notification_id=notification.pk) == "sent"

    request, _ = real_channels.log[0]
    timestamp, body = request.headers["X-Signature-Timestamp"], request.get_data()
    candidates = {"row": "row-secret", "method": method.secret, "global": "global-secret"}
    verified_by = {
        name
        for name, secret in candidates.items()
        if webhook_signature(secret=secret, timestamp=timestamp, body=body)
        == request.headers["X-Signature"]
    }
    assert verified_by == {signer}


# --- storm control: several pages to one person travel in one message ----------------------

TWILIO_SMS = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def sms_page(
    key: str, number: int, *, address: str = "+12025550180", **extra: object
) -> Notification:
    return services.notification_enqueue(
        idempotency_key=key,
        channel=Channel.SMS,
        address=address,
        subject=f"SEV2 #{number} Incident {number}",
        body=f"details of {number}",
        subject_type="incident",
        subject_id=number,
        **extra,  # type: ignore[arg-type]
    )


def sms_form(httpserver: HTTPServer, index: int = 0) -> dict[str, str]:
    request, _ = httpserver.log[index]
    return {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}


def test_three_pages_to_one_number_within_the_window_go_out_as_one_sms(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    settings: Settings,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    settings.NOTIFY_BUNDLE_WINDOW = {**settings.NOTIFY_BUNDLE_WINDOW, "sms": 60}
    real_channels.expect_request(TWILIO_SMS).respond_with_json({"sid": "SMbundle"}, status=201)
    first = sms_page("b1", 1)
    second = sms_page("b2", 2)
    third = sms_page("b3", 3, not_before=timezone.now() + timedelta(seconds=50))
    later = sms_page("b4", 4, not_before=timezone.now() + timedelta(minutes=5))
    other_number = sms_page("b5", 5, address="+12025550181")

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        outcome = services.notification_deliver(notification_id=first.pk)
    assert outcome == "sent (carrying 2 more)"
    assert len(real_channels.log) == 1, "one message for the three pages"
    form = sms_form(real_channels)
    assert form["To"] == "+12025550180"
    # The most recent first, each page once, and an ack that says what it acknowledges.
    assert form["Body"].startswith(
        "SEV2 #3 Incident 3 and 2 more\n3 pages for you:\n"
        "- SEV2 #3 Incident 3\n- SEV2 #2 Incident 2\n- SEV2 #1 Incident 1\n"
        "Ack all 3: http"
    )
    assert "Incident 4" not in form["Body"]
    assert "/notifications/ack/" in form["Body"]

    rows = {row.pk: row for row in Notification.objects.all()}
    carrier = rows[first.pk]
    assert carrier.status == Status.SENT
    assert carrier.bundled_into_id is None
    for pk in (second.pk, third.pk):
        row = rows[pk]
        assert row.status == Status.SENT
        assert row.bundled_into_id == first.pk
        assert row.sent_at == carrier.sent_at
        assert row.provider_message_id == "SMbundle"
        assert row.attempts == 1
        assert row.idempotency_key in ("b2", "b3"), "keys are untouched"
    assert sorted(delivered) == sorted((pk, Status.SENT) for pk in (first.pk, second.pk, third.pk))
    # Their own tasks arrive later and find nothing to do.
    assert services.notification_deliver(notification_id=second.pk) == "skipped: sent"
    assert services.notification_deliver(notification_id=third.pk) == "skipped: sent"
    assert len(real_channels.log) == 1

    # Outside the window, and another number: each goes on its own, nothing is dropped.
    assert rows[later.pk].status == Status.PENDING
    assert services.notification_deliver(notification_id=other_number.pk) == "sent"
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        assert services.notification_deliver(notification_id=later.pk) == "sent"
    assert len(real_channels.log) == 3
    assert sms_form(real_channels, 2)["Body"].startswith("SEV2 #4 Incident 4")
    assert not Notification.objects.exclude(status=Status.SENT).exists()


def test_email_is_not_bundled_by_default(
    real_channels: HTTPServer, smtp_mailer: SmtpServer, sent_tasks: SentTasks
) -> None:
    rows = [
        services.notification_enqueue(
            idempotency_key=f"e{n}",
            channel=Channel.EMAIL,
            address="ada@example.com",
            subject=f"Incident {n}",
            subject_type="incident",
            subject_id=n,
        )
        for n in (1, 2)
    ]
    assert services.notification_deliver(notification_id=rows[0].pk) == "sent"
    assert [m["Subject"] for m in smtp_mailer.messages] == ["Incident 1"]
    rows[1].refresh_from_db()
    assert rows[1].status == Status.PENDING
    assert services.notification_deliver(notification_id=rows[1].pk) == "sent"
    assert [m["Subject"] for m in smtp_mailer.messages] == ["Incident 1", "Incident 2"]
    assert not Notification.objects.filter(bundled_into__isnull=False).exists()


def test_a_verification_code_is_never_bundled_with_pages(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request(TWILIO_SMS).respond_with_json({"sid": "SM1"}, status=201)
    page = sms_page("p1", 1)
    code = services.notification_enqueue(
        idempotency_key="code", channel=Channel.SMS, address="+12025550180", body="code is 1"
    )
    assert services.notification_deliver(notification_id=code.pk) == "sent"
    assert services.notification_deliver(notification_id=page.pk) == "sent"
    assert len(real_channels.log) == 2
    assert sms_form(real_channels, 0)["Body"] == "code is 1"


def test_a_refused_carrier_fails_the_pages_it_carried_with_the_reason(
    real_channels: HTTPServer,
    sent_tasks: SentTasks,
    delivered: list[tuple[int, str]],
    django_capture_on_commit_callbacks: object,
) -> None:
    real_channels.expect_request(TWILIO_SMS).respond_with_json(
        {"code": 21211, "message": "The 'To' number is not a valid phone number."}, status=400
    )
    first, second = sms_page("f1", 1), sms_page("f2", 2)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        assert services.notification_deliver(notification_id=first.pk) == "failed"
    for row in (first, second):
        row.refresh_from_db()
        assert row.status == Status.FAILED
        assert "21211" in row.last_error
        assert row.failed_at is not None
    assert second.bundled_into_id == first.pk
    assert second.failed_at == first.failed_at
    assert sorted(delivered) == sorted([(first.pk, Status.FAILED), (second.pk, Status.FAILED)])


def test_a_bundle_that_must_be_retried_puts_every_page_back_and_bundles_them_again(
    real_channels: HTTPServer, sent_tasks: SentTasks, settings: Settings
) -> None:
    settings.NOTIFY_RETRY_BASE_DELAY = timedelta(seconds=10)
    real_channels.expect_ordered_request(TWILIO_SMS).respond_with_data("down", status=503)
    real_channels.expect_ordered_request(TWILIO_SMS).respond_with_json({"sid": "SM2"}, status=201)
    first, second = sms_page("r1", 1), sms_page("r2", 2)
    assert services.notification_deliver(notification_id=first.pk) == "retry"
    for row in (first, second):
        row.refresh_from_db()
        assert row.status == Status.PENDING, "nothing is dropped"
        assert row.bundled_into_id is None
        assert "HTTP 503" in row.last_error
    assert second.not_before == first.not_before
    assert first.not_before is not None
    with time_machine.travel(first.not_before + timedelta(seconds=1)):
        # Whichever task comes first carries the other.
        assert services.notification_deliver(notification_id=second.pk) == "sent (carrying 1 more)"
    first.refresh_from_db()
    assert first.status == Status.SENT
    assert first.bundled_into_id == second.pk
    assert first.attempts == 2
    assert "2 pages for you" in sms_form(real_channels, 1)["Body"]


def test_a_provider_failure_report_for_a_bundle_fails_every_page_in_it(
    real_channels: HTTPServer, sent_tasks: SentTasks
) -> None:
    real_channels.expect_request(TWILIO_SMS).respond_with_json({"sid": "SM3"}, status=201)
    first, second = sms_page("s1", 1), sms_page("s2", 2)
    services.notification_deliver(notification_id=first.pk)
    services.notification_provider_status_record(
        notification_id=first.pk, provider_status="undelivered", error_code="30003"
    )
    for row in (first, second):
        row.refresh_from_db()
        assert row.status == Status.FAILED
        assert row.provider_status == "undelivered"
        assert "30003" in row.last_error


@pytest.mark.parametrize(("header", "seconds"), [("30", 30.0), ("²", None), ("١٢", None)])
def test_retry_after_reads_only_ascii_seconds(header: str, seconds: float | None) -> None:
    """A peer's "²" (a digit to str.isdigit, not to float) is ignored, not a crashed task."""
    assert retry_after_seconds(header) == seconds
