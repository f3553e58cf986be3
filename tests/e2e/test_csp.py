"""The Content-Security-Policy holds on every kind of page: the portal's pages (htmx
included), the login page, the API docs (Swagger UI) and the admin load without one
violation reported, and still work."""

from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import Page, expect

from incidents.models import Incident
from postmortems.review import IsoWeek
from rotations.models import EscalationPolicy, Rotation, Team
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e

# Chromium reports each violation as a console error and a `securitypolicyviolation` event.
COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def pages() -> list[str]:
    incident = Incident.objects.earliest("id")
    rotation = Rotation.objects.earliest("id")
    team = Team.objects.earliest("id")
    policy = EscalationPolicy.objects.earliest("id")
    root = UserFactory.create(
        username="root", password="secret-pass", is_staff=True, is_superuser=True
    )
    return [
        reverse("home"),
        reverse("rotations:oncall"),
        reverse("rotations:my-shifts"),
        reverse("rotations:team", args=[team.slug]),
        reverse("rotations:rotation", args=[rotation.pk]),
        reverse("incidents:list"),
        reverse("incidents:detail", args=[incident.pk]),
        reverse("incidents:declare"),
        reverse("incidents:engage"),
        reverse("notifications:profile"),
        reverse("postmortems:list"),
        reverse("postmortems:review", args=[str(IsoWeek.current())]),
        reverse("password_change"),
        reverse("admin:index"),
        reverse("admin:oncall_user_change", args=[root.pk]),
        reverse("admin:rotations_rotation_change", args=[rotation.pk]),
        reverse("admin:rotations_escalationpolicy_change", args=[policy.pk]),
        reverse("admin:incidents_incident_changelist"),
    ]


@pytest.mark.django_db(transaction=True)
def test_no_page_breaks_the_content_security_policy(page: Page, live_server: Any) -> None:
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    urls = pages()
    console: list[str] = []
    page.on(
        "console",
        lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.add_init_script(COLLECT)
    violations: dict[str, list[str]] = {}

    def visit(url: str) -> None:
        response = page.goto(f"{live_server.url}{url}")
        assert response is not None
        assert response.ok, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__csp") + console[:]
        console.clear()
        if found:
            violations[url] = found

    visit(reverse("login"))
    page.fill("#id_username", "root")
    page.fill("#id_password", "secret-pass")
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/accounts/login/" not in u)
    for url in urls:
        visit(url)
    # The API docs: Swagger UI starts from a file, fetches the schema and draws it.
    visit(reverse("api:docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("On-call portal API")
    # htmx still runs: the feed address selects itself from portal.js, not an onclick.
    visit(reverse("rotations:rotation", args=[Rotation.objects.earliest("id").pk]))
    assert page.evaluate("!!window.htmx")
    assert page.evaluate("document.querySelectorAll('style').length") == 0

    assert not violations, violations
