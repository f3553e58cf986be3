"""Who and through what: a change made in the admin, the portal, the API (a session or a
bearer key) and by the system is recorded with its actor and door."""

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.middleware import via_for
from audit.models import AuditEntry, Via
from audit.registry import MASK
from oncall.models import ApiKey, User
from oncall.roles import ENGINEER, MANAGER
from rotations.models import Override
from tests.audit.support import entries_for
from tests.factories import ApiKeyFactory, RotationFactory, UserFactory
from tests.oncall.test_admin import change_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager() -> User:
    return UserFactory.create(username="morgan", is_staff=True, roles=[MANAGER])


def test_the_door_is_read_from_the_path() -> None:
    assert via_for("/admin/rotations/rotation/1/change/") == Via.ADMIN
    assert via_for("/api/v1/rotations/1/") == Via.API
    assert via_for("/v2/enqueue") == Via.API
    assert via_for("/integrations/alertmanager/key/") == Via.API
    assert via_for("/rotations/1/overrides/") == Via.PORTAL


def test_a_managers_revoke_in_the_admin_is_recorded_as_theirs_via_admin(
    client: Client, manager: User
) -> None:
    key = ApiKeyFactory.create()
    client.force_login(manager)
    response = client.post(
        reverse("admin:oncall_apikey_changelist"),
        {"action": "revoke", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302

    entry = entries_for(key)[0]
    assert (entry.actor, entry.via, entry.action) == (manager, Via.ADMIN, AuditEntry.Action.UPDATE)
    assert entry.changes["revoked_at"][0] is None
    assert entry.changes["revoked_at"][1]


def test_a_role_given_in_the_admin_is_recorded_as_groups_before_and_after(
    client: Client,
) -> None:
    root = UserFactory.create(username="root", is_staff=True, is_superuser=True)
    alice = UserFactory.create(username="alice", roles=[ENGINEER])
    groups = Group.objects.filter(name__in=[ENGINEER, MANAGER])
    client.force_login(root)

    response = client.post(
        reverse("admin:oncall_user_change", args=[alice.pk]),
        change_form(alice, groups=[g.pk for g in groups], is_staff="on"),
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    found = {e.pk: e for e in entries_for(alice) if e.actor == root}
    assert found
    assert all(e.via == Via.ADMIN for e in found.values())
    changes: dict[str, Any] = {}
    for entry in sorted(found.values(), key=lambda e: e.pk):
        changes.update(entry.changes)
    assert changes["groups"] == [[ENGINEER], sorted([ENGINEER, MANAGER])]
    assert changes["is_staff"] == [False, True]


@time_machine.travel(datetime(2026, 3, 4, 12, tzinfo=UTC), tick=False)
def test_an_override_made_on_the_rotation_page_is_recorded_via_portal(
    client: Client, manager: User
) -> None:
    alice = UserFactory.create(username="alice", timezone="UTC", roles=[ENGINEER])
    bob = UserFactory.create(username="bob", timezone="UTC", roles=[ENGINEER])
    rotation = RotationFactory.create(members=[alice, bob])
    client.force_login(manager)

    response = client.post(
        reverse("rotations:override-create", args=[rotation.pk]),
        {
            "kind": "cover",
            "user": str(alice.pk),
            "replaces": str(bob.pk),
            "start": "2026-03-10T09:00",
            "end": "2026-03-11T09:00",
            "reason": "Dentist",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]

    override = Override.objects.get()
    (entry,) = entries_for(override)
    assert (entry.actor, entry.via, entry.action) == (manager, Via.PORTAL, AuditEntry.Action.CREATE)
    assert entry.changes["user"] == [None, alice.pk]
    assert entry.changes["replaces"] == [None, bob.pk]
    assert entry.changes["reason"] == [None, "Dentist"]


def test_a_rotation_changed_with_a_bearer_key_is_recorded_as_the_keys_owner_via_api(
    manager: User,
) -> None:
    alice = UserFactory.create(username="alice", roles=[ENGINEER])
    rotation = RotationFactory.create(name="Primary")
    key: Any = ApiKeyFactory.create(user=manager)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")

    response = api.patch(
        reverse("api:rotation-detail", args=[rotation.pk]),
        {"name": "Day shift", "members": [alice.pk]},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content

    update = entries_for(rotation)[0]
    assert (update.actor, update.via) == (manager, Via.API)
    assert update.changes == {"name": ["Primary", "Day shift"]}
    member_entries = AuditEntry.objects.filter(content_type__model="rotationmember")
    (added,) = member_entries.filter(action=AuditEntry.Action.CREATE, via=Via.API)
    assert (added.actor, added.changes["user"]) == (manager, [None, alice.pk])


def test_a_key_made_through_the_api_is_recorded_masked(manager: User) -> None:
    key: Any = ApiKeyFactory.create(user=manager)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key.secret}")

    response = api.post(
        reverse("api:key-list"), {"name": "deploy bot"}, content_type="application/json"
    )
    assert response.status_code == 201
    secret = response.json()["key"]

    made = ApiKey.objects.get(name="deploy bot")
    (entry,) = entries_for(made)
    assert (entry.actor, entry.via) == (manager, Via.API)
    assert entry.changes["digest"] == [None, MASK]
    assert secret not in str(entry.changes)
    assert made.digest not in str(entry.changes)


def test_a_refused_change_leaves_no_entry(client: Client) -> None:
    engineer = UserFactory.create(username="erin", roles=[ENGINEER])
    rotation = RotationFactory.create(name="Primary")
    client.force_login(engineer)
    count = AuditEntry.objects.count()

    response = client.patch(
        reverse("api:rotation-detail", args=[rotation.pk]),
        {"name": "Mine now"},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert AuditEntry.objects.count() == count


def test_a_management_command_is_recorded_as_the_system() -> None:
    call_command("createsuperuser", "--noinput", username="ops", email="ops@example.com")
    (entry,) = entries_for(User.objects.get(username="ops"))
    assert (entry.actor, entry.via, entry.action) == (None, Via.SYSTEM, AuditEntry.Action.CREATE)
    assert entry.changes["is_superuser"] == [None, True]
