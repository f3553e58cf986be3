"""The live support dashboard: open on a support person's screen, it shows an incident
declared in another browser within 5 seconds, without a reload; on a desktop and a phone."""

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from incidents.models import Incident
from oncall.roles import SUPPORT, SUPPORT_MANAGER
from rotations.models import TeamKind, Tier
from tests.e2e.test_csp import COLLECT
from tests.e2e.test_incidents import log_in
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e

INCIDENT_PAGE = re.compile(r"/incidents/\d+/$")


@pytest.fixture
def second_page(browser: Browser) -> Iterator[Page]:
    """Another browser (its own cookies): the first tier's, declaring."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Kolkata"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_shows_an_incident_declared_elsewhere_within_five_seconds(
    page: Page, second_page: Page, live_server, width: int
) -> None:
    noah = UserFactory.create(username="noah", first_name="Noah", last_name="F", roles=[SUPPORT])
    santhosh = UserFactory.create(
        username="santhosh", first_name="Santhosh", last_name="K", roles=[SUPPORT]
    )
    dinesh = UserFactory.create(
        username="dinesh", first_name="Dinesh", last_name="R", roles=[SUPPORT, SUPPORT_MANAGER]
    )
    team = TeamFactory.create(
        slug="support", name="Support", kind=TeamKind.SUPPORT, escalation_contact=dinesh
    )
    RotationFactory.create(
        team=team,
        tier=Tier.FIRST,
        shift_length=timedelta(days=1),
        members=[santhosh, dinesh],
        start_date=date(2026, 1, 5),
    )
    RotationFactory.create(team=team, tier=Tier.SECOND, members=[noah], start_date=date(2026, 1, 5))

    page.set_viewport_size({"width": width, "height": 900})
    page.add_init_script(COLLECT)  # Content-Security-Policy violations, if any
    if width < 600:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", "noah")
        page.fill("#id_password", "secret-pass")
        page.click("button[type=submit]")
    else:
        log_in(page, live_server.url, "noah")
    expect(page.locator("#support-dashboard")).to_be_visible()
    expect(page.locator("#dash-triage")).to_contain_text("Nothing waits for triage")
    expect(page.locator("#dash-duty")).to_contain_text("Support second tier")
    # A marker that a reload would wipe; and the duty section, which must not be re-rendered.
    page.evaluate("window.__stillHere = true")
    page.evaluate("document.getElementById('dash-duty').dataset.marked = 'yes'")
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    log_in(second_page, live_server.url, "santhosh")
    second_page.goto(f"{live_server.url}/incidents/declare/")
    second_page.fill("#id_title", "ACME sees wrong prices")
    second_page.select_option("#id_team", str(team.pk))
    second_page.wait_for_load_state("networkidle")
    second_page.click("#declare-form button.primary")
    second_page.wait_for_url(INCIDENT_PAGE)
    incident = Incident.objects.get()

    triage = page.locator("#dash-triage")
    expect(triage).to_contain_text(incident.number, timeout=5_000)
    expect(triage).to_contain_text("ACME sees wrong prices")
    expect(page.locator("#dash-open")).to_contain_text("First-tier support")
    expect(triage.locator(".countdown")).to_contain_text("left to triage")
    assert page.evaluate("window.__stillHere") is True  # no reload
    assert page.evaluate("document.getElementById('dash-duty').dataset.marked") == "yes"
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    # Keyboard: g t selects the queue's first row; ? opens the help.
    page.keyboard.press("g")
    page.keyboard.press("t")
    expect(triage.locator(".dash-row.selected")).to_contain_text(incident.number)
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    assert page.evaluate("window.__csp") == []


@pytest.mark.django_db(transaction=True)
def test_kiosk_mode_hides_the_navigation(page: Page, live_server) -> None:
    UserFactory.create(username="noah", first_name="Noah", last_name="F", roles=[SUPPORT])
    log_in(page, live_server.url, "noah")
    page.goto(f"{live_server.url}/?kiosk=1")
    expect(page.locator("#support-dashboard.kiosk")).to_be_visible()
    expect(page.locator(".topbar")).to_be_hidden()
