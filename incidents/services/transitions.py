"""Moving an incident on: acknowledge, resolve, reopen, escalate now, reassign."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import acks, engine
from incidents.models import (
    ContactMode,
    Incident,
    Source,
    Status,
    TimelineKind,
    Via,
)
from incidents.pagefacts import page_facts_refresh
from incidents.services.declare import DedupKeyInUse, open_with_key, start_paging
from incidents.services.lifecycle import (
    IllegalTransition,
    IncidentError,
    incident_transition,
    locked,
    severity_policy,
)
from incidents.services.rules import refuse_direct_page
from incidents.services.targets import incident_target_refresh
from incidents.timeline import timeline_write
from notifications.models import Notification
from notifications.services import notifications_cancel_pending
from oncall.models import User
from rotations.models import EscalationPolicy


class AcknowledgeRefused(IncidentError):
    """The person may not acknowledge this incident's engineering paging (the API's 403)."""

    code = "acknowledge_refused"


class StalePage(IncidentError):
    """The page is from an earlier trigger of the incident: acknowledging it changes nothing."""

    code = "stale_page"


def stop_paging(incident: Incident) -> dict[str, Any]:
    """Stop every track and cancel the pages not sent yet (hold the incident's lock)."""
    states = engine.escalation_stop(incident=incident)
    cancelled = notifications_cancel_pending(
        subject_type=engine.SUBJECT_TYPE, subject_id=incident.pk
    )
    return {"tracks_stopped": [s.track for s in states], "pages_cancelled": cancelled}


def _stop_reminders(incident: Incident) -> int:
    """A resolved incident needs no reminder: cancel what has not gone out yet."""
    return sum(
        notifications_cancel_pending(subject_type=kind, subject_id=incident.pk)
        for kind in acks.REMINDER_TYPES
    )


def _acknowledger(
    incident: Incident, actor: User | None, page: Notification | None
) -> tuple[User | None, list[User], str]:
    """Who acknowledges, for whom (when they were not paged) and by what right.

    Refuses with AcknowledgeRefused or StalePage; the caller holds the incident's lock.
    """
    if page is not None:
        # A link or keypress: the page itself is the proof, if it is from this trigger.
        if not acks.page_is_current(incident, page):
            raise StalePage(
                f"This page was sent before {incident.number} was reopened or reassigned; "
                "acknowledging it changes nothing."
            )
        return page.recipient, [], acks.AckRight.PAGED
    if actor is None:  # an integration or the system (a monitoring tool's acknowledge)
        return None, [], ""
    right = acks.acknowledge_right(incident, actor)
    if right is None:
        raise AcknowledgeRefused(
            f"You were not paged for {incident.number}: only the people its engineering "
            "tracks paged, its commander or a Manager can acknowledge its paging."
        )
    on_behalf = [] if right == acks.AckRight.PAGED else acks.paged_people(incident)
    return actor, on_behalf, right


def incident_acknowledge(
    *,
    incident: Incident,
    actor: User | None,
    via: str = Via.DASHBOARD,
    page: Notification | None = None,
) -> Incident:
    """Someone has it: escalation stops, pending pages are cancelled.

    `page` is the outbox row whose link or keypress acknowledges (its recipient is the
    actor); otherwise `actor` must hold a right (`acks.acknowledge_right`), and acting for
    people who were paged is recorded as on their behalf. Reminders are not touched.
    """
    with transaction.atomic():
        incident = locked(incident)
        incident_transition(incident=incident, to=Status.ACKNOWLEDGED)
        actor, on_behalf, right = _acknowledger(incident, actor, page)
        now = timezone.now()
        incident.acknowledged_at, incident.acknowledged_by, incident.acknowledged_via = (
            now,
            actor,
            via,
        )
        incident.save(
            update_fields=["status", "acknowledged_at", "acknowledged_by", "acknowledged_via"]
        )
        stopped = stop_paging(incident)
        # After the states: the engine holds a state while it writes an incident's facts.
        page_facts_refresh([incident.pk])  # the acknowledger's tiers
        message = "Acknowledged"
        if on_behalf:
            message += " on behalf of " + ", ".join(str(person) for person in on_behalf)
        timeline_write(
            incident=incident,
            kind=TimelineKind.ACKNOWLEDGED,
            message=message,
            actor=actor,
            via=via,
            data={
                **stopped,
                "right": str(right),
                "on_behalf_of": [person.pk for person in on_behalf],
                "notification_id": page.pk if page is not None else None,
            },
            at=now,
        )
        incident_target_refresh(incident=incident)
    return incident


def incident_resolve(
    *, incident: Incident, actor: User | None, via: str = Via.DASHBOARD, note: str = ""
) -> Incident:
    with transaction.atomic():
        incident = locked(incident)
        incident_transition(incident=incident, to=Status.RESOLVED)
        now = timezone.now()
        incident.resolved_at, incident.resolved_by, incident.resolved_via = now, actor, via
        incident.save(update_fields=["status", "resolved_at", "resolved_by", "resolved_via"])
        stopped = stop_paging(incident)
        stopped["reminders_cancelled"] = _stop_reminders(incident)
        timeline_write(
            incident=incident,
            kind=TimelineKind.RESOLVED,
            message="Resolved" + (f": {note}" if note else ""),
            actor=actor,
            via=via,
            data={**stopped, "note": note},
            at=now,
        )
        incident_target_refresh(incident=incident)
    return incident


def _refuse_second_open_key(incident: Incident) -> None:
    """An incident the API dedups on (keyed, not an integration's) may not reopen while
    another open incident of its team has its key: declares would not know which to use."""
    if not incident.dedup_key or incident.team_id is None:
        return
    if incident.source == Source.INTEGRATION:
        return
    holder = (
        open_with_key(team_id=incident.team_id, dedup_key=incident.dedup_key)
        .exclude(pk=incident.pk)
        .order_by("pk")
        .first()
    )
    if holder is not None:
        raise DedupKeyInUse(
            f"{incident.number} cannot be reopened: {holder.number} is open with its dedup key "
            f"{incident.dedup_key!r}. Work on {holder.number}, or resolve it first."
        )


def incident_reopen(
    *, incident: Incident, actor: User | None, via: str = Via.DASHBOARD, reason: str = ""
) -> Incident:
    """A resolved incident comes back: triggered again, paging starts over (new tracks)."""
    with transaction.atomic():
        incident = locked(incident)
        incident_transition(incident=incident, to=Status.TRIGGERED)
        _refuse_second_open_key(incident)
        now = timezone.now()
        incident.triggered_at = now
        incident.acknowledged_at = incident.resolved_at = None
        incident.acknowledged_by = incident.resolved_by = None
        incident.acknowledged_via = incident.resolved_via = ""
        try:
            with transaction.atomic():
                incident.save()
        except IntegrityError:  # another incident took the key since the check above
            _refuse_second_open_key(incident)
            raise
        page_facts_refresh([incident.pk])  # nobody acknowledges it now
        timeline_write(
            incident=incident,
            kind=TimelineKind.REOPENED,
            message="Reopened" + (f": {reason}" if reason else ""),
            actor=actor,
            via=via,
            data={"reason": reason},
            at=now,
        )
        if incident.contact_mode == ContactMode.PAGE:
            if incident.source == Source.ENGAGE and incident.team is not None:
                tracks = engine.tracks_for_engage(team=incident.team, at=now)
            else:
                tracks = engine.tracks_for_incident(
                    incident=incident, severity_policy=severity_policy(incident.severity), at=now
                )
            start_paging(incident, tracks, actor)
        incident_target_refresh(incident=incident)
    return incident


def incident_escalate_now(
    *, incident: Incident, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    """Don't wait for the timer: run every track's next step now."""
    with transaction.atomic():
        incident = locked(incident)
        if incident.status != Status.TRIGGERED:
            raise IllegalTransition(
                f"{incident.number} is {incident.status}; only a triggered incident escalates "
                "(reassign it to page someone else)"
            )
        states = engine.escalation_hurry(incident=incident, at=timezone.now())
        if not states:
            raise IncidentError(f"{incident.number} has no escalation left to run; reassign it.")
        timeline_write(
            incident=incident,
            kind=TimelineKind.ESCALATED_NOW,
            message="Escalated now",
            actor=actor,
            via=via,
            data={"tracks": [s.track for s in states]},
        )
    return incident


def incident_reassign(
    *,
    incident: Incident,
    actor: User | None,
    user: User | None = None,
    policy: EscalationPolicy | None = None,
    via: str = Via.DASHBOARD,
) -> Incident:
    """Hand the incident to a person or another policy: paging starts over for them."""
    if (user is None) == (policy is None):
        raise ValidationError("Reassign to either a person or an escalation policy.")
    refuse_direct_page(actor=actor, user=user)
    with transaction.atomic():
        incident = locked(incident)
        if incident.status == Status.RESOLVED:
            raise IllegalTransition(f"{incident.number} is resolved; reopen it first.")
        if incident.status == Status.ACKNOWLEDGED:
            incident_transition(incident=incident, to=Status.TRIGGERED)
            incident.acknowledged_at, incident.acknowledged_by = None, None
            incident.acknowledged_via = ""
        stopped = stop_paging(incident)
        now = timezone.now()
        if policy is not None:
            incident.escalation_policy = policy
            track = engine.Track("main", policy, engine.snapshot_policy(policy=policy, at=now))
            target = f"policy {policy}"
        else:
            assert user is not None
            track = engine.track_for_users(users=[user], at=now)
            target = str(user)
        incident.save()
        page_facts_refresh([incident.pk])  # nobody acknowledges it now
        timeline_write(
            incident=incident,
            kind=TimelineKind.REASSIGNED,
            message=f"Reassigned to {target}",
            actor=actor,
            via=via,
            data={
                **stopped,
                "user_id": user.pk if user else None,
                "policy_id": policy.pk if policy else None,
            },
            at=now,
        )
        start_paging(incident, [track], actor)
        incident_target_refresh(incident=incident)
    return incident
