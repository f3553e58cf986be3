"""The support ladder of handbook 004 (issue 16 points 4 and 5): escalate to the next rung,
add a responder, the rule that support never pages an engineer directly, and the sweep that
acts on missed targets.

Rungs, in order: first-tier support → support manager → engineering manager (low severity,
a day) or the on-call engineer (high severity, hours). Escalating is a hand-off: the rung's
people are paged on a new round of tracks (like a reassignment), so they acknowledge it.
Who may escalate: from the first tier, Support, Support manager and Manager; from the
support manager's rung on, Support manager and Manager. Engineers are the ladder's top:
they add responders (subject-matter experts, the engineering manager) instead.
"""

import dataclasses
import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents import acks, engine
from incidents.acks import TARGET_REMINDER
from incidents.models import (
    Incident,
    Rung,
    SeverityPolicy,
    Status,
    TimelineEvent,
    TimelineKind,
    Via,
)
from incidents.pagefacts import page_facts_refresh
from incidents.services.declare import _call_directly, start_paging
from incidents.services.lifecycle import (
    IncidentError,
    incident_transition,
    locked,
    severity_policy,
)
from incidents.services.rules import (
    NotAllowed,
    group_members,
    is_support_only,
    refuse_direct_page,
)
from incidents.services.targets import (
    ACKNOWLEDGE,
    Target,
    incident_target_refresh,
    missed_keys,
    next_target,
)
from incidents.services.transitions import stop_paging
from incidents.timeline import timeline_write
from notifications.models import Urgency
from notifications.services import notifications_page
from oncall.models import User
from oncall.roles import MANAGER, SUPPORT, SUPPORT_MANAGER, user_roles
from rotations.models import ContactMode as TeamContactMode
from rotations.models import Team, TeamKind

logger = logging.getLogger(__name__)

ENGINEERING_RUNGS = (Rung.ENGINEERING_MANAGER, Rung.ONCALL)
LADDER = (Rung.FIRST_TIER, Rung.SUPPORT_MANAGER, Rung.ENGINEERING_MANAGER, Rung.ONCALL)
REASON_MAX = 2000
SWEEP_BATCH = 200


class RungRefused(IncidentError):
    """Not the next rung, or nothing to page there (the API's 400)."""

    code = "rung_refused"


def may_escalate(user: User | None, incident: Incident) -> bool:
    if user is None:
        return True  # the targets sweep
    roles = user_roles(user)
    if incident.rung == Rung.FIRST_TIER:
        return bool(roles & {SUPPORT, SUPPORT_MANAGER, MANAGER})
    return bool(roles & {SUPPORT_MANAGER, MANAGER})


def may_add_responder(user: User | None, incident: Incident) -> bool:
    """The on-call engineer (who acknowledged it or is being paged for it), the commander,
    or a Manager; never a support role."""
    if user is None or not user.is_active or not incident.is_open:
        return False
    if MANAGER in user_roles(user):
        return True
    if is_support_only(user):
        return False
    if user.pk in (incident.commander_id, incident.acknowledged_by_id):
        return True
    return any(person.pk == user.pk for person in acks.paged_people(incident))


# --- the next rung ------------------------------------------------------------------------


def _judged_severity(incident: Incident) -> str:
    """The triage's suggested severity when there is one (issue 16 point 2), else the set one."""
    return getattr(incident, "suggested_severity", "") or incident.severity


def next_rungs(incident: Incident) -> list[str]:
    """Where Escalate may go from here, the default first."""
    if not incident.is_open:
        return []
    policy = severity_policy(_judged_severity(incident))
    default = policy.support_escalates_to if policy else Rung.ONCALL
    engineering = [default, *(r for r in ENGINEERING_RUNGS if r != default)]
    if incident.rung == Rung.FIRST_TIER:
        required = policy is None or policy.support_manager_required
        return [Rung.SUPPORT_MANAGER, *([] if required else engineering)]
    if incident.rung == Rung.SUPPORT_MANAGER:
        return engineering
    if incident.rung == Rung.ENGINEERING_MANAGER:
        return [Rung.ONCALL]
    return []


