"""What the trail records: every configuration model, before and after, secrets masked, in
the transaction of the change (a rollback leaves nothing), roles as [before, after]."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import transaction

from audit.models import AuditEntry, Via
from audit.registry import AUDITED, MASK
from integrations.models import WebhookSubscription
from oncall.api.services import api_key_create
from oncall.roles import ENGINEER, MANAGER
from rotations import services
from tests.audit.support import entries_for
from tests.factories import (
    ApiKeyFactory,
    IntegrationFactory,
    RotationFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_an_update_records_before_and_after_and_the_system_when_no_request() -> None:
    rotation = RotationFactory.create(name="Primary")
    rotation.name = "Day shift"
    rotation.shift_length = timedelta(hours=12)
    rotation.save()

    update, create = entries_for(rotation)[:2]
    assert create.action == AuditEntry.Action.CREATE
    assert update.action == AuditEntry.Action.UPDATE
    assert update.changes["name"] == ["Primary", "Day shift"]
    assert update.changes["shift_length"] == ["7 days, 0:00:00", "12:00:00"]
    assert "ical_token" not in update.changes
    assert (update.actor, update.via) == (None, Via.SYSTEM)


def test_a_delete_is_recorded_with_the_values_it_had() -> None:
    team = TeamFactory.create(slug="gone", name="Gone")
    pk = team.pk
    team.delete()
    entry = AuditEntry.objects.filter(object_id=pk, action=AuditEntry.Action.DELETE).get()
    assert entry.content_type.model == "team"
    assert entry.changes["slug"] == ["gone", None]


def test_a_change_that_rolls_back_leaves_no_audit_row() -> None:
    rotation = RotationFactory.create(name="Primary")
    before = AuditEntry.objects.count()

    written_inside = []

    def rename_then_fail() -> None:
        with transaction.atomic():
            services.rotation_write(rotation=rotation, data={"name": "Renamed"})
            written_inside.append(AuditEntry.objects.count() - before)
            raise RuntimeError("the change fails after its save")

    with pytest.raises(RuntimeError):
        rename_then_fail()

    assert written_inside == [1]  # written inside the transaction…

    assert AuditEntry.objects.count() == before  # …and gone with it
    rotation.refresh_from_db()
    assert rotation.name == "Primary"


def test_secrets_are_masked_whole() -> None:
    key = ApiKeyFactory.create()
    integration = IntegrationFactory.create()
    hook = WebhookSubscription.objects.create(url="https://hooks.example.com/T0/secret-path")
    user = UserFactory.create(username="pat")
    rotation = RotationFactory.create()

    secrets = {
        key: ["digest"],
        integration: ["key_digest"],
        hook: ["url", "secret"],
        user: ["password"],
        rotation: ["ical_token"],
    }
    for obj, fields in secrets.items():
        (created,) = [e for e in entries_for(obj) if e.action == AuditEntry.Action.CREATE]
        for field in fields:
            assert created.changes[field] == [None, MASK], (obj, field)
    # A webhook's URL is its name too: the entry names it by id.
    hook_entry = entries_for(hook)[0]
    assert "hooks.example.com" not in hook_entry.object_repr
    assert "hooks.example.com" not in str(hook_entry.changes)
    assert "secret-path" not in str(AuditEntry.objects.values_list("changes", "object_repr"))


def test_a_new_api_key_shows_no_part_of_its_secret() -> None:
    created = api_key_create(user=UserFactory.create(), name="deploy bot")
    (entry,) = entries_for(created.key)
    assert created.secret not in str(entry.changes)
    assert created.key.digest not in str(entry.changes)
    assert entry.changes["digest"] == [None, MASK]


def test_a_role_change_records_the_groups_before_and_after() -> None:
    user = UserFactory.create(username="pat", roles=[ENGINEER])
    manager = Group.objects.get(name=MANAGER)

    user.groups.add(manager)
    added = entries_for(user)[0]
    assert added.changes == {"groups": [[ENGINEER], sorted([ENGINEER, MANAGER])]}

    user.groups.remove(manager)
    assert entries_for(user)[0].changes == {"groups": [sorted([ENGINEER, MANAGER]), [ENGINEER]]}

    user.groups.clear()
    assert entries_for(user)[0].changes == {"groups": [[ENGINEER], []]}


def test_staff_and_superuser_flags_are_recorded_and_sign_ins_are_not() -> None:
    user = UserFactory.create(username="pat")
    user.is_staff = True
    user.save()
    assert entries_for(user)[0].changes == {"is_staff": [False, True]}

    count = AuditEntry.objects.count()
    user.last_login = user.date_joined
    user.save(update_fields=["last_login"])
    assert AuditEntry.objects.count() == count


def test_team_members_are_recorded_as_names() -> None:
    team = TeamFactory.create()
    alice = UserFactory.create(username="alice")
    team.members.add(alice)
    assert entries_for(team)[0].changes == {"members": [[], [str(alice)]]}


def test_every_configuration_model_is_audited() -> None:
    assert set(AUDITED) >= {
        "rotations.team",
        "rotations.rotation",
        "rotations.rotationmember",
        "rotations.override",
        "rotations.escalationpolicy",
        "rotations.escalationstep",
        "incidents.severitypolicy",
        "integrations.integration",
        "integrations.webhooksubscription",
        "oncall.user",
        "oncall.apikey",
    }


def test_a_heartbeat_monitors_settings_are_recorded_and_its_pings_are_not() -> None:
    from integrations.services.heartbeats import heartbeat_monitor_update, heartbeat_ping
    from tests.integrations.test_heartbeats import heartbeat, monitor_of

    integration, _ = heartbeat()
    monitor = monitor_of(integration)
    heartbeat_monitor_update(monitor=monitor, changes={"interval": timedelta(minutes=10)})
    (update,) = [e for e in entries_for(monitor) if e.action == AuditEntry.Action.UPDATE]
    assert update.changes["interval"] == ["0:05:00", "0:10:00"]
    before = AuditEntry.objects.count()
    heartbeat_ping(integration=integration)
    heartbeat_ping(integration=integration)
    assert AuditEntry.objects.count() == before  # a ping is the machine's, not a change


def test_a_create_records_the_objects_own_fields_not_rows_pointing_at_it() -> None:
    integration = IntegrationFactory.create(name="Alerts")
    (create,) = entries_for(integration)
    assert create.changes["name"] == [None, "Alerts"]
    # Events, alert groups, a heartbeat monitor point here; they are not its values.
    assert not {"inbound_events", "alert_groups", "heartbeat"} & set(create.changes)
    team = integration.team
    (team_create,) = [e for e in entries_for(team) if e.action == AuditEntry.Action.CREATE]
    assert "rotations" not in team_create.changes
    assert "integrations" not in team_create.changes
