"""Incident services: transitions, the timeline of every change, updates, triage and timers."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from incidents.engine import escalation_sweep
from incidents.models import (
    EscalationState,
    Incident,
    SeverityPolicy,
    Source,
    Status,
    TimelineKind,
)
from incidents.services import (
    IllegalTransition,
    engage_description,
    incident_acknowledge,
    incident_add_note,
    incident_declare,
    incident_escalate_now,
    incident_post_status_update,
    incident_reassign,
    incident_reopen,
    incident_resolve,
    incident_set_commander,
    incident_set_severity,
    incident_timers_sweep,
    incident_triage_confirm,
)
from incidents.services.declare import DedupKeyInUse, incident_declare_or_repeat
from notifications.models import Channel, ContactMethod, Notification, NotificationRule
from notifications.models import Status as NotificationStatus
from notifications.services import (
    notification_acknowledge,
    notification_deliver,
    notifications_page,
)
from oncall.roles import MANAGER, SUPPORT_MANAGER
from tests.factories import IncidentFactory, TeamFactory, UserFactory
from tests.incidents.conftest import T0, Core, answers_suggesting, paged

FIVE_WS = {
    "who": "all EU shoppers",
    "what": "checkout 500s",
    "where": "eu-west",
    "when": "14:50",
    "how": "deploy 812",
}


def declare(core: Core, **kwargs: Any) -> Incident:
    return incident_declare(
        title="Checkout down", actor=core.people["john"], team=core.team, **kwargs
    )


def kinds(incident: Incident) -> list[str]:
    return list(incident.timeline.order_by("at", "id").values_list("kind", flat=True))


def test_engage_description_follows_the_handbook_format() -> None:
    assert (
        engage_description(
            ticket="CSD-123", requester_name="John", requester_phone="+1-202-555-0143"
        )
        == "Need immediate help with CSD-123 - Call John at +1-202-555-0143"
    )


@pytest.mark.django_db
def test_lifecycle_transitions_write_the_timeline_and_refuse_illegal_moves(core: Core) -> None:
    bob = core.people["bob"]
    bob.groups.add(Group.objects.get(name=MANAGER))  # may acknowledge without being paged
    incident = declare(core)
    assert incident.number == f"INC-{incident.pk}"
    assert incident.status == Status.TRIGGERED
    incident = incident_acknowledge(incident=incident, actor=bob)
    with pytest.raises(IllegalTransition):
        incident_acknowledge(incident=incident, actor=bob)
    incident = incident_resolve(incident=incident, actor=bob, note="rolled back")
    assert (incident.status, incident.resolved_by) == (Status.RESOLVED, bob)
    with pytest.raises(IllegalTransition):
        incident_acknowledge(incident=incident, actor=bob)
    with pytest.raises(IllegalTransition):
        incident_resolve(incident=incident, actor=bob)
    incident = incident_reopen(incident=incident, actor=bob, reason="back again")
    assert incident.status == Status.TRIGGERED
    assert incident.acknowledged_at is None
    assert kinds(incident)[0] == TimelineKind.DECLARED
    for kind in (TimelineKind.ACKNOWLEDGED, TimelineKind.RESOLVED, TimelineKind.REOPENED):
        assert kind in kinds(incident)
    # Reopening starts a new generation of escalation, which pages again.
    assert EscalationState.objects.filter(incident=incident, status="active", generation=2).exists()


@pytest.mark.django_db
def test_reopened_incident_pages_again(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core)
        escalation_sweep()
        incident = incident_resolve(incident=incident, actor=None)
        incident_reopen(incident=incident, actor=None)
        escalation_sweep()
    assert paged(incident) == ["bob", "bob"]


@pytest.mark.django_db
def test_every_change_writes_a_timeline_row(core: Core) -> None:
    incident = declare(core)
    before = incident.timeline.count()
    incident_set_severity(incident=incident, severity="SEV1", actor=core.people["john"])
    incident_set_commander(
        incident=incident, commander=core.people["bob"], actor=core.people["john"]
    )
    incident_add_note(incident=incident, text="looking at the deploy", actor=core.people["bob"])
    incident_escalate_now(incident=incident, actor=core.people["john"])
    incident_reassign(incident=incident, user=core.people["carol"], actor=core.people["john"])
    new_kinds = kinds(incident)[before:]
    for kind in ("severity", "commander", "note", "escalated_now", "reassigned"):
        assert kind in new_kinds
    incident.refresh_from_db()
    assert (incident.severity, incident.commander) == ("SEV1", core.people["bob"])
    note = incident.timeline.get(kind=TimelineKind.NOTE)
    assert (note.actor, note.message) == (core.people["bob"], "looking at the deploy")


@pytest.mark.django_db
def test_reassign_to_a_person_pages_them_and_stops_the_old_track(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core)
        escalation_sweep()
        incident_acknowledge(incident=incident, actor=core.people["bob"])
        incident = incident_reassign(incident=incident, user=core.people["carol"], actor=None)
        assert incident.status == Status.TRIGGERED
        escalation_sweep()
    assert paged(incident) == ["bob", "carol"]
    assert (
        list(
            EscalationState.objects.filter(incident=incident, status="active").values_list(
                "track", flat=True
            )
        )
        == []
    )  # the assigned track pages once, then it is done


@pytest.mark.django_db
def test_escalate_now_skips_the_wait(core: Core) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core)
        escalation_sweep()
        traveller.shift(timedelta(minutes=1))
        incident_escalate_now(incident=incident, actor=None)
        escalation_sweep()
    assert paged(incident) == ["bob", "carol"]


@pytest.mark.django_db
def test_a_severity_paging_both_tiers_adds_the_new_tier(core: Core) -> None:
    SeverityPolicy.objects.update_or_create(level="SEV0", defaults={"page_both_tiers": True})
    with time_machine.travel(T0, tick=False):
        incident = declare(core, severity="SEV0")
        escalation_sweep()
    assert sorted(paged(incident)) == ["bob", "erin"]


@pytest.mark.django_db
def test_status_update_emails_the_team_and_the_company_through_the_outbox(
    core: Core, settings: Settings
) -> None:
    settings.COMPANY_STATUS_EMAIL = "everyone@example.com"
    incident = declare(core, severity="SEV1")
    incident.title = "Checkout\x1c down\nagain"  # control characters from an alert's summary
    incident.save(update_fields=["title"])
    update = incident_post_status_update(
        incident=incident, message="Rolled back; watching.", actor=core.people["bob"]
    )
    rows = Notification.objects.filter(idempotency_key__startswith=f"status-update:{update.pk}:")
    assert sorted(rows.values_list("address", flat=True)) == [
        "core@example.com",
        "everyone@example.com",
    ]
    mails = len(mail.outbox)
    for row in rows:
        assert notification_deliver(notification_id=row.pk) == "sent"
    sent = mail.outbox[mails:]
    assert sorted(m.to[0] for m in sent) == ["core@example.com", "everyone@example.com"]
    assert all("Rolled back; watching." in m.body for m in sent)
    assert all(incident.number in m.subject for m in sent)
    assert all("Checkout down again" in m.subject for m in sent)
    assert update.recipients == ["core@example.com", "everyone@example.com"]
    event = incident.timeline.get(kind=TimelineKind.STATUS_UPDATE)
    assert event.data["status_update_id"] == update.pk


@pytest.mark.django_db
def test_triage_needs_the_five_ws_and_records_the_severity(core: Core) -> None:
    incident = declare(core)
    with pytest.raises(ValidationError) as refused:
        incident_triage_confirm(
            incident=incident,
            severity="SEV1",
            actor=None,
            answers=answers_suggesting("SEV1"),
            **{**FIVE_WS, "how": " "},
        )
    assert set(refused.value.message_dict) == {"how"}
    incident = incident_triage_confirm(
        incident=incident,
        severity="SEV1",
        actor=None,
        answers=answers_suggesting("SEV1"),
        **FIVE_WS,
    )
    assert incident.triage_confirmed_at is not None
    assert incident.severity == "SEV1"
    assert incident.timeline.get(kind=TimelineKind.TRIAGE).data["who"] == "all EU shoppers"


@pytest.mark.django_db
def test_triage_overdue_pages_the_support_managers_once(core: Core) -> None:
    dinesh = UserFactory.create(username="dinesh", roles=[SUPPORT_MANAGER])
    assert Group.objects.filter(name=SUPPORT_MANAGER).exists()
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core)
        traveller.shift(timedelta(minutes=29, seconds=59))
        incident_timers_sweep()
        assert not Notification.objects.filter(recipient=dinesh).exists()
        traveller.shift(timedelta(seconds=1))
        incident_timers_sweep()
        traveller.shift(timedelta(minutes=30))
        incident_timers_sweep()
    assert Notification.objects.filter(recipient=dinesh).count() == 1
    assert incident.timeline.filter(kind=TimelineKind.TRIAGE_OVERDUE).count() == 1


@pytest.mark.django_db
def test_triage_confirmed_in_time_pages_nobody(core: Core) -> None:
    dinesh = UserFactory.create(username="dinesh", roles=[SUPPORT_MANAGER])
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core)
        incident_triage_confirm(
            incident=incident,
            severity="SEV2",
            actor=None,
            answers=answers_suggesting("SEV2"),
            **FIVE_WS,
        )
        traveller.shift(timedelta(hours=1))
        incident_timers_sweep()
    assert not Notification.objects.filter(recipient=dinesh).exists()


@pytest.mark.django_db
def test_status_update_reminders_go_to_the_commander_once_per_missed_interval(core: Core) -> None:
    SeverityPolicy.objects.update_or_create(
        level="SEV1",
        defaults={"status_updates_required": True, "status_update_interval": timedelta(hours=1)},
    )
    with time_machine.travel(T0, tick=False) as traveller:
        incident = declare(core, severity="SEV1", commander=core.people["alice"])
        incident_triage_confirm(
            incident=incident,
            severity="SEV1",
            actor=None,
            answers=answers_suggesting("SEV1"),
            **FIVE_WS,
        )
        traveller.shift(timedelta(minutes=59))
        incident_timers_sweep()
        traveller.shift(timedelta(minutes=1))
        incident_timers_sweep()
        incident_timers_sweep()
        assert incident.timeline.filter(kind=TimelineKind.UPDATE_DUE).count() == 1
        incident_post_status_update(incident=incident, message="still on it", actor=None)
        traveller.shift(timedelta(minutes=30))
        incident_timers_sweep()
        assert incident.timeline.filter(kind=TimelineKind.UPDATE_DUE).count() == 1
        traveller.shift(timedelta(minutes=30))
        incident_timers_sweep()
    reminders = Notification.objects.filter(
        subject_id=incident.pk, reason__contains="status update"
    )
    assert [n.recipient for n in reminders] == [core.people["alice"]] * 2


@pytest.mark.django_db
def test_a_link_in_a_page_acknowledges_the_incident(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident = declare(core)
        escalation_sweep()
    page = Notification.objects.get(subject_id=incident.pk)
    notification_acknowledge(notification_id=page.pk, channel="link")
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_via) == (Status.ACKNOWLEDGED, "link")
    assert incident.acknowledged_by == core.people["bob"]
    notification_acknowledge(notification_id=page.pk, channel="link")  # a second click: harmless


@pytest.mark.django_db
def test_pages_follow_the_persons_rules_or_fall_back_to_email_or_fail_visibly(
    core: Core, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks, monkeypatch: Any
) -> None:
    from oncall.celery import app as celery_app

    monkeypatch.setattr(celery_app, "send_task", lambda *a, **k: None)
    bob = core.people["bob"]
    sms = ContactMethod.objects.create(
        user=bob, channel=Channel.SMS, address="+12025550111", verified_at=T0
    )
    NotificationRule.objects.create(user=bob, urgency="high", contact_method=sms, delay=0)
    voice = ContactMethod.objects.create(
        user=bob, channel=Channel.VOICE, address="+12025550111", verified_at=T0
    )
    NotificationRule.objects.create(user=bob, urgency="high", contact_method=voice, delay=120)
    ghost = UserFactory.create(username="ghost", email="")
    incident = declare(core)
    common: dict[str, Any] = {
        "subject_type": "incident",
        "subject_id": incident.pk,
        "subject": "s",
        "body": "b",
        "reason": "r",
    }
    with time_machine.travel(T0, tick=False):
        rows = notifications_page(user=bob, urgency="high", key="k1", **common)
        assert [(r.channel, r.not_before) for r in rows] == [
            ("sms", None),
            ("voice", T0 + timedelta(seconds=120)),
        ]
        sms_rule = NotificationRule.objects.get(contact_method=sms)
        assert rows[0].idempotency_key == f"k1:sms:{sms_rule.pk}"
        assert notifications_page(user=bob, urgency="high", key="k1", **common) == rows
        [fallback] = notifications_page(
            user=core.people["carol"], urgency="high", key="k2", **common
        )
        assert (fallback.channel, fallback.address) == ("email", "carol@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            [failed] = notifications_page(user=ghost, urgency="high", key="k3", **common)
    assert failed.status == NotificationStatus.FAILED
    assert "no verified contact method and no email address" in failed.last_error
    event = incident.timeline.get(kind=TimelineKind.PAGE_FAILED)
    assert "no verified contact method" in event.message


# --- One open incident per team and dedup key ---------------------------------------------


def declare_keyed(core: Core, actor: str = "john", **kwargs: Any) -> tuple[Incident, bool]:
    fields = {"title": "Checkout down", "severity": "SEV1", "dedup_key": "checkout-5xx", **kwargs}
    return incident_declare_or_repeat(team=core.team, actor=core.people[actor], **fields)


@pytest.mark.django_db
def test_a_repeated_key_goes_on_the_open_incident_and_pages_nobody_again(core: Core) -> None:
    with time_machine.travel(T0, tick=False):
        incident, created = declare_keyed(core)
        escalation_sweep()
        states, first_pages = EscalationState.objects.count(), paged(incident)
        again, created_again = declare_keyed(core, "dave", title="Still down", severity="SEV3")
        escalation_sweep()

    assert (created, created_again) == (True, False)
    assert again.pk == incident.pk
    assert first_pages == ["bob", "erin"]  # SEV1 pages both tiers, once
    assert paged(incident) == first_pages
    assert EscalationState.objects.count() == states
    repeat = incident.timeline.order_by("at", "id").last()
    assert repeat is not None
    assert (repeat.kind, repeat.actor, repeat.via) == (
        TimelineKind.ALERT,
        core.people["dave"],
        "api",
    )
    assert repeat.message == "Triggered again: Still down"  # who and how: actor and via
    assert repeat.data == {
        "event_action": "trigger",
        "dedup_key": "checkout-5xx",
        "title": "Still down",
        "severity": "SEV3",
    }
    incident.refresh_from_db()
    assert (incident.title, incident.severity, incident.source) == ("Checkout down", "SEV1", "api")


@pytest.mark.django_db
def test_a_key_is_free_again_once_its_incident_is_resolved(core: Core) -> None:
    first, _ = declare_keyed(core)
    incident_resolve(incident=first, actor=None)

    second, created = declare_keyed(core)

    assert created
    assert second.pk != first.pk


@pytest.mark.django_db
def test_the_constraint_refuses_a_second_open_incident_with_the_key(core: Core) -> None:
    declare_keyed(core)

    with pytest.raises(ValidationError) as refused:
        declare(core, dedup_key="checkout-5xx", source=Source.API)
    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentFactory.create(team=core.team, dedup_key="checkout-5xx", source=Source.MANUAL)

    assert refused.value.messages == ["An open incident of this team already has this dedup key."]
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_integrations_keep_keying_per_integration(core: Core) -> None:
    """Two tools of one team may send the same key: each opens its own incident."""
    first, _second = (
        IncidentFactory.create(team=core.team, dedup_key="disk", source=Source.INTEGRATION)
        for _ in range(2)
    )
    IncidentFactory.create(team=TeamFactory.create(), dedup_key="disk", source=Source.API)
    IncidentFactory.create(team=core.team, dedup_key="disk", status=Status.RESOLVED)

    repeat, created = declare_keyed(core, dedup_key="disk")

    assert not created
    assert repeat.pk == first.pk  # the oldest open incident of the team with the key
    assert Incident.objects.count() == 4


@pytest.mark.django_db
def test_reopen_is_refused_while_another_open_incident_has_the_key(core: Core) -> None:
    old, _ = declare_keyed(core)
    incident_resolve(incident=old, actor=None)
    new, _ = declare_keyed(core)

    with pytest.raises(DedupKeyInUse, match=f"{new.number} is open with its dedup key"):
        incident_reopen(incident=old, actor=None)
    old.refresh_from_db()
    assert old.status == Status.RESOLVED

    incident_resolve(incident=new, actor=None)
    assert incident_reopen(incident=old, actor=None).status == Status.TRIGGERED


@pytest.mark.django_db
def test_reopen_of_an_api_incident_is_refused_while_an_integration_incident_has_the_key(
    core: Core,
) -> None:
    old, _ = declare_keyed(core)
    incident_resolve(incident=old, actor=None)
    IncidentFactory.create(team=core.team, dedup_key="checkout-5xx", source=Source.INTEGRATION)

    with pytest.raises(DedupKeyInUse):
        incident_reopen(incident=old, actor=None)


@pytest.mark.django_db
def test_an_integration_incident_still_reopens_beside_its_successor(core: Core) -> None:
    """Events v2: after a resolve the same key opens a new incident; the old may reopen."""
    old = declare(core, dedup_key="disk", source=Source.INTEGRATION)
    incident_resolve(incident=old, actor=None)
    declare(core, dedup_key="disk", source=Source.INTEGRATION)

    assert incident_reopen(incident=old, actor=None).status == Status.TRIGGERED
