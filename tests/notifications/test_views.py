"""Ack links (confirm on GET, act on POST, clear 4xx pages), the outbox, the profile page."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from notifications import services
from notifications.models import Channel, ContactMethod, Notification, NotificationRule
from notifications.signing import ack_path, ack_token_make
from oncall.roles import MANAGER
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


def test_the_outbox_is_served_only_with_the_console_channel_and_only_to_superusers(
    sent_tasks: SentTasks, client: Client, settings: Settings
) -> None:
    incident_page()
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    settings.NOTIFY_CONSOLE = False
    client.force_login(root)
    assert client.get("/notifications/outbox/").status_code == 404
    settings.NOTIFY_CONSOLE = True
    for who in (
        UserFactory.create(username="plain"),
        UserFactory.create(username="staff", is_staff=True),
        UserFactory.create(username="manager", is_staff=True, roles=[MANAGER]),
    ):
        client.force_login(who)
        assert client.get("/notifications/outbox/").status_code == 403, who.username
    client.force_login(root)
    response = client.get("/notifications/outbox/")
    assert response.status_code == 200
    assert b"Checkout down" in response.content


def sent_code(method: ContactMethod) -> str:
    return str(
        Notification.objects.filter(contact_method=method)
        .latest("id")
        .body.split("code is ")[1]
        .rstrip(".")
    )


def test_the_outbox_never_shows_a_verification_code(
    sent_tasks: SentTasks, client: Client, settings: Settings
) -> None:
    settings.NOTIFY_CONSOLE = True
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    method = services.contact_method_create(
        user=root, channel=Channel.EMAIL, address="root@example.com"
    )
    client.force_login(root)
    html = client.get("/notifications/outbox/").content.decode()
    assert "Your on-call portal verification code" in html  # the row is listed
    assert sent_code(method) not in html
    assert "verification code hidden" in html


def test_the_admin_shows_a_verification_code_to_nobody_but_its_recipient(
    sent_tasks: SentTasks, client: Client
) -> None:
    ada = UserFactory.create(username="ada", is_staff=True)
    method = services.contact_method_create(user=ada, channel=Channel.EMAIL, address="a@ex.com")
    code, row = sent_code(method), Notification.objects.get(contact_method=method)
    change = f"/admin/notifications/notification/{row.pk}/change/"
    changelist = "/admin/notifications/notification/"

    client.force_login(UserFactory.create(username="mo", is_staff=True, roles=[MANAGER]))
    for path in (changelist, change):
        response = client.get(path)
        assert response.status_code == 200, path
        assert code not in response.content.decode(), path
    assert "verification code hidden" in client.get(change).content.decode()
    assert "0 results" in client.get(f"{changelist}?q={code}").content.decode()  # no guessing

    client.force_login(ada)  # staff, but without the view permission: the admin says no
    assert client.get(change).status_code == 403
    ada.user_permissions.add(Permission.objects.get(codename="view_notification"))
    assert code in client.get(change).content.decode()


def test_a_code_lasts_ten_minutes(sent_tasks: SentTasks) -> None:
    user = UserFactory.create()
    method = services.contact_method_create(user=user, channel=Channel.EMAIL, address="a@ex.com")
    later = timezone.now() + timedelta(minutes=10, seconds=5)
    with time_machine.travel(later), pytest.raises(ValidationError) as refused:
        services.contact_method_verify(contact_method=method, code=sent_code(method))
    assert refused.value.error_dict["code"][0].code == "expired"
    method.refresh_from_db()
    assert not method.verified


def test_five_wrong_codes_and_even_the_right_one_needs_a_new_code(
    sent_tasks: SentTasks, client: Client
) -> None:
    user = UserFactory.create()
    client.force_login(user)
    method = services.contact_method_create(user=user, channel=Channel.EMAIL, address="a@ex.com")
    code = sent_code(method)
    wrong = "000000" if code != "000000" else "111111"
    verify = f"/notifications/profile/methods/{method.pk}/verify/"
    said = [client.post(verify, {"code": wrong}).content.decode() for _ in range(5)]
    assert "4 tries left" in said[0]
    assert "1 try left" in said[3]
    assert "that was the last try: send a new code" in said[4]

    response = client.post(verify, {"code": code})
    assert response.status_code == 400
    assert "Too many wrong codes; send a new code" in response.content.decode()
    method.refresh_from_db()
    assert (method.verified, method.verification_tries) == (False, 5)

    resend = f"/notifications/profile/methods/{method.pk}/resend/"
    assert client.post(resend).status_code == 429  # a minute between two codes
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert client.post(resend).status_code == 302
        assert client.post(verify, {"code": sent_code(method)}).status_code == 302
    method.refresh_from_db()
    assert method.verified


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
    assert response.status_code == 200  # htmx swaps no 4xx: the partial says what went wrong
    assert "That code is not right; 4 tries left." in response.content.decode()
    assert client.post(verify, {"code": wrong}).status_code == 400  # a plain POST
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
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


def test_a_webhook_signing_secret_is_shown_once_and_can_be_rotated(
    sent_tasks: SentTasks, client: Client
) -> None:
    """Shown in the answer that made it (never cached), never on a later visit."""
    owner = UserFactory.create()
    client.force_login(owner)
    added = client.post(
        "/notifications/profile/methods/",
        {"channel": "webhook", "address": "https://hooks.example.com/pager"},
    )
    method = ContactMethod.objects.get(user=owner)
    assert added.status_code == 200
    assert method.secret in added.content.decode()
    assert "no-store" in added["Cache-Control"]
    assert method.secret not in client.get("/notifications/profile/").content.decode()

    old = method.secret
    rotated = client.post(
        f"/notifications/profile/methods/{method.pk}/rotate-secret/",
        headers={"HX-Request": "true"},
    )
    method.refresh_from_db()
    assert method.secret != old
    assert method.secret in rotated.content.decode()
    assert old not in rotated.content.decode()
    assert method.secret not in client.get("/notifications/profile/").content.decode()

    stranger = UserFactory.create()
    client.force_login(stranger)
    refused = client.post(f"/notifications/profile/methods/{method.pk}/rotate-secret/")
    assert refused.status_code == 404
    method.refresh_from_db()
    assert method.secret != old
    assert method.user == owner
