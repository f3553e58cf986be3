"""A test page from the profile on a phone (390 px): sent with htmx, its status polled in
place until it is delivered; a second one within the minute is refused in place."""

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect
from pytest_django.fixtures import Settings
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.channels import base
from notifications.models import ContactMethod, Notification
from tests.e2e.test_incidents import log_in
from tests.e2e.test_mobile import PHONE, horizontal_overflow
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_a_test_page_shows_queued_then_delivered_on_a_phone(
    browser: Browser, live_server, httpserver: HTTPServer, settings: Settings
) -> None:
    settings.NOTIFY_BACKENDS = {
        **settings.NOTIFY_BACKENDS,
        "webhook": "notifications.channels.webhook.WebhookBackend",
    }
    base._backend.cache_clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    ada = UserFactory.create(username="ada", first_name="Ada", roles=["Engineer"])
    method = ContactMethod.objects.create(
        user=ada, channel="webhook", address=httpserver.url_for("/hook"), verified_at=timezone.now()
    )
    context = browser.new_context(viewport=PHONE, timezone_id="America/New_York")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, live_server.url, "ada")
        page.goto(f"{live_server.url}/notifications/profile/")
        row = page.locator(f"#method-{method.pk}")
        expect(row).to_contain_text("Last successful test: never")
        row.get_by_role("button", name="Send a test page").click()
        status = row.locator(".test-status")
        expect(status).to_contain_text("queued")

        # The worker's part, done here: the page polls and shows what it did.
        sent = Notification.objects.get(contact_method=method)
        assert services.notification_deliver(notification_id=sent.pk) == "sent"
        expect(status).to_contain_text("delivered")
        expect(status).to_have_attribute("data-status", "sent")

        row.get_by_role("button", name="Send a test page").click()
        expect(row.get_by_role("alert")).to_contain_text("you can send another in")
        assert Notification.objects.filter(contact_method=method).count() == 1
        assert horizontal_overflow(page) == 0
        page.reload()
        expect(page.locator(f"#method-{method.pk}")).not_to_contain_text(
            "Last successful test: never"
        )
    finally:
        context.close()
