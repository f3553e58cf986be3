"""Ack links (confirm on GET, act on POST, clear 4xx pages), the outbox, the profile page."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from notifications import services
from notifications.models import Channel, ContactMethod, Notification, NotificationRule
from notifications.signing import ack_path, ack_token_make
from tests.factories import UserFactory
from tests.notifications.conftest import AckCall, SentTasks

pytestmark = pytest.mark.django_db


def incident_page(subject_type: str = "incident") -> Notification:
    return services.notification_enqueue(
        idempotency_key=f"ack-{subject_type}",
        channel=Channel.EMAIL,
        address="ada@example.com",
        recipient=UserFactory.create(username="ada"),
        subject="Checkout down",
        subject_type=subject_type,
        subject_id=5,
    )


def test_ack_link_get_confirms_post_acknowledges_without_login(
    sent_tasks: SentTasks, ack_calls: list[AckCall], client: Client
) -> None:
    notification = incident_page()
    path = ack_path(notification_id=notification.pk)
    assert client.get(path).status_code == 200
    assert ack_calls == []
    response = client.post(path)
    assert response.status_code == 200
    assert b"Acknowledged" in response.content
    assert [(c.subject_id, c.user.username, c.channel) for c in ack_calls] == [(5, "ada", "link")]  # type: ignore[attr-defined]


def test_an_expired_ack_link_is_refused_with_410(
    sent_tasks: SentTasks, ack_calls: list[AckCall], client: Client
) -> None:
    notification = incident_page()
    path = ack_path(notification_id=notification.pk)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        response = client.post(path)
    assert response.status_code == 410
    assert b"expired" in response.content
    assert ack_calls == []


def test_a_tampered_ack_link_is_refused_with_400(
    sent_tasks: SentTasks, ack_calls: list[AckCall], client: Client
) -> None:
    notification = incident_page()
    token = ack_token_make(notification_id=notification.pk)
    response = client.post(f"/notifications/ack/{token[:-2]}xx/")
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert ack_calls == []


def test_an_ack_link_for_an_unknown_subject_type_is_a_404_page(
    sent_tasks: SentTasks, ack_calls: list[AckCall], client: Client
) -> None:
    notification = incident_page("rocket")
    response = client.post(ack_path(notification_id=notification.pk))
    assert response.status_code == 404
    assert b"does not know how to acknowledge" in response.content
    assert ack_calls == []


def test_the_outbox_is_for_staff_only(sent_tasks: SentTasks, client: Client) -> None:
    incident_page()
    client.force_login(UserFactory.create(username="plain"))
    assert client.get("/notifications/outbox/").status_code == 302
    client.force_login(UserFactory.create(username="staff", is_staff=True))
    response = client.get("/notifications/outbox/")
    assert response.status_code == 200
    assert b"Checkout down" in response.content


@pytest.mark.parametrize(
    ("channel", "address", "message"),
    [
        ("sms", "12345", "not a valid phone number"),
        ("email", "ada@", "not a valid email address"),
        ("webhook", "javascript:alert(1)", "not an http(s) URL"),
        ("webhook", "https:///hook", "not an http(s) URL with a host"),
        ("webhook", "https://hooks..example.com/x", "names a host that cannot exist"),
        ("webhook", "https://hooks_example.com/x", "names a host that cannot exist"),
        ("webhook", "https://hooks.example.com:70000/x", "port that is not a number"),
        ("slack", "http://hooks.slack.com/x", "Slack webhook URLs start with https://"),
    ],
)
def test_the_profile_refuses_a_bad_address_with_a_clear_message(
    sent_tasks: SentTasks, client: Client, channel: str, address: str, message: str
) -> None:
    client.force_login(UserFactory.create())
    response = client.post(
        "/notifications/profile/methods/", {"channel": channel, "address": address}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContactMethod.objects.exists()


def test_the_profile_adds_and_verifies_a_method_with_htmx(
    sent_tasks: SentTasks, client: Client, django_capture_on_commit_callbacks: object
) -> None:
    user = UserFactory.create()
    client.force_login(user)
    response = client.post(
        "/notifications/profile/methods/",
        {"channel": "sms", "address": "+1 (202) 555-0160"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert b"<html" not in response.content, "htmx gets the partial"
    method = ContactMethod.objects.get(user=user)
    assert method.address == "+12025550160"
    code = Notification.objects.get(contact_method=method).body.split("code is ")[1].rstrip(".")
    response = client.post(f"/notifications/profile/methods/{method.pk}/verify/", {"code": code})
    assert response.status_code == 302
    method.refresh_from_db()
    assert method.verified
    response = client.post(
        "/notifications/profile/rules/",
        {"urgency": "high", "contact_method": method.pk, "delay": 0},
    )
    assert response.status_code == 302
    page = client.get("/notifications/profile/")
    assert b"verified" in page.content
    assert b"at once" in page.content


def test_a_wrong_or_expired_code_entered_on_the_profile_leaves_the_method_unverified(
    sent_tasks: SentTasks, client: Client
) -> None:
    user = UserFactory.create()
    client.force_login(user)
    client.post("/notifications/profile/methods/", {"channel": "email", "address": "a@example.com"})
    method = ContactMethod.objects.get(user=user)
    code = Notification.objects.get(contact_method=method).body.split("code is ")[1].rstrip(".")
    wrong = "000000" if code != "000000" else "111111"
    verify = f"/notifications/profile/methods/{method.pk}/verify/"
    response = client.post(verify, {"code": wrong}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "That code is not right." in response.content.decode()
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        response = client.post(verify, {"code": code})
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    method.refresh_from_db()
    assert not method.verified
    # A new code from the page works; the old one no longer does.
    client.post(f"/notifications/profile/methods/{method.pk}/resend/")
    fresh = (
        Notification.objects.filter(contact_method=method)
        .latest("id")
        .body.split("code is ")[1]
        .rstrip(".")
    )
    if fresh != code:
        assert client.post(verify, {"code": code}).status_code == 400
    assert client.post(verify, {"code": fresh}).status_code == 302
    method.refresh_from_db()
    assert method.verified


def test_the_profile_resets_rules_to_the_defaults(sent_tasks: SentTasks, client: Client) -> None:
    user = UserFactory.create(phone="+12025550161")
    client.force_login(user)
    sms = services.contact_method_create(
        user=user, channel=Channel.SMS, address=user.phone, send_code=False
    )
    services.notification_rule_create(user=user, urgency="low", contact_method=sms, delay=600)
    page = client.get("/notifications/profile/")
    assert b"Reset to default rules" in page.content
    response = client.post("/notifications/profile/rules/reset/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "at once" in response.content.decode()
    rules = {(r.urgency, r.contact_method_id, r.delay) for r in NotificationRule.objects.all()}
    assert rules == {("high", sms.pk, 0), ("low", sms.pk, 0)}
