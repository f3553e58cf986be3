"""The rotations read API: /api/v1/oncall/, teams, rotations and shifts."""

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries, Settings

from oncall.api.fields import ISODurationField, duration_format, duration_parse
from oncall.models import User
from rotations.models import ContactMode, Position, Rotation, Team, Tier
from tests.factories import (
    DirectNumberFactory,
    EscalationPolicyFactory,
    OverrideFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ONCALL_FIELDS = {"team", "tier", "position", "user", "start", "end", "override"}
USER_FIELDS = {"id", "username", "name", "email", "phone"}
NO_POLICIES = {"default_policy": None, "engage_policy": None, "new_tier_policy": None}
# Mid-June 2026, a Monday, 08:00 in New York: an hour before the weekly handoff.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def error_shape(settings: Settings) -> None:
    # Until REST_FRAMEWORK names the handler in base settings.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "EXCEPTION_HANDLER": "oncall.api.errors.exception_handler",
    }


@pytest.fixture
def frozen_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people() -> dict[str, User]:
    names = ("alice", "bob", "carol", "dave", "erin", "morgan")
    return {
        n: UserFactory.create(
            username=n, first_name=n.title(), last_name="Example", phone="+15550000001"
        )
        for n in names
    }


@pytest.fixture
def core(people: dict[str, User]) -> Team:
    """The handbook's Core tab: veteran and new tiers, primary and secondary, weekly Monday
    09:00 New York handoffs from Monday 2026-01-05."""
    p = people
    team = TeamFactory.create(slug="core", name="Core", escalation_contact=p["morgan"])
    lists = {
        (Tier.VETERAN, Position.PRIMARY): ["alice", "bob", "carol"],
        (Tier.VETERAN, Position.SECONDARY): ["bob", "carol", "alice"],
        (Tier.NEW, Position.PRIMARY): ["dave", "erin"],
        (Tier.NEW, Position.SECONDARY): ["erin", "dave"],
    }
    for (tier, position), names in lists.items():
        RotationFactory.create(
            team=team, tier=tier, position=position, members=[p[n] for n in names]
        )
    return team


@pytest.fixture
def client_in(client: Client, people: dict[str, User]) -> Client:
    client.force_login(people["morgan"])
    return client


def oncall(client: Client, **params: str) -> Any:
    return client.get(reverse("api:oncall"), params)


def by_slot(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["tier"], row["position"]): row for row in rows}


def assert_error(
    response: Any, status: int, code: str | None = None, *, field: str | None = None
) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert code is None or body["error"]["code"] == code
    assert body["error"]["message"]
    if field is not None:
        assert field in body["error"]["fields"]
        assert field in body["error"]["message"]


# --- /api/v1/oncall/ -----------------------------------------------------------------------


@pytest.mark.usefixtures("frozen_now")
def test_oncall_now_gives_each_tier_and_position_with_exactly_the_contract_fields(
    client_in: Client, core: Team, people: dict[str, User]
) -> None:
    response = oncall(client_in, team="core")

    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 4
    for row in rows:
        assert set(row) == ONCALL_FIELDS
        assert set(row["user"]) == USER_FIELDS
        assert row["team"] == "core"
        assert row["override"] is False
    slots = by_slot(rows)
    # 08:00 EDT Monday 15 June: shift 22 (Mon 8 June) is still running.
    assert slots["veteran", "primary"]["user"]["username"] == "bob"
    assert slots["veteran", "secondary"]["user"]["username"] == "carol"
    assert slots["new", "primary"]["user"]["username"] == "dave"
    assert slots["new", "secondary"]["user"]["username"] == "erin"
    bob = people["bob"]
    assert slots["veteran", "primary"]["user"] == {
        "id": bob.pk,
        "username": "bob",
        "name": "Bob Example",
        "email": "bob@example.com",
        "phone": "+15550000001",
    }
    assert slots["veteran", "primary"]["start"] == "2026-06-08T13:00:00Z"
    assert slots["veteran", "primary"]["end"] == "2026-06-15T13:00:00Z"


