"""The support ladder (handbook 004, issue 16 point 4): first tier → support manager →
engineering manager (low severity) or the on-call engineer (high severity); add responder;
support never pages an engineer directly."""

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from incidents.engine import escalation_sweep
from incidents.models import (
    EscalationStatus,
    Rung,
    Severity,
    SeverityPolicy,
    Status,
    TimelineKind,
)
from incidents.services import incident_acknowledge, incident_declare, incident_reassign
from incidents.services.ladder import (
    RungRefused,
    incident_add_responder,
    incident_escalate_tier,
    next_rungs,
)
from incidents.services.rules import NotAllowed
from incidents.timeline import timeline_write
from notifications.models import Notification
from oncall.models import User
from oncall.roles import SUPPORT_MANAGER
from tests.api.conftest import bearer_client
from tests.factories import EscalationPolicyFactory, UserFactory
from tests.incidents.conftest import T0
from tests.incidents.ladder import Desk, on_desk, paged_on, rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# --------------------------------------------------------------------------- the rungs


def test_an_incident_on_a_support_team_starts_on_the_first_tier(desk: Desk) -> None:
    incident = on_desk(desk)
    policy = SeverityPolicy.objects.get(level="SEV1")
    assert incident.rung == Rung.FIRST_TIER
    assert incident.next_target_at == T0 + policy.acknowledge_target
    engineering = incident_declare(title="Disk full", actor=desk.bob, team=desk.core.team)
    assert engineering.rung == Rung.NONE  # straight to engineering: not on the ladder


def test_first_tier_escalates_to_the_support_manager_who_is_paged(desk: Desk) -> None:
    incident = on_desk(desk)
    assert next_rungs(incident) == [Rung.SUPPORT_MANAGER]  # SEV1 requires the manager
    incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.santhosh)
    escalation_sweep()
    incident.refresh_from_db()
    assert incident.rung == Rung.SUPPORT_MANAGER
    assert incident.rung_at == T0
    assert paged_on(incident, "support_manager") == ["dinesh"]
    [row] = rows(incident, TimelineKind.TIER_ESCALATED)
    assert row.actor == desk.santhosh
    assert row.message == f"Escalated to the support manager: paging {desk.dinesh}"


def test_the_support_manager_group_is_paged_when_the_team_names_nobody(desk: Desk) -> None:
    desk.team.escalation_contact = None
    desk.team.save()
    other = UserFactory.create(username="noah", roles=[SUPPORT_MANAGER])
    incident = on_desk(desk)
    incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.santhosh)
    escalation_sweep()
    assert sorted(paged_on(incident, "support_manager")) == sorted(["dinesh", other.username])


def test_first_tier_may_not_skip_the_support_manager_when_the_severity_requires_it(
    desk: Desk,
) -> None:
    incident = on_desk(desk, Severity.SEV1)
    with pytest.raises(RungRefused, match="escalates to the support manager first"):
        incident_escalate_tier(
            incident=incident, to=Rung.ONCALL, actor=desk.santhosh, team=desk.core.team
        )
    incident.refresh_from_db()
    assert incident.rung == Rung.FIRST_TIER
    assert rows(incident, TimelineKind.TIER_ESCALATED) == []


def test_below_the_threshold_first_tier_goes_to_the_engineering_manager(desk: Desk) -> None:
    incident = on_desk(desk, Severity.SEV3)  # SEV3: the support manager is not required
    assert next_rungs(incident) == [
        Rung.SUPPORT_MANAGER,
        Rung.ENGINEERING_MANAGER,  # SEV3's default (low severity)
        Rung.ONCALL,
    ]
    incident_escalate_tier(
        incident=incident, to=Rung.ENGINEERING_MANAGER, actor=desk.santhosh, team=desk.core.team
    )
    escalation_sweep()
    incident.refresh_from_db()
    policy = SeverityPolicy.objects.get(level="SEV3")
    assert incident.rung == Rung.ENGINEERING_MANAGER
    assert paged_on(incident, "engineering_manager") == ["morgan"]
    # Triggered: the acknowledge target comes first; the day's target follows it.
    assert incident.next_target_at == T0 + policy.acknowledge_target


