"""The demo seed's postmortems: every state, action items some overdue, each row dated when
it happened, and written once however often `seed_demo` runs."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from postmortems.models import (
    ActionItem,
    ActionItemStatus,
    Postmortem,
    PostmortemStatus,
    ReviewMeeting,
)
from postmortems.review import IsoWeek
from postmortems.selectors import action_items_overdue

pytestmark = pytest.mark.django_db


def seed() -> None:
    call_command("seed_demo", stdout=io.StringIO())


def test_the_seed_writes_postmortems_in_every_state_once() -> None:
    seed()
    first = {
        p.pk: (p.status, p.version, p.created_at, p.due_at, p.published_at)
        for p in Postmortem.objects.all()
    }
    items = ActionItem.objects.count()
    seed()
    assert {
        p.pk: (p.status, p.version, p.created_at, p.due_at, p.published_at)
        for p in Postmortem.objects.all()
    } == first
    assert ActionItem.objects.count() == items

    now = timezone.now()
    postmortems = list(Postmortem.objects.select_related("incident"))
    assert {p.status for p in postmortems} == set(PostmortemStatus.values)
    for postmortem in postmortems:
        incident = postmortem.incident
        assert incident.resolved_at is not None
        # Drafted when its incident was resolved, not when the seed ran.
        assert postmortem.created_at == incident.resolved_at
        assert postmortem.due_at is not None
        assert postmortem.due_at > postmortem.created_at
        if postmortem.published_at is not None:
            assert postmortem.submitted_at is not None
            assert incident.resolved_at < postmortem.submitted_at < postmortem.published_at < now
        # Its timeline and facts are the incident's as it happened, not as the seed wrote it.
        assert all(e.at <= incident.resolved_at for e in postmortem.timeline.all())
        assert postmortem.facts["time_to_resolve_seconds"] == int(
            (incident.resolved_at - incident.triggered_at).total_seconds()
        )
        events = incident.timeline.filter(kind__startswith="postmortem_")
        assert all(incident.resolved_at <= e.at <= now for e in events)

    draft = next(p for p in postmortems if p.status == PostmortemStatus.DRAFT)
    assert draft.due_at is not None
    assert draft.due_at < now
    published = sorted(
        (p for p in postmortems if p.status == PostmortemStatus.PUBLISHED),
        key=lambda p: p.published_at or now,
    )
    assert published[0].published_at is not None
    assert published[0].published_at < now - timedelta(days=6)  # last week's
    assert published[-1].published_at is not None
    assert published[-1].published_at > now - timedelta(hours=2)  # this week's
    statuses = set(ActionItem.objects.values_list("status", flat=True))
    assert statuses == set(ActionItemStatus.values)
    assert action_items_overdue(ActionItem.objects.all(), today=now.date()).count() >= 2
    assert all(
        (item.completed_at is not None) == (item.status in ("done", "wont_do"))
        for item in ActionItem.objects.all()
    )


def test_the_seed_holds_last_weeks_review_meeting_once() -> None:
    seed()
    seed()
    now = timezone.now()
    last_week = IsoWeek.of(now - timedelta(days=7))
    meeting = ReviewMeeting.objects.get()
    assert meeting.week == last_week.monday
    assert meeting.held_at is not None
    assert last_week.start <= meeting.held_at < last_week.end
    assert meeting.held_by is not None
    assert meeting.attendees.count() == 6
    assert meeting.notes
    assert meeting.decisions
