"""Acknowledge links and keypresses: a reminder stops only itself, an engineering page
acknowledges its incident only from its current trigger, and the link's page says which."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from twilio.request_validator import RequestValidator

from incidents.acks import TRIAGE_REMINDER, UPDATE_REMINDER
from incidents.engine import SUBJECT_TYPE, escalation_sweep
from incidents.models import Incident, SeverityPolicy, Status, TimelineKind
from incidents.services import (
    incident_declare,
    incident_reopen,
    incident_resolve,
    incident_timers_sweep,
)
from notifications.models import Notification
from notifications.models import Status as NotificationStatus
from notifications.services import notification_acknowledge
from notifications.signing import ack_path, ack_token_make
from oncall.models import User
from oncall.roles import SUPPORT_MANAGER
from tests.factories import UserFactory
from tests.incidents.conftest import T0, Core

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def traveller() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sid(db: None) -> User:
    return UserFactory.create(
        username="sid", first_name="Sid", last_name="Manager", roles=[SUPPORT_MANAGER]
    )


def declare(core: Core, **kwargs: Any) -> Incident:
    defaults: dict[str, Any] = {
        "title": "Checkout down",
        "requester_name": "John",
        "requester_phone": "+1-202-555-0143",
        "bridge": "https://meet.example.com/csd-123",
    }
    incident = incident_declare(actor=core.people["john"], team=core.team, **{**defaults, **kwargs})
    escalation_sweep()  # bob, on top of the veteran list, is paged
    return incident


def engineering_pages(incident: Incident) -> Any:
    return Notification.objects.filter(subject_type=SUBJECT_TYPE, subject_id=incident.pk)


def triage_overdue(core: Core, traveller: Any) -> tuple[Incident, Notification]:
    incident = declare(core)
    traveller.shift(timedelta(minutes=30))
    incident_timers_sweep()
    reminder = Notification.objects.get(subject_type=TRIAGE_REMINDER, subject_id=incident.pk)
    return incident, reminder


def test_a_triage_reminder_is_its_own_subject_not_the_incident(
    core: Core, sid: User, traveller: Any
) -> None:
    incident, reminder = triage_overdue(core, traveller)
    assert reminder.recipient == sid
    assert not engineering_pages(incident).filter(recipient=sid).exists()


def test_acknowledging_a_triage_reminder_stops_it_and_the_engineering_paging_goes_on(
    core: Core, sid: User, traveller: Any
) -> None:
    incident, reminder = triage_overdue(core, traveller)
    still_pending = engineering_pages(incident).filter(status=NotificationStatus.PENDING).count()

    notification_acknowledge(notification_id=reminder.pk, channel="link")

    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert incident.acknowledged_by is None
    assert incident.escalation_states.filter(status="active").exists()
    assert (
        engineering_pages(incident).filter(status=NotificationStatus.PENDING).count()
        == still_pending
    )
    reminder.refresh_from_db()
    assert reminder.status == NotificationStatus.CANCELLED  # not sent yet: no longer needed
    event = incident.timeline.get(kind=TimelineKind.REMINDER_ACKNOWLEDGED)
    assert (event.actor, event.via) == (sid, "link")
    assert "paging goes on" in event.message

    # The escalation keeps walking the list: carol is paged ten minutes after bob.
    traveller.shift(timedelta(minutes=10))
    escalation_sweep()
    assert engineering_pages(incident).filter(recipient=core.people["carol"]).exists()

    # A second click records nothing more.
    notification_acknowledge(notification_id=reminder.pk, channel="link")
    assert incident.timeline.filter(kind=TimelineKind.REMINDER_ACKNOWLEDGED).count() == 1


def test_acknowledging_a_status_update_reminder_touches_nothing_else(
    core: Core, traveller: Any
) -> None:
    SeverityPolicy.objects.filter(level="SEV1").update(
        status_updates_required=True, status_update_interval=timedelta(hours=1)
    )
    alice = core.people["alice"]
    incident = declare(core, severity="SEV1", commander=alice)
    traveller.shift(timedelta(hours=1))
    incident_timers_sweep()
    reminder = Notification.objects.get(subject_type=UPDATE_REMINDER, subject_id=incident.pk)

    notification_acknowledge(notification_id=reminder.pk, channel="sms")

    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    event = incident.timeline.get(kind=TimelineKind.REMINDER_ACKNOWLEDGED)
    assert (event.actor, event.via, event.data["reminder"]) == (alice, "sms", UPDATE_REMINDER)


def test_resolving_cancels_reminders_not_yet_sent(core: Core, sid: User, traveller: Any) -> None:
    incident, reminder = triage_overdue(core, traveller)
    incident_resolve(incident=incident, actor=None)
    reminder.refresh_from_db()
    assert reminder.status == NotificationStatus.CANCELLED


def test_an_engineering_page_from_before_a_reopen_changes_nothing(core: Core) -> None:
    incident = declare(core)
    old_page = engineering_pages(incident).get(recipient=core.people["bob"])
    incident_resolve(incident=incident, actor=None)
    incident_reopen(incident=incident, actor=None)
    escalation_sweep()

    notification_acknowledge(notification_id=old_page.pk, channel="link")

    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert incident.escalation_states.filter(generation=2, status="active").exists()


# --------------------------------------------------------------------------- the link's page


def test_the_link_page_shows_what_is_acknowledged(client: Client, core: Core) -> None:
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])

    html = client.get(ack_path(notification_id=page.pk)).content.decode()

    for shown in (
        incident.number,
        "Checkout down",
        incident.get_severity_display(),
        "John",
        'href="tel:+1-202-555-0143"',
        'href="https://meet.example.com/csd-123"',
        f'href="/incidents/{incident.pk}/"',
        "stops the engineering paging",
    ):
        assert shown in html, shown
    assert 'id="acknowledge"' in html

    response = client.post(ack_path(notification_id=page.pk))
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.ACKNOWLEDGED, core.people["bob"])
    assert "the engineering paging has stopped" in response.content.decode()


def test_the_link_page_of_a_reminder_says_the_paging_goes_on(
    client: Client, core: Core, sid: User, traveller: Any
) -> None:
    incident, reminder = triage_overdue(core, traveller)
    html = client.get(ack_path(notification_id=reminder.pk)).content.decode()
    assert "Reminder: triage overdue" in html
    assert "does not acknowledge" in html
    client.post(ack_path(notification_id=reminder.pk))
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED


@pytest.mark.parametrize("then", ["resolved", "reopened"])
def test_an_old_link_says_so_and_changes_nothing(client: Client, core: Core, then: str) -> None:
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])
    incident_resolve(incident=incident, actor=None)
    if then == "reopened":
        incident_reopen(incident=incident, actor=None)
    events = incident.timeline.count()

    shown = client.get(ack_path(notification_id=page.pk))
    posted = client.post(ack_path(notification_id=page.pk))

    assert shown.status_code == 200
    html = shown.content.decode()
    assert "This link changes nothing" in html
    assert 'id="acknowledge"' not in html
    assert ("was resolved" if then == "resolved" else "earlier trigger") in html
    assert posted.status_code == 409
    incident.refresh_from_db()
    assert incident.status == (Status.RESOLVED if then == "resolved" else Status.TRIGGERED)
    assert incident.timeline.count() == events


def test_the_dev_outbox_shows_each_messages_ack_link_in_the_viewers_zone(
    client: Client, core: Core, settings: Any
) -> None:
    settings.NOTIFY_CONSOLE = True
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])
    admin = UserFactory.create(
        username="ops", is_staff=True, is_superuser=True, timezone="Asia/Tokyo"
    )
    client.force_login(admin)
    html = client.get("/notifications/outbox/").content.decode()
    assert f'href="{ack_path(notification_id=page.pk)}"' in html
    assert "Asia/Tokyo" in html
    assert "2026-01-14 00:00:00 JST" in html  # T0 is 15:00 UTC


# --------------------------------------------------------------------------- one life long


def voice_keypress(client: Client, settings: Any, page: Notification) -> str:
    """Press 1 on the call that carried `page`, as Twilio posts it (signed)."""
    settings.TWILIO_AUTH_TOKEN = "twilio-test-token"
    path = f"/notifications/twilio/voice/{ack_token_make(notification_id=page.pk)}/"
    params = {"Digits": "1", "CallSid": "CA1"}
    signature = RequestValidator("twilio-test-token").compute_signature(
        settings.SITE_URL + path, params
    )
    response = client.post(path, params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    return response.content.decode()


def test_after_resolve_an_old_link_says_when_and_never_that_paging_stops(
    client: Client, core: Core, traveller: Any
) -> None:
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])
    traveller.shift(timedelta(minutes=7))
    incident_resolve(incident=incident, actor=core.people["alice"])

    html = client.get(ack_path(notification_id=page.pk)).content.decode()

    assert "Nothing to acknowledge" in html
    assert f"{incident.number} was resolved 2026-01-13 10:07 EST" in html  # bob's zone
    assert "stops" not in html.lower()
    assert client.post(ack_path(notification_id=page.pk)).status_code == 409


def test_after_resolve_and_reopen_an_old_link_names_the_earlier_trigger_and_when_it_ended(
    client: Client, core: Core, traveller: Any
) -> None:
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])
    traveller.shift(timedelta(minutes=5))
    incident_resolve(incident=incident, actor=None)
    traveller.shift(timedelta(minutes=5))
    incident_reopen(incident=incident, actor=None)
    escalation_sweep()
    events = incident.timeline.count()

    html = client.get(ack_path(notification_id=page.pk)).content.decode()
    posted = client.post(ack_path(notification_id=page.pk))

    assert f"This page was for an earlier trigger of {incident.number}" in html
    assert "which was reopened 2026-01-13 10:10 EST" in html  # bob's zone
    assert "stops" not in html.lower()
    assert posted.status_code == 409
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.TRIGGERED, None)
    assert incident.timeline.count() == events


@pytest.mark.parametrize("then", ["resolved", "reopened"])
def test_an_old_voice_keypress_changes_nothing_and_says_why(
    client: Client, core: Core, settings: Any, then: str
) -> None:
    incident = declare(core)
    page = engineering_pages(incident).get(recipient=core.people["bob"])
    incident_resolve(incident=incident, actor=None)
    if then == "reopened":
        incident_reopen(incident=incident, actor=None)
        escalation_sweep()

    said = voice_keypress(client, settings, page)

    assert "Nothing was changed." in said
    assert ("was resolved" if then == "resolved" else "earlier trigger") in said
    incident.refresh_from_db()
    assert incident.acknowledged_by is None
    assert not incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).exists()


@pytest.mark.parametrize("then", ["resolved", "reopened"])
def test_a_reminders_link_after_resolve_changes_nothing(
    client: Client, core: Core, sid: User, traveller: Any, settings: Any, then: str
) -> None:
    incident, reminder = triage_overdue(core, traveller)
    incident_resolve(incident=incident, actor=None)
    if then == "reopened":
        traveller.shift(timedelta(minutes=1))
        incident_reopen(incident=incident, actor=None)

    html = client.get(ack_path(notification_id=reminder.pk)).content.decode()
    posted = client.post(ack_path(notification_id=reminder.pk))
    said = voice_keypress(client, settings, reminder)

    assert "Nothing to acknowledge" in html
    assert ("is resolved" if then == "resolved" else "before INC") in html
    assert "stops" not in html.lower()
    assert posted.status_code == 409
    assert "Nothing was changed." in said
    assert not incident.timeline.filter(kind=TimelineKind.REMINDER_ACKNOWLEDGED).exists()