@pytest.mark.usefixtures("frozen_now")
@pytest.mark.parametrize(
    ("at", "username", "start", "end"),
    [
        # Past, spring forward (Sun 8 March): Monday 9 March hands off at 09:00 EDT = 13:00
        # UTC, an hour earlier in UTC than the week before, so 13:30 UTC is already alice.
        ("2026-03-09T13:30:00Z", "alice", "2026-03-09T13:00:00Z", "2026-03-16T13:00:00Z"),
        ("2026-03-09T12:59:00Z", "carol", "2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z"),
        # Future, fall back (Sun 1 November): Monday 2 November hands off at 09:00 EST = 14:00
        # UTC, so 13:30 UTC is still the week before, a 169-hour shift.
        ("2026-11-02T13:30:00Z", "alice", "2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z"),
        ("2026-11-02T09:30:00-05:00", "bob", "2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"),
    ],
)
def test_oncall_at_an_instant_in_the_past_or_future_follows_local_handoffs_across_dst(
    client_in: Client, core: Team, at: str, username: str, start: str, end: str
) -> None:
    response = oncall(client_in, team="core", at=at)

    assert response.status_code == 200
    primary = by_slot(response.json())["veteran", "primary"]
    assert (primary["user"]["username"], primary["start"], primary["end"]) == (
        username,
        start,
        end,
    )


def test_an_unencoded_plus_in_at_still_means_the_offset(client_in: Client, core: Team) -> None:
    # "+" in a query string decodes to a space; the API reads it as the offset it was.
    response = client_in.get(f"{reverse('api:oncall')}?team=core&at=2026-11-02T09:30:00+00:00")

    assert response.status_code == 200
    assert by_slot(response.json())["veteran", "primary"]["user"]["username"] == "alice"


def test_an_override_shows_its_cover_with_override_true(
    client_in: Client, core: Team, people: dict[str, User]
) -> None:
    rotation = core.rotations.get(tier=Tier.NEW, position=Position.PRIMARY)
    start = datetime(2026, 3, 9, 13, tzinfo=UTC)
    OverrideFactory.create(
        rotation=rotation, user=people["alice"], start=start, end=start + timedelta(1)
    )

    slots = by_slot(oncall(client_in, team="core", at="2026-03-09T20:00:00Z").json())

    assert slots["new", "primary"]["user"]["username"] == "alice"
    assert slots["new", "primary"]["override"] is True
    assert slots["new", "primary"]["start"] == "2026-03-09T13:00:00Z"
    assert slots["new", "primary"]["end"] == "2026-03-10T13:00:00Z"
    # Shift 9 of the rotation itself would be erin's; the other slots are untouched.
    assert slots["new", "secondary"]["user"]["username"] == "dave"
    assert slots["new", "secondary"]["override"] is False


def test_a_gap_has_a_null_user(client_in: Client, people: dict[str, User]) -> None:
    team = TeamFactory.create(slug="vro", name="VRO")
    RotationFactory.create(team=team, tier=Tier.NONE, members=[people["alice"]], working_hours=True)
    RotationFactory.create(team=team, tier=Tier.NONE, position=Position.SECONDARY)  # nobody in it

    # Saturday: outside the primary's Mon–Fri working hours; the secondary has nobody.
    rows = oncall(client_in, team="vro", at="2026-03-14T15:00:00Z").json()

    assert len(rows) == 2
    for row in rows:
        assert set(row) == ONCALL_FIELDS
        assert row["user"] is None
        assert row["override"] is False
        assert row["start"] is None
        assert row["end"] is None


def test_a_team_without_rotations_answers_an_empty_list(client_in: Client) -> None:
    TeamFactory.create(slug="platform", contact_mode=ContactMode.CALL)

    response = oncall(client_in, team="platform")

    assert response.status_code == 200
    assert response.json() == []


def test_unknown_team_is_404_naming_it(client_in: Client, core: Team) -> None:
    response = oncall(client_in, team="nope")

    assert_error(response, 404, "not_found")
    assert "nope" in response.json()["error"]["message"]


def test_missing_team_is_400_naming_team(client_in: Client) -> None:
    assert_error(oncall(client_in), 400, "required", field="team")


@pytest.mark.parametrize("at", ["yesterday", "2026-13-01T00:00:00Z", "2026-03-09T25:00"])
def test_malformed_at_is_400_naming_at(client_in: Client, core: Team, at: str) -> None:
    assert_error(oncall(client_in, team="core", at=at), 400, "invalid", field="at")


