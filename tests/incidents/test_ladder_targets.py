"""Targets are enforced (issue 16 point 5): the severity's acknowledge target and the rung
targets; a missed one pages the next rung once (or the escalation contact), on the timeline,
and shows on the incident page in words."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from incidents.acks import TARGET_REMINDER
from incidents.engine import escalation_sweep
from incidents.models import Incident, Rung, Severity, SeverityPolicy, TimelineKind
from incidents.services import incident_acknowledge, incident_resolve
from incidents.services.ladder import incident_escalate_tier, incident_targets_sweep
from notifications.models import Notification
from tests.incidents.conftest import T0
from tests.incidents.ladder import Desk, on_desk, paged_on, rows

pytestmark = pytest.mark.django_db

SEV1 = Severity.SEV1


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def target_pages(incident: Incident) -> list[str]:
    found = Notification.objects.filter(subject_type=TARGET_REMINDER, subject_id=incident.pk)
    return [n.recipient.username for n in found.order_by("id") if n.recipient]


def test_the_beat_runs_the_targets_sweep_on_its_queue() -> None:
    schedule = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "incidents.targets_sweep" in schedule
    assert settings.CELERY_TASK_ROUTES["incidents.targets_sweep"] == {"queue": "default"}


def test_first_tier_missing_the_acknowledge_target_pages_the_support_manager_once(
    desk: Desk, clock: Any
) -> None:
    incident = on_desk(desk, SEV1)
    ack = SeverityPolicy.objects.get(level=SEV1).acknowledge_target
    clock.shift(ack - timedelta(seconds=1))
    assert incident_targets_sweep() == 0  # not yet
    clock.shift(timedelta(seconds=1))
    assert incident_targets_sweep() == 1
    assert incident_targets_sweep() == 0  # a second run pages nobody again
    escalation_sweep()
    incident.refresh_from_db()
    assert incident.rung == Rung.SUPPORT_MANAGER
    assert paged_on(incident, "support_manager") == ["dinesh"]
    [missed] = rows(incident, TimelineKind.TARGET_MISSED)
    assert missed.message.startswith("Target missed: acknowledge by ")
    assert missed.message.endswith("; escalating to the support manager")
    [escalated] = rows(incident, TimelineKind.TIER_ESCALATED)
    assert escalated.actor is None
    # The support manager's rung runs its own acknowledge target from now.
    assert incident.next_target_at == T0 + ack + ack


def test_the_support_manager_missing_it_pages_the_escalation_contact_once(
    desk: Desk, clock: Any
) -> None:
    incident = on_desk(desk, SEV1)
    incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.santhosh)
    ack = SeverityPolicy.objects.get(level=SEV1).acknowledge_target
    clock.shift(ack + timedelta(minutes=1))
    assert incident_targets_sweep() == 1
    assert incident_targets_sweep() == 0
    assert target_pages(incident) == ["dinesh"]  # the support team's escalation contact
    incident.refresh_from_db()
    assert incident.rung == Rung.SUPPORT_MANAGER  # nobody chose an engineering team
    assert incident.next_target_at is None  # nothing else runs until someone acts


def test_the_on_call_missing_the_rung_target_pages_the_engineering_manager_once(
    desk: Desk, clock: Any
) -> None:
    incident = on_desk(desk, Severity.SEV3)
    incident_escalate_tier(
        incident=incident, to=Rung.ONCALL, actor=desk.santhosh, team=desk.core.team
    )
    escalation_sweep()
    incident_acknowledge(incident=incident, actor=desk.bob)
    incident.refresh_from_db()
    hours = SeverityPolicy.objects.get(level=Severity.SEV3).oncall_target
    assert incident.next_target_at == T0 + hours
    clock.shift(hours)
    incident_targets_sweep()
    incident_targets_sweep()
    assert target_pages(incident) == ["morgan"]  # Core's escalation contact
    [missed] = rows(incident, TimelineKind.TARGET_MISSED)
    assert "on-call engineer takes care of it" in missed.message
    assert missed.data["rung"] == Rung.ONCALL
    incident.refresh_from_db()
    assert incident.next_target_at is None


def test_an_engineering_incident_missing_the_acknowledge_target_is_recorded_only(
    desk: Desk, clock: Any
) -> None:
    from incidents.services import incident_declare

    incident = incident_declare(title="Disk full", actor=desk.bob, team=desk.core.team)
    ack = SeverityPolicy.objects.get(level=Severity.SEV2).acknowledge_target
    assert incident.next_target_at == T0 + ack
    clock.shift(ack)
    assert incident_targets_sweep() == 1
    assert incident_targets_sweep() == 0
    assert target_pages(incident) == []  # its policy walks the list to the contact itself
    [missed] = rows(incident, TimelineKind.TARGET_MISSED)
    assert missed.message.endswith("; its escalation policy keeps paging")
    incident.refresh_from_db()
    assert incident.next_target_at is None


def test_acknowledging_and_resolving_keep_the_target_right(desk: Desk, clock: Any) -> None:
    incident = on_desk(desk, SEV1)
    escalation_sweep()
    incident_acknowledge(incident=incident, actor=desk.dinesh)  # paged as the team's contact
    incident.refresh_from_db()
    assert incident.next_target_at is None  # the first tier's rung has no target once taken
    incident_resolve(incident=incident, actor=desk.dinesh)
    incident.refresh_from_db()
    assert incident.next_target_at is None
    clock.shift(timedelta(days=2))
    assert incident_targets_sweep() == 0


def test_the_incident_page_shows_a_missed_target_in_words(
    desk: Desk, clock: Any, client: Client
) -> None:
    incident = on_desk(desk, SEV1)
    incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.santhosh)
    client.force_login(desk.dinesh)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Target missed" not in html
    assert "Support manager" in html
    clock.shift(timedelta(hours=1))
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Target missed:" in html  # overdue before the sweep has acted
    incident_targets_sweep()
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'class="errors alert" role="alert">Target missed: acknowledge by' in html


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_act_on_each_missed_target_once(postgres: None) -> None:
    import importlib
    import threading

    from django.apps import apps
    from django.db import connection

    from incidents.services import incident_declare
    from tests.factories import TeamFactory, UserFactory

    importlib.import_module("incidents.migrations.0002_severity_policies").create(apps, None)
    importlib.import_module("incidents.migrations.0016_support_ladder_defaults").set_defaults(
        apps, None
    )
    manager = UserFactory.create(username="dinesh")
    desk = TeamFactory.create(slug="desk", kind="support", escalation_contact=manager)
    with time_machine.travel(T0, tick=False):
        incidents = [
            incident_declare(title=f"Customer report {n}", actor=None, team=desk, severity=SEV1)
            for n in range(20)
        ]
    barrier = threading.Barrier(2)
    acted: list[int] = []

    def sweep() -> None:
        try:
            barrier.wait()
            acted.append(incident_targets_sweep(now=T0 + timedelta(hours=1)))
        finally:
            connection.close()

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sum(acted) == 20
    for incident in incidents:
        assert len(rows(incident, TimelineKind.TARGET_MISSED)) == 1
        assert len(rows(incident, TimelineKind.TIER_ESCALATED)) == 1
