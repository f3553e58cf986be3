"""Coverage watch: find real gaps in the coming days and tell each team's escalation contact.

A real gap is a stretch nobody covers that the rotation is meant to cover: a rotation with
nobody in it, the days before its first handoff, and — for a working-hours rotation — a
stretch inside working hours. Nights and weekends of a working-hours rotation are not gaps.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from oncall.models import User
from rotations import resolver, selectors
from rotations.models import CoverageNotice, Rotation, Team

logger = logging.getLogger(__name__)

WATCH_DAYS = 14
_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class RotationGaps:
    rotation: Rotation
    gaps: list[Interval]  # aware UTC, sorted, disjoint


@dataclass(frozen=True)
class TeamGaps:
    team: Team
    contact: User | None
    start: datetime
    end: datetime
    rotations: list[RotationGaps]

    @property
    def gap_count(self) -> int:
        return sum(len(r.gaps) for r in self.rotations)


def coverage_gaps_report(*, now: datetime, days: int = WATCH_DAYS) -> list[TeamGaps]:
    """Every team with real gaps in [now, now + days), rotation by rotation (three queries)."""
    start, end = now.astimezone(UTC), now.astimezone(UTC) + timedelta(days=days)
    rotations = list(
        selectors.rotations_with_members(
            Rotation.objects.select_related("team__escalation_contact")
        )
    )
    overrides = selectors.overrides_between([r.pk for r in rotations], start, end)
    by_team: dict[int, list[RotationGaps]] = {}
    teams: dict[int, Team] = {}
    for rotation in rotations:
        spec = selectors.rotation_spec(rotation)
        gaps = resolver.intended_gaps(
            spec, selectors.override_specs(overrides[rotation.pk]), start, end
        )
        if gaps:
            teams[rotation.team_id] = rotation.team
            by_team.setdefault(rotation.team_id, []).append(RotationGaps(rotation, gaps))
    report = [
        TeamGaps(teams[tid], teams[tid].escalation_contact, start, end, found)
        for tid, found in by_team.items()
    ]
    return sorted(report, key=lambda r: r.team.name)


def _duration_text(length: timedelta) -> str:
    days, minutes = divmod(int(length.total_seconds()) // 60, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    return " ".join(f"{n} {unit}" for n, unit in parts if n) or "under a minute"


def _gap_reason(rotation: Rotation, start: datetime) -> str:
    """The plain cause when there is one (otherwise: overrides or working hours)."""
    spec = selectors.rotation_spec(rotation)
    if not spec.members:
        return "Nobody is in this rotation."
    if resolver.shift_boundary(spec, 0) > start:
        return f"The rotation starts on {rotation.start_date:%a %-d %b %Y}."
    return ""


def coverage_email(report: TeamGaps, contact: User) -> tuple[str, str]:
    """Subject and plain-text body for `contact`, times in their timezone with UTC."""
    context = {
        "report": report,
        "contact": contact,
        "tz": contact.timezone,
        "days": (report.end - report.start).days,
        "rotations": [
            {
                "rotation": found.rotation,
                "reason": _gap_reason(found.rotation, report.start),
                "gaps": [
                    {"start": lo, "end": hi, "length": _duration_text(hi - lo)}
                    for lo, hi in found.gaps
                ],
            }
            for found in report.rotations
        ],
        "site_url": settings.SITE_URL,
    }
    count = report.gap_count
    subject = (
        f"[On-call] {report.team.name}: {count} coverage gap{'s' if count != 1 else ''} "
        f"in the next {context['days']} days"
    )
    body = render_to_string("rotations/email/coverage_gaps.txt", context)
    return subject, body


def coverage_watch_send(*, now: datetime, days: int = WATCH_DAYS) -> int:
    """Email each team's escalation contact about its real gaps; the number of emails sent.

    At most one email per team per UTC day, so a redelivered or retried task is harmless:
    the team's marker row is locked while its email goes out and only moves when it went.
    """
    sent = 0
    today = now.astimezone(UTC).date()
    reports = coverage_gaps_report(now=now, days=days)
    if not reports:
        logger.info("Coverage watch: no gaps in the next %d days.", days)
    for report in reports:
        contact = report.contact
        if contact is None or not contact.email:
            logger.warning(
                "Coverage watch: team %s has %d gap(s) but no escalation contact with an "
                "email address; nobody was told.",
                report.team.slug,
                report.gap_count,
            )
            continue
        subject, body = coverage_email(report, contact)
        # Mail inside the lock, not on commit: the notice is stored only once the mail went,
        # so a retry re-sends a failed email and never a sent one.
        with transaction.atomic():
            Team.objects.select_for_update().filter(pk=report.team.pk).first()
            if CoverageNotice.objects.filter(team=report.team, day=today).exists():
                logger.info("Coverage watch: %s was already told today.", report.team.slug)
                continue
            send_mail(subject, body, None, [contact.email])
            CoverageNotice.objects.create(
                team=report.team,
                day=today,
                sent_at=now,
                recipient=contact.email,
                gap_count=report.gap_count,
            )
        sent += 1
        logger.info(
            "Coverage watch: told %s about %d gap(s) in team %s.",
            contact.email,
            report.gap_count,
            report.team.slug,
        )
    return sent
