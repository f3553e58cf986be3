"""Test pages: sent from the profile page and the API, delivered on the real path, rate
limited, only to one's own verified methods; the managers' list of who has not tested."""

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from notifications import services
from notifications.models import Channel, ContactMethod, Notification, NotificationRule, Status
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import RotationMember
from tests.factories import RotationFactory, UserFactory
from tests.notifications.conftest import SentTasks

ROLES = (SUPPORT, SUPPORT_MANAGER, ENGINEER, MANAGER)
HOOK = "/hooks/test"

pytestmark = pytest.mark.django_db


def verified(user: User, channel: str = Channel.WEBHOOK, address: str = "") -> ContactMethod:
    return ContactMethod.objects.create(
        user=user,
        channel=channel,
        address=address or "https://hooks.example.com/x",
        verified_at=timezone.now(),
    )


def send_from_profile(client: Client, method: ContactMethod, *, htmx: bool = True) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/notifications/profile/methods/{method.pk}/test/", headers=headers)


def only_test_page(method: ContactMethod) -> Notification:
    return Notification.objects.get(contact_method=method)


@pytest.fixture
def hook(real_channels: HTTPServer) -> str:
    """A webhook address on the local HTTP peer (the test settings allow loopback)."""
    return real_channels.url_for(HOOK)


def test_every_role_sends_themselves_a_test_page_from_the_profile_and_sees_it_delivered(
    sent_tasks: SentTasks, client: Client, real_channels: HTTPServer, hook: str
) -> None:
    real_channels.expect_request(HOOK, method="POST").respond_with_data("ok")
    for role in ROLES:
        person = UserFactory.create(username=role.replace(" ", "-").lower(), roles=[role])
        method = verified(person, address=hook)
        client.force_login(person)
        response = send_from_profile(client, method)
        assert response.status_code == 200, role
        page = only_test_page(method)
        assert page.is_test_page
        assert page.status == Status.PENDING
        assert page.subject_type == ""
        assert page.recipient == person
        html = response.content.decode()
        assert f'id="test-page-{page.pk}"' in html
        assert "queued" in html
        assert 'hx-trigger="every 2s"' in html  # polled until final

        assert services.notification_deliver(notification_id=page.pk) == "sent"
        method.refresh_from_db()
        page.refresh_from_db()
        assert method.last_tested_at == page.sent_at is not None
        status = client.get(
            f"/notifications/profile/tests/{page.pk}/", headers={"HX-Request": "true"}
        )
        assert status.status_code == 200
        assert "delivered" in status.content.decode()
        assert "hx-trigger" not in status.content.decode()  # final: polling stops
        # The profile's "last successful test" line moves with it (out of band).
        oob = re.search(
            rf'<small [^>]*id="last-tested-{method.pk}"[^>]*hx-swap-oob="true"[^>]*>([^<]*)',
            status.content.decode(),
        )
        assert oob, "the poll sends the last-tested line out of band"
        assert "never" not in oob.group(1)
        assert "delivered" in client.get("/notifications/profile/").content.decode()
    body = json.loads(real_channels.log[-1][0].get_data())
    assert "test page" in json.dumps(body).lower()


def test_a_peer_answering_500_shows_failed_with_the_reason_and_leaves_last_tested_at(
    sent_tasks: SentTasks,
    client: Client,
    real_channels: HTTPServer,
    hook: str,
    settings: Any,
) -> None:
    settings.NOTIFY_MAX_ATTEMPTS = 1
    real_channels.expect_request(HOOK).respond_with_data("boom", status=500)
    ada = UserFactory.create(username="ada")
    method = verified(ada, address=hook)
    client.force_login(ada)
    send_from_profile(client, method)
    page = only_test_page(method)
    assert services.notification_deliver(notification_id=page.pk) == "failed"
    method.refresh_from_db()
    assert method.last_tested_at is None
    html = client.get(f"/notifications/profile/tests/{page.pk}/").content.decode()
    assert "failed" in html
    assert "HTTP 500" in html
    api = client.get(f"/api/v1/test-pages/{page.pk}/").json()
    assert api["status"] == "failed"
    assert "HTTP 500" in api["error"]
    assert api["final"] is True


def test_a_later_provider_report_of_non_delivery_takes_the_test_back(
    sent_tasks: SentTasks, real_channels: HTTPServer, hook: str
) -> None:
    real_channels.expect_request(HOOK).respond_with_data("ok")
    ada = UserFactory.create(username="ada")
    method = verified(ada, address=hook)
    earlier = datetime(2026, 11, 1, 12, tzinfo=UTC)
    with time_machine.travel(earlier, tick=False):
        first = services.contact_method_test_send(contact_method=method)
        assert services.notification_deliver(notification_id=first.pk) == "sent"
    method.refresh_from_db()
    assert method.last_tested_at == earlier
    second = services.contact_method_test_send(contact_method=method)
    services.notification_deliver(notification_id=second.pk)
    method.refresh_from_db()
    assert method.last_tested_at is not None
    assert method.last_tested_at > earlier
    services.notification_provider_status_record(
        notification_id=second.pk, provider_status="undelivered", error_code="30003"
    )
    method.refresh_from_db()
    assert method.last_tested_at == earlier  # the newest test that really arrived


