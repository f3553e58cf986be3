"""Raising an unacknowledged incident to a severity that pages both tiers pages the new tier
now, once, as declaring it at that severity would have; nothing else changes paging."""

import pytest
import time_machine

from incidents.engine import escalation_sweep
from incidents.models import EscalationState, Incident, Severity, TimelineKind
from incidents.services import (
    incident_acknowledge,
    incident_declare,
    incident_engage,
    incident_set_severity,
    incident_triage_confirm,
)
from tests.factories import RotationFactory, TeamFactory, UserFactory
from tests.incidents.conftest import T0, Core, answers_suggesting, paged

NEW_TIER = {"dave", "erin"}

pytestmark = pytest.mark.django_db


def declare(core: Core, severity: str = Severity.SEV2) -> Incident:
    return incident_declare(
        title="Checkout errors", team=core.team, severity=severity, actor=core.people["john"]
    )


def new_tier_paged(incident: Incident) -> list[str]:
    return [name for name in paged(incident) if name in NEW_TIER]


def test_raised_to_sev1_while_triggered_the_new_tier_is_paged_once(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core)
        escalation_sweep()
        assert new_tier_paged(incident) == []  # SEV2 pages the veteran tier only

        incident_set_severity(incident=incident, severity=Severity.SEV1, actor=core.people["bob"])
        escalation_sweep()
        assert new_tier_paged(incident) == ["erin"]

        # Up again, down and up: the new tier was paged for this round already.
        for level in (Severity.SEV0, Severity.SEV2, Severity.SEV1):
            incident_set_severity(incident=incident, severity=level, actor=core.people["bob"])
        escalation_sweep()

    assert new_tier_paged(incident) == ["erin"]
    tracks = EscalationState.objects.filter(incident=incident).values_list("track", flat=True)
    assert sorted(tracks) == ["main", "new"]
    started = incident.timeline.filter(
        kind=TimelineKind.ESCALATION, message__startswith="Escalation started on track new"
    ).get()
    assert started.actor == core.people["bob"]


def test_raised_after_someone_acknowledged_pages_nobody_new(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core)
        escalation_sweep()  # bob, on top of the veteran list, is paged
        incident_acknowledge(incident=incident, actor=core.people["bob"])
        before = paged(incident)
        incident_set_severity(incident=incident, severity=Severity.SEV0, actor=core.people["bob"])
        escalation_sweep()
    assert paged(incident) == before


def test_triage_confirming_a_higher_severity_pages_the_new_tier(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core, Severity.SEV3)
        incident_triage_confirm(
            incident=incident,
            severity=Severity.SEV1,
            actor=core.people["bob"],
            who="Every EU customer",
            what="Checkout fails",
            where="payments-api",
            when="Since 14:50 UTC",
            how="Card form returns 502",
            answers=answers_suggesting(Severity.SEV1),
        )
        escalation_sweep()
    assert new_tier_paged(incident) == ["erin"]


def test_an_engaged_incident_already_paged_the_new_tier_and_is_not_paged_again(
    core: Core,
) -> None:
    with time_machine.travel(T0, tick=False):
        incident = incident_engage(
            team=core.team,
            ticket="CSD-9",
            requester_name="John",
            requester_phone="+1-202-555-0143",
            bridge="https://meet.example.com/csd-9",
            actor=core.people["john"],
            severity=Severity.SEV2,
        )
        incident_set_severity(incident=incident, severity=Severity.SEV0, actor=core.people["bob"])
        escalation_sweep()
    assert new_tier_paged(incident) == ["erin"]


def test_a_team_without_a_new_tier_gets_a_timeline_note_and_no_error() -> None:
    team = TeamFactory.create(slug="solo", name="Solo")
    RotationFactory.create(team=team, members=[UserFactory.create(username="only")])
    with time_machine.travel(T0, tick=False):
        incident = incident_declare(title="Down", team=team, severity=Severity.SEV2, actor=None)
        incident_set_severity(incident=incident, severity=Severity.SEV1, actor=None)
        escalation_sweep()
    assert paged(incident) == ["only"]
    note = incident.timeline.filter(kind=TimelineKind.ESCALATION, data__warning="no new tier")
    assert note.get().message == "SEV1 pages the new tier too, but Solo has no new-tier rotation"
