"""Demo postmortems (called by `manage.py seed_demo` through `PostmortemsConfig.demo_seed`,
after the incidents app has told its stories), so a new user finds the after-incident half
lived in: a draft gone overdue, one in review, one published last week with its action items
half done (one overdue), and one published this week.

The demo incidents' resolves drafted these postmortems already; this writes them through the
services (update, action items, submit, publish) and then moves each row to when it
happened. Idempotent: a postmortem is written only while it is the untouched draft its
resolve made (version 1, no action items), so a second run or a restart adds nothing.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from incidents.models import Incident, TimelineEvent
from incidents.services.lifecycle import severity_policy
from oncall.models import User
from postmortems import drafting
from postmortems.meetings import review_meeting_mark_held, review_meeting_save
from postmortems.models import (
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemRevision,
    PostmortemStatus,
    PostmortemTimelineEntry,
    ReviewMeeting,
)
from postmortems.review import IsoWeek
from postmortems.services import (
    action_item_create,
    action_item_transition,
    postmortem_publish,
    postmortem_submit,
    postmortem_update,
)
from postmortems.stamp import touch_review

logger = logging.getLogger(__name__)

KEY = "demo:"  # the incidents app's demo dedup keys


@dataclass(frozen=True)
class _Item:
    title: str
    owner: str
    kind: str
    priority: str
    due_in_days: int  # from now; negative: overdue
    status: str = ActionItemStatus.OPEN
    ticket_url: str = ""


@dataclass(frozen=True)
class _Story:
    """What is written into one demo incident's postmortem, and when."""

    incident_key: str
    sections: Mapping[str, str]
    items: tuple[_Item, ...] = ()
    written_ago: timedelta | None = None  # None: the draft stays as its resolve made it
    submitted_ago: timedelta | None = None
    published_ago: timedelta | None = None


PAYMENT = _Story(
    incident_key="payment-webhooks",
    written_ago=timedelta(days=8, hours=2),
    submitted_ago=timedelta(days=8),
    published_ago=timedelta(days=7),
    sections={
        "summary": (
            "For 1 h 52 min at night, payment confirmations from the provider were not "
            "applied: one malformed webhook blocked the queue's only consumer, so 1,204 orders "
            "stayed *awaiting payment* although the cards were charged."
        ),
        "impact": (
            "- 1,204 orders delayed by up to 40 minutes (no order lost)\n"
            "- 37 customer contacts to support, 11 duplicate orders refunded"
        ),
        "detection": "Support (Noah) declared it from customer reports; no alarm fired.",
        "response": "The on-call engineer was paged by SMS, acknowledged in 7 minutes and took command.",
        "recovery": "The poisoned message was skipped and the backlog replayed in order.",
        "contributing_factors": (
            "The consumer retried a message it could never parse forever, with no dead-letter "
            "queue; the queue depth had no alarm."
        ),
        "what_went_well": "The replay tool worked first time; no confirmation was lost.",
        "what_went_badly": "We learnt from customers, 25 minutes after it started.",
        "where_we_got_lucky": "It happened at 02:40, the quietest hour for orders.",
        "new_metrics": "`webhook_queue_depth` and `webhook_oldest_age_seconds`.",
        "alarm_thresholds": "Page when the oldest webhook is older than 5 minutes.",
        "playbook_entries": "*Payments: replaying provider webhooks* (new).",
        "docs_updated": "The payments runbook links the replay tool.",
    },
    items=(
        _Item(
            "Dead-letter queue for webhooks that fail to parse",
            "bob",
            ActionItemKind.REPAIR,
            ActionItemPriority.HIGH,
            5,
            status=ActionItemStatus.DONE,
            ticket_url="https://jira.example.com/browse/PAY-311",
        ),
        _Item(
            "Alarm on the age of the oldest unprocessed webhook",
            "alice",
            ActionItemKind.DETECT,
            ActionItemPriority.HIGH,
            -2,
            status=ActionItemStatus.IN_PROGRESS,
            ticket_url="https://jira.example.com/browse/PAY-312",
        ),
        _Item(
            "Load-test the consumer with malformed payloads",
            "carol",
            ActionItemKind.PREVENT,
            ActionItemPriority.MEDIUM,
            12,
        ),
        _Item(
            "Second consumer for the webhook queue",
            "bob",
            ActionItemKind.MITIGATE,
            ActionItemPriority.LOW,
            20,
            status=ActionItemStatus.WONT_DO,
        ),
    ),
)

