"""Reads of the postmortems app: querysets with the joins their readers need."""

from datetime import date

from django.db.models import Prefetch, QuerySet

from postmortems.models import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItem,
    Postmortem,
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
