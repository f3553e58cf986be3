"""Reads with their joins: who is on call, the overview, shifts, the next person, my shifts."""

from datetime import UTC, datetime, timedelta

import pytest
from pytest_django import DjangoAssertNumQueries

from oncall.models import User
from rotations import selectors
from rotations.models import ContactMode, Position, Rotation, Team, Tier
from tests.factories import OverrideFactory, RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def utc(month: int, day: int, hour: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def people() -> dict[str, User]:
    return {n: UserFactory.create(username=n) for n in ("alice", "bob", "carol", "dave", "erin")}


@pytest.fixture
def core(people: dict[str, User]) -> Team:
    """Weekly Monday 09:00 New York handoffs from Monday 2026-01-05 (shift k: week k)."""
    p = people
    team = TeamFactory.create(slug="core", name="Core")
    RotationFactory.create(team=team, members=[p["alice"], p["bob"], p["carol"]])
    RotationFactory.create(team=team, position=Position.SECONDARY, members=[p["bob"], p["carol"]])
    RotationFactory.create(team=team, tier=Tier.NEW, members=[p["dave"], p["erin"]])
    return team


def rotation_of(team: Team, tier: str = Tier.VETERAN, position: str = Position.PRIMARY) -> Rotation:
    return team.rotations.get(tier=tier, position=position)


def names(oncall: list[selectors.OnCall]) -> dict[tuple[str, str], str | None]:
    return {
        (o.rotation.tier, o.rotation.position): o.user.username if o.user else None for o in oncall
    }


def test_team_oncall_in_at_most_three_queries_with_overrides(
    core: Team, people: dict[str, User], django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    primary = rotation_of(core)
    # Two overlapping covers: the one made last wins where they overlap.
    OverrideFactory.create(rotation=primary, user=people["dave"], start=utc(3, 9), end=utc(3, 12))
    OverrideFactory.create(rotation=primary, user=people["erin"], start=utc(3, 10), end=utc(3, 11))
    OverrideFactory.create(
        rotation=rotation_of(core, Tier.NEW), user=people["alice"], start=utc(4, 1)
    )

    with django_assert_max_num_queries(3):
        at_9 = selectors.team_oncall(team_slug="core", at=utc(3, 9, 12))
    with django_assert_max_num_queries(3):
        at_10 = selectors.team_oncall(team_slug="core", at=utc(3, 10, 12))
    at_13 = selectors.team_oncall(team_slug="core", at=utc(3, 13, 12))

    assert names(at_9) == {
        ("veteran", "primary"): "dave",
        ("veteran", "secondary"): "bob",  # shift 8 (Mon 2 March) still runs till 13:00 UTC
        ("new", "primary"): "dave",
    }
    assert names(at_10)["veteran", "primary"] == "erin"
    assert names(at_13)["veteran", "primary"] == "alice"  # shift 9 of alice, bob, carol
    dave = next(o for o in at_9 if o.rotation.tier == Tier.VETERAN and o.override)
    assert (dave.start, dave.end) == (utc(3, 9), utc(3, 12))
    plain = next(o for o in at_13 if o.rotation.position == Position.PRIMARY and o.user)
    assert not plain.override


def test_team_oncall_of_an_unknown_team_is_empty() -> None:
    assert selectors.team_oncall(team_slug="nope", at=utc(3, 9)) == []


def test_team_oncall_before_the_start_is_a_gap(core: Team) -> None:
    found = selectors.team_oncall(team_slug="core", at=utc(1, 5, 13))  # 08:00 EST on day one

    assert all(o.is_gap and o.start is None for o in found)


def test_oncall_overview_gives_now_and_next_for_every_team_in_a_fixed_number_of_queries(
    core: Team, people: dict[str, User], django_assert_max_num_queries: DjangoAssertNumQueries
) -> None:
    platform = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    # Covers the start of alice's week (shift 9), so the next veteran primary is bob.
    OverrideFactory.create(
        rotation=rotation_of(core), user=people["bob"], start=utc(3, 9, 13), end=utc(3, 10, 13)
    )

    # Teams, direct numbers, rotations, members, overrides now, overrides up to the handoffs:
    # six whatever the number of teams (the selector's docstring says four).
    with django_assert_max_num_queries(6):
        overview = selectors.oncall_overview(at=utc(3, 9, 12))

    assert [t.team for t in overview] == [core, platform]
    core_now, core_next = overview[0].now, overview[0].next
    assert names(core_now)["veteran", "primary"] == "carol"
    assert names(core_next)["veteran", "primary"] == "bob"
    assert names(core_next)["veteran", "secondary"] == "carol"  # k=9 of bob, carol
    assert names(core_next)["new", "primary"] == "erin"
    assert overview[1].now == overview[1].next == []


def test_rotation_shifts_across_spring_forward_with_an_override(
    core: Team, people: dict[str, User]
) -> None:
    primary = rotation_of(core)
    OverrideFactory.create(rotation=primary, user=people["erin"], start=utc(3, 11), end=utc(3, 12))

    shifts = selectors.rotation_shifts(rotation=primary, start=utc(3, 2), end=utc(3, 16))

    assert [(s.user.username, s.start, s.end, s.override) for s in shifts] == [
        ("bob", utc(3, 2), utc(3, 2, 14), False),
        ("carol", utc(3, 2, 14), utc(3, 9, 13), False),  # 167 hours
        ("alice", utc(3, 9, 13), utc(3, 11), False),
        ("erin", utc(3, 11), utc(3, 12), True),
        ("alice", utc(3, 12), utc(3, 16), False),
    ]


def test_next_member_wraps_and_ignores_strangers(core: Team, people: dict[str, User]) -> None:
    primary = rotation_of(core)

    assert selectors.next_member(rotation=primary, user_id=people["alice"].pk) == people["bob"]
    assert selectors.next_member(rotation=primary, user_id=people["carol"].pk) == people["alice"]
    assert selectors.next_member(rotation=primary, user_id=people["dave"].pk) is None


def test_user_shifts_cover_every_rotation_and_overrides_elsewhere(
    core: Team, people: dict[str, User]
) -> None:
    # Alice covers a day of the new tier, where she is not in the list.
    OverrideFactory.create(
        rotation=rotation_of(core, Tier.NEW),
        user=people["alice"],
        start=utc(3, 17),
        end=utc(3, 18),
    )

    mine = selectors.user_shifts(user=people["alice"], start=utc(3, 1), end=utc(3, 29))

    assert [(s.rotation.tier, s.start, s.end, s.override) for s in mine] == [
        ("veteran", utc(3, 9, 13), utc(3, 16, 13), False),
        ("new", utc(3, 17), utc(3, 18), True),
    ]
    assert all(s.user == people["alice"] for s in mine)
    assert selectors.user_shifts(user=UserFactory.create(), start=utc(3, 1), end=utc(3, 29)) == []


def test_rotation_gaps_of_a_working_hours_rotation_include_nights(people: dict[str, User]) -> None:
    rotation = RotationFactory.create(working_hours=True, members=[people["alice"]])

    gaps = selectors.rotation_gaps(rotation=rotation, start=utc(3, 10), end=utc(3, 11))

    # Tue 10 March: 09:00–17:00 EDT is 13:00–21:00 UTC; the rest of the UTC day is a gap.
    assert gaps == [(utc(3, 10), utc(3, 10, 13)), (utc(3, 10, 21), utc(3, 11))]
    assert (
        selectors.rotation_gaps(
            rotation=rotation, start=utc(3, 10, 14), end=utc(3, 10, 14) + timedelta(hours=1)
        )
        == []
    )
