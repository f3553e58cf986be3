"""Cover and swap requests: an engineer changes a teammate's shift only with their yes."""

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from rotations.models import Override, OverrideRequest, OverrideRequestStatus, Rotation
from rotations.services import (
    NOT_THEIR_SHIFT,
    NOT_YOUR_SHIFT,
    OVERRIDE_TOO_LONG,
    REQUEST_EXPIRED,
    REQUEST_NOT_PENDING,
    REQUEST_STALE,
    override_create,
    override_make_or_ask,
    override_request_accept,
    override_request_cancel,
    override_request_create,
    override_request_decline,
    override_requests_expire,
)
from tests.factories import RotationFactory, UserFactory
from tests.support import all_at_once

pytestmark = pytest.mark.django_db

# Weekly from Monday 2026-01-05 09:00 New York: alice has the week of 9 March, bob of 16
# March, carol of 23 March. "Now" is 1 March.
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
MAR_10 = datetime(2026, 3, 10, 13, tzinfo=UTC)
DAY = timedelta(days=1)
ALICE_DAY = (MAR_10, MAR_10 + DAY)
BOB_DAY = (MAR_10 + 7 * DAY, MAR_10 + 8 * DAY)
CAROL_DAY = (MAR_10 + 14 * DAY, MAR_10 + 15 * DAY)


@pytest.fixture(autouse=True)
def now() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def people() -> dict[str, User]:
    return {
        name: UserFactory.create(username=name, display_name=name.title(), roles=[role])
        for name, role in (
            ("alice", ENGINEER),
            ("bob", ENGINEER),
            ("carol", ENGINEER),
            ("morgan", MANAGER),
        )
    }


@pytest.fixture
def rotation(people: dict[str, User]) -> Rotation:
    return RotationFactory.create(members=[people["alice"], people["bob"], people["carol"]])


def swap_request(rotation: Rotation, people: dict[str, User], **kwargs: Any) -> OverrideRequest:
    """Alice offers bob her Tuesday for his Tuesday the week after."""
    values: dict[str, Any] = {
        "rotation": rotation,
        "requester": people["alice"],
        "recipient": people["bob"],
        "kind": "swap",
        "start": ALICE_DAY[0],
        "end": ALICE_DAY[1],
        "swap_start": BOB_DAY[0],
        "swap_end": BOB_DAY[1],
        **kwargs,
    }
    return override_request_create(**values)


