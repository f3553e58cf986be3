"""Delivery of one row (claim under lock, send, record), retries, the sweeper."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from pytest_django import Settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels.base import Backend, OutgoingMessage, SendResult
from notifications.models import Channel, Notification, Status
from notifications.services import delivery
from tests.notifications.conftest import SentTasks

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
    assert "HTTP 400" in notification.last_error
    assert "no such hook" in notification.last_error
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