LOGIN = _Story(
    incident_key="login-failures",
    written_ago=timedelta(days=2),
    submitted_ago=timedelta(days=1),
    sections={
        "summary": (
            "After the certificate rotation one of three EU auth nodes kept the old chain, "
            "so about 8% of EU logins were rejected as invalid sessions for 48 minutes."
        ),
        "impact": "About 8% of EU logins failed; 4 support tickets (CSD-4711 and duplicates).",
        "detection": "Support tickets; the auth error-rate alarm stayed under its threshold.",
        "contributing_factors": (
            "The rotation script reported success per cluster, not per node, and skipped a "
            "node that was restarting."
        ),
        "what_went_well": "Triage named the node within 11 minutes.",
        "what_went_badly": "The error-rate alarm averages over every region and hid the EU.",
    },
    items=(
        _Item(
            "Verify the served certificate chain on every node after a rotation",
            "alice",
            ActionItemKind.PREVENT,
            ActionItemPriority.HIGH,
            -1,
        ),
        _Item(
            "Per-region auth error-rate alarm",
            "dave",
            ActionItemKind.DETECT,
            ActionItemPriority.MEDIUM,
            14,
        ),
    ),
)

SEARCH = _Story(
    incident_key="search-deploy",
    written_ago=timedelta(hours=3),
    submitted_ago=timedelta(hours=2),
    published_ago=timedelta(hours=1),
    sections={
        "summary": (
            "The 14:05 deploy changed the search query format before the mobile apps were "
            "ready for it; every mobile search returned nothing for 41 minutes."
        ),
        "impact": "All mobile searches (about 60% of searches) for 41 minutes.",
        "detection": "Support declared it from app-store reviews and tickets.",
        "response": "The on-call engineer acknowledged by SMS in 6 minutes and rolled back.",
        "recovery": "Rollback of the search API; no data to repair.",
        "contributing_factors": "The API's contract tests did not include the mobile client.",
        "what_went_well": "The rollback took 4 minutes.",
        "what_went_badly": "A canary would have caught it on 1% of traffic.",
        "new_metrics": "Zero-result rate per client platform.",
        "alarm_thresholds": "Page when mobile zero-result rate exceeds 20% for 5 minutes.",
    },
    items=(
        _Item(
            "Add the mobile client to the search API's contract tests",
            "carol",
            ActionItemKind.PREVENT,
            ActionItemPriority.HIGH,
            10,
            ticket_url="https://jira.example.com/browse/SRCH-88",
        ),
        _Item(
            "Canary search deploys on 1% of traffic",
            "erin",
            ActionItemKind.MITIGATE,
            ActionItemPriority.MEDIUM,
            25,
        ),
    ),
)

# db-failover's draft is left untouched: overdue, nothing written.
DRAFT_ONLY = "db-failover"


def _last_event_id() -> int:
    return TimelineEvent.objects.aggregate(newest=Max("pk"))["newest"] or 0


def _events_at(incident: Incident, after: int, when: datetime) -> int:
    """Move the incident's timeline rows written since `after` to `when`."""
    TimelineEvent.objects.filter(incident=incident, pk__gt=after).update(at=when)
    return _last_event_id()


def _untouched(postmortem: Postmortem) -> bool:
    return postmortem.version == 1 and not postmortem.action_items.exists()


