"""Support engages development; an engineer acknowledges in another browser, htmx in place."""

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from incidents.engine import escalation_sweep
from incidents.models import Incident, Status, TimelineKind
from incidents.services import incident_acknowledge, incident_declare, incident_resolve
from oncall.models import User
from oncall.roles import ENGINEER, SUPPORT
from rotations.models import Team, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e

SCREENSHOT_DIR = Path("/tmp/incident-screens")
INCIDENT_PAGE = re.compile(r"/incidents/\d+/$")


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass")
    page.click("button[type=submit]")
    expect(page.locator(".whoami")).to_contain_text(username.title())


@pytest.fixture
def engineer_page(browser: Browser) -> Iterator[Page]:
    """A second browser (its own cookies): the engineer's."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def core_team(engineer: User) -> Team:
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=engineer)
    RotationFactory.create(
        team=team, tier=Tier.VETERAN, members=[engineer], start_date=date(2026, 1, 5)
    )
    return team


@pytest.mark.django_db(transaction=True)
def test_support_engages_development_and_an_engineer_acknowledges_in_place(
    page: Page, engineer_page: Page, live_server
) -> None:
    UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    bob = UserFactory.create(
        username="bob", first_name="Bob", last_name="B", roles=[ENGINEER], timezone="Europe/Berlin"
    )
    team = core_team(bob)

    log_in(page, live_server.url, "sam")
    page.click("nav.mainnav >> text=Engage development")
    page.select_option("#id_team", str(team.pk))
    page.fill("#id_ticket", "CSD-123")
    page.fill("#id_requester_name", "John")
    page.fill("#id_requester_phone", "+1-202-555-0143")
    page.fill("#id_bridge", "https://meet.example.com/csd-123")
    expect(page.locator("#engage-preview")).to_contain_text(
        "Need immediate help with CSD-123 - Call John at +1-202-555-0143"
    )
    # The live server shares the test's SQLite connection: let the previews finish first.
    page.wait_for_load_state("networkidle")
    page.click("#engage-form button.primary")

    page.wait_for_url(INCIDENT_PAGE)
    page.wait_for_load_state("networkidle")
    incident = Incident.objects.get()
    assert page.url == f"{live_server.url}/incidents/{incident.pk}/"
    expect(page.locator("#incident .incident-header h1")).to_contain_text(incident.number)
    expect(page.locator(".badge.status")).to_have_text("Triggered")
    expect(page.locator('a[href="tel:+1-202-555-0143"]')).to_be_visible()
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "incident-support.png"), full_page=True)

    escalation_sweep()  # beat's sweep runs the first step: bob is paged
    log_in(engineer_page, live_server.url, "bob")
    engineer_page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    engineer_page.wait_for_load_state("networkidle")
    engineer_page.evaluate("window.__stayed = true")  # survives only without a reload
    engineer_page.click("#acknowledge")
    expect(engineer_page.locator(".badge.status")).to_have_text("Acknowledged")
    expect(engineer_page.locator("#incident .notice")).to_contain_text("paging stopped")
    assert engineer_page.evaluate("window.__stayed") is True
    engineer_page.wait_for_load_state("networkidle")
    engineer_page.screenshot(path=str(SCREENSHOT_DIR / "incident-engineer.png"), full_page=True)

    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.ACKNOWLEDGED, bob)
    assert incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED, actor=bob).exists()
    # The support browser sees the change on its next visit.
    page.reload()
    expect(page.locator(".badge.status")).to_have_text("Acknowledged")


@pytest.mark.django_db(transaction=True)
def test_declare_form_shows_errors_inline_without_a_reload(page: Page, live_server) -> None:
    sam = UserFactory.create(username="sam", first_name="Sam", roles=[SUPPORT])
    team = core_team(sam)
    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/incidents/declare/")
    page.evaluate("window.__stayed = true")
    page.select_option("#id_team", str(team.pk))
    page.fill("#id_ticket", "not a ticket")
    page.click("#declare-form button.primary")

    form = page.locator("#declare-form")
    expect(form).to_contain_text("nothing was declared")
    expect(form).to_contain_text("This field is required.")
    expect(form).to_contain_text("Give a ticket key like CSD-123.")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__stayed") is True
    assert Incident.objects.count() == 0

    page.fill("#id_title", "Checkout returns 500s")
    page.fill("#id_ticket", "CSD-9")
    page.click("#declare-form button.primary")
    page.wait_for_url(INCIDENT_PAGE)
    page.wait_for_load_state("networkidle")
    incident = Incident.objects.get()
    expect(page.locator(".messages")).to_contain_text(f"{incident.number} declared.")
    assert incident.team == team


@pytest.mark.django_db(transaction=True)
def test_the_incident_page_shows_an_acknowledge_made_elsewhere_without_a_reload(
    page: Page, live_server
) -> None:
    """The page polls its status header and timeline (every 15 s, like the list); what the
    engineer is typing into a form stays where it is."""
    sam = UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    bob = UserFactory.create(username="bob", first_name="Bob", last_name="B", roles=[ENGINEER])
    incident = incident_declare(title="Checkout down", actor=sam, team=core_team(bob))

    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    expect(page.locator(".badge.status")).to_have_text("Triggered")
    page.fill("#id_text", "half-written note")
    # The live server shares the test's SQLite connection: write while the page is idle.
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__stayed = true")  # survives only without a reload

    escalation_sweep()  # bob is paged
    incident_acknowledge(incident=incident, actor=bob)  # from Bob's phone, say

    expect(page.locator(".badge.status")).to_have_text("Acknowledged", timeout=25_000)
    expect(page.locator("#incident-status")).to_contain_text("Bob B")
    acknowledged = page.locator("#timeline-events .event-acknowledged")
    expect(acknowledged).to_contain_text("Acknowledged — Bob B via dashboard")
    expect(page.locator("#acknowledge")).to_have_count(0)
    expect(page.locator("#id_text")).to_have_value("half-written note")
    assert page.evaluate("window.__stayed") is True
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "incident-live.png"), full_page=True)

    # Resolved elsewhere: the page shows it, then stops asking.
    page.wait_for_load_state("networkidle")
    incident_resolve(incident=incident, actor=bob, note="rolled back")
    expect(page.locator(".badge.status")).to_have_text("Resolved", timeout=25_000)
    expect(page.locator("#incident-status")).not_to_have_attribute("hx-trigger", re.compile("."))
    assert page.evaluate("window.__stayed") is True
