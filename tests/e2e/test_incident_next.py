"""An engineer opens an incident that is paging and reads, in words, who is paged next and when;
after acknowledging, the page says paging stopped."""

import zoneinfo
from datetime import date, datetime

import pytest
from playwright.sync_api import Page, expect

from incidents.engine import escalation_sweep
from incidents.models import EscalationState
from incidents.services import incident_declare
from oncall.roles import ENGINEER, MANAGER, SUPPORT
from rotations.models import Tier
from tests.e2e.test_incidents import log_in
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_engineer_reads_who_is_paged_next_and_acknowledges(page: Page, live_server) -> None:
    sam = UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    alice, bob = (
        UserFactory.create(
            username=name,
            first_name=name.title(),
            last_name="Example",
            roles=[ENGINEER],
            timezone="Europe/Berlin",
        )
        for name in ("alice", "bob")
    )
    morgan = UserFactory.create(
        username="morgan", first_name="Morgan", last_name="Lee", roles=[MANAGER]
    )
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=morgan)
    rotation = RotationFactory.create(
        team=team, tier=Tier.VETERAN, members=[alice, bob], start_date=date(2026, 1, 5)
    )
    incident = incident_declare(title="Checkout down", actor=sam, team=team)
    escalation_sweep()  # the on-call of the week is paged; the next one in ten minutes
    state = EscalationState.objects.get(incident=incident)
    assert state.next_action_at is not None
    walk = [t.user_id for t in state.policy_snapshot.steps[0].walk]
    paged_first, next_up = (alice, bob) if walk[0] == alice.pk else (bob, alice)
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    due = state.next_action_at.astimezone(berlin)
    # Times of today read "10:45"; another day's carry the day (a run near midnight).
    by = f"{due:%H:%M}" if due.date() == datetime.now(berlin).date() else f"{due:%a %-d %b, %H:%M}"

    log_in(page, live_server.url, paged_first.username)
    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    what_next = page.locator("#what-next")
    expect(what_next).to_contain_text(f"If nobody acknowledges by {by}, {next_up.name} is paged.")
    expect(what_next).to_contain_text(f"the CPE manager {morgan.name} — the last step.")
    expect(page.locator("table.tracks")).to_contain_text(
        f"Step 1 of 2: Page each person on the {rotation} list in turn, 10 minutes apart"
    )

    page.click("#acknowledge")
    expect(what_next).to_contain_text(f"Paging stopped: {paged_first.name} acknowledged at")
    expect(what_next).not_to_contain_text("If nobody acknowledges")
