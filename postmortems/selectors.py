"""Reads of the postmortems app: querysets with the joins their readers need."""

from datetime import date

from django.contrib.postgres.search import SearchQuery
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from postmortems.models import (
    OPEN_ACTION_ITEM_STATUSES,
    ActionItem,
    Postmortem,
    PostmortemRevision,
    PostmortemSection,
)
from postmortems.search import SEARCH_CONFIG


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


def _items_count(**conditions: object) -> Coalesce:
    counted = (
        ActionItem.objects.filter(postmortem=OuterRef("pk"), **conditions)
        .order_by()
        .values("postmortem")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)


def postmortems_listed() -> QuerySet[Postmortem]:
    """The list page's rows: incident, team and owner joined, action items counted (open and
    all) by subqueries that only a page's rows run (a count of the list leaves them out),
    newest first."""
    return (
        Postmortem.objects.select_related("incident__team", "owner")
        .defer("search", "facts")  # the full-text document and the facts: never listed
        .annotate(
            items_total=_items_count(),
            items_open=_items_count(status__in=OPEN_ACTION_ITEM_STATUSES),
        )
        .order_by("-created_at", "-id")
    )


def postmortems_search(postmortems: QuerySet[Postmortem], text: str) -> QuerySet[Postmortem]:
    """Postmortems whose title or sections match `text`: PostgreSQL full-text search over each
    postmortem's document (`postmortems.search`: websearch syntax: words, "a phrase", -not,
    or; English stemming), a plain case-insensitive match of the whole text on SQLite."""
    text = text.strip()
    if not text:
        return postmortems
    if connection.vendor == "postgresql":
        return postmortems.filter(
            search=SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
        )
    sections_plain = PostmortemSection.objects.filter(
        postmortem=OuterRef("pk"), body__icontains=text
    )
    return postmortems.filter(Q(title__icontains=text) | Exists(sections_plain))
