"""The engineering council's decision on an incident (handbook 004, REMEDIATE; issue 16
point 6): gather information, allocate engineers short or long term, or roll back."""

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import CouncilChoice, CouncilDecision, Incident, TimelineKind, Via
from incidents.services.lifecycle import locked
from incidents.services.rules import NotAllowed
from incidents.timeline import timeline_write
from oncall.models import User
from oncall.roles import is_council_member, is_manager

# Handbook 004: short term is the next day, long term the next (or an upcoming) sprint.
SPRINT = timedelta(days=14)
DEFAULT_DUE = {
    CouncilChoice.GATHER_INFORMATION: timedelta(days=1),
    CouncilChoice.ALLOCATE_SHORT_TERM: timedelta(days=1),
    CouncilChoice.ALLOCATE_LONG_TERM: SPRINT,
    CouncilChoice.ROLLBACK: timedelta(days=1),
}


def may_decide(user: User | None) -> bool:
    return user is not None and (is_council_member(user) or is_manager(user))


def default_due(decision: str, today: date) -> date:
    return today + DEFAULT_DUE.get(CouncilChoice(decision), timedelta(days=1))


def council_decision_record(
    *,
    incident: Incident,
    decision: str,
    owner: User,
    actor: User | None,
    due_on: date | None = None,
    note: str = "",
    via: str = Via.DASHBOARD,
) -> CouncilDecision:
    """Record the council's decision (council members and Managers only); the due date
    defaults from the decision (short term: next day; long term: a sprint)."""
    if not may_decide(actor):
        raise NotAllowed("Only members of the Engineering council or Managers record its decision.")
    if decision not in CouncilChoice.values:
        raise ValidationError({"decision": f"{decision!r} is not a council decision."})
    now = timezone.now()
    today = timezone.localdate(now)
    due_on = due_on or default_due(decision, today)
    if due_on < today:
        raise ValidationError({"due_on": "The due date is in the past."})
    with transaction.atomic():
        incident = locked(incident)
        row = CouncilDecision(
            incident=incident,
            decision=decision,
            owner=owner,
            due_on=due_on,
            note=note.strip(),
            decided_by=actor,
            decided_at=now,
        )
        row.full_clean(exclude=["incident", "owner", "decided_by"])
        if not owner.is_active:
            raise ValidationError({"owner": f"{owner} is not active."})
        row.save()
        timeline_write(
            incident=incident,
            kind=TimelineKind.COUNCIL_DECISION,
            message=f"Engineering council: {row.get_decision_display()}; owner {owner}, due "
            f"{due_on:%Y-%m-%d}" + (f". {row.note}" if row.note else ""),
            actor=actor,
            via=via,
            data={
                "decision_id": row.pk,
                "decision": decision,
                "owner_id": owner.pk,
                "due_on": due_on.isoformat(),
            },
            at=now,
        )
    return row
