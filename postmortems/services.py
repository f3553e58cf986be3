"""Every write of the postmortems app: one keyword-only function per use case.

Each writes the incident's timeline in its own transaction and sends mail through the
notifications outbox (delivered after commit). A postmortem's status changes only in
`postmortem_transition`, an action item's only in `action_item_transition`.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from incidents.models import Incident, TimelineEvent, TimelineKind, Via
from incidents.services.lifecycle import locked as locked_incident
from incidents.services.lifecycle import severity_policy
from incidents.timeline import timeline_write
from notifications.models import Channel, Notification, Urgency
from notifications.services import notification_enqueue
from oncall.models import User
from postmortems import drafting, messages, rules, selectors
from postmortems.models import (
    ACTION_ITEM_TRANSITIONS,
    CLOSED_ACTION_ITEM_STATUSES,
    TRANSITIONS,
    ActionItem,
    ActionItemPriority,
    ActionItemStatus,
    Postmortem,
    PostmortemRevision,
    PostmortemSection,
    PostmortemStatus,
    PostmortemTemplate,
    PostmortemTimelineEntry,
)
from postmortems.search import search_document_refresh
from postmortems.stamp import Part, touch_review

logger = logging.getLogger(__name__)


# --- domain errors -------------------------------------------------------------------------


class PostmortemError(Exception):
    """A domain error of the postmortems app (the API maps it to a 4xx)."""

    code = "postmortem_error"


class IllegalTransition(PostmortemError):
    code = "illegal_transition"


class NotAllowed(PostmortemError):
    """The person may not do this to this postmortem or action item (403)."""

    code = "not_allowed"


class PublishIncomplete(PostmortemError):
    """Publishing needs a summary, an impact, and action items or a reason for none."""

    code = "publish_incomplete"

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.fields = fields


class PostmortemConflict(PostmortemError):
    """A save based on an older version: nothing was written (409). `theirs` holds the
    saved text and `yours` the refused one, for each name the save would have changed."""

    code = "version_conflict"

    def __init__(
        self, *, current_version: int, theirs: dict[str, Any], yours: dict[str, Any]
    ) -> None:
        super().__init__(
            f"Someone else saved this postmortem since you opened it (it is now version "
            f"{current_version}); nothing of yours was written. Compare both texts and save again."
        )
        self.current_version = current_version
        self.theirs = theirs
        self.yours = yours


# --- starting one --------------------------------------------------------------------------


def default_template() -> PostmortemTemplate | None:
    return (
        PostmortemTemplate.objects.filter(is_default=True).prefetch_related("sections").first()
        or PostmortemTemplate.objects.order_by("id").prefetch_related("sections").first()
    )


def _locked(postmortem: Postmortem) -> Postmortem:
    queryset: QuerySet[Postmortem] = Postmortem.objects.select_for_update(
        of=("self",)
    ).select_related("incident", "owner")
    return queryset.get(pk=postmortem.pk)


def _notify_owner(postmortem: Postmortem) -> None:
    owner = postmortem.owner
    if owner is None or not owner.email:
        logger.warning(
            "Postmortem %s of %s has no owner with an email address; nobody was told.",
            postmortem.pk,
            postmortem.incident.number,
        )
        return
    subject, body = messages.drafted_email(postmortem, owner)
    notification_enqueue(
        idempotency_key=f"postmortem:{postmortem.pk}:drafted:user{owner.pk}",
        channel=Channel.EMAIL,
        address=owner.email,
        recipient=owner,
        subject=subject,
        body=body,
        reason=f"postmortem of {postmortem.incident.number}",
        urgency=Urgency.LOW,
    )


def _draft(
    *, incident: Incident, owner: User | None, actor: User | None, via: str, at: datetime
) -> Postmortem:
    """Create the postmortem with its sections, timeline and facts (incident locked)."""
    events = list(incident.timeline.select_related("actor").order_by("at", "id"))
    policy = severity_policy(incident.severity)
    template = default_template()
    postmortem = Postmortem(
        incident=incident,
        title=incident.title,
        owner=owner,
        template=template,
        due_at=(incident.resolved_at or at) + drafting.postmortem_due(policy),
        facts=drafting.response_facts(incident, events),
        created_at=at,
        updated_at=at,
    )
    postmortem.full_clean(exclude=["incident", "owner", "template"], validate_unique=False)
    try:
        with transaction.atomic():  # a savepoint: the unique incident makes one winner
            postmortem.save()
    except IntegrityError:
        existing = Postmortem.objects.filter(incident=incident).first()
        if existing is None:
            raise
        return existing
    sections = drafting.template_sections(template)
    entries = drafting.timeline_entries(events)
    for section in sections:
        section.postmortem = postmortem
        section.full_clean(
            exclude=["postmortem"], validate_unique=False, validate_constraints=False
        )
    for entry in entries:
        entry.postmortem = postmortem
        entry.full_clean(exclude=["postmortem"])
    PostmortemSection.objects.bulk_create(sections)
    touch_review(Part.POSTMORTEMS)  # bulk_create sends no signals
    PostmortemTimelineEntry.objects.bulk_create(entries)
    search_document_refresh([postmortem.pk])
    timeline_write(
        incident=incident,
        kind=TimelineKind.POSTMORTEM_DRAFTED,
        message=f"Postmortem drafted for {owner}" if owner else "Postmortem drafted (no owner)",
        actor=actor,
        via=via,
        data={
            "postmortem_id": postmortem.pk,
            "owner_id": owner.pk if owner else None,
            "due_at": postmortem.due_at.isoformat() if postmortem.due_at else None,
        },
        at=at,
    )
    if owner is not None and owner != actor:
        _notify_owner(postmortem)
    return postmortem


def postmortem_start_or_get(
    *, incident: Incident, actor: User | None, via: str = Via.DASHBOARD
) -> tuple[Postmortem, bool]:
    """Start the incident's postmortem by hand (anyone may, for any incident); the person who
    starts it owns it. Returns it and True, or the existing one and False."""
    with transaction.atomic():
        incident = locked_incident(incident)  # serialises with resolve's drafting
        existing = Postmortem.objects.filter(incident=incident).first()
        if existing is not None:
            return existing, False
        owner = actor if actor is not None else drafting.draft_owner(incident)
        drafted = _draft(incident=incident, owner=owner, actor=actor, via=via, at=timezone.now())
        return drafted, True


def postmortem_start(
    *, incident: Incident, actor: User | None, via: str = Via.DASHBOARD
) -> Postmortem:
    """`postmortem_start_or_get` without telling which."""
    return postmortem_start_or_get(incident=incident, actor=actor, via=via)[0]


def postmortem_draft_on_resolve(event: TimelineEvent) -> None:
    """Timeline listener: a resolve of a severity that requires a postmortem drafts one, once
    per incident (a later resolve refreshes only its computed facts). Runs in the resolve's
    transaction, with the incident locked."""
    if event.kind != TimelineKind.RESOLVED:
        return
    incident = event.incident
    policy = severity_policy(incident.severity)
    if policy is None or not policy.postmortem_required:
        return
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        events = list(incident.timeline.select_related("actor").order_by("at", "id"))
        existing.facts = drafting.response_facts(incident, events)
        existing.save(update_fields=["facts"])
        return
    owner = drafting.draft_owner(incident, resolver=event.actor)
    _draft(incident=incident, owner=owner, actor=None, via=Via.SYSTEM, at=event.at)


# --- writing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineLine:
    """One line of a postmortem's timeline as the writer sends it."""

    at: datetime
    text: str
    key_moment: bool = False


