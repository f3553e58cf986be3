"""Keyboard and screen reader journeys: the skip link, focus after a failed form, and a
"refreshed every 15 seconds" that is only claimed while the list really polls."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from oncall.roles import SUPPORT
from tests.factories import IncidentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e

REFRESHED = "refreshed every 15 seconds"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def focused(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => { const el = document.activeElement;
        return {tag: el.tagName.toLowerCase(), id: el.id, cls: el.className,
                role: el.getAttribute("role") || "", text: el.textContent.trim()}; }"""
    )


@pytest.fixture
def support(transactional_db: None) -> str:
    UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    TeamFactory.create(slug="core", name="Core")
    return "sam"


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.django_db(transaction=True)
def test_the_first_tab_shows_the_skip_link_which_jumps_to_the_main_content(
    page: Page, live_server, support: str
) -> None:
    log_in(page, live_server.url, support)
    page.goto(f"{live_server.url}/incidents/")
    skip = page.get_by_role("link", name="Skip to main content")
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 0, "the skip link shows before Tab"
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None
    assert box["y"] >= 0, "the focused skip link is off screen"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    # The next Tab continues inside the page, past the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


@pytest.mark.django_db(transaction=True)
def test_a_failed_declare_moves_focus_to_an_error_summary_linking_each_field(
    page: Page, live_server, support: str
) -> None:
    log_in(page, live_server.url, support)
    page.goto(f"{live_server.url}/incidents/declare/")
    page.click("#declare-form button.primary")  # nothing filled in: posted by htmx

    summary = page.locator("#declare-form .error-summary")
    expect(summary).to_be_focused()
    assert focused(page)["role"] == "alert"
    expect(summary).to_contain_text("nothing was declared")
    title_link = summary.get_by_role("link", name="Title: This field is required.")
    expect(title_link).to_be_visible()
    title_link.click()
    expect(page.locator("#id_title")).to_be_focused()

    # Fixing one field and failing again: focus goes to the new summary, which no longer
    # lists the fixed field.
    page.fill("#id_title", "Checkout is down")
    page.click("#declare-form button.primary")
    summary = page.locator("#declare-form .error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Team: This field is required.")).to_be_visible()
    expect(summary.get_by_role("link", name="Title: This field is required.")).to_have_count(0)


@pytest.mark.django_db(transaction=True)
def test_a_failed_login_moves_focus_to_what_went_wrong(page: Page, live_server, support) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", support)
    page.fill("#id_password", "not the password")
    page.click("button[type=submit]")  # a plain POST: the page reloads with the error
    page.wait_for_load_state("load")
    alert = page.get_by_role("alert")
    expect(alert).to_be_focused()
    expect(alert).to_contain_text("correct username and password")


@pytest.mark.django_db(transaction=True)
def test_a_page_without_errors_keeps_focus_at_the_top(page: Page, live_server, support) -> None:
    log_in(page, live_server.url, support)
    page.goto(f"{live_server.url}/incidents/declare/")
    assert focused(page)["tag"] == "body"


@pytest.mark.django_db(transaction=True)
def test_refreshed_every_15_seconds_is_said_only_while_the_list_polls(
    page: Page, no_js_page: Page, live_server, support: str
) -> None:
    IncidentFactory.create(title="Checkout errors", team=TeamFactory.create(slug="core"))
    note = "#incident-list > p"

    log_in(page, live_server.url, support)
    page.goto(f"{live_server.url}/incidents/")
    expect(page.locator(note)).to_contain_text(REFRESHED, use_inner_text=True)
    assert page.locator("#incident-list").get_attribute("hx-trigger") == "every 15s"

    log_in(no_js_page, live_server.url, support)
    no_js_page.goto(f"{live_server.url}/incidents/")
    expect(no_js_page.locator(note)).not_to_contain_text(REFRESHED, use_inner_text=True)
    expect(no_js_page.locator(note)).to_contain_text("reload the page", use_inner_text=True)

    # htmx failing to load is the same as no JavaScript for the claim.
    def no_htmx(route: Route) -> None:
        route.abort()

    page.route("**/htmx.min.js", no_htmx)
    page.goto(f"{live_server.url}/incidents/")
    page.wait_for_load_state("load")
    expect(page.locator(note)).not_to_contain_text(REFRESHED, use_inner_text=True)
