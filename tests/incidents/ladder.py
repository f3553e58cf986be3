"""The support ladder's people: a support desk (first tier, support manager) beside the Core
engineering team of tests/incidents/conftest.py."""

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group

from incidents.models import Incident, Severity
from incidents.services import incident_declare
from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from rotations.models import Team, TeamKind
from tests.factories import TeamFactory, UserFactory
from tests.incidents.conftest import Core


@dataclass
class Desk:
    team: Team  # the support team (handbook 004's first and second tier)
    santhosh: User  # first tier (Support)
    dinesh: User  # support manager (the support team's escalation contact)
    core: Core  # the engineering team: bob tops its veteran list, erin its new one
    bob: User  # an engineer (Engineer)
    carol: User  # an engineer, not paged
    morgan: User  # Core's engineering manager (its escalation contact; Manager)


@pytest.fixture
def desk(core: Core) -> Desk:
    santhosh = UserFactory.create(username="santhosh", roles=[SUPPORT])
    dinesh = UserFactory.create(username="dinesh", roles=[SUPPORT_MANAGER])
    team = TeamFactory.create(
        slug="desk", name="Support desk", kind=TeamKind.SUPPORT, escalation_contact=dinesh
    )
    for name in ("alice", "bob", "carol", "dave", "erin"):
        core.people[name].groups.set(Group.objects.filter(name=ENGINEER))
    core.people["morgan"].groups.set(Group.objects.filter(name=MANAGER))
    people = core.people
    return Desk(team, santhosh, dinesh, core, people["bob"], people["carol"], people["morgan"])


def on_desk(desk: Desk, severity: str = Severity.SEV1) -> Incident:
    return incident_declare(
        title="Prices wrong for a customer", actor=desk.santhosh, team=desk.team, severity=severity
    )


def paged_on(incident: Incident, track: str) -> list[str]:
    """Who the track named `track` paged (any generation), in order."""
    rows = Notification.objects.filter(
        subject_type="incident",
        subject_id=incident.pk,
        idempotency_key__startswith=f"inc{incident.pk}:{track}",
    ).order_by("created_at", "id")
    return list(dict.fromkeys(n.recipient.username for n in rows if n.recipient))


def rows(incident: Incident, kind: str) -> list[Any]:
    return list(incident.timeline.filter(kind=kind).order_by("at", "id"))
