"""Verification codes cannot flood an address: a minute between codes, five a day per method,
a bounded number of new addresses a day and of unverified methods, all counted per person
and address so that removing and re-adding a method resets nothing."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from notifications import services
from notifications.models import Channel, ContactMethod, Notification
from oncall.models import User
from tests.factories import UserFactory
from tests.notifications.conftest import SentTasks

pytestmark = pytest.mark.django_db

PHONE = "+12025550177"  # somebody else's number, typed in by the person asking


def codes_to(address: str) -> int:
    return Notification.objects.filter(
        address=address, idempotency_key__startswith="verify:"
    ).count()


def add_phone(user: User, address: str = PHONE) -> ContactMethod:
    return services.contact_method_create(user=user, channel=Channel.SMS, address=address)


def refusal_at(moment: datetime, ask: Callable[[], object]) -> services.VerificationThrottled:
    """What `ask` is refused with at that moment."""
    with (
        time_machine.travel(moment, tick=False),
        pytest.raises(services.VerificationThrottled) as caught,
    ):
        ask()
    return caught.value


def test_a_new_code_waits_a_minute_after_the_last(sent_tasks: SentTasks) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        method = add_phone(UserFactory.create())
    refused = refusal_at(
        start + timedelta(seconds=15),
        lambda: services.contact_method_verification_send(contact_method=method),
    )
    assert refused.code == "code_too_soon"
    assert refused.retry_after == timedelta(seconds=45)
    assert str(refused) == (
        f"A code went to {PHONE} 15 seconds ago; you can ask for a new code in 45 seconds."
    )
    assert codes_to(PHONE) == 1
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        services.contact_method_verification_send(contact_method=method)
    assert codes_to(PHONE) == 2


def test_five_codes_a_day_per_method_then_none_until_the_first_is_a_day_old(
    sent_tasks: SentTasks,
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        method = add_phone(UserFactory.create())
    for minute in range(1, 5):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            services.contact_method_verification_send(contact_method=method)
    assert codes_to(PHONE) == 5

    refused = refusal_at(
        start + timedelta(minutes=5),
        lambda: services.contact_method_verification_send(contact_method=method),
    )
    assert refused.code == "too_many_codes"
    assert refused.retry_after == timedelta(hours=23, minutes=55)
    assert str(refused) == (
        f"{PHONE} has had 5 codes in the last 24 hours, the most we send; "
        "you can ask for a new code in 23 hours 55 minutes."
    )
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=False):
        services.contact_method_verification_send(contact_method=method)
    assert codes_to(PHONE) == 6


def test_removing_and_re_adding_a_method_resets_no_limit(sent_tasks: SentTasks) -> None:
    user = UserFactory.create()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        services.contact_method_delete(contact_method=add_phone(user))
    refused = refusal_at(start + timedelta(seconds=10), lambda: add_phone(user))
    assert refused.code == "code_too_soon"
    assert not ContactMethod.objects.filter(user=user).exists(), "refused: nothing was added"

    for minute in range(1, 5):  # four more codes, each to a fresh row for the same number
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            services.contact_method_delete(contact_method=add_phone(user))
    refused = refusal_at(start + timedelta(minutes=5), lambda: add_phone(user))
    assert refused.code == "too_many_codes"
    assert codes_to(PHONE) == 5


def test_each_person_has_their_own_limits_for_an_address(sent_tasks: SentTasks) -> None:
    """The limits stop one person flooding a number; a colleague who also uses it is not
    blocked by them."""
    add_phone(UserFactory.create())
    add_phone(UserFactory.create())
    assert codes_to(PHONE) == 2


def test_new_addresses_a_day_are_capped_whatever_was_removed_since(
    sent_tasks: SentTasks, settings: Settings
) -> None:
    settings.VERIFY_MAX_NEW_ADDRESSES_PER_DAY = 3
    user = UserFactory.create()
    start = timezone.now()
    phones = [f"+1202555010{n}" for n in range(4)]
    for minute, phone in enumerate(phones[:3]):
        with time_machine.travel(start + timedelta(minutes=minute), tick=False):
            services.contact_method_delete(contact_method=add_phone(user, phone))

    at = start + timedelta(minutes=10)
    refused = refusal_at(at, lambda: add_phone(user, phones[3]))
    assert refused.code == "too_many_addresses"
    assert str(refused) == (
        "You have asked for codes to 3 addresses in the last 24 hours, the most we allow; "
        "you can add another in 23 hours 50 minutes."
    )
    with time_machine.travel(at, tick=False):
        add_phone(user, phones[0])  # not a new address: its own limits allow a code
    with time_machine.travel(start + timedelta(hours=24, minutes=1, seconds=1), tick=False):
        add_phone(user, phones[3])  # the second address has had no code for a day
    assert set(ContactMethod.objects.filter(user=user).values_list("address", flat=True)) == {
        phones[0],
        phones[3],
    }


def test_a_person_holds_a_bounded_number_of_unverified_methods(
    sent_tasks: SentTasks, settings: Settings
) -> None:
    settings.VERIFY_MAX_UNVERIFIED_METHODS = 2
    user = UserFactory.create()
    first = add_phone(user, "+12025550101")
    add_phone(user, "+12025550102")
    with pytest.raises(ValidationError) as refused:
        add_phone(user, "+12025550103")
    assert refused.value.code == "too_many_unverified"
    assert codes_to("+12025550103") == 0

    code = Notification.objects.get(contact_method=first).body.split("code is ")[1].rstrip(".")
    services.contact_method_verify(contact_method=first, code=code)
    add_phone(user, "+12025550103")  # a verified method leaves room for another


def test_a_verified_method_gets_no_new_code(sent_tasks: SentTasks) -> None:
    method = ContactMethod.objects.create(
        user=UserFactory.create(), channel=Channel.SMS, address=PHONE, verified_at=timezone.now()
    )
    with pytest.raises(ValidationError) as refused:
        services.contact_method_verification_send(contact_method=method)
    assert refused.value.code == "already_verified"
    assert codes_to(PHONE) == 0


# The profile page: a refusal says when to ask again; 429 with Retry-After for a plain POST,
# the partial for htmx (which swaps no 4xx).


def resend(client: Client, method: ContactMethod, at: datetime, **headers: str) -> Any:
    with time_machine.travel(at, tick=False):
        return client.post(f"/notifications/profile/methods/{method.pk}/resend/", headers=headers)


def asked_to_wait(response: Any, *, seconds: int) -> None:
    """A plain POST refused for now: 429, Retry-After and the words on the page."""
    assert response.status_code == 429
    assert response["Retry-After"] == str(seconds)
    assert f"you can ask for a new code in {seconds} seconds." in response.content.decode()


@pytest.fixture
def signed_in(client: Client) -> User:
    user = UserFactory.create()
    client.force_login(user)
    return user


def test_the_profile_says_when_a_new_code_can_be_asked_for(
    sent_tasks: SentTasks, client: Client, signed_in: User
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        method = add_phone(signed_in)

    asked_to_wait(resend(client, method, start + timedelta(seconds=15)), seconds=45)

    response = resend(client, method, start + timedelta(seconds=20), **{"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html, "htmx gets the partial"
    assert 'role="alert">A code went to' in html
    assert "you can ask for a new code in 40 seconds." in html
    assert codes_to(PHONE) == 1

    assert resend(client, method, start + timedelta(seconds=61)).status_code == 302
    assert codes_to(PHONE) == 2


def test_adding_a_method_too_soon_again_is_refused_on_the_form(
    sent_tasks: SentTasks, client: Client, signed_in: User
) -> None:
    user, start = signed_in, timezone.now()
    add = {"channel": "sms", "address": PHONE}
    with time_machine.travel(start, tick=False):
        assert client.post("/notifications/profile/methods/", add).status_code == 302
        services.contact_method_delete(contact_method=ContactMethod.objects.get(user=user))
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        asked_to_wait(client.post("/notifications/profile/methods/", add), seconds=30)
    assert not ContactMethod.objects.filter(user=user).exists()
