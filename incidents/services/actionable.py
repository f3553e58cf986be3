""" "Was this actionable?" (issue 17): the answer on a resolved incident, feeding the noise
figures of the insights page and the weekly review."""

from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, Status, TimelineKind, Via
from incidents.services.lifecycle import IncidentError, locked
from incidents.timeline import timeline_write
from oncall.models import User
from oncall.roles import is_manager


class ActionableRefused(IncidentError):
    """Someone other than the commander, whoever acknowledged, or a Manager (403)."""

    code = "not_allowed"


class NotResolved(IncidentError):
    code = "not_resolved"


def actionable_may_answer(incident: Incident, user: User | None) -> bool:
    """The commander, whoever acknowledged, or a Manager."""
    if user is None or not user.is_authenticated:
        return False
    return user.pk in (incident.commander_id, incident.acknowledged_by_id) or is_manager(user)


def incident_mark_actionable(
    *,
    incident: Incident,
    actor: User,
    actionable: bool,
    reason: str = "",
    via: str = Via.DASHBOARD,
) -> Incident:
    """Record yes / no (with an optional reason) on a resolved incident; answering again
    replaces the answer. A timeline row says who answered what."""
    reason = reason.strip()
    with transaction.atomic():
        incident = locked(incident)
        if not actionable_may_answer(incident, actor):
            raise ActionableRefused(
                f"Only {incident.number}'s commander, whoever acknowledged it, or a Manager "
                "says whether it was actionable."
            )
        if incident.status != Status.RESOLVED:
            raise NotResolved(f"{incident.number} is not resolved: answer once it is.")
        incident.actionable = actionable
        incident.actionable_reason = reason
        incident.actionable_by = actor
        incident.actionable_at = timezone.now()
        incident.full_clean(
            exclude=[f.name for f in Incident._meta.fields if not f.name.startswith("actionable")],
            validate_unique=False,
            validate_constraints=False,
        )
        incident.save(
            update_fields=["actionable", "actionable_reason", "actionable_by", "actionable_at"]
        )
        answer = "actionable" if actionable else "not actionable"
        timeline_write(
            incident=incident,
            kind=TimelineKind.ACTIONABLE,
            message=f"Marked {answer}" + (f": {reason}" if reason else ""),
            actor=actor,
            via=via,
            data={"actionable": actionable, "reason": reason},
            at=incident.actionable_at,
        )
    return incident