def _timeline_json(lines: Sequence[TimelineLine | PostmortemTimelineEntry]) -> list[dict[str, Any]]:
    return [
        {"at": line.at.isoformat(), "text": line.text, "key_moment": line.key_moment}
        for line in lines
    ]


def postmortem_update(
    *,
    postmortem: Postmortem,
    actor: User | None,
    version: int,
    title: str | None = None,
    sections: Mapping[str, str] | None = None,
    timeline: Sequence[TimelineLine] | None = None,
    no_action_items_reason: str | None = None,
    owner: User | None = None,
    due_at: datetime | None = None,
    clear_owner: bool = False,
    clear_due: bool = False,
) -> Postmortem:
    """Save what the writer changed (None: unchanged), if `version` is still the saved one.
    `clear_owner` and `clear_due` leave the postmortem without an owner or a due time (None
    cannot say it: it means unchanged); each refuses a value given with it.

    A stale version raises PostmortemConflict with both texts and writes nothing. A save
    that changes something bumps the version and keeps a revision (who, when, which names
    changed, the texts before and after). Published postmortems are reopened first.
    """
    if clear_owner and owner is not None:
        raise ValidationError({"owner": "Give an owner or clear it, not both."})
    if clear_due and due_at is not None:
        raise ValidationError({"due_at": "Give a due time or clear it, not both."})
    with transaction.atomic():
        postmortem = _locked(postmortem)
        if not rules.postmortem_can_edit(actor, postmortem):
            raise NotAllowed(
                "Only the postmortem's owner, the incident's commander and Managers edit it."
            )
        if postmortem.status == PostmortemStatus.PUBLISHED:
            raise IllegalTransition("This postmortem is published; reopen it to correct it.")
        current = {s.key: s for s in postmortem.sections.all()}
        unknown = sorted(set(sections or {}) - set(current))
        if unknown:
            raise ValidationError({"sections": f"No such section: {', '.join(unknown)}."})
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for key, body in (sections or {}).items():
            if body != current[key].body:
                before[key], after[key] = current[key].body, body
        simple = {
            "title": title,
            "no_action_items_reason": no_action_items_reason,
        }
        for name, value in simple.items():
            if value is not None and value != getattr(postmortem, name):
                before[name], after[name] = getattr(postmortem, name), value
        new_owner_id = None if clear_owner else (owner.pk if owner else postmortem.owner_id)
        if new_owner_id != postmortem.owner_id:
            before["owner"], after["owner"] = postmortem.owner_id, new_owner_id
        new_due = None if clear_due else (due_at or postmortem.due_at)
        if new_due != postmortem.due_at:
            before["due_at"] = postmortem.due_at.isoformat() if postmortem.due_at else None
            after["due_at"] = new_due.isoformat() if new_due else None
        saved_lines = list(postmortem.timeline.all())
        if timeline is not None and _timeline_json(timeline) != _timeline_json(saved_lines):
            before["timeline"], after["timeline"] = (
                _timeline_json(saved_lines),
                _timeline_json(timeline),
            )
        if version != postmortem.version:
            raise PostmortemConflict(
                current_version=postmortem.version,
                theirs={name: before[name] for name in after},
                yours=after,
            )
        if not after:
            return postmortem
        now = timezone.now()
        changed_sections = [current[key] for key in after if key in current]
        for section in changed_sections:
            section.body = after[section.key]
            section.full_clean(
                exclude=["postmortem"], validate_unique=False, validate_constraints=False
            )
        fields = ["version", "updated_at"]
        for name in ("title", "no_action_items_reason"):
            if name in after:
                setattr(postmortem, name, after[name])
                fields.append(name)
        if "owner" in after:
            postmortem.owner = None if clear_owner else owner
            fields.append("owner")
        if "due_at" in after:
            postmortem.due_at = new_due
            fields.append("due_at")
        postmortem.version += 1
        postmortem.updated_at = now
        postmortem.full_clean(exclude=["incident", "owner", "template"], validate_unique=False)
        postmortem.save(update_fields=fields)
        if changed_sections:
            PostmortemSection.objects.bulk_update(changed_sections, ["body"])
            touch_review(Part.POSTMORTEMS)  # bulk_update sends no signals
        if changed_sections or "title" in after:
            search_document_refresh([postmortem.pk])
        if "timeline" in after:
            assert timeline is not None
            entries = [
                PostmortemTimelineEntry(
                    postmortem=postmortem,
                    position=position,
                    at=line.at,
                    text=line.text,
                    key_moment=line.key_moment,
                )
                for position, line in enumerate(timeline)
            ]
            for entry in entries:
                entry.full_clean(exclude=["postmortem"])
            postmortem.timeline.all().delete()
            PostmortemTimelineEntry.objects.bulk_create(entries)
        revision = PostmortemRevision(
            postmortem=postmortem,
            version=postmortem.version,
            author=actor,
            created_at=now,
            changed=list(after),
            changes={name: {"before": before[name], "after": after[name]} for name in after},
        )
        revision.full_clean(exclude=["postmortem", "author"], validate_constraints=False)
        revision.save()
    return postmortem


