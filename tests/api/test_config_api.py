"""Configuration through the API: managers write teams, rotations, members, overrides,
escalation policies, integrations and webhook subscriptions; every other role reads the
rotations side and gets 403 on every write."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import Incident
from integrations.models import Integration, WebhookSubscription
from oncall.models import User
from rotations.models import EscalationPolicy, Override, Rotation, RotationMember, Team
from tests.api.conftest import Core, assert_error
from tests.factories import (
    EscalationPolicyFactory,
    EscalationStepFactory,
    IncidentFactory,
    IntegrationFactory,
    OverrideFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db


@dataclass
class Write:
    method: str
    path: Callable[[dict[str, Any]], str]
    body: Callable[[dict[str, Any]], dict[str, Any]]
    ok: int


def _policy_body(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "team": "core",
        "name": "Main",
        "repeat": 1,
        "steps": [{"action": "walk_rotation", "rotation": o["core"].veteran.pk, "wait": "PT5M"}],
    }


WRITES = {
    "team create": Write(
        "post", lambda o: reverse("api:team-list"), lambda o: {"slug": "vro", "name": "VRO"}, 201
    ),
    "team update": Write(
        "patch", lambda o: reverse("api:team-detail", args=["core"]), lambda o: {"name": "C"}, 200
    ),
    "team delete": Write(
        "delete", lambda o: reverse("api:team-detail", args=["spare"]), lambda o: {}, 204
    ),
    "rotation create": Write(
        "post",
        lambda o: reverse("api:rotation-list"),
        lambda o: {"team": "core", "tier": "none", "members": [o["core"].alice.pk]},
        201,
    ),
    "rotation members": Write(
        "patch",
        lambda o: reverse("api:rotation-detail", args=[o["core"].veteran.pk]),
        lambda o: {"members": [o["core"].bob.pk, o["core"].alice.pk]},
        200,
    ),
    "rotation delete": Write(
        "delete",
        lambda o: reverse("api:rotation-detail", args=[o["core"].new.pk]),
        lambda o: {},
        204,
    ),
    "override create": Write(
        "post",
        lambda o: reverse("api:override-list"),
        lambda o: {
            "rotation": o["core"].veteran.pk,
            "user": o["core"].alice.pk,
            "start": "2030-01-01T00:00:00Z",
            "end": "2030-01-02T00:00:00Z",
        },
        201,
    ),
    "override update": Write(
        "patch",
        lambda o: reverse("api:override-detail", args=[o["override"].pk]),
        lambda o: {"end": "2026-01-10T12:00:00Z", "reason": "half a day"},
        200,
    ),
    "override delete": Write(
        "delete",
        lambda o: reverse("api:override-detail", args=[o["override"].pk]),
        lambda o: {},
        204,
    ),
    "policy create": Write(
        "post", lambda o: reverse("api:escalation-policy-list"), _policy_body, 201
    ),
    "policy update": Write(
        "patch",
        lambda o: reverse("api:escalation-policy-detail", args=[o["policy"].pk]),
        lambda o: {"repeat": 2},
        200,
    ),
    "policy delete": Write(
        "delete",
        lambda o: reverse("api:escalation-policy-detail", args=[o["policy"].pk]),
        lambda o: {},
        204,
    ),
    "integration create": Write(
        "post",
        lambda o: reverse("api:integration-list"),
        lambda o: {"team": "core", "name": "Checks", "type": "events_v2"},
        201,
    ),
    "integration update": Write(
        "patch",
        lambda o: reverse("api:integration-detail", args=[o["integration"].pk]),
        lambda o: {"name": "Renamed", "severity_map": {"critical": "SEV0"}},
        200,
    ),
    "integration rotate key": Write(
        "post",
        lambda o: reverse("api:integration-rotate-key", args=[o["integration"].pk]),
        lambda o: {},
        200,
    ),
    "integration delete": Write(
        "delete",
        lambda o: reverse("api:integration-detail", args=[o["integration"].pk]),
        lambda o: {},
        204,
    ),
    "webhook create": Write(
        "post",
        lambda o: reverse("api:webhook-list"),
        lambda o: {"url": "https://hooks.example.com/new"},
        201,
    ),
    "webhook update": Write(
        "patch",
        lambda o: reverse("api:webhook-detail", args=[o["webhook"].pk]),
        lambda o: {"is_active": False, "event_types": ["resolved"], "team": None},
        200,
    ),
    "webhook rotate secret": Write(
        "post",
        lambda o: reverse("api:webhook-rotate-secret", args=[o["webhook"].pk]),
        lambda o: {},
        200,
    ),
    "webhook delete": Write(
        "delete",
        lambda o: reverse("api:webhook-detail", args=[o["webhook"].pk]),
        lambda o: {},
        204,
    ),
}


@pytest.fixture
def objects(core: Core) -> dict[str, Any]:
    TeamFactory.create(slug="spare")
    return {
        "core": core,
        "override": OverrideFactory.create(rotation=core.veteran, user=core.alice),
        "policy": EscalationPolicyFactory.create(team=core.team, name="Old"),
        "integration": IntegrationFactory.create(team=core.team, name="Prometheus"),
        "webhook": WebhookSubscription.objects.create(
            url="https://hooks.example.com/old", team=core.team
        ),
    }


def counts() -> tuple[int, ...]:
    return (
        Team.objects.count(),
        Rotation.objects.count(),
        RotationMember.objects.count(),
        Override.objects.count(),
        EscalationPolicy.objects.count(),
        Integration.objects.count(),
        WebhookSubscription.objects.count(),
    )


def integrations_and_webhooks() -> list[tuple[Any, ...]]:
    """What a write could change about them, the key digest and signing secret included."""
    return list(
        Integration.objects.order_by("pk").values_list(
            "name", "severity_map", "key_digest", "rate_limit_per_minute"
        )
    ) + list(
        WebhookSubscription.objects.order_by("pk").values_list(
            "url", "team", "event_types", "is_active", "secret"
        )
    )


def overrides() -> list[tuple[Any, ...]]:
    return list(
        Override.objects.order_by("pk").values_list(
            "rotation", "user", "replaces", "start", "end", "reason"
        )
    )


def send(api: Client, write: Write, objects: dict[str, Any]) -> Any:
    return getattr(api, write.method)(
        write.path(objects), write.body(objects), content_type="application/json"
    )


@pytest.mark.parametrize("role", ["support", "support_manager", "engineer"])
@pytest.mark.parametrize("name", WRITES)
def test_only_managers_write(
    as_role: Callable[[str], Client], objects: dict[str, Any], role: str, name: str
) -> None:
    before = counts()
    names = list(Team.objects.values_list("name", flat=True))
    covers = overrides()
    ingestion = integrations_and_webhooks()

    response = send(as_role(role), WRITES[name], objects)

    assert_error(response, 403, "permission_denied")
    assert counts() == before
    assert list(Team.objects.values_list("name", flat=True)) == names
    assert overrides() == covers
    assert integrations_and_webhooks() == ingestion


@pytest.mark.parametrize("name", WRITES)
def test_managers_write(manager_api: Client, objects: dict[str, Any], name: str) -> None:
    response = send(manager_api, WRITES[name], objects)

    assert response.status_code == WRITES[name].ok, response.content


@pytest.mark.parametrize("role", ["support", "support_manager", "engineer", "manager"])
def test_every_role_reads(
    as_role: Callable[[str], Client], objects: dict[str, Any], role: str
) -> None:
    api = as_role(role)
    for path in (
        reverse("api:team-list"),
        reverse("api:team-detail", args=["core"]),
        reverse("api:rotation-list"),
        reverse("api:override-list") + "?ends_after=2000-01-01T00:00:00Z",
        reverse("api:override-detail", args=[objects["override"].pk]),
        reverse("api:escalation-policy-list"),
        reverse("api:escalation-policy-detail", args=[objects["policy"].pk]),
        reverse("api:severity-policy-list"),
        reverse("api:user-list"),
    ):
        assert api.get(path).status_code == 200, path


def test_team_round_trip_with_the_contract_fields(
    manager_api: Client, people: dict[str, User]
) -> None:
    created = manager_api.post(
        reverse("api:team-list"),
        {
            "slug": "platform",
            "name": "Platform",
            "escalation_contact": people["manager"].pk,
            "contact_mode": "call",
        },
        content_type="application/json",
    )

    assert created.status_code == 201
    assert created.json() == {
        "slug": "platform",
        "name": "Platform",
        "escalation_contact": people["manager"].pk,
        "contact_mode": "call",
        "email": "",
        "slack_usergroup_id": "",
        "direct_numbers": [],
        "default_policy": None,
        "engage_policy": None,
        "new_tier_policy": None,
    }
    renamed = manager_api.patch(
        reverse("api:team-detail", args=["platform"]),
        {"slug": "plat", "escalation_contact": None},
        content_type="application/json",
    )
    assert renamed.json()["slug"] == "plat"
    assert renamed.json()["escalation_contact"] is None
    duplicate = manager_api.post(
        reverse("api:team-list"), {"slug": "plat", "name": "X"}, content_type="application/json"
    )
    assert_error(duplicate, 400, field="slug")


def test_rotation_created_with_ordered_members_who_join_the_team(
    manager_api: Client, core: Core, people: dict[str, User]
) -> None:
    stranger = people["support"]
    response = manager_api.post(
        reverse("api:rotation-list"),
        {
            "team": "core",
            "name": "Sprint",
            "tier": "none",
            "position": "secondary",
            "shift_length": "P14D",
            "handoff_time": "09:30",
            "timezone": "Europe/Berlin",
            "start_date": "2026-01-05",
            "members": [stranger.pk, core.alice.pk],
            "working_hours": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert {k: body[k] for k in ("team", "shift_length", "handoff_time", "members")} == {
        "team": "core",
        "shift_length": "P14D",
        "handoff_time": "09:30",
        "members": [stranger.pk, core.alice.pk],
    }
    assert body["working_hours"]["timezone"] == "Europe/Berlin"
    assert core.team.members.filter(pk=stranger.pk).exists()
    detail = manager_api.get(reverse("api:rotation-detail", args=[body["id"]])).json()
    assert detail == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"shift_length": "P1M"}, "shift_length"),
        ({"shift_length": "PT90M"}, "shift_length"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"handoff_time": "25:00"}, "handoff_time"),
        ({"members": [1, 1]}, "members"),
        ({"members": [999999]}, "members"),
        ({"team": "nope"}, "team"),
        ({"tier": "veteran"}, ""),  # the veteran primary slot is taken
    ],
)
def test_bad_rotation_is_400_and_stores_nothing(
    manager_api: Client, core: Core, body: dict[str, Any], field: str
) -> None:
    before = counts()

    response = manager_api.post(
        reverse("api:rotation-list"),
        {"team": "core", "tier": "none", **body},
        content_type="application/json",
    )

    error = assert_error(response, 400)
    assert field in error["fields"] or (field == "" and error["message"])
    assert counts() == before


def test_policy_with_ordered_nested_steps(manager_api: Client, core: Core) -> None:
    response = manager_api.post(
        reverse("api:escalation-policy-list"),
        {
            "team": "core",
            "name": "Default",
            "repeat": 2,
            "steps": [
                {"action": "walk_rotation", "rotation": core.veteran.pk, "wait": "PT5M"},
                {"action": "users", "users": [core.bob.pk, core.alice.pk], "wait": "PT10M"},
                {"action": "escalation_contact"},
            ],
        },
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "team", "name", "description", "repeat", "steps"}
    assert body["steps"] == [
        {"action": "walk_rotation", "rotation": core.veteran.pk, "users": [], "wait": "PT5M"},
        {
            "action": "users",
            "rotation": None,
            "users": sorted([core.alice.pk, core.bob.pk]),
            "wait": "PT10M",
        },
        {"action": "escalation_contact", "rotation": None, "users": [], "wait": "PT10M"},
    ]
    replaced = manager_api.patch(
        reverse("api:escalation-policy-detail", args=[body["id"]]),
        {"steps": [{"action": "escalation_contact", "wait": "PT1M"}]},
        content_type="application/json",
    )
    assert [s["wait"] for s in replaced.json()["steps"]] == ["PT1M"]


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"action": "walk_rotation"}, "steps.1.rotation"),
        ({"action": "rotation_oncall", "rotation": 999999}, "steps.1.rotation"),
        ({"action": "users"}, "steps.1.users"),
        ({"action": "team", "users": [1]}, "steps.1.users"),
        ({"action": "team", "wait": "-PT1M"}, "steps.1.wait"),
        ({"action": "launch"}, "steps.1.action"),
    ],
)
def test_a_bad_step_is_named_and_nothing_is_half_stored(
    manager_api: Client, core: Core, step: dict[str, Any], field: str
) -> None:
    response = manager_api.post(
        reverse("api:escalation-policy-list"),
        {"team": "core", "name": "P", "steps": [{"action": "escalation_contact"}, step]},
        content_type="application/json",
    )

    assert_error(response, 400, field=field)
    assert not EscalationPolicy.objects.exists()


def test_a_step_on_another_teams_rotation_is_refused_atomically(
    manager_api: Client, core: Core
) -> None:
    other = TeamFactory.create(slug="vro")
    policy = EscalationPolicyFactory.create(team=other, name="VRO")
    EscalationStepFactory.create(policy=policy, action="team")

    response = manager_api.patch(
        reverse("api:escalation-policy-detail", args=[policy.pk]),
        {
            "name": "Renamed",
            "steps": [{"action": "rotation_oncall", "rotation": core.veteran.pk}],
        },
        content_type="application/json",
    )

    assert_error(response, 400, field="steps.0.rotation")
    policy.refresh_from_db()
    assert policy.name == "VRO"
    assert [s.action for s in policy.steps.all()] == ["team"]


def test_deleting_what_is_still_in_use_is_409(manager_api: Client, core: Core) -> None:
    IncidentFactory.create(team=core.team)
    policy = EscalationPolicyFactory.create(team=core.team)
    EscalationStepFactory.create(policy=policy, action="walk_rotation", rotation=core.veteran)

    team = manager_api.delete(reverse("api:team-detail", args=["core"]))
    rotation = manager_api.delete(reverse("api:rotation-detail", args=[core.veteran.pk]))

    assert_error(team, 409, "protected")
    assert_error(rotation, 409, "protected")
    assert Team.objects.filter(slug="core").exists()
    assert Incident.objects.count() == 1


def test_overlapping_override_is_400(manager_api: Client, core: Core) -> None:
    OverrideFactory.create(rotation=core.veteran, user=core.bob)

    response = manager_api.post(
        reverse("api:override-list"),
        {
            "rotation": core.veteran.pk,
            "user": core.alice.pk,
            "start": "2026-01-10T06:00:00Z",
            "end": "2026-01-10T08:00:00Z",
        },
        content_type="application/json",
    )

    assert "overlaps" in assert_error(response, 400)["message"]
    assert Override.objects.count() == 1


def test_override_list_filters(manager_api: Client, core: Core) -> None:
    mine = OverrideFactory.create(rotation=core.veteran, user=core.alice)
    OverrideFactory.create(rotation=core.new, user=core.bob)
    path = reverse("api:override-list")

    query = {"rotation": str(core.veteran.pk), "ends_after": "2026-01-01T00:00:00Z"}
    rows = manager_api.get(path, query).json()

    assert [r["id"] for r in rows] == [mine.pk]
    assert set(rows[0]) == {
        "id",
        "rotation",
        "user",
        "replaces",
        "start",
        "end",
        "reason",
        "created_by",
        "created_at",
    }
    assert manager_api.get(path).json() == []  # both ended before now


def test_patching_working_hours_replaces_them_whole(manager_api: Client, core: Core) -> None:
    path = reverse("api:rotation-detail", args=[core.veteran.pk])

    partial = manager_api.patch(path, {"working_hours": {}}, content_type="application/json")
    whole = manager_api.patch(
        path,
        {"working_hours": {"start": "08:00", "end": "16:30:00"}},
        content_type="application/json",
    )
    cleared = manager_api.patch(path, {"working_hours": None}, content_type="application/json")

    assert_error(partial, 400, field="working_hours.start")
    assert whole.json()["working_hours"]["end"] == "16:30"
    assert cleared.json()["working_hours"] is None


def test_override_patch_round_trip(
    manager_api: Client, core: Core, people: dict[str, User]
) -> None:
    override = OverrideFactory.create(
        rotation=core.veteran, user=core.alice, replaces=core.bob, created_by=people["engineer"]
    )
    path = reverse("api:override-detail", args=[override.pk])

    response = manager_api.patch(
        path,
        # Bob is on call on the new tier that week: a manager confirms the double booking.
        {
            "user": core.bob.pk,
            "replaces": None,
            "end": "2026-01-12T00:00:00Z",
            "reason": "ill",
            "confirm_double_booking": True,
        },
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert {k: body[k] for k in ("rotation", "user", "replaces", "start", "end", "reason")} == {
        "rotation": core.veteran.pk,
        "user": core.bob.pk,
        "replaces": None,
        "start": "2026-01-10T00:00:00Z",
        "end": "2026-01-12T00:00:00Z",
        "reason": "ill",
    }
    assert body["created_by"] == people["engineer"].pk
    assert manager_api.get(path).json() == body
    moved = manager_api.patch(
        path, {"rotation": core.new.pk}, content_type="application/json"
    )  # bob is on the new tier too
    assert moved.json()["rotation"] == core.new.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"end": "2026-01-09T00:00:00Z"}, "end"),  # before the start it keeps
        ({"start": "yesterday"}, "start"),
        ({"user": 999999}, "user"),
        ({"replaces": 999999}, "replaces"),
        ({"rotation": 999999}, "rotation"),
        ({"reason": "x" * 201}, "reason"),
        ({"rotation": "new-tier"}, "rotation"),
    ],
)
def test_bad_override_patch_is_400_and_changes_nothing(
    manager_api: Client, core: Core, body: dict[str, Any], field: str
) -> None:
    override = OverrideFactory.create(rotation=core.veteran, user=core.alice)
    before = overrides()

    response = manager_api.patch(
        reverse("api:override-detail", args=[override.pk]), body, content_type="application/json"
    )

    assert_error(response, 400, field=field)
    assert overrides() == before


def test_override_patch_is_refused_for_a_non_member_or_an_overlap(
    manager_api: Client, core: Core, people: dict[str, User]
) -> None:
    override = OverrideFactory.create(rotation=core.veteran, user=core.alice)
    OverrideFactory.create(
        rotation=core.veteran, user=core.bob, start=datetime(2026, 1, 12, tzinfo=UTC)
    )
    path = reverse("api:override-detail", args=[override.pk])
    before = overrides()

    stranger = manager_api.patch(
        path, {"user": people["support"].pk}, content_type="application/json"
    )
    overlap = manager_api.patch(
        path, {"end": "2026-01-12T06:00:00Z"}, content_type="application/json"
    )

    assert_error(stranger, 400, field="user")
    assert "overlaps" in assert_error(overlap, 400)["message"]
    assert overrides() == before


def test_patching_an_unknown_override_is_404(manager_api: Client) -> None:
    response = manager_api.patch(
        reverse("api:override-detail", args=[424242]),
        {"reason": "x"},
        content_type="application/json",
    )

    assert_error(response, 404)


def test_severity_policies_give_postmortem_and_action_item_due_as_iso_8601(
    manager_api: Client,
) -> None:
    answer = manager_api.get(reverse("api:severity-policy-list"))
    due = {p["level"]: (p["postmortem_due"], p["action_item_due"]) for p in answer.json()}
    assert due == {
        "SEV0": ("P3D", "P15D"),
        "SEV1": ("P3D", "P15D"),
        "SEV2": ("P5D", "P30D"),
        "SEV3": ("P10D", "P30D"),
    }
