"""Reads of the incidents app, with their joins."""

import re
from datetime import datetime, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)

from incidents.models import (
    Category,
    EscalationState,
    Incident,
    Status,
    TimelineEvent,
    TimelineKind,
)
from notifications.models import Notification
from oncall.models import User
from oncall.roles import MANAGER


def incidents_open() -> QuerySet[Incident]:
    return (
        Incident.objects.exclude(status=Status.RESOLVED)
        .select_related("team", "commander", "acknowledged_by")
        .order_by("-triggered_at", "-id")
    )


def incidents_filter(
    queryset: QuerySet[Incident],
    *,
    status: str = "",
    severity: str = "",
    team_slug: str = "",
    dedup_key: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    words: str = "",
) -> QuerySet[Incident]:
    """The incident list's filters, for the page and the API alike; empty means any.

    `severity` is a level (SEV0–SEV3); `since`/`until` bound the creation time; every one of
    `words` must appear in the title or the description."""
    if status:
        queryset = queryset.filter(status=status)
    if severity:
        queryset = queryset.filter(severity=severity)
    if team_slug:
        queryset = queryset.filter(team__slug=team_slug)
    if dedup_key:
        queryset = queryset.filter(dedup_key=dedup_key)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    if until is not None:
        queryset = queryset.filter(created_at__lt=until)
    for word in words.split():
        queryset = queryset.filter(Q(title__icontains=word) | Q(description__icontains=word))
    return queryset


def incident_detail(*, pk: int, viewer: User | None = None) -> Incident:
    """One incident with its timeline (and actors), tracks and status updates; with a
    `viewer`, DoesNotExist also when they may not see it (`incidents_visible_to`)."""
    incidents = Incident.objects.all() if viewer is None else incidents_visible_to(viewer)
    return (
        incidents.select_related(
            "team__escalation_contact", "commander", "acknowledged_by", "resolved_by"
        )
        .prefetch_related(
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("actor")),
            Prefetch(
                "escalation_states", queryset=EscalationState.objects.order_by("generation", "pk")
            ),
            "status_updates__author",
        )
        .get(pk=pk)
    )


def incident_pages(*, incident: Incident) -> QuerySet[Notification]:
    """Every page sent about the incident (the outbox rows), newest first."""
    return Notification.objects.filter(
        subject_type="incident", subject_id=incident.pk
    ).select_related("recipient")


# --- triage: related incidents (handbook 004: "search for related existing issues") -----

RELATED_DAYS = 90
RELATED_MAX = 10
_WORD = re.compile(r"[A-Za-z0-9]{3,}")
_STOP = frozenset({"the", "and", "for", "with", "not", "are", "from", "after", "some"})


def title_words(title: str, *, limit: int = 8) -> list[str]:
    """The title's searchable words: 3+ letters, no common stop words, longest first."""
    words = {w.lower() for w in _WORD.findall(title)} - _STOP
    return sorted(words, key=lambda w: (-len(w), w))[:limit]


def incidents_related(
    *, incident: Incident, now: datetime, viewer: User | None = None
) -> list[Incident]:
    """Incidents of the last RELATED_DAYS that may be the same problem: same service, same
    ticket, same requester, or a similar title (PostgreSQL: full-text match of any of the
    title's words, ranked; SQLite: the title contains one of its three longest words).

    One query, at most RELATED_MAX rows; each row says why it matched (`same_service`,
    `same_ticket`, `same_requester`, `similar_title`)."""
    since = now - timedelta(days=RELATED_DAYS)
    matches: dict[str, Q] = {}
    if incident.service:
        matches["same_service"] = Q(service=incident.service)
    if incident.ticket:
        matches["same_ticket"] = Q(ticket=incident.ticket)
    if incident.requester_name.strip():
        matches["same_requester"] = Q(requester_name__iexact=incident.requester_name.strip())
    words = title_words(incident.title)
    rank: Any = Value(0.0, output_field=FloatField())
    if words:
        if connection.vendor == "postgresql":
            query = SearchQuery(" | ".join(words), search_type="raw", config="simple")
            vector = SearchVector("title", config="simple")
            matches["similar_title"] = Q(similar=query)
            rank = SearchRank(vector, query)
        else:
            title = Q()
            for word in words[:3]:
                title |= Q(title__icontains=word)
            matches["similar_title"] = title
    if not matches:
        return []
    any_match = Q()
    for condition in matches.values():
        any_match |= condition
    queryset = Incident.objects.filter(triggered_at__gte=since).exclude(pk=incident.pk)
    if viewer is not None:  # an open security incident only for those working it
        queryset = incidents_visible_to(viewer, queryset)
    if "similar_title" in matches and connection.vendor == "postgresql":
        queryset = queryset.annotate(similar=SearchVector("title", config="simple"))
    flags = {
        name: Case(When(condition, then=True), default=False, output_field=BooleanField())
        for name, condition in matches.items()
    }
    return list(
        queryset.filter(any_match)
        .annotate(rank=rank, **flags)
        .select_related("team")
        .only(
            "id",
            "title",
            "severity",
            "status",
            "service",
            "ticket",
            "requester_name",
            "triggered_at",
            "team__name",
        )
        .order_by("-rank", "-triggered_at", "-id")[:RELATED_MAX]
    )


def incidents_visible_to(
    user: User, queryset: QuerySet[Incident] | None = None
) -> QuerySet[Incident]:
    """The incidents `user` may see: all but open security incidents, which only the people
    working them (declared, commander, acknowledged, paged, responders), the security owner
    and Managers see (issue 16 point 8). Every page and API answer listing or showing
    incidents goes through this; others get 404."""
    from incidents.services.security import SECURITY_OWNERS, is_security_owner_by_email

    queryset = Incident.objects.all() if queryset is None else queryset
    if user.is_superuser or is_security_owner_by_email(user):
        return queryset
    # Managers and the Security owners group see everything: asked inside the same query
    # (an uncorrelated subquery), so no page pays a query for it.
    privileged = User.groups.through.objects.filter(
        user_id=user.pk, group__name__in=(MANAGER, SECURITY_OWNERS)
    )
    paged = Notification.objects.filter(
        subject_type="incident", subject_id=OuterRef("pk"), recipient=user
    )
    responder = TimelineEvent.objects.filter(
        incident=OuterRef("pk"), kind=TimelineKind.RESPONDER_ADDED, data__user_id=user.pk
    )
    return queryset.filter(
        ~Q(category=Category.SECURITY)
        | Q(status=Status.RESOLVED)
        | Q(declared_by=user)
        | Q(commander=user)
        | Q(acknowledged_by=user)
        | Exists(paged)
        | Exists(responder)
        | Exists(privileged)
    )