def test_anonymous_gets_a_json_refusal(client: Client, core: Team) -> None:
    rotation = core.rotations.get(tier=Tier.VETERAN, position=Position.PRIMARY)
    for url in (
        f"{reverse('api:oncall')}?team=core",
        reverse("api:team-list"),
        reverse("api:rotation-list"),
        reverse("api:rotation-detail", args=[rotation.pk]),
        f"{reverse('api:rotation-shifts', args=[rotation.pk])}?start=2026-03-02&end=2026-03-03",
    ):
        response = client.get(url)
        assert_error(response, 403, "not_authenticated")


def test_oncall_query_count_is_bounded(
    client_in: Client,
    core: Team,
    people: dict[str, User],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    for rotation in core.rotations.all():
        OverrideFactory.create(rotation=rotation, user=people["alice"])

    # Session and user, then the selector's three: rotations, members, overrides.
    with django_assert_max_num_queries(5):
        response = oncall(client_in, team="core", at="2026-01-10T12:00:00Z")

    assert response.status_code == 200
    assert all(row["user"]["username"] == "alice" for row in response.json())


# --- /api/v1/teams/ and /api/v1/rotations/ ---------------------------------------------------


def test_teams_list_contact_mode_and_direct_numbers(
    client_in: Client,
    core: Team,
    people: dict[str, User],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    platform = TeamFactory.create(
        slug="platform", name="Platform", contact_mode=ContactMode.CALL, escalation_contact=None
    )
    DirectNumberFactory.create(
        team=platform, label="Frank (lead)", phone="+15551230001", position=0
    )
    DirectNumberFactory.create(team=platform, label="Grace", phone="+15551230002", position=1)

    with django_assert_max_num_queries(4):
        response = client_in.get(reverse("api:team-list"))

    assert response.status_code == 200
    assert response.json() == [
        {
            "slug": "core",
            "name": "Core",
            "escalation_contact": people["morgan"].pk,
            "contact_mode": "page",
            "email": "",
            "slack_usergroup_id": "",
            "direct_numbers": [],
            **NO_POLICIES,
        },
        {
            "slug": "platform",
            "name": "Platform",
            "escalation_contact": None,
            "contact_mode": "call",
            "email": "",
            "slack_usergroup_id": "",
            "direct_numbers": [
                {"label": "Frank (lead)", "phone": "+15551230001"},
                {"label": "Grace", "phone": "+15551230002"},
            ],
            **NO_POLICIES,
        },
    ]


def test_rotations_list_and_detail(
    client_in: Client,
    core: Team,
    people: dict[str, User],
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    vro = TeamFactory.create(slug="vro", name="VRO")
    sprint = RotationFactory.create(
        team=vro,
        tier=Tier.NONE,
        name="Sprint",
        shift_length=timedelta(days=14),
        handoff_time=time(9, 30),
        working_hours=True,
        members=[people["dave"], people["alice"]],
    )

    with django_assert_max_num_queries(4):
        listed = client_in.get(reverse("api:rotation-list")).json()
    detail = client_in.get(reverse("api:rotation-detail", args=[sprint.pk]))

    assert len(listed) == 5
    assert detail.status_code == 200
    body = detail.json()
    assert body in listed
    assert body == {
        "id": sprint.pk,
        "team": "vro",
        "name": "Sprint",
        "tier": "none",
        "position": "primary",
        "shift_length": "P14D",
        "handoff_time": "09:30",
        "timezone": "America/New_York",
        "start_date": "2026-01-05",
        "members": [people["dave"].pk, people["alice"].pk],
        "working_hours": {
            "days": [0, 1, 2, 3, 4],
            "start": "09:00",
            "end": "17:00",
            "timezone": "America/New_York",
        },
        "ical_url": settings.SITE_URL
        + reverse("rotations:rotation-feed", args=[sprint.ical_token]),
    }
    veteran = next(r for r in listed if (r["team"], r["tier"]) == ("core", "veteran"))
    assert veteran["working_hours"] is None
    assert veteran["shift_length"] == "P7D"


def test_rotations_filter_by_team(client_in: Client, core: Team) -> None:
    RotationFactory.create(team=TeamFactory.create(slug="vro"), tier=Tier.NONE)

    rows = client_in.get(reverse("api:rotation-list"), {"team": "vro"}).json()

    assert [r["team"] for r in rows] == ["vro"]


def test_unknown_rotation_is_404(client_in: Client) -> None:
    assert_error(client_in.get(reverse("api:rotation-detail", args=[999])), 404, "not_found")


@pytest.mark.parametrize(
    ("length", "iso"),
    [
        (timedelta(days=7), "P7D"),
        (timedelta(days=14), "P14D"),
        (timedelta(hours=12), "PT12H"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(days=1, hours=6), "P1DT6H"),
    ],
)
def test_shift_length_round_trips_as_iso_8601(
    client_in: Client, length: timedelta, iso: str
) -> None:
    rotation = RotationFactory.create(shift_length=length)

    shown = client_in.get(reverse("api:rotation-detail", args=[rotation.pk])).json()

    assert shown["shift_length"] == iso
    assert ISODurationField().to_internal_value(shown["shift_length"]) == length
    assert duration_parse(duration_format(length)) == length


@pytest.mark.parametrize("text", ["P1M", "P1Y", "7 days", "P", "PT", "P1DT", "12:00:00", ""])
def test_iso_duration_field_refuses_calendar_and_non_iso_durations(text: str) -> None:
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        ISODurationField().to_internal_value(text)


def test_iso_duration_field_reads_weeks_and_seconds() -> None:
    assert duration_parse("P2W") == timedelta(days=14)
    assert duration_parse("PT90S") == timedelta(seconds=90)
    assert duration_parse("pt1.5s") == timedelta(seconds=1.5)
    assert duration_format(timedelta(0)) == "PT0S"
    assert duration_format(timedelta(seconds=1.5)) == "PT1.5S"


# --- /api/v1/rotations/<id>/shifts/ ------------------------------------------------------------


def shifts(client: Client, rotation: Rotation, **params: str) -> Any:
    return client.get(reverse("api:rotation-shifts", args=[rotation.pk]), params)


def test_shifts_in_a_range_with_an_override_cut_in(
    client_in: Client, core: Team, people: dict[str, User]
) -> None:
    rotation = core.rotations.get(tier=Tier.VETERAN, position=Position.PRIMARY)
    OverrideFactory.create(
        rotation=rotation,
        user=people["bob"],
        start=datetime(2026, 3, 10, 13, tzinfo=UTC),
        end=datetime(2026, 3, 11, 13, tzinfo=UTC),
    )

    response = shifts(client_in, rotation, start="2026-03-02T00:00:00Z", end="2026-03-16T00:00:00Z")

    assert response.status_code == 200
    rows = response.json()
    assert [set(r) for r in rows] == [{"user", "start", "end", "override"}] * len(rows)
    assert set(rows[0]["user"]) == {"id", "username", "name"}
    assert [(r["user"]["username"], r["start"], r["end"], r["override"]) for r in rows] == [
        ("bob", "2026-03-02T00:00:00Z", "2026-03-02T14:00:00Z", False),
        ("carol", "2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z", False),  # 167 h: DST
        ("alice", "2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z", False),
        ("bob", "2026-03-10T13:00:00Z", "2026-03-11T13:00:00Z", True),
        ("alice", "2026-03-11T13:00:00Z", "2026-03-16T00:00:00Z", False),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "start"),
        ({"start": "2026-03-02T00:00:00Z"}, "end"),
        ({"start": "soon", "end": "2026-03-02T00:00:00Z"}, "start"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-02T00:00:00Z"}, "end"),
        ({"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00:01Z"}, "end"),
    ],
)
def test_bad_shift_range_is_400_naming_the_field(
    client_in: Client, core: Team, params: dict[str, str], field: str
) -> None:
    rotation = core.rotations.first()
    assert rotation is not None

    response = shifts(client_in, rotation, **params)

    assert_error(response, 400, field=field)


def test_a_range_of_exactly_366_days_is_allowed(client_in: Client, core: Team) -> None:
    rotation = core.rotations.first()
    assert rotation is not None

    response = shifts(client_in, rotation, start="2026-01-01T00:00:00Z", end="2027-01-02T00:00:00Z")

    assert response.status_code == 200
    rows = response.json()
    # Nothing before the first handoff (Mon 5 Jan), then 52 weekly shifts, the last one cut.
    assert (rows[0]["start"], rows[-1]["end"]) == ("2026-01-05T14:00:00Z", "2027-01-02T00:00:00Z")
    assert len(rows) == 52


def test_openapi_schema_documents_every_endpoint_with_the_error_shape() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    # 401 is a bad API key (Authorization: Bearer); 403 is no session, or not allowed.
    expected = {
        "/api/v1/oncall/": ({"team", "at"}, {"200", "400", "401", "403", "404"}),
        "/api/v1/teams/": (set(), {"200", "401", "403"}),
        "/api/v1/rotations/": ({"team"}, {"200", "400", "401", "403"}),
        "/api/v1/rotations/{rotation_id}/": ({"rotation_id"}, {"200", "401", "403", "404"}),
        "/api/v1/rotations/{rotation_id}/shifts/": (
            {"rotation_id", "start", "end"},
            {"200", "400", "401", "403", "404"},
        ),
    }
    for path, (parameters, statuses) in expected.items():
        operation = paths[path]["get"]
        assert {p["name"] for p in operation.get("parameters", [])} == parameters, path
        assert set(operation["responses"]) == statuses, path
        for status in statuses - {"200"}:
            body = operation["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
    components = schema["components"]["schemas"]
    assert components["Rotation"]["properties"]["shift_length"]["format"] == "duration"
    assert set(components["ErrorBody"]["properties"]) == {"code", "message", "fields"}


# --- overrides: the team-wide rules at the API's door ---------------------------------------


@pytest.fixture
def manager_in(client: Client) -> Client:
    client.force_login(UserFactory.create(username="boss", roles=["Manager"]))
    return client


def cover_body(rotation: Rotation, user: User, replaces: User, **extra: Any) -> dict[str, Any]:
    start = NOW - timedelta(hours=4)  # ends before Monday's 09:00 handoff
    return {
        "rotation": rotation.pk,
        "user": user.pk,
        "replaces": replaces.pk,
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
        **extra,
    }


@pytest.mark.usefixtures("frozen_now")
def test_api_refuses_a_double_booking_unless_confirmed(
    manager_in: Client, core: Team, people: dict[str, User]
) -> None:
    # Week of 8 June (shift 22): bob holds the veteran primary, carol the veteran secondary.
    primary = core.rotations.get(tier=Tier.VETERAN, position=Position.PRIMARY)
    body = cover_body(primary, people["carol"], people["bob"])
    refused = manager_in.post(reverse("api:override-list"), body, content_type="application/json")
    assert_error(refused, 400, "double_booking", field="user")
    assert "on call twice in Core" in refused.json()["error"]["message"]
    assert not primary.overrides.exists()

    body["confirm_double_booking"] = True
    made = manager_in.post(reverse("api:override-list"), body, content_type="application/json")
    assert made.status_code == 201, made.content
    assert made.json()["user"] == people["carol"].pk


@pytest.mark.usefixtures("frozen_now")
def test_api_refuses_a_new_tier_engineer_on_a_veteran_shift(
    manager_in: Client, core: Team, people: dict[str, User]
) -> None:
    # Erin (new tier, off this week) is not on the veteran list: confirming changes nothing.
    primary = core.rotations.get(tier=Tier.VETERAN, position=Position.PRIMARY)
    body = cover_body(primary, people["erin"], people["bob"], confirm_double_booking=True)
    refused = manager_in.post(reverse("api:override-list"), body, content_type="application/json")
    assert_error(refused, 400, "new_tier_on_veteran", field="user")


@pytest.mark.usefixtures("frozen_now")
def test_api_patch_into_a_double_booking_is_refused(
    manager_in: Client, core: Team, people: dict[str, User]
) -> None:
    primary = core.rotations.get(tier=Tier.VETERAN, position=Position.PRIMARY)
    # Alice is free this week: her cover is fine; handing it to carol is not.
    made = manager_in.post(
        reverse("api:override-list"),
        cover_body(primary, people["alice"], people["bob"]),
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    path = reverse("api:override-detail", args=[made.json()["id"]])
    refused = manager_in.patch(path, {"user": people["carol"].pk}, content_type="application/json")
    assert_error(refused, 400, "double_booking", field="user")
    assert primary.overrides.get().user == people["alice"]


def test_the_schema_documents_confirm_double_booking(client_in: Client) -> None:
    schema = client_in.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["OverrideInputRequest"]["properties"]
    assert "confirm_double_booking" in fields
    assert "Managers only" in fields["confirm_double_booking"]["description"]


# --- a team's policies: explicit references by id ------------------------------------------


def test_a_manager_sets_a_teams_policies_by_id(manager_in: Client, core: Team) -> None:
    walk = EscalationPolicyFactory.create(team=core, name="Walk")
    once = EscalationPolicyFactory.create(team=core, name="Once")
    path = reverse("api:team-detail", args=["core"])

    response = manager_in.patch(
        path,
        {"default_policy": walk.pk, "engage_policy": walk.pk, "new_tier_policy": once.pk},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in NO_POLICIES} == {
        "default_policy": walk.pk,
        "engage_policy": walk.pk,
        "new_tier_policy": once.pk,
    }
    core.refresh_from_db()
    assert (core.default_policy, core.engage_policy, core.new_tier_policy) == (walk, walk, once)
    cleared = manager_in.patch(path, {"engage_policy": None}, content_type="application/json")
    assert cleared.json()["engage_policy"] is None
    assert cleared.json()["default_policy"] == walk.pk  # a PATCH leaves the others alone


def test_a_manager_sets_the_teams_report_address_and_slack_group(
    manager_in: Client, core: Team
) -> None:
    path = reverse("api:team-detail", args=["core"])
    response = manager_in.patch(
        path,
        {"email": "core-oncall@example.com", "slack_usergroup_id": "S0ONCALL1"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert (response.json()["email"], response.json()["slack_usergroup_id"]) == (
        "core-oncall@example.com",
        "S0ONCALL1",
    )
    core.refresh_from_db()
    assert (core.email, core.slack_usergroup_id) == ("core-oncall@example.com", "S0ONCALL1")
    for field, value in (("email", "not-an-address"), ("slack_usergroup_id", "general")):
        refused = manager_in.patch(path, {field: value}, content_type="application/json")
        assert refused.status_code == 400
        assert field in refused.content.decode()
    core.refresh_from_db()
    assert (core.email, core.slack_usergroup_id) == ("core-oncall@example.com", "S0ONCALL1")


@pytest.mark.parametrize("field", ["default_policy", "engage_policy", "new_tier_policy"])
def test_another_teams_policy_is_a_400_naming_the_field(
    manager_in: Client, core: Team, field: str
) -> None:
    theirs = EscalationPolicyFactory.create(team=TeamFactory.create(slug="vro"), name="VRO")
    path = reverse("api:team-detail", args=["core"])

    assert_error(
        manager_in.patch(path, {field: theirs.pk}, content_type="application/json"),
        400,
        field=field,
    )
    assert_error(
        manager_in.patch(path, {field: 987654}, content_type="application/json"), 400, field=field
    )
    assert_error(
        manager_in.patch(path, {field: "Walk"}, content_type="application/json"), 400, field=field
    )
    core.refresh_from_db()
    assert getattr(core, field) is None


def test_a_new_team_cannot_name_a_policy_yet(manager_in: Client, core: Team) -> None:
    theirs = EscalationPolicyFactory.create(team=core, name="Walk")
    response = manager_in.post(
        reverse("api:team-list"),
        {"slug": "vro", "name": "VRO", "default_policy": theirs.pk},
        content_type="application/json",
    )
    assert_error(response, 400, field="default_policy")
    assert not Team.objects.filter(slug="vro").exists()


def test_a_policy_a_team_pages_with_cannot_move_to_another_team(
    manager_in: Client, core: Team
) -> None:
    walk = EscalationPolicyFactory.create(team=core, name="Walk")
    core.default_policy = walk
    core.save()
    TeamFactory.create(slug="vro")

    response = manager_in.patch(
        reverse("api:escalation-policy-detail", args=[walk.pk]),
        {"team": "vro"},
        content_type="application/json",
    )

    assert_error(response, 400, field="team")
    walk.refresh_from_db()
    assert walk.team == core
