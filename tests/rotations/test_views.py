"""Rotation pages: who's on call, a rotation's shifts and overrides, my shifts."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT
from rotations.models import (
    ContactMode,
    Override,
    OverrideRequest,
    PersonalFeed,
    Position,
    Rotation,
    Team,
    Tier,
)
from tests.factories import (
    DirectNumberFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)
from tests.rotations.test_admin import FormReader

pytestmark = pytest.mark.django_db

# Wednesday 2026-03-04, 07:00 in New York: shift 8 of rotations that began Monday 2026-01-05.
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)
SITE = "https://oncall.example.com"


@pytest.fixture(autouse=True)
def frozen_now():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def site_url(settings) -> None:
    settings.SITE_URL = SITE


def person(username: str, *roles: str) -> User:
    return UserFactory.create(
        username=username,
        first_name=username.title(),
        last_name="Example",
        timezone="America/New_York",
        roles=list(roles),
    )


@dataclass
class Core:
    """The handbooks' Core team: veteran and new tabs, primary and secondary, weekly."""

    team: Team
    people: dict[str, User]
    rotations: dict[tuple[str, str], Rotation]


@pytest.fixture
def core() -> Core:
    names = ("alice", "bob", "carol", "dave", "erin")
    people = {name: person(name, ENGINEER) for name in names}
    people["morgan"] = person("morgan", MANAGER)
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=people["morgan"])
    a, b, c, d, e = (people[n] for n in names)
    lists = {
        (Tier.VETERAN, Position.PRIMARY): [a, b, c],
        (Tier.VETERAN, Position.SECONDARY): [b, c, a],
        (Tier.NEW, Position.PRIMARY): [d, e],
        (Tier.NEW, Position.SECONDARY): [e, d],
    }
    rotations = {
        (str(tier), str(position)): RotationFactory.create(
            team=team, tier=tier, position=position, members=members
        )
        for (tier, position), members in lists.items()
    }
    return Core(team, people, rotations)


@pytest.fixture
def platform() -> Team:
    team = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    DirectNumberFactory.create(team=team, label="Frank (platform lead)", phone="+15551230001")
    DirectNumberFactory.create(team=team, label="Grace", phone="+15551230002")
    frank = person("frank", ENGINEER)
    RotationFactory.create(team=team, tier=Tier.NONE, members=[frank])
    return team


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def team_section(html: str, slug: str) -> str:
    match = re.search(rf'<section class="card team" id="team-{slug}">(.*?)</section>', html, re.S)
    assert match, f"no section for {slug}"
    return match.group(1)


def oncall_cells(html: str, slug: str, tier: str, position: str) -> tuple[str, str]:
    """The 'now' and 'then' cells of one tier × position row of a team."""
    section = team_section(html, slug)
    row = re.search(rf'data-tier="{tier}" data-position="{position}">(.*?)</tr>', section, re.S)
    assert row, f"no row {tier}/{position} for {slug}"
    now = re.search(r'<td class="now">(.*?)</td>', row.group(1), re.S)
    then = re.search(r'<td class="next">(.*?)</td>', row.group(1), re.S)
    assert now
    assert then
    return text(now.group(1)), text(then.group(1))


# --------------------------------------------------------------------------- login


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/oncall/"),
        ("get", "/rotations/{rotation}/"),
        ("post", "/rotations/{rotation}/overrides/"),
        ("post", "/rotations/{rotation}/rotate-feed/"),
        ("post", "/overrides/{override}/delete/"),
        ("get", "/me/shifts/"),
        ("post", "/me/shifts/rotate-feed/"),
    ],
)
def test_every_page_needs_login(client: Client, core: Core, method: str, url: str) -> None:
    rotation = core.rotations["veteran", "primary"]
    override = OverrideFactory.create(rotation=rotation, user=core.people["alice"])
    response = getattr(client, method)(url.format(rotation=rotation.pk, override=override.pk))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert Override.objects.filter(pk=override.pk).exists()


def test_nav_links_to_the_pages(client: Client, core: Core) -> None:
    client.force_login(core.people["alice"])
    html = client.get("/").content.decode()
    assert 'href="/oncall/"' in html
    assert 'href="/me/shifts/"' in html


# --------------------------------------------------------------------------- who's on call


