"""A manager's admin edit is previewed and confirmed; an engineer asks to cover from My shifts
and the teammate accepts."""

from datetime import date, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from notifications.models import Notification
from oncall.roles import ENGINEER, MANAGER
from rotations.models import Override, Position, Rotation, RotationMember, Team, Tier
from tests.e2e.test_overrides import log_in
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e


def core_rotation(*people) -> Rotation:
    """Daily from a week ago at 00:00 UTC: person i is on call on day i (mod len)."""
    team = Team.objects.create(slug="core", name="Core")
    team.members.set(people)
    rotation = Rotation.objects.create(
        team=team,
        tier=Tier.VETERAN,
        position=Position.SECONDARY,
        shift_length=timedelta(days=1),
        start_date=date.today() - timedelta(days=7),
        handoff_time=time(0),
        timezone="UTC",
    )
    for index, person in enumerate(people):
        RotationMember.objects.create(rotation=rotation, user=person, position=index)
    return rotation


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_shows_its_preview_and_asks_to_confirm(page: Page, live_server) -> None:
    UserFactory.create(username="morgan", first_name="Morgan", is_staff=True, roles=[MANAGER])
    alice = UserFactory.create(username="alice", display_name="Alice", roles=[ENGINEER])
    carol = UserFactory.create(username="carol", display_name="Carol", roles=[ENGINEER])
    rotation = core_rotation(alice, carol)
    on_now = [alice, carol][7 % 2]  # day 7 since the start
    other = carol if on_now == alice else alice

    log_in(page, live_server.url, "morgan")
    page.goto(f"{live_server.url}/admin/rotations/rotation/{rotation.pk}/change/")
    # Swap the two members, as the drag handle does: it rewrites the hidden positions.
    page.evaluate(
        """() => {
            const a = document.querySelector('[name="members-0-position"]');
            const b = document.querySelector('[name="members-1-position"]');
            [a.value, b.value] = ["2", "1"];
        }"""
    )
    page.get_by_role("button", name="Preview the effect").click()
    preview = page.locator("#rotation-preview")
    expect(preview).to_contain_text(
        f"{other.name} replaces {on_now.name} as Veteran secondary now."
    )
    expect(preview).to_contain_text("From ")
    assert list(rotation.members.order_by("position").values_list("user", flat=True)) == [
        alice.pk,
        carol.pk,
    ]

    page.locator("input[name=_save]").click()
    expect(page.locator(".errornote, .errorlist").first).to_be_visible()
    expect(page.locator("#rotation-preview")).to_contain_text("Yes, change who is on call now")
    assert list(rotation.members.order_by("position").values_list("user", flat=True)) == [
        alice.pk,
        carol.pk,
    ]

    page.check("#id_confirm_oncall_change")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text(
        f"Who is on call changes: {other.name} replaces {on_now.name}"
    )
    assert list(rotation.members.order_by("position").values_list("user", flat=True)) == [
        carol.pk,
        alice.pk,
    ]


@pytest.mark.django_db(transaction=True)
def test_cover_from_my_shifts_updates_the_tables_without_a_reload(page: Page, live_server) -> None:
    alice = UserFactory.create(
        username="alice", first_name="Alice", last_name="A", roles=[ENGINEER]
    )
    bob = UserFactory.create(username="bob", first_name="Bob", last_name="B", roles=[ENGINEER])
    core_rotation(alice, bob)

    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/me/shifts/")
    page.evaluate("window.__stayed = true")
    mine = page.locator("#my-shift-table tbody tr")
    before = mine.count()
    # A shift of bob's still to come (asking for a running one starts from the next quarter).
    coming = page.locator("#teammate-shift-table tr.shift:not(.current)", has_text="Bob")
    coming.first.locator("a.cover").click()

    form = page.locator("#shift-change-form")
    expect(form).to_be_visible()
    expect(form.locator("#id_user")).to_have_value(str(alice.pk))
    expect(form.locator("#id_replaces")).to_have_value(str(bob.pk))
    form.locator("#id_reason").fill("Bob is away")
    form.locator("button.primary").click()

    # An engineer's cover is a request: nothing changes until bob accepts.
    expect(page.locator("#my-shifts .notice")).to_contain_text("Request sent: Bob B is asked")
    expect(page.locator("#shift-change-form")).to_have_count(0)
    expect(page.locator("#requests")).to_contain_text("Waiting for their answer")
    assert page.evaluate("window.__stayed") is True
    assert not Override.objects.exists()
    assert Notification.objects.filter(recipient=bob, channel="email").exists()

    page.context.clear_cookies()
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/me/shifts/")
    page.locator("#requests button.accept").click()
    expect(page.locator("#my-shifts .notice")).to_contain_text("Accepted")
    override = Override.objects.get()
    assert (override.user, override.replaces, override.reason) == (alice, bob, "Bob is away")
    assert Notification.objects.filter(recipient=alice, channel="email").exists()

    page.context.clear_cookies()
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/me/shifts/")
    expect(mine).to_have_count(before + 1)
    expect(page.locator("#my-shift-table")).to_contain_text("override")
