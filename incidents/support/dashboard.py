"""The live support dashboard's reads (handbook 004): each section's rows and a version (a
hash of what the section shows), so the refresh answers only the sections that changed.

A fixed number of queries however many incidents, teams or people (`bench/dashboard.py`):
the viewer's roles, the open incidents (with their severity's triage target and whether
they page the viewer), the duty configuration's token (teams, direct numbers, rotations and
members only when it moved), the overrides and the customer contacts due.
"""

import hashlib
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils import timezone

from incidents.acks import LIVE_PAGE_STATUSES
from incidents.engine import SUBJECT_TYPE
from incidents.models import (
    CustomerContact,
    Incident,
    Rung,
    Severity,
    SeverityPolicy,
    Status,
)
from incidents.selectors import incidents_visible_to
from incidents.support.contacts import contacts_due
from notifications.models import Notification
from oncall.models import User
from oncall.roles import SUPPORT, SUPPORT_MANAGER, group_names
from rotations.models import DirectNumber, Rotation, Team, TeamKind, Tier
from rotations.selectors import USER_FIELDS, OnCall, oncall_for_rotations, rotations_with_members
from rotations.stamp import duty_config_token

SECTIONS = ("triage", "open", "duty", "contacts", "mine")
DASHBOARD_ROLES = frozenset({SUPPORT, SUPPORT_MANAGER})
# Rows a section shows at most (a wall screen, not an archive: the incident list has the rest).
SECTION_ROWS = 50
# Support tiers first, in the handbook's order; then the engineering tiers.
TIER_ORDER: dict[str, int] = {
    Tier.FIRST: 0,
    Tier.SECOND: 1,
    Tier.VETERAN: 2,
    Tier.NEW: 3,
    Tier.NONE: 4,
}


def sees_support_dashboard(user: User) -> bool:
    """Support and the support manager get the dashboard as their home (group membership,
    not the superuser flag: an administrator keeps the ordinary home)."""
    return bool(group_names(user) & DASHBOARD_ROLES)


def dashboard_incidents(viewer: User) -> QuerySet[Incident]:
    """The open incidents the viewer may see: the one place the dashboard lists incidents
    (an open security incident only for those working it, `incidents_visible_to`)."""
    # `status IN (open ones)`, not `NOT resolved`: the (status, triggered_at) index serves it.
    return incidents_visible_to(
        viewer, Incident.objects.filter(status__in=(Status.TRIGGERED, Status.ACKNOWLEDGED))
    )


# What the dashboard shows of an open incident, read as plain values (no model instances:
# the refresh reads every open incident every few seconds).
INCIDENT_FIELDS = (
    "pk",
    "title",
    "severity",
    "status",
    "rung",
    "next_target_at",
    "team_id",
    "team__name",
    "team__slug",
    "commander_id",
    "acknowledged_by_id",
    "triage_confirmed_at",
    "triggered_at",
)


@dataclass(frozen=True, slots=True)
class IncidentRow:
    pk: int
    title: str
    severity: str
    status: str
    rung: str
    next_target_at: datetime | None
    team_id: int | None
    team_name: str | None
    team_slug: str | None
    commander_id: int | None
    acknowledged_by_id: int | None
    triage_confirmed_at: datetime | None
    triggered_at: datetime

    @property
    def number(self) -> str:
        return f"INC-{self.pk}"

    def get_status_display(self) -> str:
        return str(Status(self.status).label)

    def get_rung_display(self) -> str:
        return str(Rung(self.rung).label) if self.rung in Rung.values else self.rung


@dataclass(frozen=True)
class TriageRow:
    incident: IncidentRow
    deadline: datetime
    overdue: bool


@dataclass(frozen=True)
class OpenRow:
    incident: IncidentRow
    target_missed: bool


@dataclass(frozen=True)
class DutyTeam:
    team: Team
    support: bool
    call_directly: bool
    numbers: list[DirectNumber]
    rows: list[OnCall]


@dataclass(frozen=True)
class ContactRow:
    contact: CustomerContact
    incident: IncidentRow  # the contact's, as the other sections read it
    overdue: bool


@dataclass
class Dashboard:
    now: datetime
    triage: list[TriageRow] = field(default_factory=list)
    open: list[tuple[str, list[OpenRow]]] = field(default_factory=list)
    open_count: int = 0
    duty: list[DutyTeam] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    mine: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