def test_the_support_manager_sends_it_to_the_on_call_who_hears_of_the_playbook(
    desk: Desk,
) -> None:
    incident = on_desk(desk)
    timeline_write(
        incident=incident,
        kind=TimelineKind.PLAYBOOK,
        message="Re-ran the price import: still wrong",
        actor=desk.santhosh,
    )
    incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.santhosh)
    escalation_sweep()
    incident_acknowledge(incident=incident, actor=desk.dinesh)
    incident.refresh_from_db()
    assert next_rungs(incident) == [Rung.ONCALL, Rung.ENGINEERING_MANAGER]  # SEV1: high
    with pytest.raises(Exception, match="Choose the engineering team"):
        incident_escalate_tier(incident=incident, to=Rung.ONCALL, actor=desk.dinesh)
    incident_escalate_tier(
        incident=incident, to=Rung.ONCALL, actor=desk.dinesh, team=desk.core.team
    )
    escalation_sweep()
    incident.refresh_from_db()
    assert incident.rung == Rung.ONCALL
    assert incident.status == Status.TRIGGERED  # the on-call must acknowledge it
    assert paged_on(incident, "oncall_veteran") == ["bob"]
    assert paged_on(incident, "oncall_new") == ["erin"]
    note = "Playbook tried: Re-ran the price import: still wrong"
    assert note in incident.body  # the page's body
    page = Notification.objects.filter(recipient=desk.bob, subject_id=incident.pk).first()
    assert page is not None
    assert note in page.body
    [_, to_oncall] = rows(incident, TimelineKind.TIER_ESCALATED)
    assert to_oncall.message == f"Escalated to Core's on-call engineer. {note}"
    assert to_oncall.data["team"] == "core"
    # The on-call takes it: the rung's target of hours runs from the escalation.
    incident_acknowledge(incident=incident, actor=desk.bob)
    incident.refresh_from_db()
    assert incident.next_target_at == T0 + SeverityPolicy.objects.get(level="SEV1").oncall_target


def test_the_page_says_when_the_playbook_was_not_tried(desk: Desk) -> None:
    incident = on_desk(desk, Severity.SEV3)
    incident_escalate_tier(
        incident=incident, to=Rung.ONCALL, actor=desk.santhosh, team=desk.core.team
    )
    incident.refresh_from_db()
    assert "Playbook: not tried." in incident.body


def test_the_top_rung_offers_nothing_more(desk: Desk) -> None:
    incident = on_desk(desk, Severity.SEV3)
    incident_escalate_tier(
        incident=incident, to=Rung.ONCALL, actor=desk.santhosh, team=desk.core.team
    )
    with pytest.raises(RungRefused, match="the top rung"):
        incident_escalate_tier(incident=incident, to=Rung.ONCALL, actor=desk.morgan)


def test_an_engineering_incident_is_not_on_the_ladder(desk: Desk) -> None:
    incident = incident_declare(title="Disk full", actor=desk.bob, team=desk.core.team)
    with pytest.raises(RungRefused, match="not on the support ladder"):
        incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.morgan)


@pytest.mark.parametrize(
    ("who", "rung", "allowed"),
    [
        ("santhosh", Rung.FIRST_TIER, True),
        ("dinesh", Rung.FIRST_TIER, True),
        ("morgan", Rung.FIRST_TIER, True),
        ("bob", Rung.FIRST_TIER, False),
        ("santhosh", Rung.SUPPORT_MANAGER, False),
        ("dinesh", Rung.SUPPORT_MANAGER, True),
        ("morgan", Rung.SUPPORT_MANAGER, True),
        ("bob", Rung.SUPPORT_MANAGER, False),
    ],
)
def test_who_may_escalate(desk: Desk, who: str, rung: str, allowed: bool) -> None:
    incident = on_desk(desk)
    if rung == Rung.SUPPORT_MANAGER:
        incident_escalate_tier(incident=incident, to=Rung.SUPPORT_MANAGER, actor=desk.dinesh)
        incident.refresh_from_db()
    to = next_rungs(incident)[0]
    actor = User.objects.get(username=who)
    if allowed:
        incident_escalate_tier(incident=incident, to=to, actor=actor, team=desk.core.team)
        incident.refresh_from_db()
        assert incident.rung == to
    else:
        with pytest.raises(NotAllowed):
            incident_escalate_tier(incident=incident, to=to, actor=actor, team=desk.core.team)


# --------------------------------------------------------------------------- responders


