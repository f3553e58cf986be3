"""The timers' rules (incidents/services/updates.py): the incident page says "overdue" at
exactly the instant the sweep acts, because both ask the same function."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from incidents.models import Incident, SeverityPolicy, TimelineKind
from incidents.services import incident_declare, incident_timers_sweep
from oncall.roles import SUPPORT_MANAGER
from tests.factories import UserFactory
from tests.incidents.conftest import T0, Core

pytestmark = pytest.mark.django_db

TRIAGE_OVERDUE = "Overdue: the 5Ws and severity were due by"
UPDATE_OVERDUE = "Next update overdue since"


def _page(client: Client, incident: Incident) -> str:
    return client.get(f"/incidents/{incident.pk}/").content.decode()


def test_triage_is_overdue_on_the_page_exactly_when_the_sweep_pages(
    client: Client, core: Core
) -> None:
    SeverityPolicy.objects.update_or_create(
        level="SEV2", defaults={"triage_target": timedelta(minutes=20)}
    )
    UserFactory.create(username="dinesh", roles=[SUPPORT_MANAGER])
    client.force_login(core.people["john"])
    with time_machine.travel(T0, tick=False) as traveller:
        incident = incident_declare(title="Checkout down", actor=None, team=core.team)
        traveller.shift(timedelta(minutes=20) - timedelta(seconds=1))
        incident_timers_sweep()
        assert not incident.timeline.filter(kind=TimelineKind.TRIAGE_OVERDUE).exists()
        assert TRIAGE_OVERDUE not in _page(client, incident)

        traveller.shift(timedelta(seconds=1))
        assert TRIAGE_OVERDUE in _page(client, incident)
        incident_timers_sweep()
        assert incident.timeline.filter(kind=TimelineKind.TRIAGE_OVERDUE).exists()


def test_a_status_update_is_overdue_on_the_page_exactly_when_the_sweep_reminds(
    client: Client, core: Core
) -> None:
    SeverityPolicy.objects.update_or_create(
        level="SEV1",
        defaults={"status_updates_required": True, "status_update_interval": timedelta(hours=1)},
    )
    client.force_login(core.people["john"])
    with time_machine.travel(T0, tick=False) as traveller:
        incident = incident_declare(
            title="Checkout down", actor=None, team=core.team, severity="SEV1"
        )
        traveller.shift(timedelta(hours=1) - timedelta(seconds=1))
        incident_timers_sweep()
        assert not incident.timeline.filter(kind=TimelineKind.UPDATE_DUE).exists()
        assert UPDATE_OVERDUE not in _page(client, incident)

        traveller.shift(timedelta(seconds=1))
        assert UPDATE_OVERDUE in _page(client, incident)
        incident_timers_sweep()
        assert incident.timeline.filter(kind=TimelineKind.UPDATE_DUE).count() == 1
