"""What an incident's pages tell (`incidents.pagefacts`), kept by the paths that write pages
and set or clear the acknowledger, in their transactions: the insights figures read these."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction

from incidents.engine import escalation_sweep
from incidents.models import Incident, PageFacts
from incidents.pagefacts import FACTS, page_facts_refresh
from incidents.services import (
    incident_acknowledge,
    incident_declare,
    incident_engage,
    incident_reassign,
    incident_reopen,
    incident_resolve,
)
from incidents.services.ladder import incident_add_responder
from notifications.models import Notification
from tests.incidents.conftest import T0
from tests.incidents.ladder import Desk, paged_on

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def facts(incident: Incident) -> dict[str, bool]:
    row = PageFacts.objects.filter(incident=incident).first()
    return {name: getattr(row, name) for name in FACTS} if row else {}


def test_an_incident_not_paged_has_no_facts(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    assert facts(incident) == {}


def test_the_engine_the_acknowledger_a_responder_and_a_reassignment_keep_them(
    desk: Desk, frozen_now: Any
) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    assert paged_on(incident, "main") == ["bob"]
    assert facts(incident) == {
        "paged_veteran": True,
        "paged_new": False,
        "escalated": False,  # only the first step so far
        "acknowledger_paged_veteran": False,
        "acknowledger_paged_new": False,
    }
    incident_acknowledge(incident=incident, actor=desk.bob)
    assert facts(incident)["acknowledger_paged_veteran"] is True
    # Someone more paged (a responder): beyond the first step.
    incident_add_responder(incident=incident, user=desk.carol, actor=desk.bob)
    assert facts(incident)["escalated"] is True
    # Handed to carol: nobody acknowledges it now.
    incident_reassign(incident=incident, user=desk.carol, actor=desk.morgan)
    assert facts(incident)["acknowledger_paged_veteran"] is False
    assert facts(incident)["escalated"] is True


def test_the_next_step_of_the_policy_is_escalated(desk: Desk, frozen_now: Any) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    pages = Notification.objects.filter(subject_type="incident", subject_id=incident.pk).count()
    frozen_now.shift(timedelta(hours=2))  # every step's wait passed: it walks on
    escalation_sweep()
    assert Notification.objects.filter(subject_id=incident.pk).count() > pages
    assert facts(incident)["escalated"] is True


def test_engaging_development_pages_the_new_tier(desk: Desk) -> None:
    incident = incident_engage(
        team=desk.core.team,
        ticket="CSD-123",
        requester_name="John",
        requester_phone="+1 202 555 0143",
        bridge="",
        actor=None,
    )
    escalation_sweep()
    assert facts(incident)["paged_new"] is True


def test_the_facts_roll_back_with_the_pages(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    seen: list[dict[str, bool]] = []

    def sweep_then_fail() -> None:
        with transaction.atomic():
            escalation_sweep()
            seen.append(facts(incident))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        sweep_then_fail()
    assert seen[0]["paged_veteran"] is True
    assert facts(incident) == {}
    assert not Notification.objects.filter(subject_id=incident.pk).exists()


def test_a_refresh_recomputes_from_the_pages(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    PageFacts.objects.filter(incident=incident).update(paged_veteran=False, escalated=True)
    page_facts_refresh([incident.pk, incident.pk])
    assert facts(incident)["paged_veteran"] is True
    assert facts(incident)["escalated"] is False


def test_written_facts_move_the_weekly_reviews_incident_part(desk: Desk) -> None:
    """The weekly review keeps its headline (escalations, tiers) while its incidents' token
    stays: a refresh that writes facts moves that token, and only it."""
    from postmortems.stamp import review_tokens

    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    page_facts_refresh([incident.pk])  # not paged: nothing written, nothing moved
    before = review_tokens()
    page_facts_refresh([incident.pk])
    assert review_tokens() == before
    escalation_sweep()
    PageFacts.objects.filter(incident=incident).update(escalated=True)
    before = review_tokens()
    page_facts_refresh([incident.pk])
    after = review_tokens()
    assert after.incidents != before.incidents
    assert (after.postmortems, after.items) == (before.postmortems, before.items)


def test_the_facts_keep_the_trigger_time_and_a_reopening_moves_it(
    desk: Desk, frozen_now: Any
) -> None:
    """A period's escalated incidents are read by the facts' own trigger time
    (`insights.selectors.headline_spans`): it must be the incident's, also after a reopening
    a week later moved the incident into another period."""
    from insights.selectors import HEADLINE_COLUMNS, headline_of, headline_spans

    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    incident_add_responder(incident=incident, user=desk.carol, actor=desk.morgan)
    row = PageFacts.objects.get(incident=incident)
    assert (row.triggered_at, row.escalated) == (T0, True)

    def escalated(start: Any, end: Any) -> int:
        read = Incident.objects.filter(triggered_at__gte=start, triggered_at__lt=end)
        rows = read.annotate(**headline_spans(start, end)).values_list(*HEADLINE_COLUMNS)
        return headline_of(rows).escalated

    day = timedelta(days=1)
    assert escalated(T0, T0 + day) == 1
    incident_resolve(incident=incident, actor=desk.morgan)
    frozen_now.shift(timedelta(days=7))
    incident_reopen(incident=incident, actor=desk.morgan)
    again = T0 + timedelta(days=7)
    assert PageFacts.objects.get(incident=incident).triggered_at == again
    assert (escalated(T0, T0 + day), escalated(again, again + day)) == (0, 1)
