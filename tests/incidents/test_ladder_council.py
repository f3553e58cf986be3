"""The engineering council's decision (issue 16 point 6): recorded by council members or
Managers, on the timeline, shown on the incident page and in the weekly review."""

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client

from incidents.models import CouncilChoice, CouncilDecision, TimelineKind
from incidents.services.council import council_decision_record
from incidents.services.rules import NotAllowed
from oncall.roles import ENGINEER, ENGINEERING_COUNCIL
from tests.api.conftest import bearer_client
from tests.factories import UserFactory
from tests.incidents.conftest import T0
from tests.incidents.ladder import Desk, on_desk, rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def jonathan(db: None) -> Any:
    """On the engineering council (handbook 004), an Engineer by role."""
    user = UserFactory.create(username="jonathan", first_name="Jonathan", last_name="C")
    user.groups.set(Group.objects.filter(name__in=[ENGINEER, ENGINEERING_COUNCIL]))
    return user


@pytest.mark.parametrize(
    ("decision", "due"),
    [
        (CouncilChoice.ALLOCATE_SHORT_TERM, date(2026, 1, 14)),  # the next day
        (CouncilChoice.ALLOCATE_LONG_TERM, date(2026, 1, 27)),  # a sprint (14 days)
        (CouncilChoice.GATHER_INFORMATION, date(2026, 1, 14)),
        (CouncilChoice.ROLLBACK, date(2026, 1, 14)),
    ],
)
def test_a_council_member_records_a_decision_with_its_default_due_date(
    desk: Desk, jonathan: Any, decision: str, due: date
) -> None:
    incident = on_desk(desk)
    row = council_decision_record(
        incident=incident, decision=decision, owner=desk.bob, actor=jonathan, note="Fix import"
    )
    assert row.due_on == due
    [event] = rows(incident, TimelineKind.COUNCIL_DECISION)
    assert event.actor == jonathan
    assert event.data == {
        "decision_id": row.pk,
        "decision": decision,
        "owner_id": desk.bob.pk,
        "due_on": due.isoformat(),
    }


@pytest.mark.parametrize(("who", "allowed"), [("morgan", True), ("bob", False), ("dinesh", False)])
def test_only_council_members_and_managers_decide(desk: Desk, who: str, allowed: bool) -> None:
    incident = on_desk(desk)
    actor = {"morgan": desk.morgan, "bob": desk.bob, "dinesh": desk.dinesh}[who]

    def record() -> None:
        council_decision_record(
            incident=incident, decision=CouncilChoice.ROLLBACK, owner=desk.bob, actor=actor
        )

    if allowed:
        record()
        assert CouncilDecision.objects.count() == 1
    else:
        with pytest.raises(NotAllowed):
            record()
        assert CouncilDecision.objects.count() == 0


def test_the_api_records_a_decision_and_refuses_others(desk: Desk, jonathan: Any) -> None:
    incident = on_desk(desk)
    url = f"/api/v1/incidents/{incident.pk}/council-decisions/"
    body = {"decision": "allocate_long_term", "owner": desk.bob.pk, "note": "Next sprint"}
    refused = bearer_client(desk.bob).post(url, body, content_type="application/json")
    assert refused.status_code == 403
    bad = bearer_client(jonathan).post(
        url, {**body, "decision": "pray"}, content_type="application/json"
    )
    assert bad.status_code == 400
    assert "decision" in bad.json()["error"]["fields"]
    past = bearer_client(jonathan).post(
        url, {**body, "due_on": "2026-01-01"}, content_type="application/json"
    )
    assert past.status_code == 400
    assert "due_on" in past.json()["error"]["fields"]
    done = bearer_client(jonathan).post(url, body, content_type="application/json")
    assert done.status_code == 201
    assert done.json()["due_on"] == "2026-01-27"
    assert done.json()["owner"]["id"] == desk.bob.pk


def test_the_portal_form_and_the_weekly_review_show_it(
    desk: Desk, jonathan: Any, client: Client
) -> None:
    incident = on_desk(desk)
    client.force_login(jonathan)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="council-form"' in html
    response = client.post(
        f"/incidents/{incident.pk}/council/",
        {"decision": "allocate_short_term", "owner": desk.bob.pk, "due_on": "", "note": "Hotfix"},
    )
    assert response.status_code == 302
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Allocate engineers, short term (next day): " in html
    review = client.get("/postmortems/review/2026-W03/").content.decode()
    assert "Council decisions this week" in review
    assert f"{incident.number}</a> {incident.title}: <strong>Allocate engineers, short term" in (
        review
    )
    assert "due 2026-01-14. Hotfix" in review
    other_week = client.get("/postmortems/review/2026-W04/").content.decode()
    assert "No council decisions this week." in other_week


def test_an_engineer_sees_no_council_form(desk: Desk, client: Client) -> None:
    incident = on_desk(desk)
    client.force_login(desk.bob)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="council-form"' not in html
    response = client.post(
        f"/incidents/{incident.pk}/council/",
        {"decision": "rollback", "owner": desk.bob.pk},
    )
    assert response.status_code == 403


def test_a_due_date_outside_the_portals_years_is_a_field_error(desk: Desk) -> None:
    incident = on_desk(desk)
    with pytest.raises(ValidationError) as refused:
        council_decision_record(
            incident=incident,
            decision="rollback",
            owner=desk.bob,
            due_on=date(9999, 12, 31),
            actor=desk.morgan,
        )
    assert "due_on" in refused.value.message_dict
    assert not CouncilDecision.objects.exists()


def test_the_review_lists_a_decision_on_an_open_security_incident_only_to_those_who_see_it(
    desk: Desk, jonathan: Any, client: Client
) -> None:
    """Decisions are read for the week, and those on open security incidents are asked
    about the viewer: carol (not working it) does not see it until it is resolved, the
    Manager and the declarer do; a decision on another incident is shown to all."""
    from incidents.models import Category, Incident, Status

    secret = on_desk(desk)
    Incident.objects.filter(pk=secret.pk).update(
        category=Category.SECURITY, title="Leaked signing key"
    )
    plain = on_desk(desk)
    for incident in (secret, plain):
        council_decision_record(
            incident=incident, decision=CouncilChoice.ROLLBACK, owner=desk.bob, actor=jonathan
        )

    def review_of(viewer: Any) -> str:
        client.force_login(viewer)
        return client.get("/postmortems/review/2026-W03/").content.decode()

    assert "Leaked signing key" not in review_of(desk.carol)
    assert f"{plain.number}</a>" in review_of(desk.carol)
    assert "Leaked signing key" in review_of(desk.morgan)
    assert "Leaked signing key" in review_of(desk.santhosh)  # declared it
    Incident.objects.filter(pk=secret.pk).update(status=Status.RESOLVED)
    assert "Leaked signing key" in review_of(desk.carol)