# --- review and publishing -----------------------------------------------------------------


def publish_problems(postmortem: Postmortem) -> dict[str, list[str]]:
    """What stops a postmortem from being published, by field (empty: nothing)."""
    problems: dict[str, list[str]] = {}
    for key, name in (("summary", "summary"), ("impact", "impact")):
        if not postmortem.section_body(key).strip():
            problems[f"sections.{key}"] = [f"Write the {name} before publishing."]
    has_items = postmortem.action_items.exists()
    if not has_items and not postmortem.no_action_items_reason.strip():
        problems["action_items"] = ["Add at least one action item, or write why there are none."]
    return problems


def postmortem_recipients() -> list[str]:
    address = settings.POSTMORTEM_EMAIL or settings.COMPANY_STATUS_EMAIL
    return [address] if address else []


def _email_published(postmortem: Postmortem, event: TimelineEvent) -> list[str]:
    """One outbox email per company address when the severity says so; the addresses."""
    policy = severity_policy(postmortem.incident.severity)
    if policy is None or not policy.postmortem_emailed:
        return []
    recipients = postmortem_recipients()
    if not recipients:
        logger.warning(
            "Postmortem of %s published, but neither POSTMORTEM_EMAIL nor "
            "COMPANY_STATUS_EMAIL is set; it was not emailed.",
            postmortem.incident.number,
        )
        return []
    subject, text, html = messages.published_email(postmortem)
    for address in recipients:
        notification_enqueue(
            idempotency_key=f"postmortem:{postmortem.pk}:published:{event.pk}:{address}",
            channel=Channel.EMAIL,
            address=address,
            subject=subject,
            body=text,
            html_body=html,
            reason=f"published postmortem of {postmortem.incident.number}",
            urgency=Urgency.LOW,
        )
    return recipients