def test_another_persons_method_or_test_page_is_404_at_every_door(
    sent_tasks: SentTasks, client: Client
) -> None:
    ada, bob = UserFactory.create(username="ada"), UserFactory.create(username="bob")
    adas = verified(ada)
    page = services.contact_method_test_send(contact_method=adas)
    client.force_login(bob)
    assert send_from_profile(client, adas, htmx=False).status_code == 404
    response = client.post(f"/api/v1/contact-methods/{adas.pk}/test/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get(f"/notifications/profile/tests/{page.pk}/").status_code == 404
    assert client.get(f"/api/v1/test-pages/{page.pk}/").status_code == 404
    assert Notification.objects.filter(contact_method=adas).count() == 1  # nothing new


def test_one_test_page_per_method_per_minute(sent_tasks: SentTasks, client: Client) -> None:
    ada = UserFactory.create(username="ada")
    method, other = verified(ada), verified(ada, Channel.EMAIL, "ada@example.com")
    client.force_login(ada)
    start = datetime(2026, 12, 2, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        assert send_from_profile(client, method, htmx=False).status_code == 302
    with time_machine.travel(start + timedelta(seconds=20), tick=False):
        refused = send_from_profile(client, method, htmx=False)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "40"
        assert "you can send another in 40 seconds" in refused.content.decode()
        htmx = send_from_profile(client, method)
        assert htmx.status_code == 200
        assert "one a minute per contact method" in htmx.content.decode()
        api = client.post(f"/api/v1/contact-methods/{method.pk}/test/")
        assert api.status_code == 429
        assert api["Retry-After"] == "40"
        assert api.json()["error"]["code"] == "test_page_too_soon"
        assert "40 seconds" in api.json()["error"]["message"]
        # Another method of the same person has its own minute.
        assert client.post(f"/api/v1/contact-methods/{other.pk}/test/").status_code == 201
    assert Notification.objects.filter(contact_method=method).count() == 1
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert client.post(f"/api/v1/contact-methods/{method.pk}/test/").status_code == 201


def test_removing_and_re_adding_a_method_resets_no_limit(sent_tasks: SentTasks) -> None:
    ada = UserFactory.create(username="ada")
    method = verified(ada)
    services.contact_method_test_send(contact_method=method)
    method.delete()
    again = verified(ada)
    with pytest.raises(services.TestPageThrottled):
        services.contact_method_test_send(contact_method=again)


def test_an_unverified_method_is_refused_with_a_pointer_to_verification(
    sent_tasks: SentTasks, client: Client
) -> None:
    ada = UserFactory.create(username="ada")
    method = ContactMethod.objects.create(user=ada, channel=Channel.EMAIL, address="a@ex.com")
    client.force_login(ada)
    profile = client.get("/notifications/profile/").content.decode()
    assert "Verify it to send a test page." in profile
    response = send_from_profile(client, method, htmx=False)
    assert response.status_code == 400
    assert "is not verified yet: enter the code" in response.content.decode()
    api = client.post(f"/api/v1/contact-methods/{method.pk}/test/")
    assert api.status_code == 409
    assert api.json()["error"]["code"] == "unverified"
    assert "enter the code" in api.json()["error"]["message"]
    assert not Notification.objects.filter(contact_method=method).exists()


def test_the_api_sends_a_test_page_and_reports_its_status(
    sent_tasks: SentTasks, client: Client, real_channels: HTTPServer, hook: str
) -> None:
    real_channels.expect_request(HOOK).respond_with_data("ok")
    ada = UserFactory.create(username="ada", roles=[ENGINEER])
    method = verified(ada, address=hook)
    client.force_login(ada)
    listed = client.get("/api/v1/contact-methods/").json()
    assert [(m["id"], m["last_tested_at"]) for m in listed] == [(method.pk, None)]
    answer = client.post(f"/api/v1/contact-methods/{method.pk}/test/")
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "pending"
    assert body["final"] is False
    assert body["contact_method"] == method.pk
    assert body["channel"] == "webhook"
    services.notification_deliver(notification_id=body["id"])
    polled = client.get(f"/api/v1/test-pages/{body['id']}/").json()
    assert polled["status"] == "sent"
    assert polled["final"] is True
    assert polled["error"] == ""
    assert client.get("/api/v1/contact-methods/").json()[0]["last_tested_at"] is not None


def test_a_test_page_is_not_an_incident_page(sent_tasks: SentTasks) -> None:
    """Not a row anyone acknowledges and never bundled into an incident's message."""
    ada = UserFactory.create(username="ada")
    page = services.contact_method_test_send(contact_method=verified(ada))
    assert page.subject_type == ""
    assert page.subject_id is None
    assert not page.is_verification
    with pytest.raises(services.UnknownSubject):
        services.notification_acknowledge(notification_id=page.pk)


# --- the managers' list ---------------------------------------------------------------------


def on_call(username: str, **methods: datetime | None) -> tuple[User, dict[str, ContactMethod]]:
    """A person in a rotation with verified SMS and voice methods, tested at these times."""
    person = UserFactory.create(username=username, first_name=username.title())
    rotation = RotationFactory.create()
    rotation.team.members.add(person)
    RotationMember.objects.create(rotation=rotation, user=person)
    made = {}
    for channel, tested in methods.items():
        made[channel] = ContactMethod.objects.create(
            user=person,
            channel=channel,
            address="+14155550100",
            verified_at=timezone.now(),
            last_tested_at=tested,
        )
    return person, made


def test_managers_see_who_has_not_tested_high_urgency_methods_in_90_days(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    now = datetime(2026, 12, 2, 9, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        fresh, _ = on_call("fresh", sms=now - timedelta(days=89), voice=now - timedelta(days=1))
        stale, stale_methods = on_call(
            "stale", sms=now - timedelta(days=91), voice=now - timedelta(days=2)
        )
        never, _ = on_call("never", sms=None)
        unreachable, _ = on_call("unreachable")  # no verified method: cannot be paged
        # Low urgency only: email is not a high-urgency method here.
        low, low_methods = on_call("low", sms=now - timedelta(days=3))
        email = ContactMethod.objects.create(
            user=low, channel=Channel.EMAIL, address="low@example.com", verified_at=now
        )
        NotificationRule.objects.create(user=low, urgency="high", contact_method=low_methods["sms"])
        NotificationRule.objects.create(user=low, urgency="low", contact_method=email)
        UserFactory.create(username="bystander")  # in no rotation: not listed
        manager = UserFactory.create(username="boss", roles=[MANAGER])
        client.force_login(manager)
        with django_assert_max_num_queries(12):
            response = client.get("/notifications/untested/")
        assert response.status_code == 200
        listed = [row.user.username for row in response.context["people"]]
        assert listed == ["never", "stale", "unreachable"]  # by name
        html = response.content.decode()
        assert (now - timedelta(days=91)).strftime("%Y-%m-%d") in html
        assert "never" in html
        assert "cannot be paged" in html
        stale_row = next(r for r in response.context["people"] if r.user == stale)
        assert stale_row.stale == [stale_methods["sms"]]

        api = client.get("/api/v1/contact-methods/untested/").json()
        assert sorted(row["username"] for row in api) == ["never", "stale", "unreachable"]

    # Time passes: 90 days after the fresh person's test, they are due too.
    with time_machine.travel(now + timedelta(days=2), tick=False):
        client.force_login(manager)
        listed = [r.user for r in client.get("/notifications/untested/").context["people"]]
        assert fresh in listed
        assert never in listed
        assert unreachable in listed


@pytest.mark.parametrize("role", [SUPPORT, SUPPORT_MANAGER, ENGINEER])
def test_only_managers_see_the_untested_list(client: Client, role: str) -> None:
    client.force_login(UserFactory.create(username="someone", roles=[role]))
    page = client.get("/notifications/untested/")
    assert page.status_code == 403
    # The portal's page, with the rule that refused, not a bare "403 Forbidden".
    assert "The list of untested contact methods is for managers." in page.content.decode()
    assert 'id="forbidden"' in page.content.decode()
    response = client.get("/api/v1/contact-methods/untested/")
    assert response.status_code == 403
    assert "Only managers" in response.json()["error"]["message"]


def test_signed_out_visitors_reach_nothing(client: Client, db: None) -> None:
    assert client.get("/notifications/untested/").status_code == 302
    assert client.post("/notifications/profile/methods/1/test/").status_code == 302
    assert client.post("/api/v1/contact-methods/1/test/").status_code in (401, 403)
    assert client.get("/api/v1/contact-methods/untested/").status_code in (401, 403)


@pytest.mark.parametrize("far", ["99999999999999999999", str(2**63), "0"])
def test_ids_that_name_no_row_are_404_not_500(client: Client, far: str) -> None:
    client.force_login(UserFactory.create(username="ada"))
    assert client.post(f"/notifications/profile/methods/{far}/test/").status_code == 404
    assert client.get(f"/notifications/profile/tests/{far}/").status_code == 404
    assert client.post(f"/api/v1/contact-methods/{far}/test/").status_code == 404
    assert client.get(f"/api/v1/test-pages/{far}/").status_code == 404


def test_a_managers_profile_links_the_untested_list_and_nobody_elses_does(client: Client) -> None:
    for role in ROLES:
        client.force_login(UserFactory.create(username=f"p-{role}".replace(" ", "-"), roles=[role]))
        linked = (
            "/notifications/untested/" in client.get("/notifications/profile/").content.decode()
        )
        assert linked is (role == MANAGER), role


def test_a_method_removed_meanwhile_is_a_clear_refusal(sent_tasks: SentTasks) -> None:
    ada = UserFactory.create(username="ada")
    method = verified(ada)
    ContactMethod.objects.filter(pk=method.pk).delete()  # another tab removed it
    with pytest.raises(ValidationError, match="just removed") as refused:
        services.contact_method_test_send(contact_method=method)
    assert refused.value.code == "gone"
    assert not Notification.objects.exists()