def test_who_is_on_call_shows_each_tier_and_position_now_and_next(
    client: Client, core: Core, platform: Team
) -> None:
    client.force_login(person("sam", SUPPORT))
    response = client.get("/oncall/")
    assert response.status_code == 200
    html = response.content.decode()
    # Shift 8 is on call now; shift 9 takes over at Monday 2026-03-09 09:00 EDT (13:00 UTC).
    assert oncall_cells(html, "core", "veteran", "primary") == (
        "Carol Example",
        "Alice Example",
    )
    assert oncall_cells(html, "core", "veteran", "secondary") == (
        "Alice Example",
        "Bob Example",
    )
    assert oncall_cells(html, "core", "new", "primary") == ("Dave Example", "Erin Example")
    assert oncall_cells(html, "core", "new", "secondary") == ("Erin Example", "Dave Example")
    core_html = team_section(html, "core")
    assert 'datetime="2026-03-09T13:00:00Z"' in core_html
    assert "Mon 9 Mar, 09:00 EDT" in core_html  # in the viewer's timezone
    assert 'title="Mon 9 Mar 2026, 13:00 UTC"' in core_html  # UTC on hover
    assert "do not page" not in core_html
    assert f'href="/rotations/{core.rotations["veteran", "primary"].pk}/"' in core_html


def test_who_is_on_call_applies_overrides(client: Client, core: Core) -> None:
    OverrideFactory.create(
        rotation=core.rotations["veteran", "primary"],
        user=core.people["bob"],
        replaces=core.people["carol"],
        start=datetime(2026, 3, 4, tzinfo=UTC),
        end=datetime(2026, 3, 5, tzinfo=UTC),
    )
    client.force_login(core.people["alice"])
    html = client.get("/oncall/").content.decode()
    now, then = oncall_cells(html, "core", "veteran", "primary")
    assert now == "Bob Example override"
    # Bob hands back to carol at the override's end; the handoff column says when.
    assert then == "Carol Example"
    assert 'datetime="2026-03-05T00:00:00Z"' in team_section(html, "core")


def test_call_directly_team_shows_numbers_to_dial(
    client: Client, core: Core, platform: Team
) -> None:
    client.force_login(person("sam", SUPPORT))
    section = team_section(client.get("/oncall/").content.decode(), "platform")
    assert "Call directly — do not page." in section
    assert '<a href="tel:+15551230001">+15551230001</a>' in section
    assert '<a href="tel:+15551230002">+15551230002</a>' in section
    assert section.index("Frank (platform lead)") < section.index("Grace")
    html = client.get("/oncall/").content.decode()
    assert oncall_cells(html, "platform", "none", "primary")[0] == "Frank Example"