def _check_right(actor: User | None, postmortem: Postmortem, to: str) -> None:
    if to == PostmortemStatus.PUBLISHED:
        if not rules.postmortem_can_publish(actor, postmortem):
            raise NotAllowed(
                "A Manager publishes postmortems (the Support manager too, for incidents "
                "declared by support)."
            )
    elif postmortem.status == PostmortemStatus.DRAFT:
        if not rules.postmortem_can_submit(actor, postmortem):
            raise NotAllowed("The postmortem's owner (or a Manager) submits it for review.")
    elif not rules.postmortem_can_reopen(actor, postmortem):
        raise NotAllowed("Only those who may edit or publish it reopen a published postmortem.")


def postmortem_transition(
    *,
    postmortem: Postmortem,
    to: PostmortemStatus,
    actor: User | None,
    via: str = Via.DASHBOARD,
    version: int | None = None,
) -> Postmortem:
    """The one place a postmortem's status changes: the map, the rights, the publish rules,
    the incident's timeline, and the company email on publish. With `version`, the move is
    made only if nobody saved since (PostmortemConflict): you publish what you read."""
    with transaction.atomic():
        postmortem = _locked(postmortem)
        if version is not None and version != postmortem.version:
            raise PostmortemConflict(current_version=postmortem.version, theirs={}, yours={})
        if to not in TRANSITIONS[postmortem.status]:
            raise IllegalTransition(
                f"The postmortem is {postmortem.get_status_display().lower()}; it cannot "
                f"become {PostmortemStatus(to).label.lower()}."
            )
        _check_right(actor, postmortem, to)
        reopening = postmortem.status == PostmortemStatus.PUBLISHED
        if to == PostmortemStatus.PUBLISHED:
            problems = publish_problems(postmortem)
            if problems:
                raise PublishIncomplete(
                    "Not published: " + " ".join(m for ms in problems.values() for m in ms),
                    problems,
                )
        now = timezone.now()
        postmortem.status = to
        fields = ["status", "updated_at"]
        if to == PostmortemStatus.IN_REVIEW:
            postmortem.submitted_at = now
            fields.append("submitted_at")
            if reopening:
                postmortem.published_at = None
                fields.append("published_at")
        else:
            postmortem.published_at = now
            fields.append("published_at")
        postmortem.updated_at = now
        postmortem.save(update_fields=fields)
        kind, message = {
            (PostmortemStatus.IN_REVIEW, False): (
                TimelineKind.POSTMORTEM_SUBMITTED,
                "Postmortem submitted for review",
            ),
            (PostmortemStatus.IN_REVIEW, True): (
                TimelineKind.POSTMORTEM_REOPENED,
                "Postmortem reopened to be corrected",
            ),
            (PostmortemStatus.PUBLISHED, False): (
                TimelineKind.POSTMORTEM_PUBLISHED,
                "Postmortem published",
            ),
        }[(to, reopening)]
        event = timeline_write(
            incident=postmortem.incident,
            kind=kind,
            message=message,
            actor=actor,
            via=via,
            data={"postmortem_id": postmortem.pk, "status": to},
            at=now,
        )
        if to == PostmortemStatus.PUBLISHED:
            emailed = _email_published(postmortem, event)
            if emailed:
                event.message = f"Postmortem published and emailed to {', '.join(emailed)}"
                event.data["emailed_to"] = emailed
                event.save(update_fields=["message", "data"])
    return postmortem


