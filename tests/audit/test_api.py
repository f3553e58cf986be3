"""`GET /api/v1/audit/`: the contract's fields, Managers only, filters, 400 naming a bad one."""

import base64
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry, Via
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.api.conftest import assert_error, bearer_client
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/audit/"


@pytest.fixture
def manager() -> User:
    return UserFactory.create(username="morgan", roles=[MANAGER])


def test_the_url_is_named() -> None:
    assert reverse("api:audit-list") == URL


def test_anonymous_is_refused_as_not_signed_in() -> None:
    # The portal's rule: only a request that tried a key is told 401 (oncall.api.authentication).
    assert_error(Client().get(URL), 403, "not_authenticated")
    assert_error(Client(HTTP_AUTHORIZATION="Bearer wrong").get(URL), 401)


@pytest.mark.parametrize("role", [SUPPORT, SUPPORT_MANAGER, ENGINEER])
def test_only_managers_may_read_it(role: str) -> None:
    user = UserFactory.create(username="someone", roles=[role])
    assert_error(bearer_client(user).get(URL), 403)


def test_an_entry_has_the_contracts_fields(manager: User) -> None:
    api = bearer_client(manager)
    rotation = RotationFactory.create(name="Primary")
    with time_machine.travel(datetime(2026, 3, 4, 12, tzinfo=UTC), tick=False):
        response = api.patch(
            f"/api/v1/rotations/{rotation.pk}/",
            {"name": "Day shift"},
            content_type="application/json",
        )
    assert response.status_code == 200
    rotation.refresh_from_db()

    body = api.get(URL, {"object_type": "rotation"}).json()
    entry = body["results"][0]
    assert entry == {
        "id": entry["id"],
        "at": "2026-03-04T12:00:00Z",
        "actor": manager.pk,
        "via": "api",
        "action": "update",
        "object_type": "rotation",
        "object_id": str(rotation.pk),
        "object_repr": str(rotation),
        "changes": {"name": ["Primary", "Day shift"]},
    }
    assert body["results"][1]["action"] == "create"
    assert body["results"][1]["via"] == "system"
    assert body["results"][1]["actor"] is None


def test_filters_by_type_actor_and_since(manager: User) -> None:
    alice = UserFactory.create(username="alice")
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC)):
        TeamFactory.create(slug="early")
    with time_machine.travel(datetime(2026, 3, 5, tzinfo=UTC)):
        late = TeamFactory.create(slug="late")
    AuditEntry.objects.filter(object_id=late.pk, content_type__model="team").update(actor=alice)
    api = bearer_client(manager)

    teams = api.get(URL, {"object_type": "team"}).json()["results"]
    assert {e["object_repr"] for e in teams} == {"Early", "Late"}
    assert {e["object_type"] for e in teams} == {"team"}

    by_alice = api.get(URL, {"actor": alice.pk}).json()["results"]
    assert [e["object_repr"] for e in by_alice] == ["Late"]

    since = api.get(URL, {"object_type": "team", "since": "2026-03-03T00:00:00Z"}).json()
    assert [e["object_repr"] for e in since["results"]] == ["Late"]


def test_a_role_change_reads_as_groups_before_and_after(manager: User) -> None:
    alice = UserFactory.create(username="alice", roles=[ENGINEER])
    alice.groups.add(Group.objects.get(name=MANAGER))
    entries = bearer_client(manager).get(URL, {"object_type": "user"}).json()["results"]
    groups = [e for e in entries if "groups" in e["changes"] and e["object_id"] == str(alice.pk)]
    assert groups[0]["changes"]["groups"] == [[ENGINEER], sorted([ENGINEER, MANAGER])]
    assert groups[0]["via"] == Via.SYSTEM


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"object_type": "incident"}, "object_type"),
        ({"actor": "alice"}, "actor"),
        ({"actor": "99999999999999999999999"}, "actor"),
        ({"since": "yesterday"}, "since"),
        ({"since": "9999-01-01T00:00:00Z"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"object_id": "0"}, "object_id"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(manager: User, query: dict[str, str], field: str) -> None:
    error = assert_error(bearer_client(manager).get(URL, query), 400, field=field)
    assert error["fields"][field]


def test_pages_follow_the_next_link(manager: User) -> None:
    for n in range(3):
        TeamFactory.create(slug=f"t{n}")
    api = bearer_client(manager)
    first = api.get(URL, {"object_type": "team", "page_size": "2"}).json()
    assert len(first["results"]) == 2
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True)


def test_a_forged_cursor_is_a_404_not_a_500(manager: User) -> None:
    forged = base64.b64encode(b"r=0&p=not-an-id").decode()
    response = bearer_client(manager).get(URL, {"cursor": forged})
    assert_error(response, 404)


def test_the_schema_documents_it(manager: User) -> None:
    schema = bearer_client(manager).get("/api/v1/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/audit/"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"object_type", "actor", "since", "until", "object_id", "cursor"} <= names
    entry = schema["components"]["schemas"]["AuditEntry"]
    assert set(entry["required"]) >= {"id", "at", "actor", "via", "action", "object_type"}
