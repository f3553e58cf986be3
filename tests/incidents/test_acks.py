"""Who may acknowledge an incident's engineering paging, and which incidents page whom now."""

from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group

from incidents.acks import AckRight, acknowledge_right, incidents_paging, page_is_current
from incidents.engine import escalation_sweep
from incidents.models import ContactMode, Incident, Status, TimelineKind
from incidents.services import (
    AcknowledgeRefused,
    incident_acknowledge,
    incident_declare,
    incident_reopen,
    incident_resolve,
)
from notifications.models import Notification
from notifications.models import Status as NotificationStatus
from oncall.models import User
from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER
from tests.factories import TeamFactory, UserFactory
from tests.incidents.conftest import T0, Core

pytestmark = pytest.mark.django_db


def role(user: User, *names: str) -> User:
    user.groups.add(*Group.objects.filter(name__in=names))
    return user


def paged_incident(core: Core, **kwargs: Any) -> Incident:
    """Declared at T0 and its first step run: bob, on top of the veteran list, is paged."""
    with time_machine.travel(T0, tick=False):
        incident = incident_declare(
            title="Checkout down", actor=core.people["john"], team=core.team, **kwargs
        )
        escalation_sweep()
    assert Notification.objects.filter(subject_id=incident.pk, recipient__username="bob").exists()
    return incident


def test_the_permission_matrix(core: Core) -> None:
    people = core.people
    for name in ("alice", "bob", "carol", "dave", "erin"):
        role(people[name], ENGINEER)
    role(people["morgan"], MANAGER)
    sue = UserFactory.create(username="sue", roles=[SUPPORT])
    sid = UserFactory.create(username="sid", roles=[SUPPORT_MANAGER])
    gone = UserFactory.create(username="gone", roles=[MANAGER], is_active=False)
    incident = paged_incident(core, commander=people["carol"])

    rights = {
        user.username: acknowledge_right(incident, user)
        for user in (*people.values(), sue, sid, gone)
    }

    assert rights == {
        "bob": AckRight.PAGED,  # the veteran track paged him
        "carol": AckRight.COMMANDER,
        "morgan": AckRight.MANAGER,  # the CPE manager, not paged yet
        "alice": None,  # an engineer of the team the track has not reached
        "dave": None,
        "erin": None,
        "john": None,  # declared it: declaring gives no right to silence it
        "sue": None,  # support declares and watches
        "sid": None,  # the support manager's triage page is a reminder, not this paging
        "gone": None,
    }


def test_support_never_silences_engineering_paging_even_as_commander(core: Core) -> None:
    sid = UserFactory.create(username="sid", roles=[SUPPORT_MANAGER])
    incident = paged_incident(core, commander=sid)

    assert acknowledge_right(incident, sid) is None
    with pytest.raises(AcknowledgeRefused):
        incident_acknowledge(incident=incident, actor=sid)


def test_a_call_directly_incident_is_taken_by_an_engineer(core: Core) -> None:
    quiet = TeamFactory.create(slug="platform", name="Platform", contact_mode=ContactMode.CALL)
    alice = role(core.people["alice"], ENGINEER)
    sue = UserFactory.create(username="sue", roles=[SUPPORT])
    incident = incident_declare(title="Odd", actor=sue, team=quiet)

    assert acknowledge_right(incident, alice) == AckRight.ENGINEER
    assert acknowledge_right(incident, sue) is None


def test_a_refused_acknowledge_changes_nothing(core: Core) -> None:
    alice = role(core.people["alice"], ENGINEER)
    incident = paged_incident(core)
    pending_before = Notification.objects.filter(
        subject_id=incident.pk, status=NotificationStatus.PENDING
    ).count()

    with pytest.raises(AcknowledgeRefused, match=f"not paged for {incident.number}"):
        incident_acknowledge(incident=incident, actor=alice)

    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    assert incident.escalation_states.filter(status="active").exists()
    assert (
        Notification.objects.filter(
            subject_id=incident.pk, status=NotificationStatus.PENDING
        ).count()
        == pending_before
        > 0
    )
    assert not incident.timeline.filter(kind=TimelineKind.ACKNOWLEDGED).exists()


def test_a_manager_acknowledges_on_behalf_of_those_paged(core: Core) -> None:
    morgan = role(core.people["morgan"], MANAGER)
    bob = core.people["bob"]
    incident = paged_incident(core)

    incident_acknowledge(incident=incident, actor=morgan)

    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (Status.ACKNOWLEDGED, morgan)
    event = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert event.actor == morgan
    assert event.message == f"Acknowledged on behalf of {bob}"
    assert event.data["on_behalf_of"] == [bob.pk]
    assert event.data["right"] == "manager"


def test_the_paged_person_acknowledges_as_themselves(core: Core) -> None:
    incident = paged_incident(core)
    incident_acknowledge(incident=incident, actor=core.people["bob"])
    event = incident.timeline.get(kind=TimelineKind.ACKNOWLEDGED)
    assert (event.message, event.data["on_behalf_of"], event.data["right"]) == (
        "Acknowledged",
        [],
        "paged",
    )


def test_a_page_from_before_a_reopen_is_no_longer_current(core: Core) -> None:
    incident = paged_incident(core)
    old_page = Notification.objects.filter(subject_id=incident.pk).earliest("id")
    assert page_is_current(incident, old_page)
    with time_machine.travel(T0, tick=False):
        incident_resolve(incident=incident, actor=None)
        incident_reopen(incident=incident, actor=None)
    assert not page_is_current(incident, old_page)
    # Until the new generation pages bob again, his old page gives him no right.
    assert acknowledge_right(incident, core.people["bob"]) is None
    with time_machine.travel(T0, tick=False):
        escalation_sweep()
    assert acknowledge_right(incident, core.people["bob"]) == AckRight.PAGED


def test_incidents_paging_me_are_the_triggered_ones_my_live_pages_come_from(core: Core) -> None:
    bob, alice = core.people["bob"], core.people["alice"]
    first = paged_incident(core)
    second = paged_incident(core)

    assert incidents_paging(bob) == [second, first]
    assert incidents_paging(alice) == []

    incident_acknowledge(incident=first, actor=bob)
    assert incidents_paging(bob) == [second]
    incident_resolve(incident=second, actor=None)
    assert incidents_paging(bob) == []
