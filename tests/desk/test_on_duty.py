"""Support on duty (handbook 004, ALERT): an issue that reaches support pages the first tier
on duty, starts on the first rung, and is posted to the support channel when configured."""

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client, override_settings

from incidents.engine import escalation_sweep
from incidents.models import Category, Incident, Rung
from incidents.services import incident_declare
from incidents.support import SUPPORT_CHANNEL, initial_rung, support_channel_announce
from integrations.services.groups import declare_from
from notifications.models import Channel, Notification
from rotations.models import Team, TeamKind, Tier
from tests.desk.conftest import T0, Desk
from tests.factories import IntegrationFactory, OverrideFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.example/services/T0/B0/support"


def paged(incident: Incident) -> list[str]:
    rows = Notification.objects.filter(subject_type="incident", subject_id=incident.pk)
    return [n.recipient.username for n in rows.order_by("created_at", "id") if n.recipient]


def test_a_support_incident_pages_the_first_tier_on_duty_then_the_support_manager(
    desk: Desk,
) -> None:
    # No policy on the team: the engine's fallback walks the first-tier list, then the
    # escalation contact (the support manager).
    with time_machine.travel(T0, tick=False) as traveller:
        incident = incident_declare(title="Prices wrong for ACME", actor=None, team=desk.team)
        escalation_sweep()
        assert paged(incident) == ["santhosh"]
        assert incident.rung == Rung.FIRST_TIER
        for _ in range(40):
            traveller.shift(timedelta(minutes=1))
            escalation_sweep()
    # Santhosh, then Dinesh (next on the list), then Dinesh as the escalation contact.
    assert paged(incident)[:2] == ["santhosh", "dinesh"]
    assert "noah" not in paged(incident)


def test_an_override_on_the_first_tier_pages_whoever_covers(desk: Desk) -> None:
    OverrideFactory.create(
        rotation=desk.first,
        user=desk.people["noah"],
        start=T0 - timedelta(hours=1),
        end=T0 + timedelta(hours=1),
    )
    with time_machine.travel(T0, tick=False):
        incident = incident_declare(title="Forum report", actor=None, team=desk.team)
        escalation_sweep()
    assert paged(incident) == ["noah"]


def test_an_engineering_incident_stays_off_the_support_ladder(desk: Desk) -> None:
    with time_machine.travel(T0, tick=False):
        incident = incident_declare(title="Checkout down", actor=None, team=desk.core)
        escalation_sweep()
    assert incident.rung == Rung.NONE
    assert paged(incident) == ["alice"]


def test_a_customer_report_starts_on_the_first_rung_whatever_the_team(desk: Desk) -> None:
    report = Incident(title="Customer says prices are off", team=desk.core)
    report.category = Category.CUSTOMER
    assert initial_rung(report) == Rung.FIRST_TIER
    assert initial_rung(Incident(title="Disk full", team=desk.core)) == Rung.NONE
    assert initial_rung(Incident(title="Disk full", team=desk.team)) == Rung.FIRST_TIER


@override_settings(SUPPORT_SLACK_WEBHOOK_URL=HOOK)
def test_a_support_incident_is_posted_to_the_support_channel_once(
    desk: Desk, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        incident = incident_declare(title="Prices wrong for ACME", actor=None, team=desk.team)
    posts = Notification.objects.filter(subject_type=SUPPORT_CHANNEL, subject_id=incident.pk)
    assert [(p.channel, p.address) for p in posts] == [(Channel.SLACK, HOOK)]
    post = posts.get()
    assert post.idempotency_key == f"inc{incident.pk}:support-channel"
    assert incident.number in post.subject
    assert "Prices wrong for ACME" in post.subject
    assert f"/incidents/{incident.pk}/" in post.body
    assert callbacks  # its delivery is queued after commit
    support_channel_announce(incident=incident)  # again: the key makes it a no-op
    assert Notification.objects.filter(subject_type=SUPPORT_CHANNEL).count() == 1


@override_settings(SUPPORT_SLACK_WEBHOOK_URL=HOOK)
def test_an_engineering_incident_is_not_posted_to_the_support_channel(desk: Desk) -> None:
    incident_declare(title="Checkout down", actor=None, team=desk.core)
    assert not Notification.objects.filter(subject_type=SUPPORT_CHANNEL).exists()


def test_without_a_webhook_nothing_is_posted(desk: Desk) -> None:
    incident_declare(title="Prices wrong for ACME", actor=None, team=desk.team)
    assert not Notification.objects.filter(subject_type=SUPPORT_CHANNEL).exists()


def test_whos_on_call_shows_the_support_tiers_beside_the_engineering_teams(
    client: Client, desk: Desk
) -> None:
    client.force_login(desk.people["alice"])
    with time_machine.travel(T0, tick=False):
        html = client.get("/oncall/").content.decode()
    assert 'id="team-support"' in html
    assert 'id="team-core"' in html
    assert "Support first tier" in html
    assert "Support second tier" in html
    support = html[html.index('id="team-support"') : html.index('id="team-core"')]
    assert desk.people["santhosh"].name in support
    assert desk.people["noah"].name in support


def test_support_people_see_their_shifts(client: Client, desk: Desk) -> None:
    client.force_login(desk.people["noah"])
    with time_machine.travel(T0, tick=False):
        response = client.get("/me/shifts/")
        team_page = client.get("/teams/support/")
    assert response.status_code == 200
    assert "Support" in response.content.decode()
    assert team_page.status_code == 200
    html = team_page.content.decode()
    assert "Support first tier" in html
    assert "Support second tier" in html


def test_the_demo_has_a_support_desk_with_both_tiers() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    team = Team.objects.get(slug="support")
    assert team.kind == TeamKind.SUPPORT
    assert team.escalation_contact is not None
    assert team.escalation_contact.username == "dinesh"
    members = {
        r.tier: [m.user.username for m in r.members.order_by("position")]
        for r in team.rotations.all()
    }
    assert members == {Tier.FIRST: ["santhosh", "dinesh"], Tier.SECOND: ["noah"]}
    policy = team.default_policy
    assert policy is not None
    assert [s.rotation.tier if s.rotation else s.action for s in policy.steps.all()] == [
        Tier.FIRST,
        "escalation_contact",
    ]


def test_an_alert_from_support_s_integration_pages_the_first_tier(desk: Desk) -> None:
    # Handbook 004, ALERT 1: a metric's alarm reaches first-tier support (PagerDuty and Slack).
    integration = IntegrationFactory.create(team=desk.team)
    with time_machine.travel(T0, tick=False):
        incident = declare_from(
            integration, title="p99 latency over 2 s", severity="SEV2", dedup_key="latency"
        )
        escalation_sweep()
    assert incident.rung == Rung.FIRST_TIER
    assert paged(incident) == ["santhosh"]