def _why_not(incident: Incident, to: str) -> str:
    if not incident.is_open:
        return f"{incident.number} is resolved; reopen it first."
    if not incident.rung:
        return f"{incident.number} is not on the support ladder (it went to engineering directly)."
    if incident.rung == Rung.ONCALL:
        return (
            f"{incident.number} is with the on-call engineer, the top rung: the on-call or the "
            "commander adds responders instead."
        )
    if incident.rung == Rung.FIRST_TIER and to in ENGINEERING_RUNGS:
        return (
            f"At {_judged_severity(incident)} the first tier escalates to the support manager "
            "first (the severity policy requires it)."
        )
    offered = ", ".join(next_rungs(incident)) or "nothing"
    return f"{to} is not the next rung from {incident.rung}; Escalate offers {offered}."


def _support_managers(incident: Incident) -> list[User]:
    team = incident.team
    if team is not None and team.kind == TeamKind.SUPPORT and team.escalation_contact_id:
        contact = team.escalation_contact
        if contact is not None and contact.is_active:
            return [contact]
    return group_members(SUPPORT_MANAGER)


def _engineering_team(incident: Incident, team: Team | None) -> Team:
    if team is None:
        if incident.team is not None and incident.team.kind == TeamKind.ENGINEERING:
            return incident.team
        raise ValidationError({"team": "Choose the engineering team to escalate to."})
    if team.kind != TeamKind.ENGINEERING:
        raise ValidationError({"team": f"{team.name} is not an engineering team."})
    return team


def playbook_rows(incident: Incident) -> list[TimelineEvent]:
    return list(incident.timeline.filter(kind=TimelineKind.PLAYBOOK).order_by("at", "pk"))


def playbook_note(incident: Incident) -> str:
    """What the page and the timeline say about the playbook (handbook 004: the on-call is
    paged when the playbook's remediation has failed)."""
    rows = playbook_rows(incident)
    if not rows:
        return "Playbook: not tried."
    return "Playbook tried: " + "; ".join(row.message for row in rows if row.message)


def _handover(incident: Incident) -> dict[str, object]:
    """The rung's people must acknowledge it: an acknowledged incident is triggered again
    and what was paging stops (a new round of tracks starts), as a reassignment does."""
    if incident.status == Status.ACKNOWLEDGED:
        incident_transition(incident=incident, to=Status.TRIGGERED)
        incident.acknowledged_at, incident.acknowledged_by = None, None
        incident.acknowledged_via = ""
    return stop_paging(incident)


def _users_track(name: str, users: list[User], at: datetime) -> engine.Track:
    return dataclasses.replace(engine.track_for_users(users=users, at=at), name=name)


def _escalate(
    incident: Incident, to: str, actor: User | None, team: Team | None, via: str, reason: str
) -> str:
    """Move a locked incident to rung `to` and page it; returns the timeline's message."""
    now = timezone.now()
    data: dict[str, object] = {"from": incident.rung, "to": to, "reason": reason}
    tracks: list[engine.Track] = []
    call_team: Team | None = None
    if to == Rung.SUPPORT_MANAGER:
        people = _support_managers(incident)
        if not people:
            raise RungRefused(
                "Nobody to page as support manager: set the support team's escalation contact "
                "or add someone to the Support manager group."
            )
        tracks = [_users_track("support_manager", people, now)]
        paged = ", ".join(map(str, people))
        message = f"Escalated to the support manager: paging {paged}"
        data["user_ids"] = [p.pk for p in people]
    else:
        target_team = _engineering_team(incident, team)
        data["team"] = target_team.slug
        data["team_id"] = target_team.pk
        note = playbook_note(incident)
        data["playbook"] = note
        if to == Rung.ENGINEERING_MANAGER:
            contact = target_team.escalation_contact
            if contact is None or not contact.is_active:
                raise RungRefused(
                    f"{target_team.name} has no escalation contact (engineering manager) to page."
                )
            tracks = [_users_track("engineering_manager", [contact], now)]
            message = f"Escalated to {target_team.name}'s engineering manager {contact}. {note}"
            data["user_ids"] = [contact.pk]
        else:
            message = f"Escalated to {target_team.name}'s on-call engineer. {note}"
            if target_team.contact_mode == TeamContactMode.CALL:
                call_team = target_team
            else:
                tracks = [
                    dataclasses.replace(track, name=f"oncall_{track.name}")
                    for track in engine.tracks_for_engage(team=target_team, at=now)
                ]
                if not tracks:
                    raise RungRefused(f"{target_team.name} has no rotation or policy to page.")
        # The page says whether the playbook was tried (the engine pages the body).
        incident.body = (
            f"{incident.body}\n\n{note}".strip() if note not in incident.body else incident.body
        )
    data |= _handover(incident)
    incident.rung, incident.rung_at = to, now
    incident.save()
    page_facts_refresh([incident.pk])  # nobody acknowledges it now
    if reason:
        message = f"{message} Reason: {reason}"
    timeline_write(
        incident=incident,
        kind=TimelineKind.TIER_ESCALATED,
        message=message,
        actor=actor,
        via=via,
        data=data,
        at=now,
    )
    if call_team is not None:
        _call_directly(incident, call_team, actor, via)
    else:
        start_paging(incident, tracks, actor)
    incident_target_refresh(incident=incident)
    return message