def postmortem_submit(
    *,
    postmortem: Postmortem,
    actor: User | None,
    via: str = Via.DASHBOARD,
    version: int | None = None,
) -> Postmortem:
    return postmortem_transition(
        postmortem=postmortem, to=PostmortemStatus.IN_REVIEW, actor=actor, via=via, version=version
    )


def postmortem_publish(
    *,
    postmortem: Postmortem,
    actor: User | None,
    via: str = Via.DASHBOARD,
    version: int | None = None,
) -> Postmortem:
    return postmortem_transition(
        postmortem=postmortem, to=PostmortemStatus.PUBLISHED, actor=actor, via=via, version=version
    )


def postmortem_reopen(
    *,
    postmortem: Postmortem,
    actor: User | None,
    via: str = Via.DASHBOARD,
    version: int | None = None,
) -> Postmortem:
    if postmortem.status != PostmortemStatus.PUBLISHED:
        raise IllegalTransition("Only a published postmortem is reopened.")
    return postmortem_transition(
        postmortem=postmortem, to=PostmortemStatus.IN_REVIEW, actor=actor, via=via, version=version
    )


# --- action items --------------------------------------------------------------------------


def action_item_default_due(postmortem: Postmortem, *, today: date) -> date:
    policy = severity_policy(postmortem.incident.severity)
    return today + drafting.action_item_due(policy)


def action_item_create(
    *,
    postmortem: Postmortem,
    actor: User | None,
    title: str,
    owner: User,
    kind: str,
    priority: str = ActionItemPriority.MEDIUM,
    description: str = "",
    due_date: date | None = None,
    ticket_url: str = "",
    via: str = Via.DASHBOARD,
) -> ActionItem:
    """Add an action item; its due date defaults from the severity's `action_item_due`."""
    with transaction.atomic():
        postmortem = _locked(postmortem)
        if not rules.postmortem_can_edit(actor, postmortem):
            raise NotAllowed(
                "Only the postmortem's owner, the incident's commander and Managers add "
                "action items."
            )
        now = timezone.now()
        item = ActionItem(
            postmortem=postmortem,
            title=title.strip(),
            description=description,
            owner=owner,
            kind=kind,
            priority=priority,
            due_date=due_date or action_item_default_due(postmortem, today=now.date()),
            ticket_url=ticket_url.strip(),
            created_at=now,
            updated_at=now,
        )
        item.full_clean()
        item.save()
        timeline_write(
            incident=postmortem.incident,
            kind=TimelineKind.ACTION_ITEM_ADDED,
            message=f"Action item for {owner}: {item.title}",
            actor=actor,
            via=via,
            data={"postmortem_id": postmortem.pk, "action_item_id": item.pk},
            at=now,
        )
    return item


def _locked_item(item: ActionItem) -> ActionItem:
    queryset: QuerySet[ActionItem] = ActionItem.objects.select_for_update(
        of=("self",)
    ).select_related("postmortem__incident", "owner")
    return queryset.get(pk=item.pk)


