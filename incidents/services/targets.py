"""An incident's targets (handbook 004, point 5 of issue 16): the severity's acknowledge
target while nobody has it, and the rung targets once it is with engineering (the
engineering manager within a day, the on-call engineer within hours).

`next_target_at` is the earliest target not yet missed; every service that changes the
status, severity or rung calls `incident_target_refresh` in its transaction, and the targets
sweep (`incidents.services.ladder.incident_targets_sweep`) acts on the ones that pass.
"""

from dataclasses import dataclass
from datetime import datetime

from incidents.models import Incident, Rung, SeverityPolicy, Status, TimelineKind
from incidents.services.lifecycle import severity_policy

ACKNOWLEDGE = "acknowledge"
RUNG = "rung"


@dataclass(frozen=True)
class Target:
    kind: str  # ACKNOWLEDGE or RUNG
    rung: str
    at: datetime

    @property
    def key(self) -> str:
        """One key per target: a missed target is acted on once (the timeline keeps it)."""
        return f"{self.kind}:{self.rung or 'none'}:{self.at.isoformat()}"

    @property
    def label(self) -> str:
        if self.kind == ACKNOWLEDGE:
            return "acknowledge"
        return f"{Rung(self.rung).label.lower()} takes care of it"


def incident_targets(*, incident: Incident, policy: SeverityPolicy | None) -> list[Target]:
    """Every target the incident runs against now, earliest first (none when resolved)."""
    if incident.status == Status.RESOLVED or policy is None:
        return []
    since = incident.rung_at or incident.triggered_at
    if incident.triggered_at > since:  # reopened after it reached its rung
        since = incident.triggered_at
    targets = []
    if incident.status == Status.TRIGGERED:
        targets.append(Target(ACKNOWLEDGE, incident.rung, since + policy.acknowledge_target))
    if incident.rung == Rung.ENGINEERING_MANAGER:
        targets.append(Target(RUNG, incident.rung, since + policy.engineering_manager_target))
    elif incident.rung == Rung.ONCALL:
        targets.append(Target(RUNG, incident.rung, since + policy.oncall_target))
    return sorted(targets, key=lambda t: t.at)


def missed_keys(incident: Incident) -> set[str]:
    return set(
        incident.timeline.filter(kind=TimelineKind.TARGET_MISSED).values_list(
            "data__key", flat=True
        )
    )


def next_target(incident: Incident, *, missed: set[str] | None = None) -> Target | None:
    """The earliest target of the incident not yet missed (and acted on)."""
    missed = missed_keys(incident) if missed is None else missed
    targets = incident_targets(incident=incident, policy=severity_policy(incident.severity))
    return next((t for t in targets if t.key not in missed), None)


def ladder_start(*, incident: Incident) -> None:
    """An incident on a support team starts on the first tier (inside the declare)."""
    from rotations.models import TeamKind

    if incident.team is not None and incident.team.kind == TeamKind.SUPPORT:
        incident.rung, incident.rung_at = Rung.FIRST_TIER, incident.triggered_at
        incident.save(update_fields=["rung", "rung_at"])


def incident_target_refresh(*, incident: Incident) -> Incident:
    """Keep `next_target_at` right after a change (inside the caller's transaction)."""
    target = next_target(incident) if incident.pk else None
    at = target.at if target else None
    if incident.next_target_at != at:
        incident.next_target_at = at
        Incident.objects.filter(pk=incident.pk).update(next_target_at=at)
    return incident
