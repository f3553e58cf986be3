"""An engineer hands a shift over from the rotation page, and asks a teammate for one from My
shifts; htmx swaps the regions in place."""

from datetime import date, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from rotations.models import Override, Position, Rotation, RotationMember, Team, Tier
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "secret-pass")
    page.click("button[type=submit]")
    expect(page.locator(".whoami")).to_contain_text(username.title())


@pytest.mark.django_db(transaction=True)
def test_engineer_hands_over_their_shift_without_a_page_reload(page: Page, live_server) -> None:
    alice = UserFactory.create(
        username="alice", first_name="Alice", last_name="A", roles=["Engineer"]
    )
    bob = UserFactory.create(username="bob", first_name="Bob", last_name="B", roles=["Engineer"])
    team = Team.objects.create(slug="core", name="Core")
    team.members.set([alice, bob])
    rotation = Rotation.objects.create(
        team=team,
        tier=Tier.VETERAN,
        position=Position.PRIMARY,
        start_date=date.today() - timedelta(days=1),
        handoff_time=time(9),
        timezone="America/New_York",
    )
    RotationMember.objects.create(rotation=rotation, user=bob, position=0)
    RotationMember.objects.create(rotation=rotation, user=alice, position=1)

    log_in(page, live_server.url, "bob")  # bob's first week: he hands a day to alice
    page.goto(f"{live_server.url}/rotations/{rotation.pk}/")
    # A marker that survives only if the page is not reloaded.
    page.evaluate("window.__stayed = true")
    day = date.today() + timedelta(days=2)
    page.select_option("#id_user", str(alice.pk))
    page.select_option("#id_replaces", str(bob.pk))
    page.fill("#id_start", f"{day.isoformat()}T10:00")
    page.fill("#id_end", f"{day.isoformat()}T14:00")
    page.fill("#id_reason", "Bob at the dentist")
    page.click("#overrides button.primary")

    row = page.locator("#overrides tr.override")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Alice")
    assert page.evaluate("window.__stayed") is True
    override = Override.objects.get()
    assert (override.user, override.replaces, override.reason) == (alice, bob, "Bob at the dentist")
    # 10:00 New York entered in the browser is stored as UTC (EST is UTC-5 in late November,
    # EDT UTC-4 earlier): compare through the rotation's zone rather than a fixed offset.
    local = override.start.astimezone(rotation.tzinfo)
    assert (local.date(), local.hour, (override.end - override.start)) == (
        day,
        10,
        timedelta(hours=4),
    )


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_cover_shows_the_error_inline(page: Page, live_server) -> None:
    alice = UserFactory.create(username="alice", first_name="Alice", roles=["Engineer"])
    bob = UserFactory.create(username="bob", first_name="Bob", roles=["Engineer"])
    team = Team.objects.create(slug="core", name="Core")
    team.members.set([alice, bob])
    rotation = Rotation.objects.create(
        team=team, start_date=date.today(), timezone="America/New_York"
    )
    RotationMember.objects.create(rotation=rotation, user=alice, position=0)
    # A manager (an engineer's second try would already not be her shift to give).
    UserFactory.create(username="morgan", first_name="Morgan", roles=["Manager"])
    log_in(page, live_server.url, "morgan")
    page.goto(f"{live_server.url}/rotations/{rotation.pk}/")
    day = (date.today() + timedelta(days=3)).isoformat()
    for _ in range(2):
        page.select_option("#id_user", str(bob.pk))
        page.select_option("#id_replaces", str(alice.pk))
        page.fill("#id_start", f"{day}T10:00")
        page.fill("#id_end", f"{day}T12:00")
        page.click("#overrides button.primary")
        page.wait_for_load_state("networkidle")
    expect(page.locator("#overrides")).to_contain_text("overlaps another override")
    assert Override.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_cover_asked_on_my_shifts_is_accepted_by_the_teammate(page: Page, live_server) -> None:
    alice = UserFactory.create(username="alice", first_name="Alice", roles=["Engineer"])
    bob = UserFactory.create(username="bob", first_name="Bob", roles=["Engineer"])
    team = Team.objects.create(slug="core", name="Core")
    team.members.set([alice, bob])
    rotation = Rotation.objects.create(
        team=team, start_date=date.today() + timedelta(days=1), timezone="America/New_York"
    )
    RotationMember.objects.create(rotation=rotation, user=bob, position=0)
    RotationMember.objects.create(rotation=rotation, user=alice, position=1)

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/me/shifts/")
    page.locator("#teammate-shift-table a.cover").first.click()
    expect(page.locator("#shift-change-form")).to_be_visible()
    page.click("#shift-change-form button.primary")
    expect(page.locator("#my-shifts .notice")).to_contain_text("Request sent")
    expect(page.locator("#requests")).to_contain_text("Waiting for their answer")
    assert not Override.objects.exists()

    page.context.clear_cookies()
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/me/shifts/")
    page.evaluate("window.__stayed = true")
    page.click("#requests button.accept")
    expect(page.locator("#my-shifts .notice")).to_contain_text("Accepted")
    assert page.evaluate("window.__stayed") is True
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (alice, bob, bob)
