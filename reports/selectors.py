"""Reads of on-call reports, with their joins, and their facts (live or frozen)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from incidents.models import Incident
from incidents.selectors import incidents_open
from oncall.models import User
from reports.models import OnCallReport, ReportStatus
from reports.stats import ShiftWindow, shifts_stats
from rotations.models import Rotation
from rotations.selectors import oncall_for_rotations, rotations_with_members


def reports_list(
    *,
    team_slug: str | None = None,
    user_id: int | None = None,
    status: str | None = None,
) -> QuerySet[OnCallReport]:
    """Reports, newest shift first, with rotation, team and person (one query)."""
    queryset = OnCallReport.objects.select_related("rotation__team", "user")
    if team_slug:
        queryset = queryset.filter(rotation__team__slug=team_slug)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-shift_start", "-id")


def report_stats_many(
    reports: list[OnCallReport], *, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """Each report's facts by id: frozen for a submitted one, live for a draft (the drafts'
    in three queries however many)."""
    live = [r for r in reports if r.status == ReportStatus.DRAFT or not r.stats]
    computed = shifts_stats(
        [
            ShiftWindow(
                key=r.pk,
                rotation=r.rotation,
                user_id=r.user_id,
                person_tz=r.user.tzinfo,
                start=r.shift_start,
                end=r.shift_end,
            )
            for r in live
        ],
        now=now,
    )
    return {r.pk: computed.get(r.pk, r.stats) for r in reports}


def report_stats(report: OnCallReport, *, now: datetime | None = None) -> dict[str, Any]:
    return report_stats_many([report], now=now)[report.pk]


def engaged(stats: dict[str, Any]) -> timedelta:
    return timedelta(seconds=int(stats.get("engaged_seconds", 0)))


def incoming_report(report: OnCallReport) -> OnCallReport | None:
    """The report of the shift after this one (its person is the incoming on-call)."""
    return (
        OnCallReport.objects.select_related("user")
        .filter(rotation_id=report.rotation_id, shift_start=report.shift_end)
        .first()
    )


def outgoing_report(report: OnCallReport) -> OnCallReport | None:
    """The report of the shift before this one (whose handoff its person receives)."""
    return (
        OnCallReport.objects.select_related("user", "rotation__team")
        .filter(rotation_id=report.rotation_id, shift_end=report.shift_start)
        .first()
    )


def incoming_oncall(report: OnCallReport) -> User | None:
    """Who takes over at the end of this report's shift: the next report's person, else who
    the rotation (overrides applied) has on call then."""
    following = incoming_report(report)
    if following is not None:
        return following.user
    rotation = rotations_with_members(Rotation.objects.filter(pk=report.rotation_id)).get()
    [current] = oncall_for_rotations([rotation], report.shift_end)
    return current.user


def handoffs_for(*, user: User, now: datetime | None = None) -> list[OnCallReport]:
    """Outgoing reports whose handoff `user` receives now and has not acknowledged: the
    report of the shift before each of `user`'s running shifts (two queries)."""
    now = now or timezone.now()
    running = list(
        OnCallReport.objects.filter(user=user, shift_start__lte=now, shift_end__gt=now).values_list(
            "rotation_id", "shift_start"
        )
    )
    if not running:
        return []
    outgoing = OnCallReport.objects.select_related("rotation__team", "user").filter(
        handoff_acknowledged_at__isnull=True
    )
    found = [
        r
        for r in outgoing.filter(
            rotation_id__in=[rid for rid, _ in running],
            shift_end__in=[start for _, start in running],
        )
        if (r.rotation_id, r.shift_end) in set(running)
    ]
    return sorted(found, key=lambda r: r.shift_end)


@dataclass(frozen=True)
class HandoffBox:
    """A handoff the viewer receives: the outgoing report and the team's open incidents."""

    outgoing: OnCallReport
    open_incidents: list[Incident]


def handoff_boxes(*, user: User, now: datetime | None = None) -> list[HandoffBox]:
    """`handoffs_for` with each team's incidents open now (one query more when any)."""
    outgoing = handoffs_for(user=user, now=now)
    if not outgoing:
        return []
    by_team: dict[int | None, list[Incident]] = {}
    for incident in incidents_open().filter(team_id__in={r.rotation.team_id for r in outgoing}):
        by_team.setdefault(incident.team_id, []).append(incident)
    return [HandoffBox(r, by_team.get(r.rotation.team_id, [])) for r in outgoing]


@dataclass(frozen=True)
class TeamReportRow:
    """A report on its team's page, with who took over at its end (None: nobody known
    yet, or the shift still runs)."""

    report: OnCallReport
    incoming: User | None


TEAM_REPORTS = 20


def team_reports(*, team_id: int, limit: int = TEAM_REPORTS) -> list[TeamReportRow]:
    """The team's latest reports, newest shift first, each with the person of the following
    shift (two queries)."""
    reports = list(
        OnCallReport.objects.select_related("rotation__team", "user", "handoff_acknowledged_by")
        .filter(rotation__team_id=team_id)
        .order_by("-shift_start", "rotation_id")[:limit]
    )
    if not reports:
        return []
    following = {
        (r.rotation_id, r.shift_start): r.user
        for r in OnCallReport.objects.select_related("user").filter(
            rotation_id__in={r.rotation_id for r in reports},
            shift_start__in={r.shift_end for r in reports},
        )
    }
    return [
        TeamReportRow(
            r,
            following.get((r.rotation_id, r.shift_end)) or r.handoff_acknowledged_by,
        )
        for r in reports
    ]