def test_a_swap_is_a_pending_request_told_to_the_other_person(
    rotation: Rotation, people: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = swap_request(rotation, people, reason="dentist")
    assert request.status == OverrideRequestStatus.PENDING
    assert not Override.objects.exists()  # nothing changes until bob says yes
    mail = Notification.objects.get()
    assert (mail.recipient, mail.channel, mail.address) == (
        people["bob"],
        "email",
        "bob@example.com",
    )
    assert "Alice asks to swap shifts" in mail.subject
    assert "Bob takes Alice's shift" in mail.body
    assert "Alice takes Bob's shift" in mail.body
    assert "Reason: dentist" in mail.body
    assert mail.idempotency_key == f"override-request:{request.pk}:pending:user{people['bob'].pk}"


def test_accepting_a_swap_makes_both_overrides_and_tells_the_requester(
    rotation: Rotation, people: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    request = swap_request(rotation, people)
    with django_capture_on_commit_callbacks(execute=True):
        made = override_request_accept(request=request, actor=bob)
    assert [(o.user, o.replaces, o.start, o.end) for o in made] == [
        (bob, alice, *ALICE_DAY),
        (alice, bob, *BOB_DAY),
    ]
    assert Override.objects.count() == 2
    request.refresh_from_db()
    assert (request.status, request.decided_by) == (OverrideRequestStatus.ACCEPTED, bob)
    told = Notification.objects.get()
    assert told.recipient == alice
    assert "Bob accepted your swap request" in told.subject
    # An answered request cannot be answered again.
    with pytest.raises(ValidationError) as again:
        override_request_decline(request=request, actor=bob)
    assert again.value.code == REQUEST_NOT_PENDING
    assert Override.objects.count() == 2


def test_declining_makes_no_override_and_tells_the_requester(
    rotation: Rotation, people: dict[str, User], django_capture_on_commit_callbacks: Any
) -> None:
    request = swap_request(rotation, people)
    with django_capture_on_commit_callbacks(execute=True):
        override_request_decline(request=request, actor=people["bob"])
    assert not Override.objects.exists()
    request.refresh_from_db()
    assert request.status == OverrideRequestStatus.DECLINED
    told = Notification.objects.get()
    assert (told.recipient, "declined" in told.subject) == (people["alice"], True)


def test_only_the_recipient_answers_and_only_the_requester_cancels(
    rotation: Rotation, people: dict[str, User]
) -> None:
    request = swap_request(rotation, people)
    for actor in ("alice", "carol"):
        with pytest.raises(PermissionDenied):
            override_request_accept(request=request, actor=people[actor])
    with pytest.raises(PermissionDenied):
        override_request_cancel(request=request, actor=people["bob"])
    override_request_cancel(request=request, actor=people["alice"])
    request.refresh_from_db()
    assert request.status == OverrideRequestStatus.CANCELLED
    assert not Override.objects.exists()


def test_a_cover_request_asks_the_person_whose_shift_it_is(
    rotation: Rotation, people: dict[str, User]
) -> None:
    # Bob offers to cover alice's Tuesday; she accepts; bob covers, alice is replaced.
    request = override_request_create(
        rotation=rotation,
        requester=people["bob"],
        recipient=people["alice"],
        kind="cover",
        start=ALICE_DAY[0],
        end=ALICE_DAY[1],
    )
    [override] = override_request_accept(request=request, actor=people["alice"])
    assert (override.user, override.replaces) == (people["bob"], people["alice"])


def test_nobody_asks_for_a_shift_the_other_person_does_not_hold(
    rotation: Rotation, people: dict[str, User]
) -> None:
    # Carol's Tuesday offered as alice's, or asked of bob: refused, nothing stored.
    with pytest.raises(ValidationError) as not_mine:
        swap_request(rotation, people, start=CAROL_DAY[0], end=CAROL_DAY[1])
    assert not_mine.value.error_dict["start"][0].code == NOT_YOUR_SHIFT
    with pytest.raises(ValidationError) as not_theirs:
        swap_request(rotation, people, swap_start=CAROL_DAY[0], swap_end=CAROL_DAY[1])
    assert not_theirs.value.error_dict["swap_start"][0].code == NOT_THEIR_SHIFT
    with pytest.raises(ValidationError) as too_long:
        swap_request(rotation, people, end=ALICE_DAY[0] + 3650 * DAY)
    assert too_long.value.error_dict["end"][0].code == OVERRIDE_TOO_LONG
    assert not OverrideRequest.objects.exists()


def test_a_request_whose_shifts_changed_hands_is_refused_when_accepted(
    rotation: Rotation, people: dict[str, User]
) -> None:
    request = swap_request(rotation, people)
    # Meanwhile a manager gives alice's Tuesday to carol.
    override_create(
        rotation=rotation,
        actor=people["morgan"],
        user=people["carol"],
        replaces=people["alice"],
        start=ALICE_DAY[0],
        end=ALICE_DAY[1],
    )
    with pytest.raises(ValidationError) as stale:
        override_request_accept(request=request, actor=people["bob"])
    assert stale.value.code == REQUEST_STALE
    assert "changed hands" in stale.value.messages[0]
    request.refresh_from_db()
    assert request.status == OverrideRequestStatus.EXPIRED
    assert Override.objects.count() == 1  # only the manager's


def test_a_request_whose_shift_has_begun_expires(
    rotation: Rotation, people: dict[str, User], now: Any
) -> None:
    request = swap_request(rotation, people)
    later = swap_request(rotation, people, start=ALICE_DAY[0] + DAY, end=ALICE_DAY[1] + DAY)
    now.move_to(ALICE_DAY[0] + timedelta(minutes=1))
    with pytest.raises(ValidationError) as expired:
        override_request_accept(request=request, actor=people["bob"])
    assert expired.value.code == REQUEST_EXPIRED
    request.refresh_from_db()
    assert request.status == OverrideRequestStatus.EXPIRED
    assert not Override.objects.exists()
    # The lists expire the others whose time has come, and only those.
    now.move_to(ALICE_DAY[1] + timedelta(minutes=1))
    assert override_requests_expire() == 1
    later.refresh_from_db()
    assert later.status == OverrideRequestStatus.EXPIRED


def test_the_portal_route_asks_an_engineer_and_lets_a_manager_act(
    rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob, morgan = people["alice"], people["bob"], people["morgan"]
    swap: dict[str, Any] = {"kind": "swap", "swap_start": BOB_DAY[0], "swap_end": BOB_DAY[1]}
    asked = override_make_or_ask(
        actor=alice,
        rotation=rotation,
        user=bob,
        replaces=alice,
        start=ALICE_DAY[0],
        end=ALICE_DAY[1],
        **swap,
    )
    assert isinstance(asked, OverrideRequest)
    assert not Override.objects.exists()
    # Swapping two other people: refused for an engineer, done at once by a manager.
    carol_week: dict[str, Any] = {"swap_start": CAROL_DAY[0], "swap_end": CAROL_DAY[1]}
    others: dict[str, Any] = {
        "user": people["carol"],
        "replaces": bob,
        "start": BOB_DAY[0],
        "end": BOB_DAY[1],
    }
    with pytest.raises(PermissionDenied):
        override_make_or_ask(actor=alice, rotation=rotation, **others, **{**swap, **carol_week})
    made = override_make_or_ask(actor=morgan, rotation=rotation, **others, **{**swap, **carol_week})
    assert isinstance(made, list)
    assert len(made) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_teammates_accepting_covers_of_one_shift_at_once_make_one_override(
    postgres: None, people: dict[str, User], rotation: Rotation
) -> None:
    # Alice offers her Tuesday to bob and to carol in swaps; both say yes at the same moment.
    asked = [
        swap_request(
            rotation,
            people,
            recipient=people[name],
            swap_start=their_day[0],
            swap_end=their_day[1],
        )
        for name, their_day in (("bob", BOB_DAY), ("carol", CAROL_DAY))
    ]
    errors = all_at_once(
        *(partial(override_request_accept, request=r, actor=r.recipient) for r in asked)
    )
    outcomes = ["accepted"] * (len(asked) - len(errors)) + [
        str(e.code) if isinstance(e, ValidationError) else repr(e) for e in errors
    ]
    assert sorted(outcomes) == ["accepted", REQUEST_STALE]
    assert Override.objects.count() == 2  # one swap's two halves
    assert sorted(OverrideRequest.objects.values_list("status", flat=True)) == [
        "accepted",
        "expired",
    ]
