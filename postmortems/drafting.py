"""What a new postmortem starts with, read from the incident's record.

Pure reads and unsaved rows: the services save them (`postmortems.services.postmortem_start`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from incidents.engine import SUBJECT_TYPE as INCIDENT_PAGE
from incidents.models import Incident, SeverityPolicy, TimelineEvent, TimelineKind
from notifications.models import Notification
from oncall.models import User
from postmortems.models import (
    PostmortemSection,
    PostmortemTemplate,
    PostmortemTimelineEntry,
)

# When the incident's severity has no policy row (the model fields' defaults).
POSTMORTEM_DUE_FALLBACK = timedelta(days=5)
ACTION_ITEM_DUE_FALLBACK = timedelta(days=30)

# Delivery chatter and the postmortem's own rows are left out of its timeline.
NOT_IMPORTED = frozenset(
    {
        TimelineKind.PAGE_SENT,
        TimelineKind.PAGE_CANCELLED,
        TimelineKind.POSTMORTEM_DRAFTED,
        TimelineKind.POSTMORTEM_SUBMITTED,
        TimelineKind.POSTMORTEM_PUBLISHED,
        TimelineKind.POSTMORTEM_REOPENED,
        TimelineKind.ACTION_ITEM_ADDED,
        TimelineKind.ACTION_ITEM_STATUS,
    }
)
# The moments a reader looks for first: declared, acknowledged, resolved, and escalations.
KEY_MOMENTS = frozenset(
    {
        TimelineKind.DECLARED,
        TimelineKind.ENGAGED,
        TimelineKind.ACKNOWLEDGED,
        TimelineKind.RESOLVED,
        TimelineKind.REOPENED,
        TimelineKind.ESCALATED_NOW,
        TimelineKind.REASSIGNED,
        TimelineKind.SEVERITY,
    }
)
START_KINDS = (TimelineKind.DECLARED, TimelineKind.ENGAGED)


def postmortem_due(policy: SeverityPolicy | None) -> timedelta:
    return policy.postmortem_due if policy is not None else POSTMORTEM_DUE_FALLBACK


def action_item_due(policy: SeverityPolicy | None) -> timedelta:
    return policy.action_item_due if policy is not None else ACTION_ITEM_DUE_FALLBACK


def draft_owner(incident: Incident, *, resolver: User | None = None) -> User | None:
    """The commander, else whoever acknowledged, else the team's escalation contact, else
    whoever resolved it; only active people."""
    candidates = [
        incident.commander,
        incident.acknowledged_by,
        incident.team.escalation_contact if incident.team else None,
        resolver,
    ]
    return next((person for person in candidates if person is not None and person.is_active), None)


def _is_escalation(event: TimelineEvent) -> bool:
    """A page past a policy's first step (a later step, a repeat, the next on a walk list)."""
    if event.kind != TimelineKind.PAGED:
        return False
    data = event.data or {}
    return bool((data.get("step") or 1) > 1 or data.get("repeat") or data.get("walk"))


def entry_text(event: TimelineEvent) -> str:
    """The line as the incident page says it: the message (or the kind), then who and how."""
    text = event.message or event.get_kind_display()
    attribution = event.attribution
    return f"{text} — {attribution}" if attribution else text


def timeline_entries(events: list[TimelineEvent]) -> list[PostmortemTimelineEntry]:
    """The incident's timeline as unsaved, editable entries (postmortem not yet set)."""
    kept = [e for e in events if e.kind not in NOT_IMPORTED]
    return [
        PostmortemTimelineEntry(
            position=position,
            at=event.at,
            text=entry_text(event),
            key_moment=event.kind in KEY_MOMENTS or _is_escalation(event),
        )
        for position, event in enumerate(kept)
    ]


def template_sections(template: PostmortemTemplate | None) -> list[PostmortemSection]:
    """Unsaved copies of the template's sections, so later template edits change nothing."""
    if template is None:
        return [PostmortemSection(position=0, key="summary", title="Summary")]
    return [
        PostmortemSection(
            position=position, key=section.key, title=section.heading, prompt=section.prompt
        )
        for position, section in enumerate(template.sections.all())
    ]


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))


@dataclass(frozen=True)
class _Step:
    track: str
    step: int
    repeat: int
    walk: int


def response_facts(incident: Incident, events: list[TimelineEvent]) -> dict[str, Any]:
    """Time to acknowledge and to resolve, who was paged, escalation steps run, status
    updates sent: from the record, as JSON (seconds; times in ISO 8601)."""
    started = next((e.at for e in events if e.kind in START_KINDS), incident.triggered_at)
    acknowledged = next((e.at for e in events if e.kind == TimelineKind.ACKNOWLEDGED), None)
    resolved = incident.resolved_at
    steps = {
        _Step(
            str(e.data.get("track", "")),
            int(e.data.get("step") or 0),
            int(e.data.get("repeat") or 0),
            int(e.data.get("walk") or 0),
        )
        for e in events
        if e.kind in (TimelineKind.PAGED, TimelineKind.ESCALATION) and "step" in (e.data or {})
    }
    paged = (
        User.objects.filter(
            notifications__subject_type=INCIDENT_PAGE, notifications__subject_id=incident.pk
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    people = [{"id": person.pk, "name": person.name} for person in paged]
    return {
        "declared_at": started.isoformat(),
        "acknowledged_at": acknowledged.isoformat() if acknowledged else None,
        "resolved_at": resolved.isoformat() if resolved else None,
        "time_to_acknowledge_seconds": _seconds(started, acknowledged),
        "time_to_resolve_seconds": _seconds(started, resolved),
        "people_paged": people,
        "people_paged_count": len(people),
        "pages_sent": Notification.objects.filter(
            subject_type=INCIDENT_PAGE, subject_id=incident.pk
        ).count(),
        "escalation_steps_run": len(steps),
        "status_updates_sent": incident.status_updates.count(),
        "reopened": sum(1 for e in events if e.kind == TimelineKind.REOPENED),
    }
