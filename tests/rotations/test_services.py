"""Override services: who may change whose shifts, overlaps, swaps; feed tokens."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER
from rotations.models import Override, PersonalFeed, Position, Rotation, RotationMember, Tier
from rotations.services import (
    DOUBLE_BOOKING,
    NEW_TIER_ON_VETERAN,
    NOT_YOUR_SHIFT,
    OVERRIDE_TOO_LONG,
    SWAP_NEEDS_ACCEPTANCE,
    override_create,
    override_delete,
    override_swap,
    override_update,
    personal_feed_get,
    personal_feed_rotate,
    rotation_feed_rotate,
)
from tests.factories import RotationFactory, UserFactory

pytestmark = pytest.mark.django_db

MAR_10 = datetime(2026, 3, 10, 13, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def people() -> dict[str, User]:
    return {
        "alice": UserFactory.create(username="alice", roles=[ENGINEER]),
        "bob": UserFactory.create(username="bob", roles=[ENGINEER]),
        "carol": UserFactory.create(username="carol", roles=[ENGINEER]),
        "morgan": UserFactory.create(username="morgan", roles=[MANAGER]),
        "outsider": UserFactory.create(username="outsider", roles=[ENGINEER]),
    }


@pytest.fixture
def rotation(people: dict[str, User]) -> Rotation:
    return RotationFactory.create(members=[people["alice"], people["bob"], people["carol"]])


def cover(rotation: Rotation, actor: User, user: User, replaces: User | None, start=MAR_10):
    return override_create(
        rotation=rotation, actor=actor, user=user, replaces=replaces, start=start, end=start + DAY
    )


@pytest.mark.parametrize(
    ("actor", "user", "replaces"),
    [
        pytest.param("morgan", "bob", "carol", id="manager-for-two-others"),
        pytest.param("morgan", "alice", None, id="manager-without-replaces"),
        pytest.param("alice", "bob", "alice", id="engineer-hands-over-own-shift"),
    ],
)
def test_override_create_allowed(
    rotation: Rotation, people: dict[str, User], actor: str, user: str, replaces: str | None
) -> None:
    override = cover(rotation, people[actor], people[user], people[replaces] if replaces else None)
    override.refresh_from_db()
    assert override.user == people[user]
    assert override.created_by == people[actor]
    assert (override.start, override.end) == (MAR_10, MAR_10 + DAY)


@pytest.mark.parametrize(
    ("actor", "user", "replaces"),
    [
        pytest.param("alice", "bob", "carol", id="engineer-for-two-others"),
        pytest.param("alice", "bob", None, id="engineer-puts-someone-else-on"),
        pytest.param("outsider", "outsider", "bob", id="engineer-outside-the-team"),
        # Covering a teammate's shift directly (it is a request they accept now).
        pytest.param("bob", "bob", "alice", id="engineer-covers-someone"),
        pytest.param("bob", "bob", None, id="engineer-covers-unnamed"),
    ],
)
def test_override_create_refused(
    rotation: Rotation, people: dict[str, User], actor: str, user: str, replaces: str | None
) -> None:
    with pytest.raises(PermissionDenied, match=r"your own shifts|Only the people"):
        cover(rotation, people[actor], people[user], people[replaces] if replaces else None)
    assert not Override.objects.exists()


def test_covering_with_someone_outside_the_team_is_invalid(
    rotation: Rotation, people: dict[str, User]
) -> None:
    with pytest.raises(ValidationError) as error:
        cover(rotation, people["morgan"], people["outsider"], people["bob"])
    assert "not a member of the team" in str(error.value)
    assert not Override.objects.exists()


def test_overlapping_override_is_refused(rotation: Rotation, people: dict[str, User]) -> None:
    alice, morgan = people["alice"], people["morgan"]
    cover(rotation, alice, people["bob"], alice)
    with pytest.raises(ValidationError, match="overlaps another override"):
        cover(rotation, morgan, people["carol"], None, start=MAR_10 + DAY / 2)
    assert Override.objects.count() == 1
    # Touching is not overlapping.
    cover(rotation, alice, people["carol"], alice, start=MAR_10 + DAY)
    assert Override.objects.count() == 2


def test_end_before_start_is_refused(rotation: Rotation, people: dict[str, User]) -> None:
    with pytest.raises(ValidationError, match="end after it starts"):
        override_create(
            rotation=rotation,
            actor=people["alice"],
            user=people["bob"],
            replaces=people["alice"],
            start=MAR_10,
            end=MAR_10 - DAY,
        )
    assert not Override.objects.exists()


def test_swap_creates_both_overrides(rotation: Rotation, people: dict[str, User]) -> None:
    alice, bob = people["alice"], people["bob"]
    later = MAR_10 + 7 * DAY
    one, two = override_swap(
        rotation=rotation,
        actor=people["morgan"],
        first=alice,
        first_window=(MAR_10, MAR_10 + DAY),
        second=bob,
        second_window=(later, later + DAY),
    )
    assert (one.user, one.replaces, one.start) == (bob, alice, MAR_10)
    assert (two.user, two.replaces, two.start) == (alice, bob, later)
    assert Override.objects.count() == 2


def test_swap_is_all_or_nothing(rotation: Rotation, people: dict[str, User]) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    later = MAR_10 + 7 * DAY
    blocker = cover(rotation, people["morgan"], carol, None, start=later)
    with pytest.raises(ValidationError, match="overlaps"):
        override_swap(
            rotation=rotation,
            actor=people["morgan"],
            first=alice,
            first_window=(MAR_10, MAR_10 + DAY),
            second=bob,
            second_window=(later, later + DAY),  # clashes with carol's cover
        )
    assert list(Override.objects.all()) == [blocker]


def test_swap_between_two_others_is_refused_for_an_engineer(
    rotation: Rotation, people: dict[str, User]
) -> None:
    with pytest.raises(PermissionDenied):
        override_swap(
            rotation=rotation,
            actor=people["carol"],
            first=people["alice"],
            first_window=(MAR_10, MAR_10 + DAY),
            second=people["bob"],
            second_window=(MAR_10 + 7 * DAY, MAR_10 + 8 * DAY),
        )
    assert not Override.objects.exists()


def test_override_delete_follows_the_same_rule(rotation: Rotation, people: dict[str, User]) -> None:
    override = cover(rotation, people["morgan"], people["alice"], people["bob"])
    for who in ("carol", "alice"):  # not theirs; alice's removal would hand bob's shift back
        with pytest.raises(PermissionDenied):
            override_delete(override=override, actor=people[who])
    assert Override.objects.filter(pk=override.pk).exists()
    override_delete(override=override, actor=people["bob"])  # it was bob's shift
    assert not Override.objects.exists()
    other = cover(rotation, people["morgan"], people["alice"], people["bob"])
    override_delete(override=other, actor=people["morgan"])
    assert not Override.objects.exists()


def change(override: Override, actor: User, **values: Any) -> Override:
    """override_update with the override's current values, except those given."""
    current: dict[str, Any] = {
        "rotation": override.rotation,
        "user": override.user,
        "start": override.start,
        "end": override.end,
        "replaces": override.replaces,
        "reason": override.reason,
    }
    return override_update(override=override, actor=actor, **{**current, **values})