def action_item_update(
    *,
    item: ActionItem,
    actor: User | None,
    title: str | None = None,
    description: str | None = None,
    owner: User | None = None,
    kind: str | None = None,
    priority: str | None = None,
    due_date: date | None = None,
    ticket_url: str | None = None,
) -> ActionItem:
    """Change an action item's details (None: unchanged); its status has its own service."""
    with transaction.atomic():
        item = _locked_item(item)
        if not rules.postmortem_can_edit(actor, item.postmortem):
            raise NotAllowed(
                "Only the postmortem's owner, the incident's commander and Managers change "
                "action items."
            )
        changes: dict[str, Any] = {
            "title": title.strip() if title is not None else None,
            "description": description,
            "owner": owner,
            "kind": kind,
            "priority": priority,
            "due_date": due_date,
            "ticket_url": ticket_url.strip() if ticket_url is not None else None,
        }
        fields = [name for name, value in changes.items() if value is not None]
        if not fields:
            return item
        for name in fields:
            setattr(item, name, changes[name])
        item.updated_at = timezone.now()
        item.full_clean()
        item.save(update_fields=[*fields, "updated_at"])
    return item


def action_item_change(
    *,
    item: ActionItem,
    actor: User | None,
    status: str | None = None,
    via: str = Via.DASHBOARD,
    **details: Any,
) -> ActionItem:
    """Change an action item's details and move its status in one transaction (the API's
    PATCH): details through `action_item_update`, a new status through
    `action_item_transition`; a status it already has is no change."""
    with transaction.atomic():
        if any(value is not None for value in details.values()):
            item = action_item_update(item=item, actor=actor, **details)
        if status is not None and status != item.status:
            item = action_item_transition(
                item=item, to=ActionItemStatus(status), actor=actor, via=via
            )
    return item


def action_item_transition(
    *, item: ActionItem, to: ActionItemStatus, actor: User | None, via: str = Via.DASHBOARD
) -> ActionItem:
    """The one place an action item's status changes (done and won't-do record when; a
    reopen clears it), written on the incident's timeline."""
    with transaction.atomic():
        item = _locked_item(item)
        if to not in ACTION_ITEM_TRANSITIONS[item.status]:
            raise IllegalTransition(
                f"The action item is {item.get_status_display().lower()}; it cannot become "
                f"{ActionItemStatus(to).label.lower()}."
            )
        if not rules.action_item_can_change(actor, item):
            raise NotAllowed(
                "Only the action item's owner, the postmortem's owner, the incident's "
                "commander and Managers change it."
            )
        now = timezone.now()
        item.status = to
        item.completed_at = now if to in CLOSED_ACTION_ITEM_STATUSES else None
        item.updated_at = now
        item.full_clean()
        item.save(update_fields=["status", "completed_at", "updated_at"])
        timeline_write(
            incident=item.postmortem.incident,
            kind=TimelineKind.ACTION_ITEM_STATUS,
            message=f"Action item {ActionItemStatus(to).label.lower()}: {item.title}",
            actor=actor,
            via=via,
            data={"postmortem_id": item.postmortem_id, "action_item_id": item.pk, "status": to},
            at=now,
        )
    return item


def digest_key(*, owner_id: int, today: date) -> str:
    return f"action-items-digest:{owner_id}:{today.isoformat()}"


def action_items_digest_send(*, now: datetime) -> int:
    """Email each owner of overdue action items one digest a day (UTC day); the number of
    digests written. Its idempotency key makes a second run the same day send nothing."""
    today = now.date()
    overdue = list(
        selectors.action_items_overdue(ActionItem.objects.all(), today=today)
        .select_related("owner", "postmortem__incident")
        .order_by("owner_id", "due_date", "id")
    )
    by_owner: dict[int, list[ActionItem]] = {}
    for item in overdue:
        by_owner.setdefault(item.owner_id, []).append(item)
    keys = {owner_id: digest_key(owner_id=owner_id, today=today) for owner_id in by_owner}
    done = set(
        Notification.objects.filter(idempotency_key__in=keys.values()).values_list(
            "idempotency_key", flat=True
        )
    )
    sent = 0
    for owner_id, items in by_owner.items():
        owner = items[0].owner
        if keys[owner_id] in done:
            continue
        if not owner.is_active or not owner.email:
            logger.warning(
                "Action items digest: %s has %d overdue item(s) but no active email; not told.",
                owner.username,
                len(items),
            )
            continue
        subject, body = messages.digest_email(owner, items, today)
        with transaction.atomic():
            notification_enqueue(
                idempotency_key=keys[owner_id],
                channel=Channel.EMAIL,
                address=owner.email,
                recipient=owner,
                subject=subject,
                body=body,
                reason="overdue action items",
                urgency=Urgency.LOW,
            )
        sent += 1
    return sent
