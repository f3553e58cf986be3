"""Demo incidents (called by `manage.py seed_demo` through `IncidentsConfig.demo_seed`), so a
new user opens a living portal: one incident paging now, one acknowledged, and a few resolved
ones from the past weeks with their timelines.

Everything goes through the incident services (declare, the engine's first step,
acknowledge, notes, triage, resolve), so the rows are what the portal itself writes; the
past incidents' timelines are then moved back to when they happened. Idempotent: each demo
incident has a dedup key and is made once (a second run, or a restart of `make run`, adds
nothing). Nothing is seeded unless every person the Core team could page is a demo person,
so a portal whose teams hold real people never pages them for a demo.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from incidents.engine import escalation_run_due
from incidents.interruptions import interruption_slot, interruptions_refresh
from incidents.models import EscalationState, Incident, Severity, StatusUpdate, TimelineEvent, Via
from incidents.services import (
    incident_acknowledge,
    incident_add_note,
    incident_declare,
    incident_record_call,
    incident_resolve,
    incident_set_commander,
    incident_triage_confirm,
)
from notifications.models import Notification
from notifications.models import Status as PageStatus
from notifications.services.outbox import notifications_transition
from oncall.celery import make_broker_folders
from oncall.demo import PEOPLE
from oncall.models import User
from rotations.models import RotationMember, Team

logger = logging.getLogger(__name__)

KEY = "demo:"  # the dedup keys of seeded incidents start with this


def _demo_people_only(team: Team) -> bool:
    """Whether everyone the team could page or call is a demo person."""
    demo = {p.username for p in PEOPLE}
    names = set(team.members.values_list("username", flat=True))
    names |= set(
        RotationMember.objects.filter(rotation__team=team).values_list("user__username", flat=True)
    )
    if team.escalation_contact is not None:
        names.add(team.escalation_contact.username)
    return names <= demo


def _pages(incident: Incident) -> list[Notification]:
    return list(
        Notification.objects.filter(subject_type="incident", subject_id=incident.pk)
        .select_related("recipient")
        .order_by("created_at", "pk")
    )


@dataclass
class _Story:
    """One incident written step by step, each step's timeline rows moved to its moment."""

    incident: Incident
    last_event: int = 0
    sent_at: datetime | None = None  # when its pages were delivered (told after commit)

    def at(self, when: datetime) -> None:
        """The rows written since the previous call happened at `when`."""
        rows = TimelineEvent.objects.filter(incident=self.incident, pk__gt=self.last_event)
        newest = rows.aggregate(newest=Max("pk"))["newest"]
        rows.update(at=when)
        self.last_event = newest or self.last_event


def _page_first_step(story: _Story, when: datetime, *, delivered: bool) -> User | None:
    """The engine's first step (whoever is on call), at `when`; who was paged first."""
    escalation_run_due()
    story.at(when)
    pages = _pages(story.incident)
    if delivered:  # a past page: the console took it a few seconds later
        story.sent_at = when + timedelta(seconds=4)
        with transaction.atomic():
            rows = list(
                Notification.objects.select_for_update().filter(pk__in=[p.pk for p in pages])
            )
            pending = [r for r in rows if r.status == PageStatus.PENDING]
            notifications_transition(notifications=pending, to=PageStatus.SENDING)
            notifications_transition(
                notifications=pending, to=PageStatus.SENT, provider_message_id="demo"
            )
            # Sent now, dated back to the story's instant: its interruptions move with it.
            moved = [interruption_slot(r) for r in pending]
            Notification.objects.filter(pk__in=[r.pk for r in rows]).update(
                created_at=when, sent_at=story.sent_at
            )
            for r in pending:
                r.sent_at = story.sent_at
            interruptions_refresh(
                slot for slot in [*moved, *map(interruption_slot, pending)] if slot
            )
    return pages[0].recipient if pages else None


def _into_the_past(
    incident: Incident,
    triggered: datetime,
    acked: datetime | None,
    resolved: datetime | None,
    triaged: datetime | None = None,
) -> None:
    Incident.objects.filter(pk=incident.pk).update(
        triggered_at=triggered,
        acknowledged_at=acked,
        resolved_at=resolved,
        triage_confirmed_at=triaged,
    )
    EscalationState.objects.filter(incident=incident).update(triggered_at=triggered)
    StatusUpdate.objects.filter(incident=incident).update(created_at=resolved or triggered)


def _exists(key: str) -> bool:
    return Incident.objects.filter(dedup_key=KEY + key).exists()