def incident_escalate_tier(
    *,
    incident: Incident,
    to: str,
    actor: User | None,
    team: Team | None = None,
    reason: str = "",
    via: str = Via.DASHBOARD,
) -> Incident:
    """Escalate one rung up the ladder (`to` must be a next rung; see `next_rungs`).

    `team`: the engineering team, for the engineering rungs of an incident on a support
    team. Raises RungRefused (not the next rung), NotAllowed (the role may not) or
    ValidationError (a bad team)."""
    if to not in LADDER:
        raise ValidationError({"to": f"{to!r} is not a rung: give one of {', '.join(LADDER[1:])}."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    with transaction.atomic():
        incident = locked(incident)
        if not may_escalate(actor, incident):
            raise NotAllowed(
                "Only Support, Support managers and Managers escalate from the first tier; "
                "from the support manager on, only Support managers and Managers."
            )
        if to not in next_rungs(incident):
            raise RungRefused(_why_not(incident, to))
        _escalate(incident, to, actor, team, via, reason.strip())
    return incident


def incident_add_responder(
    *,
    incident: Incident,
    user: User,
    actor: User | None,
    reason: str = "",
    via: str = Via.DASHBOARD,
) -> Incident:
    """Page someone more (a subject-matter expert, the engineering manager) without stopping
    what is already paging: only the on-call engineer, the commander or a Manager."""
    if not user.is_active:
        raise ValidationError({"user": f"{user} is not active."})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX} characters."})
    with transaction.atomic():
        incident = locked(incident)
        if is_support_only(actor):
            refuse_direct_page(actor=actor, user=user)
        if not may_add_responder(actor, incident):
            if not incident.is_open:
                raise RungRefused(f"{incident.number} is resolved; reopen it first.")
            raise NotAllowed(
                "Only the on-call engineer (who acknowledged it or is being paged), the "
                "commander or a Manager adds responders."
            )
        reason = reason.strip()
        event = timeline_write(
            incident=incident,
            kind=TimelineKind.RESPONDER_ADDED,
            message=f"Responder added: {user}" + (f". Reason: {reason}" if reason else ""),
            actor=actor,
            via=via,
            data={"user_id": user.pk, "reason": reason},
        )
        # A page of its own, beside the tracks (which keep running): a responder is paged
        # whether or not the incident is acknowledged.
        content = engine.page_content(incident)
        pages = notifications_page(
            user=user,
            urgency=Urgency.HIGH,
            subject_type=engine.SUBJECT_TYPE,
            subject_id=incident.pk,
            key=f"inc{incident.pk}:responder:e{event.pk}:u{user.pk}",
            reason=f"added as a responder by {actor}" + (f": {reason}" if reason else ""),
            subject=f"Responder needed: {content['subject']}",
            body="\n\n".join(p for p in (reason, content["body"]) if p),
            data={**content["data"], "responder": True},
        )
        event.data["notification_ids"] = [p.pk for p in pages]
        event.save(update_fields=["data"])
    return incident


# --- missed targets -----------------------------------------------------------------------


def _escalation_contacts(incident: Incident, team_id: int | None) -> list[User]:
    found = Team.objects.select_related("escalation_contact").filter(pk=team_id or 0).first()
    team = found or incident.team
    contact = team.escalation_contact if team is not None else None
    if contact is not None and contact.is_active:
        return [contact]
    return group_members(MANAGER)


def _last_engineering_team(incident: Incident) -> int | None:
    row = (
        incident.timeline.filter(kind=TimelineKind.TIER_ESCALATED, data__has_key="team_id")
        .order_by("-at", "-pk")
        .first()
    )
    return row.data["team_id"] if row else None


def _missed(incident: Incident, target: Target, now: datetime) -> None:
    """Act once on a missed target: the first tier's → the support manager is paged (the next
    rung); on the later rungs the escalation contact (the CPE manager; Managers when none);
    off the ladder it is recorded only."""
    what = f"Target missed: {target.label} by {target.at:%Y-%m-%d %H:%M} UTC"
    data: dict[str, object] = {"key": target.key, "kind": target.kind, "rung": target.rung}
    if target.kind == ACKNOWLEDGE and incident.rung == Rung.FIRST_TIER:
        timeline_write(
            incident=incident,
            kind=TimelineKind.TARGET_MISSED,
            message=f"{what}; escalating to the support manager",
            data={**data, "escalated_to": Rung.SUPPORT_MANAGER},
            at=now,
        )
        try:
            _escalate(incident, Rung.SUPPORT_MANAGER, None, None, Via.SYSTEM, "target missed")
        except RungRefused as refused:
            logger.warning("%s: %s", incident.number, refused)
        return
    if not incident.rung:
        # Not on the ladder: its escalation policy already walks the list to the escalation
        # contact (handbook 000); the miss is recorded and shown, nobody is paged twice.
        timeline_write(
            incident=incident,
            kind=TimelineKind.TARGET_MISSED,
            message=f"{what}; its escalation policy keeps paging",
            data=data,
            at=now,
        )
        return
    people = _escalation_contacts(incident, _last_engineering_team(incident))
    content = engine.page_content(incident)
    for person in people:
        notifications_page(
            user=person,
            urgency=Urgency.HIGH,
            subject_type=TARGET_REMINDER,
            subject_id=incident.pk,
            key=f"inc{incident.pk}:target:{target.key}:u{person.pk}",
            reason=what.lower(),
            subject=f"{what}: {content['subject']}",
            body=content["body"],
            data={**content["data"], "reminder_key": f"inc{incident.pk}:target:{target.key}"},
        )
    paged = ", ".join(map(str, people)) or "nobody (no escalation contact or Manager)"
    timeline_write(
        incident=incident,
        kind=TimelineKind.TARGET_MISSED,
        message=f"{what}; paged {paged}",
        data={**data, "user_ids": [p.pk for p in people]},
        at=now,
    )


def incident_targets_sweep(*, now: datetime | None = None) -> int:
    """Act on every missed target once (SKIP LOCKED: any number of workers; a second run
    finds the key on the timeline and pages nobody). Returns how many were acted on."""
    now = now or timezone.now()
    due_ids = list(
        Incident.objects.filter(next_target_at__lte=now)
        .exclude(status=Status.RESOLVED)
        .order_by("next_target_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    acted = 0
    for incident_id in due_ids:
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("team__escalation_contact")
                .filter(pk=incident_id, next_target_at__lte=now)
                .exclude(status=Status.RESOLVED)
                .first()
            )
            if incident is None:
                continue
            missed = missed_keys(incident)
            target = next_target(incident, missed=missed)
            if target is not None and target.at <= now:
                _missed(incident, target, now)
                acted += 1
            incident_target_refresh(incident=incident)
    return acted


# --- the severity policy's ladder settings ------------------------------------------------

LADDER_SETTINGS = (
    "acknowledge_target",
    "support_manager_required",
    "support_escalates_to",
    "engineering_manager_target",
    "oncall_target",
)


def severity_policy_update_ladder(
    *, policy: SeverityPolicy, actor: User, changes: dict[str, object]
) -> SeverityPolicy:
    """Change a severity's ladder settings (Managers; the admin edits them too)."""
    if MANAGER not in user_roles(actor):
        raise NotAllowed("Only Managers change severity policies.")
    unknown = sorted(set(changes) - set(LADDER_SETTINGS))
    if unknown:
        raise ValidationError({name: "Not a ladder setting." for name in unknown})
    with transaction.atomic():
        policy = SeverityPolicy.objects.select_for_update().get(pk=policy.pk)
        for name, value in changes.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.save(update_fields=list(changes) or None)
    return policy
