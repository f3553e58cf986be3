"""Customer contacts (handbook 004, COMMUNICATE): second-tier support logs each contact; the
next is due after the severity's interval; the second tier on duty is reminded once."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from incidents.acks import CONTACT_REMINDER
from incidents.models import CustomerContact, Incident, SeverityPolicy, TimelineKind
from incidents.services import incident_declare, incident_resolve
from incidents.support.contacts import customer_contact_log, customer_contacts_remind
from notifications.models import Notification
from notifications.models import Status as PageStatus
from tests.desk.conftest import T0, Desk

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/{}/customer-contacts/"


def declare(desk: Desk, severity: str = "SEV1") -> Incident:
    return incident_declare(
        title="ACME sees wrong prices", actor=None, team=desk.team, severity=severity
    )


def test_the_migration_sets_each_severitys_contact_interval() -> None:
    intervals = dict(SeverityPolicy.objects.values_list("level", "customer_contact_interval"))
    assert intervals == {
        "SEV0": timedelta(hours=1),
        "SEV1": timedelta(hours=2),
        "SEV2": timedelta(hours=4),
        "SEV3": timedelta(days=1),
    }


@pytest.mark.parametrize(
    ("severity", "due"),
    [("SEV0", timedelta(hours=1)), ("SEV1", timedelta(hours=2)), ("SEV3", timedelta(days=1))],
)
def test_the_next_contact_is_due_after_the_severitys_interval(
    desk: Desk, severity: str, due: timedelta
) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(desk, severity)
        contact = customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="email", summary="Told ACME"
        )
    assert contact.at == T0
    assert contact.next_due_at == T0 + due
    event = incident.timeline.get(kind=TimelineKind.CUSTOMER_CONTACT)
    assert event.actor == desk.people["noah"]
    assert event.data["contact_id"] == contact.pk
    assert event.message.startswith("Customer contacted by email")


def test_a_given_due_time_wins_and_must_come_after_the_contact(desk: Desk) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(desk)
        contact = customer_contact_log(
            incident=incident,
            actor=desk.people["noah"],
            channel="phone",
            summary="Called",
            next_due_at=T0 + timedelta(minutes=30),
        )
        assert contact.next_due_at == T0 + timedelta(minutes=30)
        with pytest.raises(ValidationError) as error:
            customer_contact_log(
                incident=incident,
                actor=desk.people["noah"],
                channel="phone",
                summary="Called",
                next_due_at=T0 - timedelta(minutes=1),
            )
    assert "next_due_at" in error.value.message_dict
    assert CustomerContact.objects.count() == 1


@pytest.mark.parametrize(
    ("who", "allowed"),
    [("santhosh", True), ("noah", True), ("dinesh", True), ("raja", True), ("alice", False)],
)
def test_role_matrix_support_and_managers_log_contacts_engineers_do_not(
    desk: Desk, who: str, allowed: bool
) -> None:
    incident = declare(desk)

    def log() -> CustomerContact:
        return customer_contact_log(
            incident=incident, actor=desk.people[who], channel="chat", summary="Hi"
        )

    if allowed:
        assert log().by == desk.people[who]
    else:
        with pytest.raises(PermissionDenied):
            log()
        assert not CustomerContact.objects.exists()
        assert not incident.timeline.filter(kind=TimelineKind.CUSTOMER_CONTACT).exists()


def _reminders(incident: Incident) -> list[tuple[str, str]]:
    rows = Notification.objects.filter(subject_type=CONTACT_REMINDER, subject_id=incident.pk)
    return [(n.recipient.username, n.status) for n in rows.order_by("pk") if n.recipient]


def test_the_second_tier_on_duty_is_reminded_once_when_the_contact_falls_due(
    desk: Desk,
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(desk)  # SEV1: every 2 hours
        customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="email", summary="First"
        )
        traveller.shift(timedelta(hours=2) - timedelta(seconds=1))
        assert customer_contacts_remind() == 0
        assert _reminders(incident) == []
        traveller.shift(timedelta(seconds=1))
        assert customer_contacts_remind() == 1
        assert [who for who, _ in _reminders(incident)] == ["noah"]
        reminder = Notification.objects.get(subject_type=CONTACT_REMINDER)
        assert reminder.idempotency_key.startswith(f"inc{incident.pk}:contact-due:")
        assert "Customer contact due" in reminder.subject
        # The next sweeps, a minute and an hour later: nobody is reminded again.
        traveller.shift(timedelta(minutes=1))
        assert customer_contacts_remind() == 0
        traveller.shift(timedelta(hours=1))
        assert customer_contacts_remind() == 0
        assert len(_reminders(incident)) == 1
        due_rows = incident.timeline.filter(kind=TimelineKind.CUSTOMER_CONTACT, data__reminder=True)
        assert due_rows.count() == 1

        # A new contact sets a new due time: it is reminded once in its turn.
        customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="phone", summary="Second"
        )
        traveller.shift(timedelta(hours=2))
        assert customer_contacts_remind() == 1
        assert customer_contacts_remind() == 0
    assert [who for who, _ in _reminders(incident)] == ["noah", "noah"]


def test_a_resolved_incident_is_not_reminded(desk: Desk) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(desk)
        customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="email", summary="First"
        )
        incident_resolve(incident=incident, actor=desk.people["dinesh"])
        traveller.shift(timedelta(hours=3))
        assert customer_contacts_remind() == 0
    assert _reminders(incident) == []


def test_logging_a_contact_cancels_the_pending_reminder(desk: Desk) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(desk)
        customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="email", summary="First"
        )
        traveller.shift(timedelta(hours=2))
        customer_contacts_remind()
        customer_contact_log(
            incident=incident, actor=desk.people["noah"], channel="email", summary="Now"
        )
    statuses = {status for _, status in _reminders(incident)}
    assert statuses <= {PageStatus.CANCELLED, PageStatus.SENT, PageStatus.FAILED}
    assert PageStatus.PENDING not in statuses


# --- the API ---------------------------------------------------------------------------------


def test_api_contract_post_then_list(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        incident = declare(desk)
        response = client.post(
            URL.format(incident.pk),
            {"channel": "forum", "summary": "Answered on the forum"},
            content_type="application/json",
        )
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    assert body["channel"] == "forum"
    assert body["summary"] == "Answered on the forum"
    assert body["by"] == {"id": desk.people["noah"].pk, "username": "noah"}
    assert body["at"] == "2026-01-13T15:00:00Z"
    assert body["next_due_at"] == "2026-01-13T17:00:00Z"
    assert body["reminded_at"] is None
    listed = client.get(URL.format(incident.pk))
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [body["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "pigeon", "summary": "x"}, "channel"),
        ({"channel": "email"}, "summary"),
        (
            {"channel": "email", "summary": "x", "next_due_at": "2026-01-13T14:00:00Z"},
            "next_due_at",
        ),
        ({"channel": "email", "summary": "x", "at": "yesterday"}, "at"),
        ({"channel": "email", "summary": "x" * 2001}, "summary"),
    ],
)
def test_api_refuses_bad_input_naming_the_field(
    client: Client, desk: Desk, payload: dict[str, str], field: str
) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        incident = declare(desk)
        response = client.post(URL.format(incident.pk), payload, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not CustomerContact.objects.exists()


def test_api_refuses_engineers_with_403_and_unknown_incidents_with_404(
    client: Client, desk: Desk
) -> None:
    incident = declare(desk)
    client.force_login(desk.people["alice"])
    response = client.post(
        URL.format(incident.pk),
        {"channel": "email", "summary": "x"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "support" in response.json()["error"]["message"]
    assert client.get(URL.format(incident.pk + 1000)).status_code == 404
    client.logout()
    assert client.get(URL.format(incident.pk)).status_code in (401, 403)
    assert not CustomerContact.objects.exists()


# --- the incident page ----------------------------------------------------------------------


def test_the_incident_page_offers_the_form_to_support_not_to_engineers(
    client: Client, desk: Desk
) -> None:
    incident = declare(desk)
    client.force_login(desk.people["noah"])
    assert 'id="id_summary"' in client.get(f"/incidents/{incident.pk}/").content.decode()
    client.force_login(desk.people["alice"])
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="customer-contacts"' in html
    assert 'id="id_summary"' not in html
    response = client.post(
        f"/incidents/{incident.pk}/customer-contacts/", {"channel": "email", "summary": "x"}
    )
    assert response.status_code == 302
    assert not CustomerContact.objects.exists()


def test_logging_from_the_page_with_htmx_answers_the_box(client: Client, desk: Desk) -> None:
    incident = declare(desk)
    client.force_login(desk.people["noah"])
    response = client.post(
        f"/incidents/{incident.pk}/customer-contacts/",
        {"channel": "phone", "summary": "Called ACME back"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="customer-contacts"' in html
    assert "Customer contact logged." in html
    assert "Called ACME back" in html
    assert "<html" not in html
    assert CustomerContact.objects.get().channel == "phone"
