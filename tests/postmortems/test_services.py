"""Writing a postmortem (versions, revisions, rights), its review and publishing (the map, the
rules, the company email over real SMTP), action items and the daily overdue digest."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from pytest_django import Settings

from incidents.models import Incident, Severity, TimelineKind
from notifications.models import Notification
from notifications.services import notification_deliver
from oncall.models import User
from postmortems.models import ActionItemStatus, Postmortem, PostmortemStatus
from postmortems.services import (
    IllegalTransition,
    NotAllowed,
    PostmortemConflict,
    PublishIncomplete,
    action_item_create,
    action_item_transition,
    action_items_digest_send,
    postmortem_publish,
    postmortem_reopen,
    postmortem_start,
    postmortem_submit,
    postmortem_transition,
    postmortem_update,
)
from tests.factories import IncidentFactory, UserFactory
from tests.notifications.conftest import SmtpServer

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory.create(username="olga")


def started(owner: User, *, severity: str = Severity.SEV2, **incident: object) -> Postmortem:
    with time_machine.travel(T0, tick=False):
        return postmortem_start(
            incident=IncidentFactory.create(severity=severity, **incident), actor=owner
        )


def ready(postmortem: Postmortem, owner: User) -> Postmortem:
    """Summary, impact and one action item: publishable."""
    postmortem = postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=postmortem.version,
        sections={"summary": "Checkout **failed** for 20 minutes.", "impact": "All EU shoppers."},
    )
    action_item_create(
        postmortem=postmortem, actor=owner, title="Alert on 5xx", owner=owner, kind="detect"
    )
    return postmortem


# --- writing -------------------------------------------------------------------------------


def test_a_save_bumps_the_version_and_keeps_a_revision_of_what_changed(owner: User) -> None:
    postmortem = started(owner)
    saved = postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=1,
        title="Checkout outage",
        sections={"summary": "It broke.", "impact": ""},  # impact unchanged
    )
    assert saved.version == 2
    [revision] = saved.revisions.all()
    assert revision.version == 2
    assert revision.author == owner
    assert revision.changed == ["summary", "title"]
    assert revision.changes["summary"] == {"before": "", "after": "It broke."}
    assert saved.section_body("summary") == "It broke."


def test_a_save_with_a_stale_version_is_refused_with_both_texts_and_nothing_lost(
    owner: User,
) -> None:
    postmortem = started(owner)
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    postmortem_update(postmortem=postmortem, actor=owner, version=1, sections={"summary": "Mine"})

    with pytest.raises(PostmortemConflict) as conflict:
        postmortem_update(
            postmortem=postmortem, actor=manager, version=1, sections={"summary": "Theirs"}
        )

    assert conflict.value.current_version == 2
    assert conflict.value.theirs == {"summary": "Mine"}
    assert conflict.value.yours == {"summary": "Theirs"}
    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert fresh.version == 2
    assert fresh.section_body("summary") == "Mine"
    assert fresh.revisions.count() == 1


def test_only_the_owner_the_commander_and_managers_edit(owner: User) -> None:
    commander = UserFactory.create(username="cmdr")
    postmortem = started(owner, commander=commander)
    engineer = UserFactory.create(username="eng", roles=["Engineer"])
    with pytest.raises(NotAllowed):
        postmortem_update(postmortem=postmortem, actor=engineer, version=1, title="Mine now")
    postmortem_update(postmortem=postmortem, actor=commander, version=1, title="Commander's")
    assert Postmortem.objects.get(pk=postmortem.pk).title == "Commander's"


def test_an_unknown_section_is_refused_by_name(owner: User) -> None:
    postmortem = started(owner)
    with pytest.raises(ValidationError) as refused:
        postmortem_update(postmortem=postmortem, actor=owner, version=1, sections={"nope": "x"})
    assert "nope" in str(refused.value)


def test_the_owner_and_the_due_time_are_cleared_only_when_asked(owner: User) -> None:
    postmortem = started(owner)
    assert (postmortem.owner, postmortem.due_at is not None) == (owner, True)
    kept = postmortem_update(postmortem=postmortem, actor=owner, version=1, title="Renamed")
    assert (kept.owner, kept.due_at is not None) == (owner, True)  # None: unchanged

    cleared = postmortem_update(
        postmortem=postmortem, actor=owner, version=2, clear_owner=True, clear_due=True
    )

    fresh = Postmortem.objects.get(pk=postmortem.pk)
    assert (fresh.owner, fresh.due_at, fresh.version) == (None, None, 3)
    assert cleared.revisions.get(version=3).changes["owner"] == {"before": owner.pk, "after": None}
    with pytest.raises(ValidationError) as refused:
        postmortem_update(
            postmortem=postmortem, actor=owner, version=3, owner=owner, clear_owner=True
        )
    assert "owner" in refused.value.message_dict
    assert Postmortem.objects.get(pk=postmortem.pk).version == 3


# --- the transition map and the publish rules ----------------------------------------------

MOVES = [
    (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW, True),
    (PostmortemStatus.DRAFT, PostmortemStatus.PUBLISHED, False),
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.PUBLISHED, True),
    (PostmortemStatus.IN_REVIEW, PostmortemStatus.DRAFT, False),
    (PostmortemStatus.PUBLISHED, PostmortemStatus.IN_REVIEW, True),
    (PostmortemStatus.PUBLISHED, PostmortemStatus.DRAFT, False),
]


@pytest.mark.parametrize(("start", "to", "allowed"), MOVES)
def test_the_status_moves_only_as_the_map_allows(
    owner: User, start: PostmortemStatus, to: PostmortemStatus, allowed: bool
) -> None:
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    postmortem = ready(started(owner), owner)
    Postmortem.objects.filter(pk=postmortem.pk).update(status=start)
    if allowed:
        moved = postmortem_transition(postmortem=postmortem, to=to, actor=manager)
        assert moved.status == to
    else:
        with pytest.raises(IllegalTransition):
            postmortem_transition(postmortem=postmortem, to=to, actor=manager)
        assert Postmortem.objects.get(pk=postmortem.pk).status == start


def test_submit_publish_and_reopen_each_write_the_incidents_timeline(owner: User) -> None:
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    postmortem = ready(started(owner), owner)
    postmortem = postmortem_submit(postmortem=postmortem, actor=owner)
    assert postmortem.submitted_at is not None
    postmortem = postmortem_publish(postmortem=postmortem, actor=manager)
    assert postmortem.published_at is not None
    with pytest.raises(IllegalTransition):  # a published postmortem is reopened to be edited
        postmortem_update(postmortem=postmortem, actor=owner, version=2, title="x")
    postmortem = postmortem_reopen(postmortem=postmortem, actor=owner)
    assert postmortem.status == PostmortemStatus.IN_REVIEW
    assert postmortem.published_at is None
    kinds = list(
        postmortem.incident.timeline.filter(kind__startswith="postmortem_")
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        TimelineKind.POSTMORTEM_DRAFTED,
        TimelineKind.POSTMORTEM_SUBMITTED,
        TimelineKind.POSTMORTEM_PUBLISHED,
        TimelineKind.POSTMORTEM_REOPENED,
    ]


def test_the_owner_submits_and_nobody_else_but_a_manager(owner: User) -> None:
    postmortem = started(owner)
    with pytest.raises(NotAllowed):
        postmortem_submit(postmortem=postmortem, actor=UserFactory.create(roles=["Engineer"]))
    assert postmortem_submit(postmortem=postmortem, actor=owner).status == "in_review"


def test_publishing_needs_a_summary_an_impact_and_action_items_or_a_reason(owner: User) -> None:
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    postmortem = postmortem_submit(postmortem=started(owner), actor=owner)

    with pytest.raises(PublishIncomplete) as refused:
        postmortem_publish(postmortem=postmortem, actor=manager)
    assert set(refused.value.fields) == {"sections.summary", "sections.impact", "action_items"}

    postmortem = postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=1,
        sections={"summary": "It broke.", "impact": "Nobody could pay."},
        no_action_items_reason="A one-off provider outage; nothing of ours to change.",
    )
    assert postmortem_publish(postmortem=postmortem, actor=manager).status == "published"


def test_a_manager_publishes_and_the_support_manager_only_what_support_declared(
    owner: User,
) -> None:
    support_manager = UserFactory.create(username="sam", roles=["Support manager"])
    engineer = UserFactory.create(username="eve", roles=["Engineer"])
    support = UserFactory.create(username="sid", roles=["Support"])

    by_engineer = postmortem_submit(
        postmortem=ready(started(owner, declared_by=engineer), owner), actor=owner
    )
    for person in (support_manager, engineer, owner):
        with pytest.raises(NotAllowed):
            postmortem_publish(postmortem=by_engineer, actor=person)

    by_support = postmortem_submit(
        postmortem=ready(started(owner, declared_by=support), owner), actor=owner
    )
    published = postmortem_publish(postmortem=by_support, actor=support_manager)
    assert published.status == "published"


# --- the company email ---------------------------------------------------------------------


def test_a_published_sev0_goes_to_the_company_over_smtp_as_html_and_text(
    owner: User, settings: Settings, email_over_smtp: SmtpServer
) -> None:
    settings.POSTMORTEM_EMAIL = "everyone@example.com"
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    postmortem = ready(started(owner, severity=Severity.SEV0, title="Payments down"), owner)
    postmortem = postmortem_update(
        postmortem=postmortem,
        actor=owner,
        version=postmortem.version,
        title="Payments down",
        sections={"recovery": "Rolled back. <script>alert(1)</script> [x](javascript:alert(1))"},
    )
    postmortem = postmortem_submit(postmortem=postmortem, actor=owner)

    postmortem_publish(postmortem=postmortem, actor=manager)

    [row] = Notification.objects.filter(idempotency_key__contains=":published:")
    assert row.address == "everyone@example.com"
    assert notification_deliver(notification_id=row.pk) == "sent"
    [mail] = email_over_smtp.messages
    number = postmortem.incident.number
    assert mail["Subject"] == f"[Postmortem] {number}: Payments down"
    assert mail["X-Rcpt-To"] == "everyone@example.com"
    parts = {part.get_content_type(): part for part in mail.walk()}
    text = str(parts["text/plain"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    html = str(parts["text/html"].get_payload(decode=True), "utf-8")  # type: ignore[arg-type]
    assert "Checkout **failed** for 20 minutes." in text
    assert "Alert on 5xx" in text
    assert "<strong>failed</strong>" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in html
    event = postmortem.incident.timeline.get(kind=TimelineKind.POSTMORTEM_PUBLISHED)
    assert event.data["emailed_to"] == ["everyone@example.com"]


def test_the_company_email_falls_back_to_the_status_address_and_skips_other_severities(
    owner: User, settings: Settings
) -> None:
    settings.POSTMORTEM_EMAIL = ""
    settings.COMPANY_STATUS_EMAIL = "status@example.com"
    manager = UserFactory.create(username="morgan", roles=["Manager"])
    for severity in (Severity.SEV0, Severity.SEV1):
        postmortem = postmortem_submit(
            postmortem=ready(started(owner, severity=severity), owner), actor=owner
        )
        postmortem_publish(postmortem=postmortem, actor=manager)
    [row] = Notification.objects.filter(idempotency_key__contains=":published:")
    assert row.address == "status@example.com"  # the SEV0 one; SEV1 is not emailed


# --- action items --------------------------------------------------------------------------


def test_an_action_item_is_due_when_its_severity_says_unless_told(owner: User) -> None:
    sev0 = started(owner, severity=Severity.SEV0)
    sev2 = started(owner, severity=Severity.SEV2)
    with time_machine.travel(T0, tick=False):
        urgent = action_item_create(
            postmortem=sev0, actor=owner, title="Fix", owner=owner, kind="repair"
        )
        later = action_item_create(
            postmortem=sev2, actor=owner, title="Fix", owner=owner, kind="repair"
        )
        told = action_item_create(
            postmortem=sev2,
            actor=owner,
            title="Fix",
            owner=owner,
            kind="repair",
            due_date=date(2026, 3, 9),
        )
    assert urgent.due_date == date(2026, 3, 17)  # SEV0: 15 days
    assert later.due_date == date(2026, 4, 1)  # SEV2: 30 days
    assert told.due_date == date(2026, 3, 9)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://tickets.example.com/1", "jira"])
def test_a_ticket_url_is_a_web_address(owner: User, url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        action_item_create(
            postmortem=started(owner),
            actor=owner,
            title="Fix",
            owner=owner,
            kind="repair",
            ticket_url=url,
        )
    assert "ticket_url" in refused.value.message_dict


def test_action_items_move_through_their_map_and_close_out_the_postmortem(owner: User) -> None:
    postmortem = started(owner)
    assert not postmortem.closed_out  # no item and no reason
    first = action_item_create(
        postmortem=postmortem, actor=owner, title="Alert", owner=owner, kind="detect"
    )
    second = action_item_create(
        postmortem=postmortem, actor=owner, title="Runbook", owner=owner, kind="prevent"
    )
    first = action_item_transition(item=first, to=ActionItemStatus.IN_PROGRESS, actor=owner)
    first = action_item_transition(item=first, to=ActionItemStatus.DONE, actor=owner)
    assert first.completed_at is not None
    with pytest.raises(IllegalTransition):
        action_item_transition(item=first, to=ActionItemStatus.WONT_DO, actor=owner)
    assert not Postmortem.objects.get(pk=postmortem.pk).closed_out
    action_item_transition(item=second, to=ActionItemStatus.WONT_DO, actor=owner)
    assert Postmortem.objects.get(pk=postmortem.pk).closed_out
    reopened = action_item_transition(item=first, to=ActionItemStatus.OPEN, actor=owner)
    assert reopened.completed_at is None
    assert not Postmortem.objects.get(pk=postmortem.pk).closed_out
    with pytest.raises(NotAllowed):
        action_item_transition(
            item=second, to=ActionItemStatus.OPEN, actor=UserFactory.create(roles=["Engineer"])
        )


def test_the_overdue_digest_goes_once_per_owner_per_day(owner: User) -> None:
    bob = UserFactory.create(username="bob")
    postmortem = started(owner)
    with time_machine.travel(T0, tick=False) as traveller:
        for title, person, due in (
            ("Alert", owner, date(2026, 3, 1)),
            ("Runbook", owner, date(2026, 2, 20)),
            ("Dashboards", bob, date(2026, 3, 1)),
            ("Not yet", bob, date(2026, 3, 30)),
        ):
            action_item_create(
                postmortem=postmortem,
                actor=owner,
                title=title,
                owner=person,
                kind="detect",
                due_date=due,
            )
        done = action_item_create(
            postmortem=postmortem,
            actor=owner,
            title="Done already",
            owner=bob,
            kind="detect",
            due_date=date(2026, 2, 1),
        )
        action_item_transition(item=done, to=ActionItemStatus.DONE, actor=bob)

        assert action_items_digest_send(now=T0) == 2
        traveller.shift(timedelta(hours=6))
        assert action_items_digest_send(now=T0 + timedelta(hours=6)) == 0  # same day
        traveller.shift(timedelta(days=1))
        assert action_items_digest_send(now=T0 + timedelta(days=1, hours=6)) == 2

    rows = Notification.objects.filter(idempotency_key__startswith="action-items-digest:")
    keys = sorted(rows.values_list("idempotency_key", flat=True))
    assert keys == sorted(
        f"action-items-digest:{person.pk}:{day}"
        for person in (owner, bob)
        for day in ("2026-03-02", "2026-03-03")
    )
    digest = rows.get(idempotency_key=f"action-items-digest:{owner.pk}:2026-03-02")
    assert digest.subject == "2 overdue action items"
    assert "Runbook" in digest.body
    assert "Alert" in digest.body
    bobs = rows.get(idempotency_key=f"action-items-digest:{bob.pk}:2026-03-02")
    assert "Dashboards" in bobs.body
    assert "Not yet" not in bobs.body
    assert "Done already" not in bobs.body


def test_the_incident_page_shows_postmortem_events_in_words(owner: User, client: object) -> None:
    postmortem = started(owner)
    incident: Incident = postmortem.incident
    client.force_login(owner)  # type: ignore[attr-defined]
    page = client.get(f"/incidents/{incident.pk}/")  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert "Postmortem drafted" in page.content.decode()