def test_who_is_on_call_htmx_gets_the_board_only(client: Client, core: Core) -> None:
    client.force_login(core.people["alice"])
    response = client.get("/oncall/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="board"')
    assert oncall_cells(html, "core", "new", "primary")[0] == "Dave Example"


def make_teams(count: int) -> None:
    for n in range(count):
        team = TeamFactory.create(
            slug=f"t{n}", contact_mode=ContactMode.CALL if n % 2 else ContactMode.PAGE
        )
        DirectNumberFactory.create(team=team)
        DirectNumberFactory.create(team=team)
        members = [UserFactory.create(), UserFactory.create()]
        for tier in (Tier.VETERAN, Tier.NEW):
            for position in (Position.PRIMARY, Position.SECONDARY):
                rotation = RotationFactory.create(
                    team=team, tier=tier, position=position, members=members
                )
        OverrideFactory.create(
            rotation=rotation,
            user=members[0],
            start=datetime(2026, 3, 4, tzinfo=UTC),
            end=datetime(2026, 3, 12, tzinfo=UTC),
        )


@pytest.mark.parametrize("teams", [3, 6])
def test_who_is_on_call_query_count_does_not_grow_with_teams(
    client: Client, django_assert_max_num_queries: Callable, teams: int
) -> None:
    make_teams(teams)
    viewer = person("sam", SUPPORT)
    client.force_login(viewer)
    # Session, user, roles, the viewer's running shifts (their handoff box, reports), then
    # teams, numbers, rotations, members and overrides (twice).
    with django_assert_max_num_queries(10):
        response = client.get("/oncall/")
    assert response.status_code == 200
    assert response.content.decode().count('class="rotation-row"') == 4 * teams


# --------------------------------------------------------------------------- rotation page


def rotation_page(client: Client, rotation: Rotation) -> str:
    response = client.get(f"/rotations/{rotation.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def shift_rows(html: str) -> list[tuple[str, str]]:
    """(UTC start, person) of each coming shift on a rotation page, in page order."""
    table = re.search(r'<section class="card" id="shifts">(.*?)</section>', html, re.S)
    assert table
    rows = re.findall(r'<tr class="shift[^"]*">(.*?)</tr>', table.group(1), re.S)
    out = []
    for row in rows:
        start = re.search(r'datetime="([^"]+)"', row)
        name = re.search(r'<span class="person">([^<]+)</span>', row)
        assert start
        assert name
        out.append((start.group(1), name.group(1)))
    return out


def test_rotation_page_lists_coming_shifts_in_order(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    client.force_login(core.people["bob"])
    html = rotation_page(client, rotation)
    rows = shift_rows(html)
    # The running shift, then the next 8 weekly ones; EST until 2026-03-08, EDT after.
    assert rows[:4] == [
        ("2026-03-02T14:00:00Z", "Carol Example"),
        ("2026-03-09T13:00:00Z", "Alice Example"),
        ("2026-03-16T13:00:00Z", "Bob Example"),
        ("2026-03-23T13:00:00Z", "Carol Example"),
    ]
    assert len(rows) == 9
    assert [start for start, _ in rows] == sorted(start for start, _ in rows)
    assert "Mon 9 Mar, 09:00 EDT" in html
    assert 'title="Mon 9 Mar 2026, 13:00 UTC"' in html
    assert "In your timezone (America/New_York)." in html
    # The list in order, and no gaps for an around-the-clock rotation.
    assert re.search(r"Alice Example.*Bob Example.*Carol Example", text(html))
    assert "No gaps" in html


def test_rotation_page_shows_gaps_and_overrides(client: Client, core: Core) -> None:
    rotation = RotationFactory.create(
        team=core.team, tier=Tier.NONE, members=[core.people["erin"]], working_hours=True
    )
    override = OverrideFactory.create(
        rotation=rotation,
        user=core.people["dave"],
        replaces=core.people["erin"],
        start=datetime(2026, 3, 5, 14, tzinfo=UTC),
        end=datetime(2026, 3, 5, 22, tzinfo=UTC),
        reason="Dentist",
    )
    client.force_login(core.people["dave"])
    html = rotation_page(client, rotation)
    assert "Coverage gaps" in html
    assert "outside working hours" in html
    section = re.search(r'<section class="card" id="overrides">(.*?)</section>', html, re.S)
    assert section
    assert f'id="override-{override.pk}"' in section.group(1)
    assert "Dentist" in section.group(1)
    assert ("2026-03-05T14:00:00Z", "Dave Example") in shift_rows(html)


def test_rotation_page_shows_the_feed_url(client: Client, core: Core) -> None:
    rotation = core.rotations["new", "primary"]
    client.force_login(core.people["dave"])
    html = rotation_page(client, rotation)
    feed = f"{SITE}/ical/rotation/{rotation.ical_token}.ics"
    assert f'value="{feed}"' in html
    assert f'href="webcal://oncall.example.com/ical/rotation/{rotation.ical_token}.ics"' in html
    assert "rotate-feed" not in html  # only managers may make a new address


def test_manager_rotates_the_rotation_feed_token(client: Client, core: Core) -> None:
    rotation = core.rotations["new", "primary"]
    old = rotation.ical_token
    client.force_login(core.people["dave"])
    assert client.post(f"/rotations/{rotation.pk}/rotate-feed/").status_code == 403
    rotation.refresh_from_db()
    assert rotation.ical_token == old

    client.force_login(core.people["morgan"])
    assert "rotate-feed" in rotation_page(client, rotation)
    response = client.post(f"/rotations/{rotation.pk}/rotate-feed/", follow=True)
    rotation.refresh_from_db()
    assert rotation.ical_token != old
    html = response.content.decode()
    assert f"/ical/rotation/{rotation.ical_token}.ics" in html
    assert "the old one no longer works" in html
    assert client.get(f"/ical/rotation/{old}.ics").status_code == 404

    response = client.post(f"/rotations/{rotation.pk}/rotate-feed/", HTTP_HX_REQUEST="true")
    rotation.refresh_from_db()
    assert "<html" not in response.content.decode()
    assert f"/ical/rotation/{rotation.ical_token}.ics" in response.content.decode()


# --------------------------------------------------------------------------- override form


def cover_form(user: User, replaces: User | None, start: str, end: str, **extra: str) -> dict:
    return {
        "kind": "cover",
        "user": str(user.pk),
        "replaces": str(replaces.pk) if replaces else "",
        "start": start,
        "end": end,
        "reason": "",
        **extra,
    }


def test_engineer_hands_over_their_own_shift(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, carol = core.people["alice"], core.people["carol"]
    client.force_login(alice)
    # Typed in New York time (EDT on 2026-03-10): 09:00 local is 13:00 UTC. Alice holds the
    # veteran primary that week; carol holds no position then.
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(carol, alice, "2026-03-10T09:00", "2026-03-11T09:00", reason="Dentist"),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/rotations/{rotation.pk}/"
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (carol, alice, alice)
    assert override.start == datetime(2026, 3, 10, 13, tzinfo=UTC)
    assert override.end == datetime(2026, 3, 11, 13, tzinfo=UTC)
    assert override.reason == "Dentist"
    page = client.get(response["Location"]).content.decode()
    assert "Override saved: Carol Example covers" in page
    assert ("2026-03-10T13:00:00Z", "Carol Example") in shift_rows(page)


def test_engineer_covering_a_teammate_asks_them_first(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, bob = core.people["alice"], core.people["bob"]
    client.force_login(alice)
    # Bob's week from 16 March: alice offers to cover his Tuesday.
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(alice, bob, "2026-03-17T09:00", "2026-03-18T09:00", reason="Bob is out"),
    )
    assert response.status_code == 302
    assert not Override.objects.exists()
    asked = OverrideRequest.objects.get()
    assert (asked.kind, asked.requester, asked.recipient, asked.status) == (
        "cover",
        alice,
        bob,
        "pending",
    )
    assert asked.start == datetime(2026, 3, 17, 13, tzinfo=UTC)
    assert "Request sent: Bob Example is asked" in client.get(response["Location"]).content.decode()


def test_engineer_cannot_hand_a_teammate_a_shift_that_is_not_theirs(
    client: Client, core: Core
) -> None:
    # Bob names himself as the one replaced to put carol on alice's Tuesday (10 March).
    rotation = core.rotations["veteran", "primary"]
    client.force_login(core.people["bob"])
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            core.people["carol"], core.people["bob"], "2026-03-10T09:00", "2026-03-11T09:00"
        ),
    )
    assert response.status_code == 403
    assert "you may only hand over your own shifts" in text(response.content.decode())
    assert not Override.objects.exists()


def test_engineer_cannot_make_a_ten_year_override(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice = core.people["alice"]
    client.force_login(alice)
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(core.people["carol"], alice, "2026-03-10T09:00", "2036-03-10T09:00"),
    )
    assert response.status_code == 400
    assert "An override may last at most 90 days" in text(response.content.decode())
    assert not Override.objects.exists()


def test_engineer_cannot_cover_for_two_other_people(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    client.force_login(core.people["alice"])
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            core.people["bob"], core.people["carol"], "2026-03-05T09:00", "2026-03-06T09:00"
        ),
    )
    assert response.status_code == 403
    assert "You may only hand over your own shifts" in response.content.decode()
    assert not Override.objects.exists()


def test_manager_can_create_any_override(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    morgan = core.people["morgan"]
    client.force_login(morgan)
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            core.people["bob"], core.people["carol"], "2026-03-05T09:00", "2026-03-06T09:00"
        ),
    )
    assert response.status_code == 302
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (
        core.people["bob"],
        core.people["carol"],
        morgan,
    )


