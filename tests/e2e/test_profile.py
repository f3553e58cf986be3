"""The notification profile in a browser: refusals (a wrong code, a code asked for too soon)
appear in place, since the page is posted with htmx."""

import pytest
from playwright.sync_api import Page, expect

from notifications.models import ContactMethod, Notification
from tests.e2e.test_incidents import log_in
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_a_wrong_code_and_a_code_asked_for_too_soon_are_explained_in_place(
    page: Page, live_server
) -> None:
    UserFactory.create(username="ada", first_name="Ada", roles=["Engineer"])
    log_in(page, live_server.url, "ada")
    page.goto(f"{live_server.url}/notifications/profile/")
    page.evaluate("window.__stayed = true")  # survives only if the page is not reloaded

    page.select_option("#id_channel", "sms")
    page.fill("#id_address", "+1 202 555 0177")
    page.get_by_role("button", name="Add and send a code").click()
    row = page.locator("tr", has_text="+12025550177")
    expect(row).to_be_visible()
    method = ContactMethod.objects.get(address="+12025550177")
    code = Notification.objects.get(contact_method=method).body.split("code is ")[1].rstrip(".")

    row.get_by_label("Code").fill("000000" if code != "000000" else "111111")
    row.get_by_role("button", name="Verify").click()
    expect(row.get_by_role("alert")).to_have_text("That code is not right; 4 tries left.")

    row.get_by_role("button", name="Send a new code").click()
    alert = page.locator(f"#method-{method.pk}").get_by_role("alert")
    expect(alert).to_contain_text("A code went to +12025550177")
    expect(alert).to_contain_text("you can ask for a new code in")
    assert Notification.objects.filter(contact_method=method).count() == 1
    assert page.evaluate("window.__stayed") is True
