"""Reads of the postmortems app: querysets with the joins their readers need."""

from datetime import date

from django.db.models import Prefetch, QuerySet

from postmortems.models import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItem,
    Postmortem,
    PostmortemRevision,
)


def postmortems_with_content() -> QuerySet[Postmortem]:
    """Postmortems with their incident, sections, timeline and action item ids, in a fixed
    number of queries however many there are."""
    return Postmortem.objects.select_related("incident").prefetch_related(
        "sections",
        "timeline",
        Prefetch("action_items", queryset=ActionItem.objects.only("id", "postmortem_id")),
    )


def action_items_overdue(items: QuerySet[ActionItem], *, today: date) -> QuerySet[ActionItem]:
    """Still open or in progress, and due before `today` (the digest's rule)."""
    return items.filter(status__in=OPEN_ACTION_ITEM_STATUSES, due_date__lt=today)


def action_items_not_overdue(items: QuerySet[ActionItem], *, today: date) -> QuerySet[ActionItem]:
    return items.exclude(status__in=OPEN_ACTION_ITEM_STATUSES, due_date__lt=today)


def postmortem_page(*, pk: int) -> Postmortem | None:
    """One postmortem with all its page shows, in a fixed number of queries: its incident,
    owner, sections, timeline, action items with owners, revisions with authors."""
    return (
        Postmortem.objects.select_related("incident__team", "owner")
        .prefetch_related(
            "sections",
            "timeline",
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner")),
            Prefetch("revisions", queryset=PostmortemRevision.objects.select_related("author")),
        )
        .filter(pk=pk)
        .first()
    )


def action_items_of(owner_id: int) -> QuerySet[ActionItem]:
    """A person's action items with their postmortem and incident, by due date."""
    return (
        ActionItem.objects.filter(owner_id=owner_id)
        .select_related("postmortem__incident", "owner")
        .order_by("due_date", "id")
    )