def stored(override: Override) -> tuple[object, ...]:
    row = Override.objects.get(pk=override.pk)
    return (row.rotation_id, row.user_id, row.replaces_id, row.start, row.end, row.reason)


def test_override_update_changes_the_window_and_keeps_its_creator(
    rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob, morgan = people["alice"], people["bob"], people["morgan"]
    override = cover(rotation, alice, bob, alice)  # alice hands her Tuesday to bob

    change(override, morgan, user=people["carol"], start=MAR_10 + DAY, end=MAR_10 + 2 * DAY)

    assert stored(override) == (
        rotation.pk,
        people["carol"].pk,
        alice.pk,
        MAR_10 + DAY,
        MAR_10 + 2 * DAY,
        "",
    )
    assert Override.objects.get(pk=override.pk).created_by == alice


def test_override_update_may_move_to_another_rotation_of_the_team(
    rotation: Rotation, people: dict[str, User]
) -> None:
    override = cover(rotation, people["morgan"], people["alice"], None)
    other = RotationFactory.create(team=rotation.team, members=[people["alice"]], tier="new")

    # The week after, when alice is off the veteran list (covering then is no double booking).
    week_after = {"start": MAR_10 + 7 * DAY, "end": MAR_10 + 8 * DAY}
    change(override, people["morgan"], rotation=other, reason="covering the new tier", **week_after)

    assert stored(override)[0] == other.pk
    assert stored(override)[5] == "covering the new tier"


def test_override_update_is_checked_like_a_new_override(
    rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob, carol, morgan = (people[n] for n in ("alice", "bob", "carol", "morgan"))
    override = cover(rotation, morgan, alice, bob)
    cover(rotation, morgan, carol, None, start=MAR_10 + 2 * DAY)
    before = stored(override)

    with pytest.raises(ValidationError, match="overlaps"):
        change(override, morgan, end=MAR_10 + 3 * DAY)
    with pytest.raises(ValidationError) as not_member:
        change(override, morgan, user=people["outsider"])
    with pytest.raises(ValidationError) as backwards:
        change(override, morgan, end=MAR_10 - DAY)

    assert "user" in not_member.value.message_dict
    assert "end" in backwards.value.message_dict
    assert stored(override) == before


def test_override_update_follows_the_create_and_delete_rule(
    rotation: Rotation, people: dict[str, User]
) -> None:
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    override = cover(rotation, alice, bob, alice)  # alice hands her Tuesday to bob
    before = stored(override)

    for who in ("carol", "bob"):  # not carol's; bob covers but the shift is alice's
        with pytest.raises(PermissionDenied):
            change(override, people[who], reason="mine now")
    with pytest.raises(PermissionDenied):  # alice may not make it a cover between two others
        change(override, alice, user=bob, replaces=carol)
    with pytest.raises(PermissionDenied):  # nor move it onto bob's own week
        change(override, alice, user=carol, start=MAR_10 + 7 * DAY, end=MAR_10 + 8 * DAY)
    assert stored(override) == before

    change(override, alice, reason="bob covers my Tuesday")  # it is alice's shift

    assert stored(override)[5] == "bob covers my Tuesday"


def test_personal_feed_rotate_changes_the_token(people: dict[str, User]) -> None:
    feed = personal_feed_get(user=people["alice"])
    old = feed.token
    assert personal_feed_get(user=people["alice"]).token == old  # stable until rotated
    rotated = personal_feed_rotate(user=people["alice"])
    assert rotated.token != old
    assert len(rotated.token) >= 40
    assert not PersonalFeed.objects.filter(token=old).exists()
    assert PersonalFeed.objects.get(user=people["alice"]).token == rotated.token


def test_rotation_feed_rotate_changes_the_token(rotation: Rotation) -> None:
    old = rotation.ical_token
    rotation_feed_rotate(rotation=rotation)
    rotation.refresh_from_db()
    assert rotation.ical_token != old
    assert not Rotation.objects.filter(ical_token=old).exists()


# --- one person, one position of a team at a time; the new tier stays off veteran shifts ----


@pytest.fixture
def tiers() -> dict[str, Any]:
    """Core: veteran primary (alice, bob), veteran secondary (carol, dave), new (erin, frank).

    Weekly from Monday 2026-01-05 09:00 New York: on 10 March (shift 9) bob, dave and frank
    are on call.
    """
    people = {
        name: UserFactory.create(username=name, display_name=name.title(), roles=[ENGINEER])
        for name in ("alice", "bob", "carol", "dave", "erin", "frank")
    }
    people["morgan"] = UserFactory.create(username="morgan", roles=[MANAGER])
    primary = RotationFactory.create(members=[people["alice"], people["bob"]])
    team = primary.team
    secondary = RotationFactory.create(
        team=team, position=Position.SECONDARY, members=[people["carol"], people["dave"]]
    )
    new = RotationFactory.create(
        team=team, tier=Tier.NEW, members=[people["erin"], people["frank"]]
    )
    return {**people, "primary": primary, "secondary": secondary, "new": new}


def test_covering_another_position_while_on_call_is_a_double_booking(tiers: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        cover(tiers["primary"], tiers["bob"], tiers["dave"], tiers["bob"])
    assert refused.value.error_dict["user"][0].code == DOUBLE_BOOKING
    message = refused.value.messages[0]
    assert "Dave would be on call twice" in message
    assert "Veteran secondary" in message
    assert not Override.objects.exists()


def test_a_double_booking_counts_overrides_elsewhere(tiers: dict[str, Any]) -> None:
    # Carol is not on call on 10 March, until she covers Dave's secondary shift.
    cover(tiers["primary"], tiers["bob"], tiers["carol"], tiers["bob"])
    Override.objects.all().delete()
    cover(tiers["secondary"], tiers["dave"], tiers["carol"], tiers["dave"])
    with pytest.raises(ValidationError, match="on call twice"):
        cover(tiers["primary"], tiers["bob"], tiers["carol"], tiers["bob"])


def test_only_a_manager_confirms_a_double_booking(tiers: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Only a manager may confirm"):
        override_create(
            rotation=tiers["primary"],
            actor=tiers["bob"],
            user=tiers["dave"],
            replaces=tiers["bob"],
            start=MAR_10,
            end=MAR_10 + DAY,
            confirm_double_booking=True,
        )
    override = override_create(
        rotation=tiers["primary"],
        actor=tiers["morgan"],
        user=tiers["dave"],
        replaces=tiers["bob"],
        start=MAR_10,
        end=MAR_10 + DAY,
        confirm_double_booking=True,
    )
    assert override.user == tiers["dave"]


def test_veteran_and_new_tier_at_once_is_a_double_booking(tiers: dict[str, Any]) -> None:
    # Frank is on call on the new tier; covering the veteran secondary needs him on its list.
    RotationMember.objects.create(rotation=tiers["secondary"], user=tiers["frank"], position=5)
    with pytest.raises(ValidationError, match="on call twice"):
        cover(tiers["secondary"], tiers["morgan"], tiers["frank"], tiers["dave"])


def test_a_new_tier_engineer_does_not_cover_a_veteran_shift(tiers: dict[str, Any]) -> None:
    # Erin is free on 10 March, but she is on the new tier and not on the veteran list.
    for actor in ("bob", "morgan"):
        with pytest.raises(ValidationError) as refused:
            override_create(
                rotation=tiers["primary"],
                actor=tiers[actor],
                user=tiers["erin"],
                replaces=tiers["bob"],
                start=MAR_10,
                end=MAR_10 + DAY,
                confirm_double_booking=True,
            )
        assert refused.value.error_dict["user"][0].code == NEW_TIER_ON_VETERAN
    RotationMember.objects.create(rotation=tiers["primary"], user=tiers["erin"], position=5)
    # On the list (alice, bob, erin), shift 9 is alice's again: she hands it to erin.
    alice = tiers["alice"]
    assert cover(tiers["primary"], alice, tiers["erin"], alice).user == tiers["erin"]


def test_a_free_teammate_may_cover_another_position(tiers: dict[str, Any]) -> None:
    # Carol (veteran secondary, off this week) covers the veteran primary: no clash.
    assert cover(tiers["primary"], tiers["bob"], tiers["carol"], tiers["bob"]).pk


def test_override_update_is_refused_into_a_double_booking(tiers: dict[str, Any]) -> None:
    # Carol covers bob in two weeks' time (shift 11: dave holds the secondary, carol is free).
    later = MAR_10 + 14 * DAY
    override = cover(tiers["primary"], tiers["bob"], tiers["carol"], tiers["bob"], start=later)
    with pytest.raises(ValidationError, match="on call twice"):
        # Next week (shift 10) carol is on call on the secondary list herself.
        override_update(
            override=override,
            actor=tiers["morgan"],
            rotation=tiers["primary"],
            user=tiers["carol"],
            replaces=tiers["bob"],
            start=MAR_10 + 7 * DAY,
            end=MAR_10 + 8 * DAY,
            reason="",
        )
    override.refresh_from_db()
    assert override.start == later


def test_a_swap_is_checked_on_both_halves(tiers: dict[str, Any]) -> None:
    # Bob (primary, on call this week) and dave (secondary, on call this week) cannot trade
    # into each other's positions: a swap stays within one rotation, so alice and bob trade.
    one, two = override_swap(
        rotation=tiers["primary"],
        actor=tiers["morgan"],
        first=tiers["bob"],
        first_window=(MAR_10, MAR_10 + DAY),
        second=tiers["alice"],
        second_window=(MAR_10 + 7 * DAY, MAR_10 + 8 * DAY),
    )
    assert (one.user, two.user) == (tiers["alice"], tiers["bob"])
    # Dave trading his own secondary week with alice's primary week would double-book dave.
    with pytest.raises(ValidationError, match="on call twice"):
        override_swap(
            rotation=tiers["primary"],
            actor=tiers["morgan"],
            first=tiers["bob"],
            first_window=(MAR_10 + 2 * DAY, MAR_10 + 3 * DAY),
            second=tiers["dave"],
            second_window=(MAR_10 + 21 * DAY, MAR_10 + 22 * DAY),
        )
    assert Override.objects.count() == 2


# --- the colleague is told -------------------------------------------------------------------


def test_the_colleague_is_emailed_through_the_outbox(
    tiers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        cover(tiers["primary"], tiers["bob"], tiers["carol"], tiers["bob"])
    sent = Notification.objects.get()
    assert (sent.recipient, sent.channel, sent.address) == (
        tiers["carol"],
        "email",
        tiers["carol"].email,
    )
    assert "Bob changed a shift of yours" in sent.subject
    assert "Carol is on call in place of Bob" in sent.body
    # Nobody else (not the actor) is told.
    assert not Notification.objects.filter(recipient=tiers["bob"]).exists()


def test_a_swap_tells_each_person_once(
    tiers: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        override_swap(
            rotation=tiers["primary"],
            actor=tiers["morgan"],
            first=tiers["bob"],
            first_window=(MAR_10, MAR_10 + DAY),
            second=tiers["alice"],
            second_window=(MAR_10 + 7 * DAY, MAR_10 + 8 * DAY),
        )
    sent = list(Notification.objects.order_by("recipient__username"))
    assert [n.recipient for n in sent] == [tiers["alice"], tiers["bob"]]
    assert all("swapped shifts with you" in n.subject for n in sent)
    assert all(n.body.count("is on call") == 2 for n in sent)


# --- issue 13: overrides only for oneself, a maximum length ----------------------------------


def test_an_engineer_cannot_hand_over_a_shift_that_is_not_theirs(
    rotation: Rotation, people: dict[str, User]
) -> None:
    # 10 March is alice's week: bob names himself as the one replaced to put carol on it.
    with pytest.raises(PermissionDenied) as refused:
        cover(rotation, people["bob"], people["carol"], people["bob"])
    assert getattr(refused.value, "code", None) == NOT_YOUR_SHIFT
    assert "not on call" in str(refused.value)
    # A window running past the end of her own week is not all hers either.
    with pytest.raises(PermissionDenied):
        override_create(
            rotation=rotation,
            actor=people["alice"],
            user=people["carol"],
            replaces=people["alice"],
            start=MAR_10,
            end=MAR_10 + 7 * DAY,
        )
    assert not Override.objects.exists()


def test_an_override_longer_than_the_maximum_is_for_managers_only(
    rotation: Rotation, people: dict[str, User], settings: Any
) -> None:
    alice, bob = people["alice"], people["bob"]
    ten_years: dict[str, Any] = {"start": MAR_10, "end": MAR_10 + 3650 * DAY}
    with pytest.raises(ValidationError) as refused:
        override_create(rotation=rotation, actor=alice, user=bob, replaces=alice, **ten_years)
    assert refused.value.error_dict["end"][0].code == OVERRIDE_TOO_LONG
    assert "at most 90 days" in refused.value.messages[0]
    settings.OVERRIDE_MAX_DAYS = 0
    with pytest.raises(ValidationError, match="at most 0 days"):
        cover(rotation, alice, bob, alice)  # the setting decides
    assert not Override.objects.exists()
    assert override_create(rotation=rotation, actor=people["morgan"], user=bob, **ten_years).pk


def test_an_engineer_cannot_swap_directly_even_their_own_shift(
    rotation: Rotation, people: dict[str, User]
) -> None:
    with pytest.raises(PermissionDenied) as refused:
        override_swap(
            rotation=rotation,
            actor=people["alice"],
            first=people["alice"],
            first_window=(MAR_10, MAR_10 + DAY),
            second=people["bob"],
            second_window=(MAR_10 + 7 * DAY, MAR_10 + 8 * DAY),
        )
    assert getattr(refused.value, "code", None) == SWAP_NEEDS_ACCEPTANCE
    assert not Override.objects.exists()