def _tell(story: _Story, postmortem: Postmortem, u: dict[str, User], now: datetime) -> None:
    incident = postmortem.incident
    writer = postmortem.owner or incident.commander or u["raja"]
    mark = _last_event_id()
    postmortem = postmortem_update(
        postmortem=postmortem, actor=writer, version=postmortem.version, sections=story.sections
    )
    written = now - (story.written_ago or timedelta())
    PostmortemRevision.objects.filter(postmortem=postmortem).update(created_at=written)
    mark = _events_at(incident, mark, written)
    for spec in story.items:
        item = action_item_create(
            postmortem=postmortem,
            actor=writer,
            title=spec.title,
            owner=u[spec.owner],
            kind=spec.kind,
            priority=spec.priority,
            due_date=(now + timedelta(days=spec.due_in_days)).date(),
            ticket_url=spec.ticket_url,
        )
        if spec.status != ActionItemStatus.OPEN:
            action_item_transition(item=item, to=ActionItemStatus(spec.status), actor=writer)
    ActionItem.objects.filter(postmortem=postmortem).update(created_at=written, updated_at=written)
    ActionItem.objects.filter(postmortem=postmortem, completed_at__isnull=False).update(
        completed_at=now - timedelta(days=1), updated_at=now - timedelta(days=1)
    )
    mark = _events_at(incident, mark, written)
    if story.submitted_ago is not None:
        postmortem_submit(postmortem=postmortem, actor=writer)
        mark = _events_at(incident, mark, now - story.submitted_ago)
    if story.published_ago is not None:
        postmortem_publish(postmortem=postmortem, actor=u["raja"])
        _events_at(incident, mark, now - story.published_ago)
    Postmortem.objects.filter(pk=postmortem.pk).update(
        updated_at=now - min(d for d in (story.written_ago, story.published_ago) if d is not None),
        submitted_at=now - story.submitted_ago if story.submitted_ago else None,
        published_at=now - story.published_ago if story.published_ago else None,
    )


def _backdate(postmortem: Postmortem) -> None:
    """The draft was made when the demo resolved its incident (now), from a timeline the demo
    then moved back: it belongs to when the incident was resolved, due as its severity says,
    with the timeline and facts as they happened."""
    incident = postmortem.incident
    if incident.resolved_at is None:
        return
    events = list(incident.timeline.select_related("actor").order_by("at", "id"))
    entries = drafting.timeline_entries(events)
    for entry in entries:
        entry.postmortem = postmortem
    PostmortemTimelineEntry.objects.filter(postmortem=postmortem).delete()
    PostmortemTimelineEntry.objects.bulk_create(entries)
    due = drafting.postmortem_due(severity_policy(incident.severity))
    Postmortem.objects.filter(pk=postmortem.pk).update(
        created_at=incident.resolved_at,
        updated_at=incident.resolved_at,
        due_at=incident.resolved_at + due,
        facts=drafting.response_facts(incident, events),
    )
    postmortem.refresh_from_db()


def seed(*, users: dict[str, User]) -> None:
    now = timezone.now()
    keys = [KEY + s.incident_key for s in (PAYMENT, LOGIN, SEARCH)] + [KEY + DRAFT_ONLY]
    found = {
        p.incident.dedup_key: p
        for p in Postmortem.objects.filter(incident__dedup_key__in=keys).select_related(
            "incident", "incident__commander", "owner"
        )
    }
    for story in (PAYMENT, LOGIN, SEARCH, None):
        key = KEY + (story.incident_key if story else DRAFT_ONLY)
        postmortem = found.get(key)
        if postmortem is None or postmortem.status != PostmortemStatus.DRAFT:
            continue
        if not _untouched(postmortem):
            continue
        with transaction.atomic():
            _backdate(postmortem)
            if story is not None:
                _tell(story, postmortem, users, now)
    _last_weeks_meeting(users, now)
    # The backdating above (and the incidents' demo before it) are queryset updates.
    touch_review()


def _last_weeks_meeting(u: dict[str, User], now: datetime) -> None:
    """Last week's review was held: attendees, notes and decisions, linked from this week's."""
    week = IsoWeek.of(now - timedelta(days=7))
    if ReviewMeeting.objects.filter(week=week.monday).exists():
        return
    chair = u["raja"]
    with transaction.atomic():
        review_meeting_save(
            week=week.monday,
            actor=chair,
            version=0,
            attendees=[u[name] for name in ("raja", "dinesh", "alice", "bob", "carol", "noah")],
            notes=(
                "- **INC-2** (payment confirmations): the dead-letter queue is in; the "
                "age-of-oldest-webhook alarm is still open.\n"
                "- Support asked for a playbook entry on replaying webhooks: done."
            ),
            decisions=(
                "1. Every queue consumer gets a dead-letter queue (Bob to list them).\n"
                "2. Alarms on queue age, not depth, from now on."
            ),
        )
        review_meeting_mark_held(week=week.monday, actor=chair, held=True)
        held = week.start + timedelta(days=3, hours=15)
        ReviewMeeting.objects.filter(week=week.monday).update(
            held_at=held, created_at=held, updated_at=held
        )
