"""Moving the integration models out of incidents touches no data (PostgreSQL).

The database is taken back to the day before the move (incidents 0007, no integrations
app), filled through the models as they were then, and migrated forward: every row is
still there, read through the new app's models, with its links, its status decided from
its old fields, and the permissions granted on the old content types kept.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from incidents.models import Incident
from integrations.ingest import events as inbound
from integrations.models import (
    Alert,
    AlertGroup,
    InboundEvent,
    InboundStatus,
    IngestWindow,
    Integration,
    WebhookSubscription,
)
from oncall.roles import MANAGER

BEFORE = [("incidents", "0007_timeline_reminder_ack")]


def _fill(old: Any) -> dict[str, int]:
    """Rows made with the models of the day before the move."""
    now = timezone.now()
    team = old.get_model("rotations", "Team").objects.create(slug="core", name="Core")
    incident = old.get_model("incidents", "Incident").objects.create(
        title="Disk full", team=team, source="integration", triggered_at=now
    )
    integration = old.get_model("incidents", "Integration").objects.create(
        team=team,
        name="Prometheus",
        type="alertmanager",
        key_prefix="ik_x",
        key_digest="d" * 64,
        severity_map={"critical": "SEV1"},
    )
    group = old.get_model("incidents", "AlertGroup").objects.create(
        integration=integration, dedup_key="g", incident=incident, last_event_at=now
    )
    old.get_model("incidents", "Alert").objects.create(
        alert_group=group, incident=incident, fingerprint="a1", received_at=now, updated_at=now
    )
    old.get_model("incidents", "IngestWindow").objects.create(
        integration=integration, window=now.replace(second=0, microsecond=0), count=3
    )
    old.get_model("incidents", "WebhookSubscription").objects.create(
        url="https://hooks.example.com/x", secret="s", event_types=["triggered"]
    )
    event = old.get_model("incidents", "InboundEvent")
    base = {"integration": integration, "kind": "alertmanager", "payload": {}, "dedup_key": "g"}
    ids = {
        "processed": event.objects.create(**base, processed_at=now, action="created").pk,
        "failed": event.objects.create(**base, failed_at=now, attempts=5, last_error="E").pk,
        "retrying": event.objects.create(
            **base, attempts=1, last_error="E", next_attempt_at=now + timedelta(minutes=1)
        ).pk,
        "accepted": event.objects.create(**base).pk,
    }
    return {"incident": incident.pk, "integration": integration.pk, **ids}


@pytest.mark.usefixtures("postgres")
@pytest.mark.django_db(transaction=True)
def test_the_move_keeps_every_row_its_links_and_its_permissions() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate([*BEFORE, ("integrations", None)])
    old = executor.loader.project_state(BEFORE, at_end=True).apps
    ids = _fill(old)
    managers = Group.objects.get(name=MANAGER)
    held = set(
        managers.permissions.filter(codename="change_integration").values_list("pk", flat=True)
    )
    assert held, "managers could change integrations before the move"

    executor = MigrationExecutor(connection)
    executor.migrate(latest)

    integration = Integration.objects.get(pk=ids["integration"])
    assert integration.team.slug == "core"
    group = AlertGroup.objects.select_related("incident").get(integration=integration)
    assert group.incident.pk == ids["incident"]
    assert list(Alert.objects.filter(alert_group=group).values_list("fingerprint", flat=True)) == [
        "a1"
    ]
    assert Incident.objects.get(pk=ids["incident"]).alert_group == group  # the reverse link
    assert IngestWindow.objects.get(integration=integration).count == 3
    assert WebhookSubscription.objects.get().url == "https://hooks.example.com/x"
    statuses = dict(InboundEvent.objects.values_list("pk", "status"))
    assert statuses == {
        ids["processed"]: InboundStatus.PROCESSED,
        ids["failed"]: InboundStatus.FAILED,
        ids["retrying"]: InboundStatus.RETRYING,
        ids["accepted"]: InboundStatus.ACCEPTED,
    }
    assert set(inbound.pending().values_list("pk", flat=True)) == {ids["retrying"], ids["accepted"]}
    # The same permission rows, now under the integrations label: nothing to grant again.
    moved = managers.permissions.filter(pk__in=held)
    assert list(moved.values_list("content_type__app_label", flat=True)) == ["integrations"]
    # New rows and cascades work across the apps.
    Incident.objects.filter(pk=ids["incident"]).delete()
    assert not AlertGroup.objects.exists()
    assert not Alert.objects.exists()
