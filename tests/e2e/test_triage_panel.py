"""The triage panel in a browser, on a desktop and on a 390 px phone: the countdown ticks,
the suggestion follows the answers (htmx), a different severity asks for a reason, the
playbook attempt lands on the timeline, and nothing scrolls sideways on the phone."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from incidents.models import Incident, TimelineKind
from incidents.services import incident_declare
from oncall.roles import MANAGER, SUPPORT
from playbooks.services import playbook_entry_create
from tests.e2e.test_incidents import log_in
from tests.e2e.test_mobile import OVERFLOW_CULPRITS
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.e2e

SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 900},
    "phone": {"width": 390, "height": 844},
}


@pytest.fixture(params=list(SIZES))
def sized_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport=SIZES[request.param], timezone_id="America/New_York")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not errors, errors  # e.g. a CSP refusal of an inline script or style


@pytest.mark.django_db(transaction=True)
def test_triage_from_the_panel(sized_page: Page, live_server) -> None:
    page = sized_page
    sam = UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    raja = UserFactory.create(username="raja", roles=[MANAGER])
    team = TeamFactory.create(slug="core", name="Core")
    playbook_entry_create(
        actor=raja,
        team=team,
        service="payments-api",
        title="Replay provider webhooks",
        applies_when="Orders stuck in pending payment",
        steps="1. Check the provider status\n2. Replay: `payments replay --since 1h`",
    )
    incident = incident_declare(
        title="Orders stuck in pending payment " + "x" * 60,
        actor=sam,
        team=team,
        service="payments-api",
        severity="SEV3",
    )

    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    clock = page.locator("#triage-countdown .countdown-clock")
    first = clock.inner_text()
    assert first.endswith(" left")
    expect(clock).not_to_have_text(first, timeout=3_000)  # triage.js ticks it down

    panel = page.locator("#triage")
    for name, value in (("who", "EU shoppers"), ("what", "Orders not marked paid")):
        page.fill(f"#id_{name}", value)
    for name in ("where", "when", "how"):
        page.fill(f"#id_{name}", f"the {name}")
    # 3 + 3 + 3 + 2 + 2 = 13 points: SEV1.
    for question, points in (
        ("users_affected", 3),
        ("which_users", 3),
        ("user_impact", 3),
        ("company_impact", 2),
        ("stakeholder_view", 2),
    ):
        page.check(f"input[name={question}][value='{points}']")
    expect(page.locator("#triage-suggestion")).to_contain_text("Suggested severity: SEV1")
    page.wait_for_load_state("networkidle")

    page.select_option("#id_severity", "SEV0")
    page.click("#triage-confirm")
    expect(panel).to_contain_text("The answers suggest SEV1; say why it is SEV0.")
    page.fill("#id_reason", "Launch day of our largest customer")
    page.click("#triage-confirm")
    expect(page.locator("#incident .notice").first).to_contain_text("Triage confirmed")
    expect(panel).to_contain_text("Not the suggested severity: Launch day of our largest customer")
    page.wait_for_load_state("networkidle")
    incident.refresh_from_db()
    assert (incident.severity, incident.triage_confirmed_at is not None) == ("SEV0", True)
    expect(page.locator("#triage-countdown")).to_have_count(0)

    expect(page.locator("#triage-playbooks")).to_have_attribute("open", "")  # none tried yet
    entry = page.locator(".playbook-entry").first
    entry.locator("input[type=checkbox]").first.check()
    entry.locator("input[type=radio][value=failed]").check()
    entry.locator("button[type=submit]").click()
    expect(page.locator("ul.messages")).to_contain_text("Recorded on the timeline")
    expect(page.locator("#timeline-events")).to_contain_text("Playbook “Replay provider webhooks”")
    assert incident.timeline.filter(kind=TimelineKind.PLAYBOOK).count() == 1

    page.locator("#triage-playbooks summary").click()
    page.locator("details.triage-form summary").click()
    assert page.evaluate(OVERFLOW_CULPRITS) == []
    width = (page.viewport_size or {"width": 0})["width"]
    page.screenshot(path=f"/tmp/triage-panel-{width}.png", full_page=True)
    assert Incident.objects.count() == 1