def _past_login_failures(core: Team, u: dict[str, User], now: datetime) -> _Story | None:
    if _exists("login-failures"):
        return None
    start = (now - timedelta(days=3)).replace(hour=14, minute=5, second=0, microsecond=0)
    incident = incident_declare(
        title="Login fails for some customers after the certificate rotation",
        actor=u["santhosh"],
        team=core,
        severity=Severity.SEV2,
        description="Customers on the EU site get 'invalid session' right after logging in.",
        ticket="CSD-4711",
        requester_name="Santhosh Kumar",
        requester_phone="+91 98123 45601",
        dedup_key=KEY + "login-failures",
    )
    story = _Story(incident)
    story.at(start)
    engineer = _page_first_step(story, start, delivered=True) or u["alice"]
    incident_acknowledge(incident=incident, actor=engineer, via=Via.LINK)
    story.at(start + timedelta(minutes=4))
    incident_triage_confirm(
        incident=incident,
        severity=Severity.SEV2,
        actor=u["noah"],
        who="EU customers logging in (about 8% of logins)",
        what="Sessions rejected as invalid right after login",
        where="eu-west auth service",
        when="Since 13:50 UTC, the certificate rotation",
        how="Support tickets CSD-4711 and three duplicates",
        # Many regular customers blocked, revenue at risk, the stakeholder wants it soon:
        # 3 + 2 + 3 + 2 + 2 = 12 points, SEV2 (incidents.triage).
        answers={
            "users_affected": 3,
            "which_users": 2,
            "user_impact": 3,
            "company_impact": 2,
            "stakeholder_view": 2,
        },
    )
    story.at(start + timedelta(minutes=11))
    incident_add_note(
        incident=incident,
        text="One of three auth nodes still serves the old certificate chain; draining it.",
        actor=engineer,
    )
    story.at(start + timedelta(minutes=23))
    incident_resolve(
        incident=incident,
        actor=engineer,
        note="Node replaced with the new chain; logins normal for 20 minutes.",
    )
    story.at(start + timedelta(minutes=48))
    _into_the_past(
        incident,
        start,
        start + timedelta(minutes=4),
        start + timedelta(minutes=48),
        triaged=start + timedelta(minutes=11),
    )
    return story


def _past_payment_webhooks(core: Team, u: dict[str, User], now: datetime) -> _Story | None:
    if _exists("payment-webhooks"):
        return None
    start = (now - timedelta(days=9)).replace(hour=2, minute=40, second=0, microsecond=0)
    incident = incident_declare(
        title="Payment confirmations delayed by up to 40 minutes",
        actor=u["noah"],
        team=core,
        severity=Severity.SEV1,
        description="Orders stay 'awaiting payment' although the provider charged the card.",
        ticket="CSD-4630",
        requester_name="Noah Fischer",
        requester_phone="+49 151 12345602",
        bridge="https://meet.example.com/csd-4630",
        dedup_key=KEY + "payment-webhooks",
    )
    story = _Story(incident)
    story.at(start)
    engineer = _page_first_step(story, start, delivered=True) or u["bob"]
    incident_acknowledge(incident=incident, actor=engineer, via=Via.SMS)
    story.at(start + timedelta(minutes=7))
    incident_set_commander(incident=incident, commander=engineer, actor=engineer)
    story.at(start + timedelta(minutes=8))
    incident_add_note(
        incident=incident,
        text="Webhook queue backed up behind one poisoned message; skipping it and replaying.",
        actor=engineer,
    )
    story.at(start + timedelta(minutes=31))
    incident_resolve(
        incident=incident,
        actor=engineer,
        note="Queue drained, 1,204 confirmations replayed. Postmortem to follow.",
    )
    story.at(start + timedelta(hours=1, minutes=52))
    _into_the_past(
        incident, start, start + timedelta(minutes=7), start + timedelta(hours=1, minutes=52)
    )
    return story


def _past_platform_call(platform: Team, u: dict[str, User], now: datetime) -> _Story | None:
    if _exists("db-failover"):
        return None
    start = (now - timedelta(days=16)).replace(hour=19, minute=12, second=0, microsecond=0)
    incident = incident_declare(
        title="Primary database failed over; writes paused for 2 minutes",
        actor=u["dinesh"],
        team=platform,
        severity=Severity.SEV2,
        dedup_key=KEY + "db-failover",
    )
    story = _Story(incident)
    story.at(start)
    numbers = incident.direct_numbers
    if numbers:
        incident_record_call(
            incident=incident,
            number=numbers[0]["phone"],
            outcome="answered; Frank is looking",
            actor=u["dinesh"],
        )
        story.at(start + timedelta(minutes=3))
    incident_acknowledge(incident=incident, actor=u["frank"], via=Via.DASHBOARD)
    story.at(start + timedelta(minutes=5))
    incident_resolve(
        incident=incident, actor=u["frank"], note="Failover completed cleanly; no data lost."
    )
    story.at(start + timedelta(minutes=26))
    _into_the_past(incident, start, start + timedelta(minutes=5), start + timedelta(minutes=26))
    return story


