"""Coverage watch: find real gaps in the coming days and tell each team's escalation contact.

A real gap is a stretch nobody covers that the rotation is meant to cover: a rotation with
nobody in it, the days before its first handoff, and — for a working-hours rotation — a
stretch inside working hours. Nights and weekends of a working-hours rotation are not gaps.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string

from oncall.models import User
from oncall.words import duration_words
from rotations import resolver, selectors
from rotations.models import Rotation, Team

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
                    {"start": lo, "end": hi, "length": duration_words(hi - lo)}
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
