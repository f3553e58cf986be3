"""Handbook 004 end to end, through the doors each person uses (issue 16 point 10).

An alert reaches support → the first tier on duty is paged → Santhosh triages with the five
priority questions and tries the playbook → escalates to the support manager → Dinesh sends
it to the on-call engineer, paged with "the playbook was tried" → Alice adds a subject-matter
expert → the council decides → second-tier Noah logs customer contacts → Alice resolves →
the postmortem is drafted. Every step is checked on the incident's record and its pages.
"""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from incidents.engine import escalation_sweep
from incidents.models import Incident, Rung, Severity, Status, TimelineKind
from notifications.models import Notification
from oncall.models import User
from oncall.roles import ENGINEER
from playbooks.models import PlaybookEntry
from postmortems.models import Postmortem
from tests.desk.conftest import T0, Desk
from tests.factories import IntegrationFactory, UserFactory
from tests.integrations.support import post_json, trigger

pytestmark = pytest.mark.django_db


def as_person(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api(client: Client, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = client.post(f"/api/v1/{path}", body, content_type="application/json")
    assert response.status_code == status, response.content
    return response.json()


def paged(incident: Incident) -> list[str]:
    """Everyone paged about the incident so far, in order, once each."""
    rows = Notification.objects.filter(subject_type="incident", subject_id=incident.pk)
    return list(dict.fromkeys(n.recipient.username for n in rows.order_by("id") if n.recipient))


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("at", "id").values_list("kind", flat=True))


def test_an_alert_walks_the_support_ladder_to_a_drafted_postmortem(desk: Desk) -> None:
    people = desk.people
    bob = UserFactory.create(username="bob", roles=[ENGINEER])  # the subject-matter expert
    entry = PlaybookEntry.objects.create(
        team=desk.team,
        title="Prices wrong for one customer",
        applies_when="A customer reports prices that differ from the price list.",
        steps="1. Clear the customer's price cache\n2. Re-run the nightly import",
    )
    integration = IntegrationFactory.create(team=desk.team)
    key = integration.key  # type: ignore[attr-defined]
    with time_machine.travel(T0, tick=False) as traveller:
        # ALERT: an alert routed to support opens an incident on the first rung and pages the
        # first tier on duty (Santhosh, by the daily rotation).
        assert post_json(Client(), "/v2/enqueue", trigger(key)).status_code == 202
        incident = Incident.objects.get(team=desk.team)
        assert incident.rung == Rung.FIRST_TIER
        escalation_sweep()
        assert paged(incident) == ["santhosh"]

        # TRIAGE: the 5Ws, evidence, the ticket and the five priority questions; the
        # suggestion is SEV1 and Santhosh confirms it.
        santhosh = as_person(people["santhosh"])
        traveller.shift(timedelta(minutes=5))
        api(santhosh, f"incidents/{incident.pk}/acknowledge/", {})
        triage = {
            "who": "Acme Corp, 40 buyers",
            "what": "Checkout shows last month's prices",
            "where": "Cloud Pricing, EU region",
            "when": "Since 14:10 UTC",
            "how": "Reported by the account manager by email",
            "evidence": ["https://logs.example.com/q/acme-prices"],
            "ticket": "MCT-123",
            "answers": {
                "users_affected": 3,
                "which_users": 3,
                "user_impact": 3,
                "company_impact": 3,
                "stakeholder_view": 3,
            },
        }
        suggested = api(santhosh, f"incidents/{incident.pk}/triage/", triage)
        assert suggested["suggested_severity"] == Severity.SEV1
        api(santhosh, f"incidents/{incident.pk}/triage/", {**triage, "severity": Severity.SEV1})
        incident.refresh_from_db()
        assert incident.triage_confirmed_at is not None
        assert (incident.severity, incident.ticket) == (Severity.SEV1, "MCT-123")

        # The playbook, tried: it did not work.
        api(
            santhosh,
            f"incidents/{incident.pk}/playbook-attempts/",
            {"entry": entry.pk, "steps_tried": [1, 2], "outcome": "failed"},
            status=201,
        )

        # Support may not page an engineer directly: the ladder is the only way up.
        refused = api(
            santhosh,
            f"incidents/{incident.pk}/responders/",
            {"user": people["alice"].pk, "reason": "help"},
            status=403,
        )
        assert "support" in str(refused).lower()
        # A SEV1 needs the support manager before engineering.
        api(
            santhosh,
            f"incidents/{incident.pk}/escalate-tier/",
            {"to": "oncall", "team": "core"},
            status=400,
        )

        # ESCALATE to the support manager, who is paged.
        traveller.shift(timedelta(minutes=5))
        api(santhosh, f"incidents/{incident.pk}/escalate-tier/", {"to": "support_manager"})
        escalation_sweep()
        incident.refresh_from_db()
        assert incident.rung == Rung.SUPPORT_MANAGER
        assert paged(incident)[-1] == "dinesh"

        # Dinesh sends it to the on-call engineer of Core: Alice is paged, told the playbook
        # was tried, and the rung's target runs.
        dinesh = as_person(people["dinesh"])
        traveller.shift(timedelta(minutes=3))
        api(
            dinesh,
            f"incidents/{incident.pk}/escalate-tier/",
            {"to": "oncall", "team": "core", "reason": "Playbook failed"},
        )
        escalation_sweep()
        incident.refresh_from_db()
        assert incident.rung == Rung.ONCALL
        assert incident.next_target_at is not None
        assert incident.next_target_at > T0
        assert paged(incident)[-1] == "alice"
        page = Notification.objects.filter(
            subject_type="incident", subject_id=incident.pk, recipient=people["alice"]
        ).latest("id")
        assert "Playbook tried" in page.body
        escalated = incident.timeline.filter(kind=TimelineKind.TIER_ESCALATED).latest("id")
        assert "Playbook tried" in escalated.message

        # The on-call engineer pulls in a subject-matter expert; paging goes on meanwhile.
        alice = as_person(people["alice"])
        traveller.shift(timedelta(minutes=2))
        api(alice, f"incidents/{incident.pk}/acknowledge/", {})
        api(
            alice,
            f"incidents/{incident.pk}/responders/",
            {"user": bob.pk, "reason": "Owns the price import"},
        )
        assert "bob" in paged(incident)

        # REMEDIATE: the council (Raja) allocates engineers for the next day.
        raja = as_person(people["raja"])
        decision = api(
            raja,
            f"incidents/{incident.pk}/council-decisions/",
            {"decision": "allocate_short_term", "owner": people["alice"].pk},
            status=201,
        )
        assert decision["decision"] == "allocate_short_term"

        # COMMUNICATE: second tier keeps the customer informed; the next contact is due
        # after the SEV1 interval (2 hours).
        noah = as_person(people["noah"])
        contact = api(
            noah,
            f"incidents/{incident.pk}/customer-contacts/",
            {"channel": "email", "summary": "Told Acme we found the cause."},
            status=201,
        )
        assert contact["next_due_at"] is not None

        # Resolved by the on-call engineer: SEV1 requires a postmortem, drafted at once.
        traveller.shift(timedelta(minutes=40))
        api(alice, f"incidents/{incident.pk}/resolve/", {"note": "Import re-run with a fix"})
        incident.refresh_from_db()
        assert incident.status == Status.RESOLVED
        postmortem = Postmortem.objects.get(incident=incident)
        assert postmortem.owner == people["alice"]

    story = kinds(incident)
    for kind in (
        TimelineKind.DECLARED,
        TimelineKind.TRIAGE,
        TimelineKind.PLAYBOOK,
        TimelineKind.TIER_ESCALATED,
        TimelineKind.RESPONDER_ADDED,
        TimelineKind.COUNCIL_DECISION,
        TimelineKind.CUSTOMER_CONTACT,
        TimelineKind.RESOLVED,
        TimelineKind.POSTMORTEM_DRAFTED,
    ):
        assert kind in story, kind
    order = [story.index(k) for k in (TimelineKind.TRIAGE, TimelineKind.TIER_ESCALATED)]
    assert order == sorted(order)
