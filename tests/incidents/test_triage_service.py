"""Triage's service (incidents.services.triage): saving what was gathered, confirming with
the suggested severity or another one with a reason, and the related incidents."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, TimelineKind
from incidents.selectors import RELATED_MAX, incidents_related
from incidents.services import incident_declare, incident_triage
from tests.factories import TeamFactory
from tests.incidents.conftest import T0, Core, answers_suggesting

pytestmark = pytest.mark.django_db

FIVE_WS = {
    "who": "EU shoppers",
    "what": "checkout 500s",
    "where": "eu-west",
    "when": "since 14:50 UTC",
    "how": "deploy 812",
}


def declare(core: Core, **kwargs: Any) -> Incident:
    return incident_declare(
        title=kwargs.pop("title", "Checkout fails with 500"),
        actor=core.people["john"],
        team=core.team,
        **kwargs,
    )


def test_saving_without_a_severity_keeps_the_answers_and_suggests(core: Core) -> None:
    incident = declare(core)
    result = incident_triage(
        incident=incident,
        actor=core.people["alice"],
        who="EU shoppers",
        evidence=["https://logs.example.com/q/1"],
        ticket="mct-123",
        service="Checkout-API",
        answers={"users_affected": 3, "which_users": 3},
    )
    assert not result.confirmed
    assert result.suggested_severity is None  # three questions unanswered
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert incident.ticket == "MCT-123"
    assert incident.service == "checkout-api"
    assert incident.evidence == ["https://logs.example.com/q/1"]
    assert incident.triage_answers == {"users_affected": 3, "which_users": 3}
    event = incident.timeline.get(kind=TimelineKind.DETAILS)
    assert event.message.startswith("Triage notes saved: ")
    assert set(event.data["changed"]) == {
        "who",
        "evidence",
        "ticket",
        "service",
        "triage_answers",
    }

    result = incident_triage(incident=incident, actor=None, answers=answers_suggesting("SEV1"))
    assert result.suggested_severity == "SEV1"


def test_saving_nothing_new_writes_no_timeline_row(core: Core) -> None:
    incident = declare(core)
    incident_triage(incident=incident, actor=None, who="EU shoppers")
    incident_triage(incident=incident, actor=None, who="EU shoppers ")
    assert incident.timeline.filter(kind=TimelineKind.DETAILS).count() == 1


def test_confirming_at_the_suggestion_needs_no_reason(core: Core) -> None:
    incident = declare(core, severity="SEV3")
    result = incident_triage(
        incident=incident,
        actor=core.people["alice"],
        answers=answers_suggesting("SEV1"),
        severity="SEV1",
        **FIVE_WS,
    )
    assert result.confirmed
    incident.refresh_from_db()
    assert (incident.severity, incident.triage_reason) == ("SEV1", "")
    event = incident.timeline.get(kind=TimelineKind.TRIAGE)
    assert event.message == "Triage confirmed: SEV1 (was SEV3)"
    assert event.data["suggested_severity"] == "SEV1"
    assert event.data["answers"] == answers_suggesting("SEV1")


def test_another_severity_than_the_suggestion_needs_a_reason_which_is_kept(core: Core) -> None:
    incident = declare(core)
    with pytest.raises(ValidationError) as refused:
        incident_triage(
            incident=incident,
            actor=None,
            answers=answers_suggesting("SEV2"),
            severity="SEV0",
            reason="  ",
            **FIVE_WS,
        )
    assert set(refused.value.message_dict) == {"reason"}
    assert "suggest SEV2" in refused.value.message_dict["reason"][0]
    incident.refresh_from_db()
    assert incident.triage_confirmed_at is None
    assert incident.triage_answers == {}  # nothing partial stored
    assert not incident.timeline.filter(kind=TimelineKind.TRIAGE).exists()

    incident_triage(
        incident=incident,
        actor=None,
        answers=answers_suggesting("SEV2"),
        severity="SEV0",
        reason="Our largest customer's launch is today",
        **FIVE_WS,
    )
    incident.refresh_from_db()
    assert incident.severity == "SEV0"
    assert incident.triage_reason == "Our largest customer's launch is today"
    event = incident.timeline.get(kind=TimelineKind.TRIAGE)
    assert event.data["reason"] == "Our largest customer's launch is today"
    assert "the answers suggested SEV2" in event.message


def test_confirming_needs_the_five_ws_and_all_five_answers(core: Core) -> None:
    incident = declare(core)
    with pytest.raises(ValidationError) as refused:
        incident_triage(
            incident=incident,
            actor=None,
            answers={"users_affected": 2},
            severity="SEV2",
            **FIVE_WS,
        )
    assert set(refused.value.message_dict) == {
        "answers.which_users",
        "answers.user_impact",
        "answers.company_impact",
        "answers.stakeholder_view",
    }
    with pytest.raises(ValidationError) as refused:
        incident_triage(
            incident=incident,
            actor=None,
            answers=answers_suggesting("SEV2"),
            severity="SEV2",
            who="someone",
        )
    assert set(refused.value.message_dict) == {"what", "where", "when", "how"}
    with pytest.raises(ValidationError) as refused:
        incident_triage(incident=incident, actor=None, severity="SEV9", **FIVE_WS)
    assert set(refused.value.message_dict) == {"severity"}


def test_bad_fields_are_named_together_and_nothing_is_stored(core: Core) -> None:
    incident = declare(core)
    with pytest.raises(ValidationError) as refused:
        incident_triage(
            incident=incident,
            actor=None,
            who="x" * 2001,
            evidence=["not a link"],
            ticket="MCT 123",
            service="bad service!",
        )
    assert set(refused.value.message_dict) == {"who", "evidence.0", "ticket", "service"}
    incident.refresh_from_db()
    assert (incident.who, incident.evidence, incident.ticket) == ("", [], "")


# --- related incidents ----------------------------------------------------------------------


def test_related_finds_same_service_ticket_requester_and_similar_titles(core: Core) -> None:
    with time_machine.travel(T0 - timedelta(days=30), tick=False):
        same_service = declare(core, title="Cart totals wrong", service="checkout-api")
        same_ticket = declare(core, title="Something else entirely", ticket="MCT-9")
        same_requester = declare(core, title="Weird thing", requester_name="Ana Diaz")
        similar = declare(core, title="Checkout timeouts in EU")
        declare(core, title="Unrelated search outage")
    with time_machine.travel(T0 - timedelta(days=91), tick=False):
        declare(core, title="Checkout fails again", service="checkout-api")  # too old
    with time_machine.travel(T0, tick=False):
        incident = declare(
            core,
            title="Checkout fails with 500",
            service="checkout-api",
            ticket="MCT-9",
            requester_name="ana diaz",
        )
        with CaptureQueriesContext(connection) as queries:
            related = incidents_related(incident=incident, now=T0)
    assert len(queries) == 1
    why = {
        i.pk: {
            f
            for f in ("same_service", "same_ticket", "same_requester", "similar_title")
            if getattr(i, f)
        }
        for i in related
    }
    assert why == {
        same_service.pk: {"same_service"},
        same_ticket.pk: {"same_ticket"},
        same_requester.pk: {"same_requester"},
        similar.pk: {"similar_title"},
    }


def test_related_is_capped(core: Core) -> None:
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        for n in range(RELATED_MAX + 3):
            declare(core, title=f"Other problem {n}", service="checkout-api")
    incident = declare(core, title="Nothing alike", service="checkout-api")
    assert len(incidents_related(incident=incident, now=T0)) == RELATED_MAX


def test_an_incident_with_nothing_to_match_on_finds_nothing_without_a_query(core: Core) -> None:
    incident = declare(core, title="a b")
    with CaptureQueriesContext(connection) as queries:
        assert incidents_related(incident=incident, now=T0) == []
    assert len(queries) == 0


def test_an_integration_sets_the_service_from_the_alert_labels(core: Core) -> None:
    from integrations.services.groups import declare_from
    from tests.factories import IntegrationFactory

    integration = IntegrationFactory.create(team=TeamFactory.create(slug="ops", name="Ops"))
    incident = declare_from(
        integration, title="Disk full", severity="SEV2", dedup_key="k", service="node-exporter"
    )
    assert incident.service == "node-exporter"
