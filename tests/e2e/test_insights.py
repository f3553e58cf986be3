"""The insights page draws its charts in Chromium with no console error (CSP included), on
a desktop and on a phone (390 px), where nothing scrolls sideways."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from oncall.roles import MANAGER
from tests.e2e.test_incidents import log_in
from tests.factories import UserFactory
from tests.insights.conftest import History, history  # noqa: F401 (a fixture)

pytestmark = pytest.mark.e2e
PATH = "/insights/?range=custom&from=2026-03-02&to=2026-03-15"
CHARTS = ("chart-weeks", "chart-people", "chart-tiers")


@pytest.fixture(params=[(1280, 900), (390, 844)], ids=["desktop", "phone"])
def sized_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    width, height = request.param
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.django_db(transaction=True)
def test_the_charts_render_without_console_errors(
    sized_page: Page,
    live_server,
    history: History,  # noqa: F811
) -> None:
    UserFactory.create(username="morgan", first_name="Morgan", timezone="UTC", roles=[MANAGER])
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            problems.append(message.text)

    sized_page.on("console", on_console)
    sized_page.on("pageerror", lambda error: problems.append(str(error)))
    log_in(sized_page, live_server.url, "morgan")
    sized_page.goto(live_server.url + PATH)
    expect(sized_page.locator("#headline")).to_contain_text("MTTA")
    for chart in CHARTS:
        drawn = sized_page.evaluate(
            "id => !!(window.Chart && window.Chart.getChart(document.getElementById(id)))", chart
        )
        assert drawn, chart
    expect(sized_page.locator("#people tbody tr").first).to_contain_text("Alice A")
    overflow = sized_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert problems == []
