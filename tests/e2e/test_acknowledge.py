"""The paged person finds their page; a reminder is acknowledged as a reminder."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from incidents.acks import TRIAGE_REMINDER
from incidents.engine import SUBJECT_TYPE, escalation_sweep
from incidents.models import EscalationState, Incident, Status, TimelineKind
from incidents.services import incident_declare, incident_timers_sweep
from notifications.models import Notification
from notifications.signing import ack_path
from oncall.roles import ENGINEER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Tier
from tests.e2e.test_incidents import INCIDENT_PAGE, log_in
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_support_declares_and_the_engineer_acknowledges_from_home(page: Page, live_server) -> None:
    UserFactory.create(username="sam", first_name="Sam", last_name="S", roles=[SUPPORT])
    bob = UserFactory.create(username="bob", first_name="Bob", last_name="B", roles=[ENGINEER])
    team = TeamFactory.create(slug="core", name="Core")
    RotationFactory.create(team=team, tier=Tier.VETERAN, members=[bob], start_date=date(2026, 1, 5))

    # Support declares.
    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/incidents/declare/")
    page.select_option("#id_team", str(team.pk))
    page.fill("#id_title", "Checkout returns 500s")
    page.wait_for_load_state("networkidle")
    page.click("#declare-form button.primary")
    page.wait_for_url(INCIDENT_PAGE)
    page.wait_for_load_state("networkidle")
    incident = Incident.objects.get()
    # Support watches from their home, the support desk: the incident waits in the triage
    # queue and among the open incidents, and nothing there acknowledges engineering's paging.
    page.goto(f"{live_server.url}/")
    expect(page.locator("#dash-triage")).to_contain_text(incident.number)
    expect(page.locator("#dash-open")).to_contain_text(incident.number)
    expect(page.locator("#dash-mine")).not_to_contain_text(incident.number)
    expect(page.get_by_role("button", name=f"Acknowledge {incident.number}")).to_have_count(0)

    escalation_sweep()  # beat's sweep runs the first step: bob is paged

    # The engineer signs in and finds the page first thing on home.
    page.context.clear_cookies()
    log_in(page, live_server.url, "bob")
    page.goto(f"{live_server.url}/")
    paging = page.locator(".paging-me")
    expect(paging).to_contain_text(incident.number)
    expect(paging).to_contain_text("Checkout returns 500s")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.__stayed = true")
    page.get_by_role("button", name=f"Acknowledge {incident.number}").click()

    expect(page.locator("#my-incidents .notice")).to_contain_text(
        f"{incident.number} acknowledged: paging stopped."
    )
    expect(page.locator(".paging-me")).to_have_count(0)
    assert page.evaluate("window.__stayed") is True  # swapped in place
    page.wait_for_load_state("networkidle")
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.ACKNOWLEDGED, bob)


@pytest.mark.django_db(transaction=True)
def test_the_support_manager_acknowledges_a_triage_reminder_and_paging_goes_on(
    page: Page, live_server
) -> None:
    UserFactory.create(username="sid", first_name="Sid", last_name="M", roles=[SUPPORT_MANAGER])
    bob = UserFactory.create(username="bob", first_name="Bob", last_name="B", roles=[ENGINEER])
    carol = UserFactory.create(
        username="carol", first_name="Carol", last_name="C", roles=[ENGINEER]
    )
    team = TeamFactory.create(slug="core", name="Core")
    RotationFactory.create(
        team=team, tier=Tier.VETERAN, members=[bob, carol], start_date=date(2026, 1, 5)
    )
    incident = incident_declare(
        title="Checkout down",
        actor=None,
        team=team,
        requester_name="John",
        requester_phone="+1-202-555-0143",
        bridge="https://meet.example.com/csd-123",
    )
    escalation_sweep()  # the first veteran is paged
    engineering = Notification.objects.filter(subject_type=SUBJECT_TYPE, subject_id=incident.pk)
    first_paged = engineering.count()
    # Half an hour without triage: the support managers get a reminder.
    Incident.objects.filter(pk=incident.pk).update(
        triggered_at=timezone.now() - timedelta(minutes=31)
    )
    incident_timers_sweep()
    reminder = Notification.objects.get(subject_type=TRIAGE_REMINDER, subject_id=incident.pk)

    # The link in Sid's text: no login needed.
    page.goto(live_server.url + ack_path(notification_id=reminder.pk))
    expect(page.locator(".ack-subject")).to_contain_text("Reminder: triage overdue")
    expect(page.locator(".ack-subject")).to_contain_text(incident.number)
    expect(page.locator(".ack-subject")).to_contain_text("does not acknowledge")
    expect(page.locator('a[href="tel:+1-202-555-0143"]')).to_be_visible()
    expect(page.locator('a[href="https://meet.example.com/csd-123"]')).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.click("#acknowledge")
    expect(page.locator("h1")).to_have_text("Acknowledged")
    expect(page.locator(".ack-subject")).to_contain_text(re.compile("acknowledged by Sid M"))

    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    event = incident.timeline.get(kind=TimelineKind.REMINDER_ACKNOWLEDGED)
    assert getattr(event.actor, "username", None) == "sid"

    # The engineering escalation goes on: the next veteran is paged when the step is due.
    EscalationState.objects.filter(incident=incident, status="active").update(
        next_action_at=timezone.now()
    )
    escalation_sweep()
    assert engineering.count() > first_paged
    assert {n.recipient for n in engineering} == {bob, carol}
