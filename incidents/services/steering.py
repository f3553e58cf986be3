"""Steering an open incident: severity (and the new tier it may page), commander, notes."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import engine
from incidents.models import (
    ContactMode,
    Incident,
    Severity,
    Status,
    TimelineKind,
    Via,
)
from incidents.services.declare import start_paging
from incidents.services.lifecycle import (
    locked,
    severity_policy,
)
from incidents.services.targets import incident_target_refresh
from incidents.timeline import timeline_write
from oncall.models import User


def page_new_tier_if_raised(*, incident: Incident, previous: str, actor: User | None) -> bool:
    """Raised, while nobody has acknowledged, to a severity that pages both tiers: the new
    tier's on-call is paged now, once, as if the incident had been declared at it.

    Call inside the transaction that changed the severity. Lowering it pages nobody and
    stops nothing (the new tier is only ever paged once). True when a track started.
    """
    if incident.status != Status.TRIGGERED or incident.contact_mode != ContactMode.PAGE:
        return False
    now_policy, before = severity_policy(incident.severity), severity_policy(previous)
    if incident.team is None or now_policy is None or not now_policy.page_both_tiers:
        return False
    if before is not None and before.page_both_tiers:
        return False
    states = incident.escalation_states.all()
    current = max((s.generation for s in states), default=0)
    if any(s.track == "new" and s.generation == current for s in states):
        return False  # this round already paged it (engage development does)
    now = timezone.now()
    snapshot = engine.new_tier_snapshot(team=incident.team, at=now)
    if snapshot is None:
        timeline_write(
            incident=incident,
            kind=TimelineKind.ESCALATION,
            message=f"{incident.severity} pages the new tier too, but {incident.team.name} "
            "has no new-tier rotation",
            data={"warning": "no new tier"},
        )
        return False
    start_paging(incident, [engine.Track("new", None, snapshot)], actor)
    return True


def incident_set_severity(
    *, incident: Incident, severity: str, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    if severity not in Severity.values:
        raise ValidationError({"severity": f"{severity} is not a severity."})
    with transaction.atomic():
        incident = locked(incident)
        previous = incident.severity
        if previous == severity:
            return incident
        incident.severity = severity
        incident.save(update_fields=["severity"])
        timeline_write(
            incident=incident,
            kind=TimelineKind.SEVERITY,
            message=f"Severity {previous} → {severity}",
            actor=actor,
            via=via,
            data={"from": previous, "to": severity},
        )
        page_new_tier_if_raised(incident=incident, previous=previous, actor=actor)
        incident_target_refresh(incident=incident)
    return incident


def incident_set_commander(
    *, incident: Incident, commander: User | None, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    with transaction.atomic():
        incident = locked(incident)
        previous = incident.commander_id
        incident.commander = commander
        incident.save(update_fields=["commander"])
        timeline_write(
            incident=incident,
            kind=TimelineKind.COMMANDER,
            message=f"Commander: {commander}" if commander else "Commander cleared",
            actor=actor,
            via=via,
            data={"from": previous, "to": commander.pk if commander else None},
        )
    return incident


def incident_add_note(
    *, incident: Incident, text: str, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    if not text.strip():
        raise ValidationError({"text": "Write something."})
    with transaction.atomic():
        timeline_write(
            incident=incident, kind=TimelineKind.NOTE, message=text.strip(), actor=actor, via=via
        )
    return incident
