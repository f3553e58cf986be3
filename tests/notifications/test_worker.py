"""One notification per channel through a real Celery worker on Redis to real local peers."""

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import kombu.pools
import pytest
from django.db import transaction
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from notifications import services
from notifications.models import Channel, Notification, Status
from notifications.services.outbox import enqueue_delivery
from tests.notifications.conftest import (
    TWILIO_SID,
    SmtpServer,
    local_peers_env,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def celery_worker_env(httpserver: HTTPServer, smtp_server: SmtpServer) -> Iterator[dict[str, str]]:
    yield local_peers_env(httpserver, smtp_server.url)
    # Runs after celery_worker's teardown: leave no closed pool behind for the next test.
    kombu.pools.reset()


@pytest.fixture
def worker(celery_worker: Callable[[], str]) -> Callable[[], str]:
    """celery_worker, plus a fresh kombu producer registry.

    tests/support.use_broker closes the pools of an earlier worker test but kombu's global
    registry still hands the closed pool out for the same URL ("Acquire on closed pool").
    """
    kombu.pools.reset()
    return celery_worker


def wait_final(notification: Notification, log: Callable[[], str]) -> Notification:
    def final() -> bool:
        notification.refresh_from_db()
        return notification.is_final

    try:
        wait_for(final, what=f"notification {notification.pk} to finish")
    except AssertionError as error:
        raise AssertionError(f"{error}; worker log:\n{log()}") from error
    return notification


def enqueue(key: str, channel: str, address: str) -> Notification:
    return services.notification_enqueue(
        idempotency_key=key,
        channel=channel,
        address=address,
        subject="Checkout down",
        body="every order fails",
        subject_type="incident",
        subject_id=1,
        data={"severity": "SEV1", "number": 1},
    )


def test_every_channel_delivers_through_a_real_worker(
    worker: Callable[[], str], httpserver: HTTPServer, smtp_server: SmtpServer
) -> None:
    api = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}"
    httpserver.expect_request(f"{api}/Messages.json").respond_with_json({"sid": "SM9"}, status=201)
    httpserver.expect_request(f"{api}/Calls.json").respond_with_json({"sid": "CA9"}, status=201)
    httpserver.expect_request("/slack").respond_with_data("ok")
    # The webhook peer is down once: the worker retries it.
    calls = {"hook": 0}

    def flaky(request: Request) -> Response:
        calls["hook"] += 1
        return Response("busy", status=503) if calls["hook"] == 1 else Response("ok")

    httpserver.expect_request("/hook").respond_with_handler(flaky)

    email = enqueue("w-email", Channel.EMAIL, "ada@example.com")
    sms = enqueue("w-sms", Channel.SMS, "+12025550170")
    voice = enqueue("w-voice", Channel.VOICE, "+12025550171")
    hook = enqueue("w-hook", Channel.WEBHOOK, httpserver.url_for("/hook"))
    # Slack insists on https; the local peer is http, so the row is pointed at it directly.
    slack = enqueue("w-slack", Channel.WEBHOOK, httpserver.url_for("/slack"))
    Notification.objects.filter(pk=slack.pk).update(channel=Channel.SLACK)
    enqueue_delivery(notification_id=slack.pk, channel=Channel.SLACK)

    for row in (email, sms, voice, hook, slack):
        wait_final(row, worker)
        assert row.status == Status.SENT, (row.channel, row.last_error)
    assert sms.provider_message_id == "SM9"
    assert voice.provider_message_id == "CA9"
    assert hook.attempts == 2
    [mail] = smtp_server.messages
    assert mail["Subject"] == "[SEV1 #1] Checkout down"
    log = worker()
    for channel in ("email", "sms", "voice", "slack", "webhook"):
        assert f"notifications.deliver.{channel}" in log


def test_pages_to_one_number_go_out_as_one_sms_through_a_real_worker(
    worker: Callable[[], str], httpserver: HTTPServer
) -> None:
    api = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}"
    httpserver.expect_request(f"{api}/Messages.json").respond_with_json({"sid": "SMb"}, status=201)
    # Written in one transaction, as a storm pages one person: every task finds all three.
    with transaction.atomic():
        rows = [
            services.notification_enqueue(
                idempotency_key=f"w-bundle-{n}",
                channel=Channel.SMS,
                address="+12025550172",
                subject=f"Incident {n}",
                subject_type="incident",
                subject_id=n,
            )
            for n in (1, 2, 3)
        ]
    for row in rows:
        wait_final(row, worker)
        assert row.status == Status.SENT, row.last_error
    assert len(httpserver.log) == 1, "one SMS for three pages"
    [body] = parse_qs(httpserver.log[0][0].get_data(as_text=True))["Body"]
    assert body.startswith("Incident 3 and 2 more\n3 pages for you:\n- Incident 3\n")
    carriers = {row.bundled_into_id or row.pk for row in rows}
    assert len(carriers) == 1
    assert sum(row.bundled_into_id is None for row in rows) == 1
