"""A team's page: on call now and next, its policies in words and their dry run, for
everyone signed in, in the viewer's timezone."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT
from rotations.escalation import step_words, wait_words
from rotations.models import ContactMode, Position, Rotation, StepAction, Team, Tier
from tests.factories import (
    DirectNumberFactory,
    EscalationPolicyFactory,
    EscalationStepFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Wednesday 2026-03-04, 07:00 in New York: week 9 of rotations that began Monday 2026-01-05.
NOW = datetime(2026, 3, 4, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def person(username: str, *roles: str, tz: str = "America/New_York") -> User:
    return UserFactory.create(
        username=username,
        first_name=username.title(),
        last_name="Example",
        timezone=tz,
        roles=list(roles),
    )


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def section(html: str, id_: str) -> str:
    match = re.search(rf'<section class="card[^"]*" id="{id_}">(.*?)</section>', html, re.S)
    assert match, f"no section {id_}"
    return text(match.group(1))


@pytest.fixture
def core() -> tuple[Team, dict[str, User], Rotation]:
    people = {n: person(n, ENGINEER) for n in ("alice", "bob", "carol")}
    people["morgan"] = person("morgan", MANAGER)
    team = TeamFactory.create(
        slug="core", name="Core", escalation_contact=people["morgan"], description="Core services"
    )
    # 8 weeks after the start: 8 % 3 = 2, so Carol tops the list this week, Alice next.
    veteran = RotationFactory.create(
        team=team,
        tier=Tier.VETERAN,
        position=Position.PRIMARY,
        members=[people[n] for n in ("alice", "bob", "carol")],
    )
    policy = EscalationPolicyFactory.create(team=team, name="Engage development", repeat=0)
    EscalationStepFactory.create(policy=policy, position=0, walk=True, rotation=veteran)
    EscalationStepFactory.create(policy=policy, position=1)  # the CPE manager after 10 minutes
    return team, people, veteran


def test_everyone_signed_in_sees_who_is_on_call_and_the_policy_in_words(
    client: Client, core: tuple[Team, dict[str, User], Rotation]
) -> None:
    client.force_login(person("sam", SUPPORT))
    response = client.get("/teams/core/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Core services" in text(html)
    assert "CPE manager Morgan Example" in text(html)
    rotations = section(html, "rotations")
    assert "Veteran Primary Carol Example" in rotations
    assert "Mon 9 Mar, 09:00 EDT Alice Example" in rotations  # the handoff, in New York time
    policies = section(html, "policies")
    assert (
        "Page each person on the Core · Veteran primary list in turn, 10 minutes apart" in policies
    )
    assert "Page the CPE manager Morgan Example, then wait 10 minutes" in policies


def test_the_dry_run_is_in_the_viewers_zone(
    client: Client, core: tuple[Team, dict[str, User], Rotation]
) -> None:
    client.force_login(person("noah", SUPPORT, tz="Europe/Berlin"))
    html = client.get("/teams/core/").content.decode()
    items = [
        text(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", html.split('class="dry-run"')[1])
    ]
    assert items[:4] == [
        "Wed 4 Mar, 13:00 CET (at once): Carol Example — on call for Core · Veteran primary",
        "Wed 4 Mar, 13:10 CET (after 10 minutes): Alice Example — next on the list (2) for "
        "Core · Veteran primary",
        "Wed 4 Mar, 13:20 CET (after 20 minutes): Bob Example — next on the list (3) for "
        "Core · Veteran primary",
        "Wed 4 Mar, 13:30 CET (after 30 minutes): Morgan Example — escalation contact of Core "
        "(the list ran out)",
    ]


def test_an_override_shows_now_and_in_the_dry_run(
    client: Client, core: tuple[Team, dict[str, User], Rotation]
) -> None:
    _, people, veteran = core
    OverrideFactory.create(
        rotation=veteran,
        user=people["bob"],
        start=NOW - timedelta(hours=1),
        end=NOW + timedelta(hours=2),
    )
    client.force_login(people["alice"])
    html = client.get("/teams/core/").content.decode()
    assert "Veteran Primary Bob Example override" in section(html, "rotations")
    assert "(at once): Bob Example — on call for Core · Veteran primary" in text(html)


def test_a_call_directly_team_shows_its_numbers_and_a_team_without_policy_says_what_happens(
    client: Client,
) -> None:
    platform = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    DirectNumberFactory.create(team=platform, label="Frank (platform lead)", phone="+15551230001")
    TeamFactory.create(slug="vro", name="VRO")
    client.force_login(person("sam", SUPPORT))
    platform_html = client.get("/teams/platform/").content.decode()
    assert 'href="tel:+15551230001"' in platform_html
    assert "Nobody is paged: support calls the numbers above." in text(platform_html)
    vro = section(client.get("/teams/vro/").content.decode(), "policies")
    assert "an incident walks the veteran list, the next person every 10 minutes" in vro


def test_who_is_on_call_links_to_each_team_page(
    client: Client, core: tuple[Team, dict[str, User], Rotation]
) -> None:
    client.force_login(person("sam", SUPPORT))
    assert 'href="/teams/core/"' in client.get("/oncall/").content.decode()


def test_an_unknown_team_is_404_and_the_page_needs_login(
    client: Client, core: tuple[Team, dict[str, User], Rotation]
) -> None:
    response = client.get("/teams/core/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    client.force_login(person("sam", SUPPORT))
    assert client.get("/teams/nope/").status_code == 404
    assert client.post("/teams/core/").status_code == 405


def test_the_page_costs_a_fixed_number_of_queries(
    client: Client,
    core: tuple[Team, dict[str, User], Rotation],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    team, people, veteran = core
    client.force_login(people["alice"])
    client.get("/teams/core/")  # warm the session and permission caches
    with django_assert_max_num_queries(20) as first:
        client.get("/teams/core/")
    extra = [person(f"extra{n}", ENGINEER) for n in range(6)]
    RotationFactory.create(team=team, tier=Tier.NEW, position=Position.PRIMARY, members=extra)
    for n, someone in enumerate(extra):
        OverrideFactory.create(rotation=veteran, user=someone, start=NOW + timedelta(hours=n))
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get("/teams/core/")


def test_step_words_cover_every_action() -> None:
    ten = timedelta(minutes=10)
    assert step_words(
        action=StepAction.ROTATION_ONCALL, wait=ten, rotation="Core · New primary"
    ) == ("Page whoever is on call for Core · New primary, then wait 10 minutes")
    assert step_words(action=StepAction.USERS, wait=timedelta(0), people=["A", "B", "C"]) == (
        "Page A, B and C"
    )
    assert step_words(action=StepAction.TEAM, wait=ten, team="Core") == (
        "Page everyone on Core, then wait 10 minutes"
    )
    assert step_words(action=StepAction.ESCALATION_CONTACT, wait=timedelta(0)) == (
        "Page the CPE manager (nobody set)"
    )
    assert step_words(action=StepAction.WALK_ROTATION, wait=timedelta(0), rotation="X") == (
        "Page everyone on the X list at once"
    )
    assert wait_words(timedelta(hours=1, minutes=30, seconds=5)) == "1 hour 30 minutes 5 seconds"
