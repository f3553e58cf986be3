"""The outgoing on-call writes and submits their report on a desktop; the incoming on-call
gets the handoff on a phone (390 px), from who's on call."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from oncall.roles import ENGINEER
from reports.models import OnCallReport, ReportStatus
from tests.e2e.test_incidents import log_in
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def horizontal_overflow(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.django_db(transaction=True)
def test_write_submit_and_the_incoming_oncall_gets_the_handoff_on_a_phone(
    page: Page, phone: Page, live_server
) -> None:
    olga = UserFactory.create(username="olga", first_name="Olga", roles=[ENGINEER])
    pat = UserFactory.create(username="pat", first_name="Pat", roles=[ENGINEER])
    rotation = RotationFactory.create(team=TeamFactory.create(name="Core"), members=[olga, pat])
    handoff = timezone.now() - timedelta(hours=1)
    outgoing = OnCallReport.objects.create(
        rotation=rotation, user=olga, shift_start=handoff - timedelta(days=7), shift_end=handoff
    )
    OnCallReport.objects.create(
        rotation=rotation, user=pat, shift_start=handoff, shift_end=handoff + timedelta(days=7)
    )
    base = live_server.url

    log_in(page, base, "olga")
    page.goto(f"{base}/reports/")
    page.click(f"a[href='/reports/{outgoing.pk}/']")
    page.fill("#id_summary", "**Quiet** week <script>alert(1)</script>")
    page.fill("#id_handoff_notes", "Watch the queue after the 02:00 batch.")
    page.select_option("#id_effort", "low")
    page.click("button.save")  # htmx swaps the writing region
    expect(page.locator("#writing .preview strong")).to_have_text("Quiet")
    expect(page.locator("#writing .preview").first).to_contain_text("<script>alert(1)</script>")
    page.wait_for_load_state("networkidle")
    page.click("button.submit-report")
    expect(page.locator(".status")).to_contain_text("Submitted")
    expect(page.locator("#writing")).to_contain_text("Watch the queue")

    log_in(phone, base, "pat")
    phone.goto(f"{base}/oncall/")
    box = phone.locator("#handoff-box")
    expect(box).to_contain_text("Watch the queue after the 02:00 batch.")
    expect(box).to_contain_text("Olga")
    assert horizontal_overflow(phone) == 0
    box.get_by_role("button", name="Got the handoff").click()
    expect(box.get_by_role("button", name="Got the handoff")).to_have_count(0)
    phone.wait_for_load_state("networkidle")

    outgoing.refresh_from_db()
    assert outgoing.status == ReportStatus.SUBMITTED
    assert outgoing.summary == "**Quiet** week <script>alert(1)</script>"
    assert outgoing.handoff_acknowledged_by == pat
