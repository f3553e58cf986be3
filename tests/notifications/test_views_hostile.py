"""Hostile input at the doors without a login: Twilio's callbacks and acknowledge links.

Twilio's requests are signed here as Twilio signs them, so the input reaches past the
signature check. The `_on_postgresql` variant runs where a NUL in text cannot be stored.
"""

from typing import Any

import pytest
from django.test import Client
from pytest_django import Settings

from notifications import services
from notifications.models import Channel, Notification, Status
from notifications.signing import ack_path, ack_token_make
from tests.factories import UserFactory
from tests.hostile import HUGE_ID, twilio_signature, urlencoded

pytestmark = pytest.mark.django_db
TOKEN = "twilio-hostile-token"


@pytest.fixture
def sent_page(settings: Settings) -> Notification:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    page = services.notification_enqueue(
        idempotency_key="hostile-page",
        channel=Channel.SMS,
        address="+12025550143",
        recipient=UserFactory.create(username="ada"),
        subject="Checkout down",
        subject_type="incident",
        subject_id=5,
    )
    Notification.objects.filter(pk=page.pk).update(status=Status.SENT)
    return page


def twilio_post(client: Client, path: str, fields: dict[str, list[str | bytes]]) -> Any:
    """POST raw urlencoded bytes (lone surrogates as %ED%A0%80), signed as Twilio signs."""
    body = urlencoded(fields)
    return client.post(
        path,
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": twilio_signature(TOKEN, path, body)},
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MessageStatus", "deliv\x00ered"),
        ("CallStatus", "x" * 51),
        ("ErrorCode", "300\x0005"),
    ],
)
def test_a_delivery_report_with_an_unstorable_field_is_400_naming_it(
    sent_page: Notification, client: Client, field: str, value: str
) -> None:
    response = twilio_post(
        client, f"/notifications/twilio/status/{sent_page.pk}/", {field: [value]}
    )

    assert response.status_code == 400
    assert response.content.decode().startswith(f"{field}: ")
    sent_page.refresh_from_db()
    assert (sent_page.status, sent_page.provider_status) == (Status.SENT, "")


def test_a_delivery_report_with_a_nul_is_400_on_postgresql(
    postgres: None, sent_page: Notification, client: Client
) -> None:
    """Found by the page fuzz on PostgreSQL: the NUL reached the UPDATE (500)."""
    fields: dict[str, list[str | bytes]] = {"MessageStatus": ["undelivered"], "ErrorCode": ["\x00"]}
    response = twilio_post(client, f"/notifications/twilio/status/{sent_page.pk}/", fields)

    assert response.status_code == 400
    sent_page.refresh_from_db()
    assert sent_page.status == Status.SENT


def test_a_delivery_report_for_an_id_beyond_any_row_changes_nothing(
    sent_page: Notification, client: Client
) -> None:
    """Found by the page fuzz: a 20-digit id reached the database (500 OverflowError)."""
    fields: dict[str, list[str | bytes]] = {"MessageStatus": ["undelivered"]}
    response = twilio_post(client, f"/notifications/twilio/status/{HUGE_ID}/", fields)

    assert response.status_code == 204
    sent_page.refresh_from_db()
    assert sent_page.status == Status.SENT


def test_a_delivery_report_still_fails_an_undelivered_page(
    sent_page: Notification, client: Client
) -> None:
    fields: dict[str, list[str | bytes]] = {
        "MessageStatus": ["undelivered"],
        "ErrorCode": ["30005"],
    }
    response = twilio_post(client, f"/notifications/twilio/status/{sent_page.pk}/", fields)

    assert response.status_code == 204
    sent_page.refresh_from_db()
    assert (sent_page.status, sent_page.last_error) == (
        Status.FAILED,
        "provider reported undelivered (error 30005)",
    )


@pytest.mark.parametrize(
    "token",
    ["garbage", "a" * 5000, "%00", "%ED%A0%80", "x%00y:z:w", ack_token_make(notification_id=2**70)],
)
@pytest.mark.parametrize("digits", ["1", "\x00", "\ud800", HUGE_ID])
def test_a_keypress_with_a_hostile_token_or_digits_is_a_polite_goodbye(
    sent_page: Notification, client: Client, token: str, digits: str
) -> None:
    response = twilio_post(client, f"/notifications/twilio/voice/{token}/", {"Digits": [digits]})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert "Goodbye." in response.content.decode()
    sent_page.refresh_from_db()
    assert sent_page.status == Status.SENT


@pytest.mark.parametrize(
    "token",
    ["garbage", "a" * 5000, "%00", "%ED%A0%80", "%FF%FE", "eyJuIjoxfQ:1:" + "A" * 43, HUGE_ID],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_garbage_ack_link_is_a_clear_400_page(
    sent_page: Notification, client: Client, token: str, method: str
) -> None:
    response = getattr(client, method)(f"/notifications/ack/{token}/")

    assert response.status_code in (400, 404)
    assert "acknowledge" in response.content.decode().lower()
    sent_page.refresh_from_db()
    assert sent_page.status == Status.SENT


def test_an_ack_link_for_an_id_beyond_any_row_says_nothing_to_acknowledge(
    sent_page: Notification, client: Client
) -> None:
    response = client.post(ack_path(notification_id=2**70))

    assert response.status_code == 404
    assert "Nothing to acknowledge" in response.content.decode()
