"""Test pages through a real Celery worker on Redis: Twilio is a local HTTP peer, mail a
local SMTP server. What the person sees on their profile is what the worker did."""

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import kombu.pools
import pytest
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from notifications.models import Channel, ContactMethod, Notification, Status
from oncall.roles import ENGINEER
from tests.factories import UserFactory
from tests.notifications.conftest import TWILIO_SID, SmtpServer, local_peers_env, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres]
API = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}"


@pytest.fixture
def celery_worker_env(httpserver: HTTPServer, smtp_server: SmtpServer) -> Iterator[dict[str, str]]:
    # A peer that keeps failing fails the page quickly.
    yield local_peers_env(
        httpserver, smtp_server.url, NOTIFY_RETRY_BASE_SECONDS="0.2", NOTIFY_MAX_ATTEMPTS="2"
    )
    kombu.pools.reset()  # leave no closed pool behind for the next worker test


@pytest.fixture
def worker(celery_worker: Callable[[], str]) -> Callable[[], str]:
    kombu.pools.reset()
    return celery_worker


def shown_status(client: Client, page: Notification) -> str:
    return client.get(
        f"/notifications/profile/tests/{page.pk}/", headers={"HX-Request": "true"}
    ).content.decode()


def wait_until_shown(client: Client, page: Notification, word: str, log: Callable[[], str]) -> str:
    seen = {"html": ""}

    def shown() -> bool:
        seen["html"] = shown_status(client, page)
        return word in seen["html"]

    try:
        wait_for(shown, what=f"test page {page.pk} to show {word!r}")
    except AssertionError as error:
        raise AssertionError(
            f"{error}; last shown: {seen['html']}\nworker log:\n{log()}"
        ) from error
    return seen["html"]


def test_test_pages_through_a_real_worker_show_delivered_or_failed_with_the_reason(
    worker: Callable[[], str], httpserver: HTTPServer, smtp_server: SmtpServer, client: Client
) -> None:
    httpserver.expect_request(f"{API}/Messages.json").respond_with_json({"sid": "SMt"}, status=201)
    httpserver.expect_request(f"{API}/Calls.json").respond_with_data("down", status=500)
    ada = UserFactory.create(username="ada", roles=[ENGINEER])
    methods = {
        channel: ContactMethod.objects.create(
            user=ada, channel=channel, address=address, verified_at=timezone.now()
        )
        for channel, address in (
            (Channel.SMS, "+12025550180"),
            (Channel.VOICE, "+12025550180"),
            (Channel.EMAIL, "ada@example.com"),
        )
    }
    client.force_login(ada)
    pages = {}
    for channel, method in methods.items():
        assert client.post(f"/notifications/profile/methods/{method.pk}/test/").status_code == 302
        pages[channel] = Notification.objects.get(contact_method=method)

    for channel in (Channel.SMS, Channel.EMAIL):
        html = wait_until_shown(client, pages[channel], "delivered", worker)
        assert "hx-trigger" not in html  # final: the page stops polling
        methods[channel].refresh_from_db()
        pages[channel].refresh_from_db()
        assert methods[channel].last_tested_at == pages[channel].sent_at is not None

    failed = wait_until_shown(client, pages[Channel.VOICE], "failed", worker)
    assert "HTTP 500" in failed
    pages[Channel.VOICE].refresh_from_db()
    assert pages[Channel.VOICE].status == Status.FAILED
    assert pages[Channel.VOICE].attempts == 2  # retried once, as any page
    methods[Channel.VOICE].refresh_from_db()
    assert methods[Channel.VOICE].last_tested_at is None

    profile = client.get("/notifications/profile/").content.decode()
    assert profile.count("delivered") == 2
    assert "HTTP 500" in profile
    [sms] = [entry for entry, _ in httpserver.log if entry.path.endswith("/Messages.json")]
    assert "test page" in parse_qs(sms.get_data(as_text=True))["Body"][0]
    [mail] = smtp_server.messages
    assert mail["Subject"] == "Test page from the on-call portal"
    assert mail["X-Rcpt-To"] == "ada@example.com"