def _version(rows: Iterable[Any]) -> str:
    text = json.dumps(list(rows), default=str, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _incident_key(incident: IncidentRow) -> tuple[Any, ...]:
    return (
        incident.pk,
        incident.title,
        incident.severity,
        incident.status,
        incident.rung,
        incident.next_target_at,
        incident.team_id,
        incident.team_name,
        incident.commander_id,
        incident.acknowledged_by_id,
        incident.triage_confirmed_at,
    )


@dataclass(frozen=True)
class OpenIncidents:
    """The open incidents the viewer sees (oldest first), read in one query with what the
    sections derive from them: each severity's triage target and the incidents paging the
    viewer."""

    rows: list[IncidentRow]
    triage_targets: dict[str, timedelta]
    paging: set[int]


def _open_incidents(viewer: User) -> OpenIncidents:
    policy = SeverityPolicy.objects.filter(level=OuterRef("severity"))
    pages_viewer = Notification.objects.filter(
        subject_type=SUBJECT_TYPE,
        subject_id=OuterRef("pk"),
        recipient=viewer,
        status__in=LIVE_PAGE_STATUSES,
    )
    read = (
        dashboard_incidents(viewer)
        .annotate(
            policy_triage_target=Subquery(policy.values("triage_target")[:1]),
            pages_viewer=Exists(pages_viewer),
        )
        .order_by("triggered_at", "pk")
        .values_list(*INCIDENT_FIELDS, "policy_triage_target", "pages_viewer")
    )
    rows: list[IncidentRow] = []
    targets: dict[str, timedelta] = dict.fromkeys(Severity.values, settings.TRIAGE_TARGET_DEFAULT)
    paging: set[int] = set()
    for *fields, triage_target, pages in read:
        incident = IncidentRow(*fields)
        rows.append(incident)
        if triage_target is not None:
            targets[incident.severity] = triage_target
        # A page counts while the incident waits for an acknowledgement.
        if pages and incident.status == Status.TRIGGERED:
            paging.add(incident.pk)
    return OpenIncidents(rows, targets, paging)


def _triage(
    incidents: list[IncidentRow], targets: dict[str, timedelta], now: datetime
) -> list[TriageRow]:
    rows = []
    for incident in incidents:  # oldest first
        if incident.triage_confirmed_at is None:
            deadline = incident.triggered_at + targets[incident.severity]
            rows.append(TriageRow(incident, deadline, now >= deadline))
    return rows


def _open(incidents: list[IncidentRow], now: datetime) -> list[tuple[str, list[OpenRow]]]:
    by_level: dict[str, list[OpenRow]] = {level: [] for level in Severity.values}
    for incident in incidents:
        missed = incident.next_target_at is not None and incident.next_target_at <= now
        by_level[incident.severity].append(OpenRow(incident, missed))
    return [(level, rows) for level, rows in by_level.items() if rows]


@dataclass(frozen=True)
class DutyConfig:
    """What the duty board is made of apart from the time and the overrides: read again only
    when `rotations.stamp`'s token moves (shared, read-only: callers must not change it)."""

    teams: list[Team]  # with `direct_numbers` prefetched
    rotations: list[Rotation]  # with `ordered_members` and their people


_duty_config_memo: dict[tuple[str, str], DutyConfig] = {}
_duty_config_lock = threading.Lock()


def duty_config() -> DutyConfig:
    """The teams and rotations, kept between polls while the configuration's token stays.

    The token is read first: a change committed between the two reads is then stored under
    the older token, and the next poll (seeing the new token) reads again; never the reverse.
    """
    token = duty_config_token()
    key = (str(connection.settings_dict["NAME"]), token or "")
    if token is not None:
        with _duty_config_lock:
            kept = _duty_config_memo.get(key)
        if kept is not None:
            return kept
    config = DutyConfig(
        teams=list(
            Team.objects.only("pk", "slug", "name", "kind", "contact_mode")
            .prefetch_related("direct_numbers")
            .order_by("name")
        ),
        rotations=list(rotations_with_members()),
    )
    if token is not None:
        with _duty_config_lock:
            _duty_config_memo.clear()
            _duty_config_memo[key] = config
    return config


def _duty(now: datetime) -> list[DutyTeam]:
    """Every team's tiers on duty now, support first; numbers to dial for call-directly teams
    (the overrides of the moment are read on every call: one query)."""
    config = duty_config()
    by_team: dict[int, list[OnCall]] = {t.pk: [] for t in config.teams}
    for oncall in oncall_for_rotations(config.rotations, now):
        by_team[oncall.rotation.team_id].append(oncall)
    out = []
    for team in config.teams:
        rows = sorted(
            by_team[team.pk],
            key=lambda o: (TIER_ORDER.get(o.rotation.tier, 9), o.rotation.position),
        )
        out.append(
            DutyTeam(
                team=team,
                support=team.kind == TeamKind.SUPPORT,
                call_directly=team.contact_mode == "call",
                numbers=list(team.direct_numbers.all()),
                rows=rows,
            )
        )
    out.sort(key=lambda d: (not d.support, d.team.name))
    return out


def support_dashboard(
    *, viewer: User, now: datetime, sections: Iterable[str] = SECTIONS
) -> Dashboard:
    """The sections asked for, each with its version."""
    wanted = set(sections)
    board = Dashboard(now=now)
    viewer_pk = viewer.pk  # once: the viewer is often the request's lazy user
    # The clocks leave out today's date: every section with clocks changes at midnight.
    day = timezone.localdate(now).isoformat()
    # The contacts due are those of the open incidents the viewer sees: read those first.
    read = (
        _open_incidents(viewer)
        if wanted & {"triage", "open", "mine", "contacts"}
        else OpenIncidents([], {}, set())
    )
    incidents = read.rows
    due: list[CustomerContact] = []
    if incidents and wanted & {"contacts", "mine"}:
        soon = contacts_due(now=now + timedelta(hours=1))
        # The incidents' titles and severities are in `incidents`: only the person is joined.
        due = list(
            soon.filter(incident_id__in=[i.pk for i in incidents])
            .select_related(None)
            .select_related("by")
            .only(
                "pk",
                "incident_id",
                "channel",
                "at",
                "next_due_at",
                "by_id",
                *(f"by__{f}" for f in USER_FIELDS),
            )[: SECTION_ROWS * 4]
        )
    if "triage" in wanted:
        board.triage = _triage(incidents, read.triage_targets, now)[:SECTION_ROWS]
        board.versions["triage"] = _version(
            [day, *((*_incident_key(r.incident), r.deadline, r.overdue) for r in board.triage)]
        )
    if "open" in wanted:
        board.open = _open(incidents, now)
        board.open_count = len(incidents)
        board.versions["open"] = _version(
            [
                day,
                *(
                    (*_incident_key(r.incident), r.target_missed)
                    for _, rows in board.open
                    for r in rows
                ),
            ]
        )
    if "duty" in wanted:
        board.duty = _duty(now)
        board.versions["duty"] = _version(
            (
                d.team.pk,
                d.team.name,
                d.call_directly,
                [(n.label, n.phone) for n in d.numbers],
                d.team.slug,
                d.support,
                [
                    (
                        o.rotation.pk,
                        o.rotation.tier,
                        o.rotation.position,
                        o.override,
                        (o.user.pk, o.user.name, o.user.phone) if o.user else None,
                    )
                    for o in d.rows
                ],
            )
            for d in board.duty
        )
    if "contacts" in wanted:
        by_pk = {i.pk: i for i in incidents}
        board.contacts = [
            ContactRow(c, by_pk[c.incident_id], c.next_due_at is not None and c.next_due_at <= now)
            for c in due[:SECTION_ROWS]
        ]
        board.versions["contacts"] = _version(
            [
                day,
                *(
                    (
                        r.contact.pk,
                        r.contact.next_due_at,
                        r.contact.channel,
                        r.contact.by_id,
                        r.overdue,
                        *_incident_key(r.incident),
                    )
                    for r in board.contacts
                ),
            ]
        )
    if "mine" in wanted:
        paging = read.paging
        overdue = {c.incident_id: c for c in due if c.next_due_at and c.next_due_at <= now}
        for incident in incidents:
            why = []
            if incident.pk in paging:
                why.append("paging you")
            if incident.commander_id == viewer_pk:
                why.append("you command it")
            if incident.acknowledged_by_id == viewer_pk:
                why.append("you acknowledged it")
            contact = overdue.get(incident.pk)
            if contact is not None and (why or contact.by_id == viewer_pk):
                why.append("customer contact overdue")
            if why:
                board.mine.append(
                    {"incident": incident, "why": why, "paging": incident.pk in paging}
                )
        board.versions["mine"] = _version(
            [day, *((*_incident_key(m["incident"]), m["why"]) for m in board.mine)]
        )
    return board
