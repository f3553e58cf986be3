"""The owner writes a postmortem with the live preview, adds an action item and submits it;
a Manager publishes it in another browser."""

import re
from collections.abc import Iterator
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from incidents.models import Severity
from oncall.roles import ENGINEER, MANAGER
from postmortems.models import ActionItem, Postmortem, PostmortemStatus
from postmortems.services import postmortem_start
from tests.e2e.test_incidents import log_in
from tests.factories import IncidentFactory, UserFactory
from tests.pages import default_postmortem_template

pytestmark = pytest.mark.e2e


@pytest.fixture
def manager_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # on a phone
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.django_db(transaction=True)
def test_write_preview_add_an_item_submit_and_a_manager_publishes(
    page: Page, manager_page: Page, live_server
) -> None:
    olga = UserFactory.create(username="olga", first_name="Olga", roles=[ENGINEER])
    UserFactory.create(username="morgan", first_name="Morgan", roles=[MANAGER])
    default_postmortem_template()
    postmortem = postmortem_start(
        incident=IncidentFactory.create(title="Checkout down"), actor=olga
    )
    base = live_server.url

    log_in(page, base, "olga")
    page.goto(f"{base}/postmortems/{postmortem.pk}/")
    page.click("#edit-postmortem")
    page.fill("#id_section-summary", "**Checkout** failed <script>alert(1)</script>")
    page.locator("#id_section-summary").press("End")
    expect(page.locator("#preview-summary strong")).to_have_text("Checkout")
    expect(page.locator("#preview-summary")).to_contain_text("<script>alert(1)</script>")
    page.fill("#id_section-impact", "All EU shoppers for 20 minutes.")
    page.wait_for_load_state("networkidle")
    page.click("#save-postmortem")
    expect(page.locator(".notice")).to_contain_text("Saved (version 2)")
    page.wait_for_load_state("networkidle")

    page.click("text=View the postmortem >> nth=0")
    expect(page.locator("#section-summary strong")).to_have_text("Checkout")
    page.click("text=Add an action item")
    page.fill("#id_title", "Alert on checkout 5xx")
    page.select_option("#id_kind", "detect")
    page.click("#add-action-item button[type=submit]")
    expect(page.locator("#action-items table")).to_contain_text("Alert on checkout 5xx")
    page.wait_for_load_state("networkidle")
    page.click("#submit-postmortem")
    expect(page.locator(".pm-status")).to_have_text("In review")
    page.wait_for_load_state("networkidle")

    log_in(manager_page, base, "morgan")
    manager_page.goto(f"{base}/postmortems/{postmortem.pk}/")
    expect(manager_page.locator("#publish-problems")).to_have_count(0)
    manager_page.click("#publish-postmortem")
    expect(manager_page.locator(".pm-status")).to_have_text("Published")
    manager_page.wait_for_load_state("networkidle")

    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert fresh.status == PostmortemStatus.PUBLISHED
    assert fresh.section_body("summary") == "**Checkout** failed <script>alert(1)</script>"
    assert ActionItem.objects.get().owner == olga


@pytest.mark.django_db(transaction=True)
def test_resolving_a_sev1_drafts_a_postmortem_that_reaches_the_weekly_review(
    page: Page, manager_page: Page, live_server
) -> None:
    """The whole after-incident journey in browsers: the engineer resolves a SEV1 on its page,
    follows the drafted postmortem's link, writes it and submits it; a Manager publishes it on
    a phone and finds it on this week's review page with its checklist."""
    olga = UserFactory.create(username="olga", first_name="Olga", roles=[ENGINEER])
    UserFactory.create(username="morgan", first_name="Morgan", roles=[MANAGER])
    default_postmortem_template()
    # A transactional test starts with the migrated rows flushed: the severity policies too.
    import_module("incidents.migrations.0002_severity_policies").create(apps, None)
    incident = IncidentFactory.create(
        title="Checkout down for EU shoppers",
        severity=Severity.SEV1,
        commander=olga,
        triggered_at=timezone.now() - timedelta(minutes=40),
    )
    base = live_server.url

    log_in(page, base, "olga")
    page.goto(f"{base}/incidents/{incident.pk}/")
    page.click("#resolve")
    expect(page.locator("#postmortem-link")).to_contain_text("Checkout down for EU shoppers")
    postmortem = Postmortem.objects.get(incident=incident)  # drafted by the resolve
    assert postmortem.owner == olga
    page.click("#postmortem-link a")
    expect(page.locator(".pm-status")).to_have_text("Draft")
    page.click("#edit-postmortem")
    page.fill("#id_section-summary", "A bad deploy broke checkout for 20 minutes.")
    page.fill("#id_section-impact", "All EU shoppers; 300 failed orders.")
    page.fill("#id_section-contributing_factors", "No canary for the payment client.")
    page.fill("#id_no_action_items_reason", "The deploy pipeline work is already planned.")
    page.click("#save-postmortem")
    expect(page.locator(".notice")).to_contain_text("Saved (version 2)")
    page.wait_for_load_state("networkidle")
    page.click("text=View the postmortem >> nth=0")
    page.click("#submit-postmortem")
    expect(page.locator(".pm-status")).to_have_text("In review")
    page.wait_for_load_state("networkidle")

    log_in(manager_page, base, "morgan")
    manager_page.goto(f"{base}/postmortems/review/")
    review = manager_page.locator("section", has_text="Postmortems to review")
    expect(review).to_contain_text("Checkout down for EU shoppers")
    manager_page.goto(f"{base}/postmortems/{postmortem.pk}/")
    manager_page.click("#publish-postmortem")
    expect(manager_page.locator(".pm-status")).to_have_text("Published")
    manager_page.wait_for_load_state("networkidle")

    manager_page.goto(f"{base}/postmortems/review/")
    expect(manager_page).to_have_url(re.compile(r"/postmortems/review/\d{4}-W\d{2}/$"))
    review = manager_page.locator("section", has_text="Postmortems to review")
    expect(review).to_contain_text("Checkout down for EU shoppers")
    expect(review).to_contain_text("A bad deploy broke checkout for 20 minutes.")
    checklist = review.locator("ul.checklist")
    expect(checklist.locator("li.filled")).to_contain_text(["Root cause"])
    incidents = manager_page.locator("section", has_text="By severity")
    expect(incidents).to_contain_text("SEV1")
    headline = manager_page.locator("section", has_text="The week in figures")
    expect(headline).to_contain_text("Incidents")
    assert Postmortem.objects.get(pk=postmortem.pk).status == PostmortemStatus.PUBLISHED