def _past_search_deploy(core: Team, u: dict[str, User], now: datetime) -> _Story | None:
    """A SEV1 of a few hours ago, so the current week's review has an incident of its own."""
    if _exists("search-deploy"):
        return None
    start = (now - timedelta(hours=6)).replace(second=0, microsecond=0)
    incident = incident_declare(
        title="Search results empty on the mobile app after the 14:05 deploy",
        actor=u["santhosh"],
        team=core,
        severity=Severity.SEV1,
        description="Every search on iOS and Android returns no results; web is fine.",
        ticket="CSD-4950",
        requester_name="Santhosh Kumar",
        requester_phone="+91 98123 45601",
        dedup_key=KEY + "search-deploy",
    )
    story = _Story(incident)
    story.at(start)
    engineer = _page_first_step(story, start, delivered=True) or u["carol"]
    incident_acknowledge(incident=incident, actor=engineer, via=Via.SMS)
    story.at(start + timedelta(minutes=6))
    incident_set_commander(incident=incident, commander=engineer, actor=engineer)
    story.at(start + timedelta(minutes=7))
    incident_add_note(
        incident=incident,
        text="The mobile search client sends the new query format the API rejects; rolling back.",
        actor=engineer,
    )
    story.at(start + timedelta(minutes=19))
    incident_resolve(
        incident=incident, actor=engineer, note="Rolled back; mobile searches return results."
    )
    story.at(start + timedelta(minutes=41))
    _into_the_past(incident, start, start + timedelta(minutes=6), start + timedelta(minutes=41))
    return story


def _open_acknowledged(core: Team, u: dict[str, User], now: datetime) -> _Story | None:
    if _exists("search-slow"):
        return None
    start = now - timedelta(minutes=25)
    incident = incident_declare(
        title="Search results slow for some customers",
        actor=u["noah"],
        team=core,
        severity=Severity.SEV3,
        description="p95 search latency 4 s (normally 400 ms) on the US site.",
        ticket="CSD-4901",
        requester_name="Noah Fischer",
        requester_phone="+49 151 12345602",
        dedup_key=KEY + "search-slow",
    )
    story = _Story(incident)
    story.at(start)
    engineer = _page_first_step(story, start, delivered=True) or u["carol"]
    incident_acknowledge(incident=incident, actor=engineer, via=Via.LINK)
    story.at(start + timedelta(minutes=3))
    incident_add_note(
        incident=incident,
        text="Index rebuild started at the wrong hour; watching it finish.",
        actor=engineer,
    )
    story.at(start + timedelta(minutes=12))
    _into_the_past(incident, start, start + timedelta(minutes=3), None)
    return story


def _open_paging(core: Team, u: dict[str, User]) -> None:
    """Declared now: the first engineer is paged (through the console in `make run`) and,
    unless someone acknowledges, the veteran list is walked as the handbook says."""
    if _exists("checkout-eu"):
        return
    incident_declare(
        title="Checkout returns errors for EU shoppers",
        actor=u["santhosh"],
        team=core,
        severity=Severity.SEV1,
        description="Need immediate help with CSD-4980 - Call Santhosh at +91 98123 45601",
        ticket="CSD-4980",
        requester_name="Santhosh Kumar",
        requester_phone="+91 98123 45601",
        bridge="https://meet.example.com/csd-4980",
        dedup_key=KEY + "checkout-eu",
    )
    escalation_run_due()


def seed(*, users: dict[str, User]) -> None:
    core = Team.objects.filter(slug="core").select_related("escalation_contact").first()
    platform = Team.objects.filter(slug="platform").select_related("escalation_contact").first()
    if core is None:
        return
    for team in (core, platform):
        if team is not None and not _demo_people_only(team):
            logger.warning(
                "Demo incidents not seeded: %s has people who are not demo people.", team
            )
            return
    # The services queue step tasks on commit; before `make run` starts a worker the
    # embedded broker may have no folders yet.
    make_broker_folders()
    now = timezone.now()
    stories = [
        (platform, _past_platform_call),
        (core, _past_payment_webhooks),
        (core, _past_login_failures),
        (core, _past_search_deploy),
        (core, _open_acknowledged),
    ]
    for team, tell in stories:
        if team is None:
            continue
        # One transaction per incident: a story that fails leaves nothing half told, and the
        # next run tells it again.
        with transaction.atomic():
            story = tell(team, users, now)
        if story is not None and story.sent_at is not None:
            story.at(story.sent_at)  # "page sent" rows, written as the transaction committed
    with transaction.atomic():
        _open_paging(core, users)