def test_only_team_members_can_be_chosen(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    outsider = person("zed", ENGINEER)
    client.force_login(core.people["morgan"])
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(outsider, None, "2026-03-05T09:00", "2026-03-06T09:00"),
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Override.objects.exists()


def test_overlapping_override_is_an_inline_error(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, bob = core.people["alice"], core.people["bob"]
    OverrideFactory.create(
        rotation=rotation,
        user=bob,
        start=datetime(2026, 3, 5, 12, tzinfo=UTC),
        end=datetime(2026, 3, 5, 20, tzinfo=UTC),
    )
    client.force_login(core.people["morgan"])
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(alice, None, "2026-03-05T09:00", "2026-03-06T09:00"),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "This overlaps another override on the same rotation" in html
    assert 'value="2026-03-05T09:00"' in html  # the form keeps what was typed
    assert Override.objects.count() == 1


def test_end_before_start_is_an_error(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice = core.people["alice"]
    client.force_login(alice)
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(alice, None, "2026-03-06T09:00", "2026-03-05T09:00"),
    )
    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    assert not Override.objects.exists()


def test_htmx_post_gets_the_refreshed_overrides(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    bob = core.people["bob"]  # free that week (alice holds the secondary)
    client.force_login(core.people["carol"])  # it is her week: she hands a day to bob
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(bob, core.people["carol"], "2026-03-05T09:00", "2026-03-06T09:00"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section class="card" id="overrides">')
    override = Override.objects.get()
    assert f'id="override-{override.pk}"' in html
    assert "Override saved" in html


def test_htmx_post_with_errors_gets_the_form_back(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    client.force_login(core.people["alice"])
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            core.people["bob"], core.people["carol"], "2026-03-05T09:00", "2026-03-06T09:00"
        ),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert "<html" not in html
    assert "You may only hand over your own shifts" in html
    assert not Override.objects.exists()


def test_engineer_asks_to_swap_shifts_and_the_other_accepts(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, carol = core.people["alice"], core.people["carol"]
    # The secondary list trails the primary by a week ([b, c, a] after [a, b, c]), so any
    # trade of primary weeks would put someone in both positions: this test is the swap alone.
    core.rotations["veteran", "secondary"].delete()
    client.force_login(alice)
    # Alice takes carol's running week; carol takes alice's next one (from 2026-03-09, EDT).
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            alice,
            carol,
            "2026-03-04T09:00",
            "2026-03-09T09:00",
            kind="swap",
            swap_start="2026-03-09T09:00",
            swap_end="2026-03-16T09:00",
        ),
    )
    assert response.status_code == 302
    assert not Override.objects.exists()  # carol has not said yes yet
    asked = OverrideRequest.objects.get()
    assert (asked.kind, asked.requester, asked.recipient) == ("swap", alice, carol)
    client.force_login(carol)
    accepted = client.post(f"/me/requests/{asked.pk}/accept/")
    assert accepted.status_code == 302
    one, two = Override.objects.order_by("start")
    assert (one.user, one.replaces, one.start) == (
        alice,
        carol,
        datetime(2026, 3, 4, 14, tzinfo=UTC),
    )
    assert (two.user, two.replaces) == (carol, alice)
    assert (two.start, two.end) == (
        datetime(2026, 3, 9, 13, tzinfo=UTC),
        datetime(2026, 3, 16, 13, tzinfo=UTC),
    )


def test_swap_needs_the_shift_in_return(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice = core.people["alice"]
    client.force_login(alice)
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            alice, core.people["carol"], "2026-03-04T09:00", "2026-03-09T09:00", kind="swap"
        ),
    )
    assert response.status_code == 400
    assert "A swap needs the shift given in return." in response.content.decode()
    assert not Override.objects.exists()


def test_a_time_that_does_not_exist_locally_is_an_error(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice = core.people["alice"]
    client.force_login(alice)
    # New York skips 02:00–03:00 on 2026-03-08.
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(alice, None, "2026-03-08T02:30", "2026-03-08T12:00"),
    )
    assert response.status_code == 400
    assert "couldn’t be interpreted in time zone America/New_York" in response.content.decode()
    assert not Override.objects.exists()


def test_people_outside_the_team_see_no_override_form(client: Client, core: Core) -> None:
    client.force_login(person("sam", SUPPORT))
    html = rotation_page(client, core.rotations["veteran", "primary"])
    assert 'class="override-form"' not in html
    assert "Only the team's own people and managers" in html
    client.force_login(core.people["morgan"])  # a manager outside the team
    assert 'class="override-form"' in rotation_page(client, core.rotations["veteran", "primary"])


def test_cover_link_prefills_the_form(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    client.force_login(core.people["alice"])
    html = rotation_page(client, rotation)
    link = re.search(r'href="(/rotations/\d+/\?start=[^"]+)"', html)
    assert link
    prefilled = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    # The running shift (carol's, from Monday 09:00 EST), shown in the viewer's timezone.
    assert 'name="start" value="2026-03-02T09:00"' in prefilled
    assert f'<option value="{core.people["carol"].pk}" selected>' in prefilled


# --------------------------------------------------------------------------- delete


@pytest.fixture
def alices_cover(core: Core) -> Override:
    return OverrideFactory.create(
        rotation=core.rotations["veteran", "primary"],
        user=core.people["alice"],
        replaces=core.people["carol"],
        start=datetime(2026, 3, 5, tzinfo=UTC),
        end=datetime(2026, 3, 6, tzinfo=UTC),
        created_by=core.people["alice"],
    )


def test_delete_needs_a_part_in_the_override(
    client: Client, core: Core, alices_cover: Override
) -> None:
    rotation = alices_cover.rotation
    client.force_login(core.people["bob"])
    assert f"/overrides/{alices_cover.pk}/delete/" not in rotation_page(client, rotation)
    response = client.post(f"/overrides/{alices_cover.pk}/delete/")
    assert response.status_code == 403
    assert "You may only remove overrides of your own shifts" in response.content.decode()
    assert Override.objects.filter(pk=alices_cover.pk).exists()


def test_the_one_replaced_takes_their_shift_back(
    client: Client, core: Core, alices_cover: Override
) -> None:
    client.force_login(core.people["carol"])
    assert f"/overrides/{alices_cover.pk}/delete/" in rotation_page(client, alices_cover.rotation)
    response = client.post(f"/overrides/{alices_cover.pk}/delete/")
    assert response.status_code == 302
    assert response["Location"] == f"/rotations/{alices_cover.rotation_id}/"
    assert not Override.objects.exists()
    assert "Override removed" in client.get(response["Location"]).content.decode()


def test_manager_deletes_any_override_with_htmx(
    client: Client, core: Core, alices_cover: Override
) -> None:
    client.force_login(core.people["morgan"])
    response = client.post(f"/overrides/{alices_cover.pk}/delete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "Override removed" in html
    assert f'id="override-{alices_cover.pk}"' not in html
    assert not Override.objects.exists()


def test_get_is_not_allowed_on_writes(client: Client, core: Core, alices_cover: Override) -> None:
    client.force_login(core.people["morgan"])
    assert client.get(f"/overrides/{alices_cover.pk}/delete/").status_code == 405
    assert client.get(f"/rotations/{alices_cover.rotation_id}/overrides/").status_code == 405
    assert Override.objects.exists()


# --------------------------------------------------------------------------- my shifts


def test_my_shifts_lists_upcoming_shifts_and_the_feed(client: Client, core: Core) -> None:
    alice = core.people["alice"]
    client.force_login(alice)
    response = client.get("/me/shifts/")
    assert response.status_code == 200
    html = response.content.decode()
    token = PersonalFeed.objects.get(user=alice).token
    assert f'value="{SITE}/ical/person/{token}.ics"' in html
    mine = table_of(html, "my-shift-table")
    rows = re.findall(r'<tr class="shift[^"]*">(.*?)</tr>', mine, re.S)
    labels = [text(row) for row in rows]
    # Alice is on the veteran secondary now (shift 8) and on veteran primary from 2026-03-09.
    assert labels[0].startswith("Core · Veteran secondary Mon 2 Mar, 09:00 EST")
    assert labels[1].startswith("Core · Veteran primary Mon 9 Mar, 09:00 EDT")
    assert all("Core · New" not in label for label in labels)
    starts = re.findall(r'<td><time datetime="([^"]+)"', mine)
    assert starts == sorted(starts)


def table_of(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}">(.*?)</table>', html, re.S)
    assert match, f"no table {table_id}"
    return match.group(1)


def test_rotating_my_feed_token(client: Client, core: Core) -> None:
    alice = core.people["alice"]
    client.force_login(alice)
    client.get("/me/shifts/")
    old = PersonalFeed.objects.get(user=alice).token
    response = client.post("/me/shifts/rotate-feed/")
    assert response.status_code == 302
    assert response["Location"] == "/me/shifts/"
    new = PersonalFeed.objects.get(user=alice).token
    assert new != old
    assert client.get(f"/ical/person/{old}.ics").status_code == 404
    assert client.get(f"/ical/person/{new}.ics").status_code == 200
    response = client.post("/me/shifts/rotate-feed/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert PersonalFeed.objects.get(user=alice).token in html


# --- overrides: the team-wide rules at the portal's door ------------------------------------


def test_covering_while_holding_another_position_is_refused(client: Client, core: Core) -> None:
    # Week of 2 March (shift 8): carol holds the veteran primary, alice the secondary.
    rotation = core.rotations["veteran", "primary"]
    alice, carol = core.people["alice"], core.people["carol"]
    client.force_login(carol)  # hands her day to alice
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(
            alice, carol, "2026-03-05T09:00", "2026-03-06T09:00", confirm_double_booking="on"
        ),
    )
    assert response.status_code == 400
    html = text(response.content.decode())
    assert "Alice Example would be on call twice in Core at once" in html
    assert "Only a manager may confirm a double booking" in html
    # An engineer is not offered the confirmation box.
    assert 'name="confirm_double_booking"' not in response.content.decode()
    assert not Override.objects.exists()


def test_a_manager_confirms_a_double_booking(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, carol = core.people["alice"], core.people["carol"]
    client.force_login(core.people["morgan"])
    form = cover_form(alice, carol, "2026-03-05T09:00", "2026-03-06T09:00")
    asked = client.post(f"/rotations/{rotation.pk}/overrides/", form)
    assert asked.status_code == 400
    assert 'name="confirm_double_booking"' in asked.content.decode()
    assert not Override.objects.exists()

    done = client.post(
        f"/rotations/{rotation.pk}/overrides/", {**form, "confirm_double_booking": "on"}
    )
    assert done.status_code == 302
    assert Override.objects.get().user == alice


def test_a_new_tier_engineer_cannot_cover_a_veteran_shift(client: Client, core: Core) -> None:
    rotation = core.rotations["veteran", "primary"]
    dave, bob = core.people["dave"], core.people["bob"]
    client.force_login(bob)  # bob's week: he would hand a day to dave
    response = client.post(
        f"/rotations/{rotation.pk}/overrides/",
        cover_form(dave, bob, "2026-03-20T09:00", "2026-03-21T09:00"),
    )
    assert response.status_code == 400
    assert "a new-tier engineer covers a veteran shift only" in text(response.content.decode())


# --- cover, hand over and swap from My shifts ------------------------------------------------


def change_form(html: str) -> dict[str, str]:
    """What the browser would post from the pre-filled change form (one value per name)."""
    reader = FormReader("shift-change-form")
    reader.feed(html)
    return {name: values[-1] for name, values in reader.data.items() if values and name}


def link_in_row(html: str, table_id: str, *words: str, css: str) -> str:
    """The href of the action link with class `css` in the first row showing all `words`."""
    for row in re.findall(r'<tr class="shift[^"]*">(.*?)</tr>', table_of(html, table_id), re.S):
        if all(word in text(row) for word in words):
            found = re.search(rf'<a href="([^"]+)"[^>]*class="{css}"', row)
            assert found, f"no {css} link in {text(row)}"
            return unescape(found.group(1))
    raise AssertionError(f"no row with {words}")


def test_cover_from_my_shifts_asks_them_and_their_yes_makes_me_the_cover(
    client: Client, core: Core, django_capture_on_commit_callbacks: Any
) -> None:
    # Week of 2 March: carol holds the veteran primary; bob is free.
    bob, carol = core.people["bob"], core.people["carol"]
    client.force_login(bob)
    page = client.get("/me/shifts/").content.decode()
    url = link_in_row(page, "teammate-shift-table", "Veteran primary", "Carol", css="cover")

    opened = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert opened.lstrip().startswith('<div id="my-shifts">')
    form = change_form(opened)
    assert (form["user"], form["replaces"], form["kind"]) == (str(bob.pk), str(carol.pk), "cover")
    # The rest of carol's running week from the next quarter hour, in bob's timezone.
    assert (form["start"], form["end"]) == ("2026-03-04T07:15", "2026-03-09T09:00")

    with django_capture_on_commit_callbacks(execute=True):
        saved = client.post("/me/shifts/change/", form, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200
    html = saved.content.decode()
    assert html.lstrip().startswith('<div id="my-shifts">')
    assert "Request sent: Carol Example is asked" in text(html)
    assert "Waiting for their answer" in text(html)
    assert not Override.objects.exists()
    asked = Notification.objects.get()
    assert (asked.recipient, asked.address) == (carol, carol.email)
    assert "Bob Example asks to cover your shift" in asked.subject

    # Carol sees the request on her My shifts and accepts it (htmx).
    client.force_login(carol)
    page = client.get("/me/shifts/").content.decode()
    request = OverrideRequest.objects.get()
    assert f'action="/me/requests/{request.pk}/accept/"' in page
    with django_capture_on_commit_callbacks(execute=True):
        answered = client.post(f"/me/requests/{request.pk}/accept/", HTTP_HX_REQUEST="true")
    assert "Accepted" in text(answered.content.decode())
    override = Override.objects.get()
    assert (override.user, override.replaces, override.created_by) == (bob, carol, carol)
    told = Notification.objects.exclude(pk=asked.pk).get()
    assert told.recipient == bob
    assert "accepted your cover request" in told.subject
    client.force_login(bob)
    mine = text(table_of(client.get("/me/shifts/").content.decode(), "my-shift-table"))
    assert "Core · Veteran primary Wed 4 Mar, 07:15 EST Mon 9 Mar, 09:00 EDT override" in mine


def test_hand_over_from_my_shifts_names_me_as_the_replaced(client: Client, core: Core) -> None:
    # Alice's veteran primary week from 9 March: carol is free then and takes it.
    alice, carol = core.people["alice"], core.people["carol"]
    client.force_login(alice)
    page = client.get("/me/shifts/").content.decode()
    url = link_in_row(page, "my-shift-table", "Veteran primary", "Mon 9 Mar", css="hand-over")
    form = change_form(client.get(url).content.decode())  # no htmx: the whole page
    assert form["replaces"] == str(alice.pk)
    assert form.get("user", "") == ""
    assert (form["start"], form["end"]) == ("2026-03-09T09:00", "2026-03-16T09:00")

    missing = client.post("/me/shifts/change/", form)
    assert missing.status_code == 400
    assert "This field is required" in text(missing.content.decode())

    saved = client.post("/me/shifts/change/", {**form, "user": str(carol.pk)})
    assert saved.status_code == 302
    assert saved["Location"] == "/me/shifts/"
    override = Override.objects.get()
    assert (override.user, override.replaces) == (carol, alice)


def test_swap_from_my_shifts_offers_their_shifts_and_trades_both_once_accepted(
    client: Client, core: Core
) -> None:
    core.rotations["veteran", "secondary"].delete()  # see test_engineer_swaps_shifts
    alice, bob = core.people["alice"], core.people["bob"]
    client.force_login(alice)
    page = client.get("/me/shifts/").content.decode()
    url = link_in_row(page, "my-shift-table", "Veteran primary", "Mon 9 Mar", css="swap")
    opened = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    choice = re.search(
        r'<ul class="swap-choices">.*?<a href="([^"]+)"[^>]*>Bob Example', opened, re.S
    )
    assert choice, "bob's next shift is offered in return"
    form = change_form(
        client.get(unescape(choice.group(1)), HTTP_HX_REQUEST="true").content.decode()
    )
    assert (form["kind"], form["replaces"], form["user"]) == ("swap", str(alice.pk), str(bob.pk))
    assert (form["swap_start"], form["swap_end"]) == ("2026-03-16T09:00", "2026-03-23T09:00")

    saved = client.post("/me/shifts/change/", form, HTTP_HX_REQUEST="true")
    assert "Request sent: Bob Example is asked" in text(saved.content.decode())
    assert not Override.objects.exists()
    request = OverrideRequest.objects.get()
    # Someone else cannot answer it (it is not theirs to see), nor bob by GET.
    client.force_login(core.people["carol"])
    assert client.post(f"/me/requests/{request.pk}/accept/").status_code == 404
    client.force_login(bob)
    # Bob learns of it at the top of his shifts, above a long table, with a link to answer.
    top = text(client.get("/me/shifts/").content.decode()).split("Your shifts on every")[0]
    assert "1 request from teammates waits for your answer" in top
    assert client.get(f"/me/requests/{request.pk}/accept/").status_code == 405
    answered = client.post(f"/me/requests/{request.pk}/accept/")
    assert answered.status_code == 302
    one, two = Override.objects.order_by("start")
    assert (one.user, one.replaces) == (bob, alice)
    assert (two.user, two.replaces) == (alice, bob)


def test_my_shifts_refuses_a_rotation_i_am_not_on(client: Client, core: Core) -> None:
    dave = core.people["dave"]  # new tier only
    client.force_login(dave)
    rotation = core.rotations["veteran", "primary"]
    response = client.post(
        "/me/shifts/change/",
        {
            **cover_form(dave, core.people["carol"], "2026-03-20T09:00", "2026-03-21T09:00"),
            "rotation": str(rotation.pk),
        },
    )
    assert response.status_code == 302
    assert not Override.objects.exists()
    # A bad link opens no form.
    page = client.get("/me/shifts/?change=cover&rotation=abc&start=x").content.decode()
    assert 'id="shift-change-form"' not in page


def test_declining_or_a_stale_request_on_my_shifts_changes_nothing(
    client: Client, core: Core
) -> None:
    rotation = core.rotations["veteran", "primary"]
    alice, bob, carol = core.people["alice"], core.people["bob"], core.people["carol"]
    client.force_login(alice)
    for day in ("17", "18"):  # two of bob's days
        client.post(
            f"/rotations/{rotation.pk}/overrides/",
            cover_form(alice, bob, f"2026-03-{day}T09:00", f"2026-03-{day}T18:00"),
        )
    first, second = OverrideRequest.objects.order_by("start")
    client.force_login(bob)
    declined = client.post(f"/me/requests/{first.pk}/decline/")
    assert declined.status_code == 302
    assert "Declined" in text(client.get("/me/shifts/").content.decode())
    # Meanwhile a manager gives bob's 18 March to carol: the other request is stale.
    OverrideFactory.create(
        rotation=rotation,
        user=carol,
        replaces=bob,
        start=datetime(2026, 3, 18, 12, tzinfo=UTC),
        end=datetime(2026, 3, 18, 23, tzinfo=UTC),
    )
    stale = client.post(f"/me/requests/{second.pk}/accept/")
    assert stale.status_code == 400
    assert "changed hands since it was sent" in text(stale.content.decode())
    assert list(OverrideRequest.objects.order_by("start").values_list("status", flat=True)) == [
        "declined",
        "expired",
    ]
    assert Override.objects.count() == 1  # only the manager's
