"""The demo seed's incidents: a living portal (paging, acknowledged, resolved past ones),
made once however often `seed_demo` runs, and never paging anybody who is not a demo person."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from incidents.models import EscalationStatus, Incident, Status, TimelineKind
from notifications.models import Notification
from notifications.models import Status as PageStatus
from oncall.demo import PEOPLE
from rotations.models import Position, Tier
from tests.factories import RotationFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def seed() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def test_the_seed_opens_a_living_portal_once() -> None:
    seed()
    first = {i.pk: (i.status, i.triggered_at) for i in Incident.objects.all()}
    timeline = Incident.objects.count(), Notification.objects.count()
    seed()
    assert {i.pk: (i.status, i.triggered_at) for i in Incident.objects.all()} == first
    assert (Incident.objects.count(), Notification.objects.count()) == timeline

    by_status = {s: list(Incident.objects.filter(status=s)) for s in Status.values}
    assert len(by_status[Status.TRIGGERED]) == 1
    assert len(by_status[Status.ACKNOWLEDGED]) == 1
    assert len(by_status[Status.RESOLVED]) == 4
    paging = by_status[Status.TRIGGERED][0]
    assert paging.escalation_states.filter(status=EscalationStatus.ACTIVE).exists()
    assert paging.timeline.filter(kind=TimelineKind.PAGED).exists()

    now = timezone.now()
    for past in by_status[Status.RESOLVED]:
        assert past.triggered_at < now - timedelta(hours=5)
        assert past.resolved_at is not None
        events = list(past.timeline.order_by("at", "pk"))
        assert events[0].kind == TimelineKind.DECLARED
        # Resolving drafts the postmortem (postmortems app); its writing comes later.
        lifecycle = [e for e in events if not e.kind.startswith(("postmortem_", "action_item"))]
        assert lifecycle[-1].kind == TimelineKind.RESOLVED
        assert all(e.at <= past.resolved_at for e in lifecycle)
        assert past.resolved_at - past.triggered_at >= timedelta(minutes=20)
        pages = Notification.objects.filter(subject_type="incident", subject_id=past.pk)
        assert set(pages.values_list("status", flat=True)) <= {PageStatus.SENT}

    demo = {p.username for p in PEOPLE}
    paged = set(Notification.objects.values_list("recipient__username", flat=True))
    assert paged
    assert paged <= demo


def test_no_demo_incident_when_a_team_holds_a_real_person() -> None:
    core = TeamFactory.create(slug="core", name="Core")
    RotationFactory.create(
        team=core,
        tier=Tier.NONE,
        position=Position.PRIMARY,
        members=[UserFactory.create(username="zoe.real")],
    )
    seed()
    assert not Incident.objects.exists()
    assert not Notification.objects.filter(recipient__username="zoe.real").exists()
