"""On a phone (390×844) no main page scrolls sideways; the navigation folds into a menu.

Each page is visited as the role that uses it, in a portal with long titles, unbroken URLs
and many rows. Screenshots land in /tmp/mobile-screens for a human to look at.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pytest_django.fixtures import Settings

from oncall.demo import DEMO_PASSWORD
from tests.pages import OUTBOX_ADMIN, OUTBOX_SETTINGS, Portal, portal_build

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
SCREENSHOT_DIR = Path("/tmp/mobile-screens")

# What sticks out past the right edge, outside any box that scrolls on its own: named in the
# failure so a regression says which element to fix.
OVERFLOW_CULPRITS = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(node).overflowX)) {
        return true;
      }
    }
    return false;
  };
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !scrolls(el)) {
      found.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}` +
        `${el.classList.length ? "." + [...el.classList].join(".") : ""} ` +
        `(right edge ${Math.round(box.right)}px)`);
    }
  }
  return found.slice(0, 8);
}"""


def phone_context_page(browser: Browser, viewport: ViewportSize) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, timezone_id="America/New_York")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from phone_context_page(browser, PHONE)


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    yield from phone_context_page(browser, DESKTOP)


@pytest.fixture
def portal(transactional_db: None, settings: Settings) -> Portal:
    for name, value in OUTBOX_SETTINGS.items():
        setattr(settings, name, value)
    return portal_build()


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when it fits)."""
    sizes = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return max(0, sizes[0] - sizes[1])


def visit_every_page(page: Page, base: str, portal: Portal, label: str) -> dict[str, list[str]]:
    """Visit each main page as its role; return the pages that scroll sideways and why."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    signed_in: str | None = None
    overflowing: dict[str, list[str]] = {}
    for name, username, path in portal.pages():
        if username != signed_in:
            page.context.clear_cookies()
            if username is not None:
                log_in(page, base, username)
            signed_in = username
        response = page.goto(f"{base}{path}")
        assert response is not None, name
        assert response.ok, f"{name}: HTTP {response.status}"
        # Pages that load a part with htmx (home's incidents) are measured with it in place.
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOT_DIR / f"{label}-{name}.png", full_page=True)
        if horizontal_overflow(page):
            overflowing[name] = page.evaluate(OVERFLOW_CULPRITS)
    return overflowing


@pytest.mark.django_db(transaction=True)
def test_no_main_page_scrolls_sideways_on_a_phone(phone: Page, live_server, portal: Portal) -> None:
    assert visit_every_page(phone, live_server.url, portal, "phone") == {}


@pytest.mark.django_db(transaction=True)
def test_wide_tables_scroll_inside_their_own_box_on_a_phone(
    phone: Page, live_server, portal: Portal
) -> None:
    log_in(phone, live_server.url, OUTBOX_ADMIN)
    phone.goto(f"{live_server.url}/notifications/outbox/")
    box = phone.locator(".table-scroll").filter(has=phone.locator("table.outbox"))
    expect(box).to_have_count(1)
    widths = box.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] > widths[1], "the outbox fits a phone now: pick a wider table to test"
    # Reachable by keyboard, and named, so a screen reader user knows what scrolls.
    assert box.get_attribute("tabindex") == "0"
    assert box.get_attribute("role") == "region"
    assert box.get_attribute("aria-label")
    assert horizontal_overflow(phone) == 0


@pytest.mark.django_db(transaction=True)
def test_the_navigation_folds_into_a_menu_on_a_phone(
    phone: Page, live_server, portal: Portal
) -> None:
    log_in(phone, live_server.url, "santhosh")
    nav = phone.locator("nav.mainnav")
    expect(nav.get_by_role("link", name="Engage development")).to_be_hidden()
    phone.get_by_text("Menu", exact=True).click()
    expect(nav.get_by_role("link", name="Engage development")).to_be_visible()
    expect(phone.get_by_role("button", name="Log out")).to_be_visible()
    nav.get_by_role("link", name="Engage development").click()
    phone.wait_for_url(f"{live_server.url}/incidents/engage/")
    # A new page starts with the menu folded again.
    expect(nav.get_by_role("link", name="Declare")).to_be_hidden()
    assert horizontal_overflow(phone) == 0


@pytest.mark.django_db(transaction=True)
def test_the_menu_works_without_javascript(browser: Browser, live_server, portal: Portal) -> None:
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        nav = page.locator("nav.mainnav")
        expect(nav.get_by_role("link", name="My shifts")).to_be_hidden()
        page.get_by_text("Menu", exact=True).click()
        nav.get_by_role("link", name="My shifts").click()
        page.wait_for_url(f"{live_server.url}/me/shifts/")
        assert horizontal_overflow(page) == 0
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_on_a_desktop_the_navigation_is_one_row_with_no_menu_button(
    desktop: Page, live_server, portal: Portal
) -> None:
    assert visit_every_page(desktop, live_server.url, portal, "desktop") == {}
    # Support, the support manager (the longest roles) and a Manager: one row each.
    for username in ("santhosh", "dinesh", "raja"):
        desktop.context.clear_cookies()
        log_in(desktop, live_server.url, username)
        expect(desktop.get_by_text("Menu", exact=True)).to_be_hidden()
        links = desktop.locator("nav.mainnav a")
        boxes = [links.nth(i).bounding_box() for i in range(links.count())]
        tops = {round(box["y"]) for box in boxes if box is not None}
        assert len(boxes) == 8, "Home … Postmortems … Engage development and Admin"
        assert len(tops) == 1, f"{username}: the navigation wraps: rows at {sorted(tops)}"
        whoami = desktop.locator(".whoami").bounding_box()
        assert whoami is not None
        assert round(whoami["y"]) <= min(tops) + 10, f"{username}: the name is on a row of its own"
    expect(desktop.get_by_role("button", name="Log out")).to_be_visible()