def test_the_on_call_adds_a_responder_without_stopping_what_pages(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    assert paged_on(incident, "main") == ["bob"]  # bob tops the veteran list
    incident_add_responder(
        incident=incident, user=desk.carol, reason="knows the payment gateway", actor=desk.bob
    )
    incident.refresh_from_db()
    assert incident.status == Status.TRIGGERED
    states = list(incident.escalation_states.all())
    assert states
    assert all(s.status == EscalationStatus.ACTIVE for s in states)
    page = Notification.objects.get(
        recipient=desk.carol, idempotency_key__startswith=f"inc{incident.pk}:responder"
    )
    assert page.reason.startswith(f"added as a responder by {desk.bob}: knows the payment gateway")
    [row] = rows(incident, TimelineKind.RESPONDER_ADDED)
    assert row.data["user_id"] == desk.carol.pk
    assert row.message == f"Responder added: {desk.carol}. Reason: knows the payment gateway"


def test_the_on_call_who_acknowledged_adds_the_engineering_manager(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    incident_acknowledge(incident=incident, actor=desk.bob)
    incident_add_responder(incident=incident, user=desk.morgan, actor=desk.bob)
    assert Notification.objects.filter(
        recipient=desk.morgan, idempotency_key__startswith=f"inc{incident.pk}:responder"
    ).exists()


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        ("bob", True),  # being paged for it
        ("alice", True),  # the commander
        ("morgan", True),  # a Manager
        ("carol", False),  # an engineer with nothing to do with it
        ("santhosh", False),  # Support
        ("dinesh", False),  # Support manager
    ],
)
def test_only_the_on_call_the_commander_or_a_manager_add_responders(
    desk: Desk, who: str, allowed: bool
) -> None:
    incident = incident_declare(
        title="Checkout down",
        actor=desk.morgan,
        team=desk.core.team,
        commander=desk.core.people["alice"],
    )
    escalation_sweep()
    actor = User.objects.get(username=who)
    expert = desk.core.people["dave"]
    if allowed:
        incident_add_responder(incident=incident, user=expert, actor=actor)
        assert len(rows(incident, TimelineKind.RESPONDER_ADDED)) == 1
    else:
        with pytest.raises(NotAllowed):
            incident_add_responder(incident=incident, user=expert, actor=actor)
        assert rows(incident, TimelineKind.RESPONDER_ADDED) == []
        assert not Notification.objects.filter(recipient=expert).exists()


# --------------------------------------------------------------------------- no direct pages


@pytest.mark.parametrize("who", ["santhosh", "dinesh"])
def test_support_cannot_reassign_to_an_engineer_at_any_door(
    desk: Desk, client: Client, who: str
) -> None:
    incident = on_desk(desk)
    actor = User.objects.get(username=who)
    with pytest.raises(NotAllowed, match="cannot page an individual engineer directly"):
        incident_reassign(incident=incident, actor=actor, user=desk.bob)
    client.force_login(actor)
    response = client.post(f"/incidents/{incident.pk}/reassign/", {"user": desk.bob.pk})
    assert response.status_code == 403
    assert "use Escalate" in response.content.decode()
    api = bearer_client(actor)
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/responders/",
        {"user": desk.bob.pk, "reason": "help"},
        content_type="application/json",
    )
    assert answer.status_code == 403
    assert "directly" in answer.json()["error"]["message"]
    assert not Notification.objects.filter(recipient=desk.bob).exists()
    assert rows(incident, TimelineKind.REASSIGNED) == []


def test_support_may_still_reassign_to_a_policy(desk: Desk) -> None:
    incident = on_desk(desk)
    policy = EscalationPolicyFactory.create(team=desk.team)
    incident_reassign(incident=incident, actor=desk.santhosh, policy=policy)
    assert len(rows(incident, TimelineKind.REASSIGNED)) == 1


def test_an_engineer_may_reassign_to_a_person(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.bob, team=desk.core.team)
    incident_reassign(incident=incident, actor=desk.bob, user=desk.carol)
    assert len(rows(incident, TimelineKind.REASSIGNED)) == 1


# --------------------------------------------------------------------------- the API


