"""/api/v1/override-requests/: ask, accept, decline, cancel; every refusal in the error shape."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from rotations.models import Override, OverrideRequest, Rotation
from tests.factories import RotationFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/override-requests/"
# Weekly from Monday 2026-01-05 09:00 New York: alice has the week of 9 March (from 13:00
# UTC), bob the week of 16 March. "Now" is 1 March.
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ALICE = {"start": "2026-03-10T13:00:00Z", "end": "2026-03-11T13:00:00Z"}
BOB = {"swap_start": "2026-03-17T13:00:00Z", "swap_end": "2026-03-18T13:00:00Z"}


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people() -> dict[str, User]:
    roles = {"alice": ENGINEER, "bob": ENGINEER, "carol": ENGINEER, "morgan": MANAGER}
    return {
        name: UserFactory.create(username=name, display_name=name.title(), roles=[role])
        for name, role in roles.items()
    }


@pytest.fixture
def rotation(people: dict[str, User]) -> Rotation:
    return RotationFactory.create(members=[people["alice"], people["bob"], people["carol"]])


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code, body
    assert body["message"]
    return body


def swap(client: Client, rotation: Rotation, recipient: User, **values: str) -> Any:
    body = {"rotation": rotation.pk, "kind": "swap", "recipient": recipient.pk, **ALICE, **BOB}
    return client.post(URL, {**body, **values}, content_type="application/json")


def test_a_swap_request_is_answered_by_its_recipient_through_the_api(
    client: Client,
    rotation: Rotation,
    people: dict[str, User],
    django_capture_on_commit_callbacks: Any,
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        made = swap(client, rotation, bob, reason="school trip")
    assert made.status_code == 201, made.content
    request = made.json()
    assert (request["status"], request["requester"], request["recipient"]) == (
        "pending",
        alice.pk,
        bob.pk,
    )
    assert Notification.objects.get().recipient == bob
    # Carol neither sees nor answers it; alice cannot accept her own request.
    client.force_login(carol)
    assert client.get(URL).json() == []
    error(client.post(f"{URL}{request['id']}/accept/"), 404, "not_found")
    client.force_login(alice)
    error(client.post(f"{URL}{request['id']}/accept/"), 403, "not_a_party")
    error(client.post(f"{URL}{request['id']}/shrug/"), 404, "not_found")

    client.force_login(bob)
    assert [r["id"] for r in client.get(URL, {"status": "pending"}).json()] == [request["id"]]
    accepted = client.post(f"{URL}{request['id']}/accept/")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"
    assert sorted(Override.objects.values_list("user__username", "replaces__username")) == [
        ("alice", "bob"),
        ("bob", "alice"),
    ]
    error(client.post(f"{URL}{request['id']}/decline/"), 400, "request_not_pending")


def test_requests_are_refused_with_a_code_naming_the_problem(
    client: Client, rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    client.force_login(bob)  # 10 March is alice's, not bob's
    error(swap(client, rotation, alice), 400, "not_your_shift")
    client.force_login(alice)
    too_long = error(
        swap(client, rotation, bob, end="2036-03-10T13:00:00Z"), 400, "override_too_long"
    )
    assert "end" in too_long["fields"]
    error(
        swap(
            client,
            rotation,
            bob,
            swap_start="2026-03-24T13:00:00Z",
            swap_end="2026-03-25T13:00:00Z",
        ),
        400,
        "not_their_shift",
    )
    error(swap(client, rotation, bob, start="2026-02-10T13:00:00Z"), 400, "request_expired")
    assert not OverrideRequest.objects.exists()


def test_declining_makes_nothing_and_the_requester_may_cancel(
    client: Client, rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob = people["alice"], people["bob"]
    client.force_login(alice)
    first = swap(client, rotation, bob).json()
    second = swap(
        client,
        rotation,
        bob,
        reason="again",
        **{"start": "2026-03-11T13:00:00Z", "end": "2026-03-12T13:00:00Z"},
    ).json()
    error(client.post(f"{URL}{first['id']}/decline/"), 403, "not_a_party")
    assert client.post(f"{URL}{second['id']}/cancel/").json()["status"] == "cancelled"
    client.force_login(bob)
    assert client.post(f"{URL}{first['id']}/decline/").json()["status"] == "declined"
    assert not Override.objects.exists()


def test_an_engineer_still_cannot_write_overrides_directly(
    client: Client, rotation: Rotation, people: dict[str, User]
) -> None:
    client.force_login(people["alice"])
    body = {
        "rotation": rotation.pk,
        "user": people["bob"].pk,
        "replaces": people["carol"].pk,
        **ALICE,
    }
    error(
        client.post("/api/v1/overrides/", body, content_type="application/json"),
        403,
        "permission_denied",
    )
    client.force_login(people["morgan"])  # a manager, for ten years, for two others
    body["end"] = "2036-03-10T13:00:00Z"
    assert (
        client.post("/api/v1/overrides/", body, content_type="application/json").status_code == 201
    )