def test_api_escalate_tier_answers_the_next_rung_400_and_403(desk: Desk) -> None:
    incident = on_desk(desk)
    url = f"/api/v1/incidents/{incident.pk}/escalate-tier/"
    support, engineer = bearer_client(desk.santhosh), bearer_client(desk.bob)
    wrong = support.post(url, {"to": "oncall", "team": "core"}, content_type="application/json")
    assert wrong.status_code == 400
    assert "support manager first" in wrong.json()["error"]["fields"]["to"][0]
    bad = support.post(url, {"to": "nowhere"}, content_type="application/json")
    assert bad.status_code == 400
    assert "to" in bad.json()["error"]["fields"]
    refused = engineer.post(url, {"to": "support_manager"}, content_type="application/json")
    assert refused.status_code == 403
    done = support.post(url, {"to": "support_manager"}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["rung"] == "support_manager"
    # From the support manager's rung on, Support may not.
    again = support.post(url, {"to": "oncall", "team": "core"}, content_type="application/json")
    assert again.status_code == 403
    manager = bearer_client(desk.dinesh)
    not_engineering = manager.post(
        url, {"to": "oncall", "team": "desk"}, content_type="application/json"
    )
    assert not_engineering.status_code == 400
    assert "not an engineering team" in not_engineering.json()["error"]["message"]
    up = manager.post(url, {"to": "oncall", "team": "core"}, content_type="application/json")
    assert up.status_code == 200
    assert up.json()["rung"] == "oncall"
    assert up.json()["next_target_at"] is not None


def test_api_responders(desk: Desk) -> None:
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    url = f"/api/v1/incidents/{incident.pk}/responders/"
    bob = bearer_client(desk.bob)
    missing = bob.post(url, {"user": 999_999}, content_type="application/json")
    assert missing.status_code == 400
    assert "user" in missing.json()["error"]["fields"]
    empty = bob.post(url, {}, content_type="application/json")
    assert empty.status_code == 400
    carol = bearer_client(desk.carol)
    assert (
        carol.post(url, {"user": desk.bob.pk}, content_type="application/json").status_code == 403
    )
    ok = bob.post(url, {"user": desk.carol.pk, "reason": "SME"}, content_type="application/json")
    assert ok.status_code == 200
    assert [e["kind"] for e in ok.json()["timeline"]].count("responder_added") == 1


def test_api_responder_with_the_longest_reason_still_pages(desk: Desk) -> None:
    """A reason as long as the API allows does not fit the outbox's reason column: the page
    still goes out (the reason cut with an ellipsis), the timeline and body keep all of it."""
    incident = incident_declare(title="Checkout down", actor=desk.morgan, team=desk.core.team)
    escalation_sweep()
    reason = "0" * 2000
    ok = bearer_client(desk.bob).post(
        f"/api/v1/incidents/{incident.pk}/responders/",
        {"user": desk.carol.pk, "reason": reason},
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    pages = Notification.objects.filter(
        recipient=desk.carol, idempotency_key__startswith=f"inc{incident.pk}:responder"
    )
    assert pages
    for page in pages:
        assert len(page.reason) == 200
        assert page.reason.endswith("0…")
        assert reason in page.body
    [row] = rows(incident, TimelineKind.RESPONDER_ADDED)
    assert row.data["reason"] == reason


# --------------------------------------------------------------------------- the page


def test_the_incident_page_offers_escalate_with_the_next_rung_and_its_target(
    desk: Desk, client: Client
) -> None:
    incident = on_desk(desk)
    client.force_login(desk.santhosh)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="escalate-tier-form"' in html
    assert "Next: Support manager" in html
    assert 'id="responder-form"' not in html  # support never adds responders
    response = client.post(
        f"/incidents/{incident.pk}/escalate-tier/", {"to": "support_manager", "reason": ""}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.rung == Rung.SUPPORT_MANAGER
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'id="escalate-tier-form"' not in html  # Support may not go further
    assert "Escalating from here is for the support manager or a Manager." in html
    client.force_login(desk.dinesh)
    html = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Next: On-call engineer (target 4:00:00), or Engineering manager" in html


# --------------------------------------------------------------------------- settings


def test_managers_change_the_ladder_settings_through_the_api(desk: Desk) -> None:
    url = "/api/v1/severity-policies/P3/"
    body = {"support_manager_required": True, "oncall_target": "PT2H"}
    engineer = bearer_client(desk.bob).patch(url, body, content_type="application/json")
    assert engineer.status_code == 403
    zero = bearer_client(desk.morgan).patch(
        url, {"engineering_manager_target": "PT0S"}, content_type="application/json"
    )
    assert zero.status_code == 400
    assert "engineering_manager_target" in zero.json()["error"]["fields"]
    nowhere = bearer_client(desk.morgan).patch(
        "/api/v1/severity-policies/SEV9/", body, content_type="application/json"
    )
    assert nowhere.status_code == 404
    done = bearer_client(desk.morgan).patch(url, body, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["support_manager_required"] is True
    assert done.json()["oncall_target"] == "PT2H"
    incident = on_desk(desk, Severity.SEV3)
    assert next_rungs(incident) == [Rung.SUPPORT_MANAGER]  # now required at SEV3 too
