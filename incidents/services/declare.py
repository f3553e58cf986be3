"""Opening an incident: declare (or repeat a dedup key), engage development, record a call."""

import re
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from incidents import engine, support
from incidents.models import (
    Category,
    ContactMode,
    Incident,
    Severity,
    Source,
    Status,
    TimelineKind,
    Via,
)
from incidents.services.lifecycle import (
    IncidentError,
    locked,
    severity_policy,
)
from incidents.services.targets import incident_target_refresh, ladder_start
from incidents.timeline import timeline_write
from incidents.triage import service_clean
from oncall.models import User
from oncall.validators import normalize_e164
from rotations.models import ContactMode as TeamContactMode
from rotations.models import EscalationPolicy, Team

# A ticket key as JIRA writes it: CSD-123.
TICKET = re.compile(r"^[A-Z][A-Z0-9]*-\d+$")


def ticket_clean(ticket: str) -> str:
    """A ticket key in its canonical form ('csd-123 ' → 'CSD-123'); empty stays empty.

    The one rule for every door (the declare and engage forms, the API)."""
    ticket = ticket.strip().upper()
    if ticket and not TICKET.match(ticket):
        raise ValidationError("Give a ticket key like CSD-123.", code="invalid_ticket")
    return ticket


def callback_phone_clean(phone: str) -> str:
    """The number development calls back, as typed (trimmed), once it is a real one.

    Checked by the portal's phone rule (oncall.validators): with its country code, so an
    engineer anywhere can dial it; an extension may follow ('… ext. 4455')."""
    phone = phone.strip()
    if not phone:
        raise ValidationError("Give the number development calls back.", code="required")
    try:
        normalize_e164(phone)
    except ValidationError:
        raise ValidationError(
            "Give a number development can call, with its country code, e.g. +1 202 555 0143.",
            code="invalid_phone",
        ) from None
    return phone


def _call_directly(incident: Incident, team: Team, actor: User | None, via: str) -> None:
    numbers = [{"label": n.label, "phone": n.phone} for n in team.direct_numbers.all()]
    incident.contact_mode = ContactMode.CALL
    incident.direct_numbers = numbers
    incident.save(update_fields=["contact_mode", "direct_numbers"])
    listed = "; ".join(f"{n['label']}: {n['phone']}" for n in numbers) or "no numbers on file"
    timeline_write(
        incident=incident,
        kind=TimelineKind.CALL_DIRECTLY,
        message=f"{team.name} is called directly, not paged. Call: {listed}",
        actor=actor,
        via=via,
        data={"numbers": numbers},
    )


def start_paging(
    incident: Incident,
    tracks: list[engine.Track],
    actor: User | None,
    *,
    generation: int | None = None,
) -> None:
    now = timezone.now()
    states = engine.escalation_start(
        incident=incident, tracks=tracks, at=now, generation=generation
    )
    if not states:
        timeline_write(
            incident=incident,
            kind=TimelineKind.ESCALATION,
            message="No escalation policy or rotation to page: nobody will be paged",
            actor=actor,
            data={"warning": "no tracks"},
        )
    for state in states:
        timeline_write(
            incident=incident,
            kind=TimelineKind.ESCALATION,
            message=f"Escalation started on track {state.track}: {state.policy_snapshot.name}",
            actor=actor,
            data={"track": state.track, "state_id": state.pk, "policy": state.policy_snapshot.name},
        )


def incident_declare(
    *,
    title: str,
    actor: User | None,
    severity: str = Severity.SEV2,
    team: Team | None = None,
    description: str = "",
    body: str = "",
    escalation_policy: EscalationPolicy | None = None,
    source: str = Source.MANUAL,
    via: str = Via.DASHBOARD,
    dedup_key: str = "",
    ticket: str = "",
    requester_name: str = "",
    requester_phone: str = "",
    bridge: str = "",
    commander: User | None = None,
    five_ws: dict[str, str] | None = None,
    service: str = "",
    category: str = Category.OTHER,
) -> Incident:
    """Open an incident and start paging (or record "call directly" for such teams)."""
    now = timezone.now()
    try:
        ticket = ticket_clean(ticket)
    except ValidationError as error:
        raise ValidationError({"ticket": error}) from None
    try:
        service = service_clean(service)
    except ValidationError as error:
        raise ValidationError({"service": error}) from None
    with transaction.atomic():
        incident = Incident(
            title=title,
            description=description,
            body=body,
            severity=severity,
            source=source,
            team=team,
            escalation_policy=escalation_policy,
            dedup_key=dedup_key,
            ticket=ticket,
            requester_name=requester_name,
            requester_phone=requester_phone,
            bridge=bridge,
            commander=commander,
            service=service,
            declared_by=actor,
            triggered_at=now,
            category=category,
            **(five_ws or {}),
        )
        # The people and policy are rows the caller holds: no query to prove they exist. An
        # integration's incident is outside the per-team dedup constraint (its alert group
        # keys it), so its team needs no query either.
        held = ["escalation_policy", "commander", "declared_by"]
        incident.rung = support.initial_rung(incident)
        incident.full_clean(exclude=[*held, "team"] if source == Source.INTEGRATION else held)
        if (
            escalation_policy is not None
            and team is not None
            and escalation_policy.team_id != team.pk
        ):
            raise ValidationError({"escalation_policy": "The policy belongs to another team."})
        incident.save()
        kind = TimelineKind.ENGAGED if source == Source.ENGAGE else TimelineKind.DECLARED
        timeline_write(
            incident=incident,
            kind=kind,
            message=f"{incident.number} declared ({incident.severity}): {title}",
            actor=actor,
            via=via,
            data={"severity": severity, "team": team.slug if team else None, "source": source},
        )
        support.support_channel_announce(incident=incident)
        if team is not None and team.contact_mode == TeamContactMode.CALL:
            _call_directly(incident, team, actor, via)
        else:
            if source == Source.ENGAGE and team is not None:
                tracks = engine.tracks_for_engage(team=team, at=now)
            else:
                tracks = engine.tracks_for_incident(
                    incident=incident, severity_policy=severity_policy(severity), at=now
                )
            start_paging(incident, tracks, actor, generation=1)  # a new incident has none yet
        ladder_start(incident=incident)
        incident_target_refresh(incident=incident)
        if incident.category == Category.SECURITY:
            from incidents.services.security import notify_security_owner

            notify_security_owner(incident=incident)
    return incident


# A create that loses the race for a new key re-reads and records its repeat on the winner.
DEDUP_ATTEMPTS = 5
# The violation code of Incident's one_open_incident_per_dedup_key constraint.
DEDUP_CLASH = "dedup_key_in_use"


class DedupKeyInUse(IncidentError):
    code = DEDUP_CLASH


def open_with_key(*, team_id: int, dedup_key: str) -> QuerySet[Incident]:
    return Incident.objects.filter(
        team_id=team_id, dedup_key=dedup_key, status__in=(Status.TRIGGERED, Status.ACKNOWLEDGED)
    )


def _is_key_clash(error: ValidationError) -> bool:
    errors = error.error_dict.get(NON_FIELD_ERRORS, []) if hasattr(error, "error_dict") else []
    return any(e.code == DEDUP_CLASH for e in errors)


def incident_declare_or_repeat(
    *,
    title: str,
    team: Team,
    dedup_key: str,
    actor: User | None,
    severity: str = Severity.SEV2,
    source: str = Source.API,
    via: str = Via.API,
    **declare: Any,
) -> tuple[Incident, bool]:
    """Declare, unless an open incident of the team already has `dedup_key`: then the
    trigger is recorded on that incident's timeline and nobody is paged again.

    Returns (incident, created). Race-safe: the one_open_incident_per_dedup_key constraint
    lets one of several simultaneous declares win; the others record their repeat on it.
    """

    def declare_now() -> Incident:
        return incident_declare(
            title=title,
            team=team,
            dedup_key=dedup_key,
            actor=actor,
            severity=severity,
            source=source,
            via=via,
            **declare,
        )

    if not dedup_key:
        return declare_now(), True
    for _ in range(DEDUP_ATTEMPTS):
        with transaction.atomic():
            incident = (
                open_with_key(team_id=team.pk, dedup_key=dedup_key)
                .select_for_update(of=("self",))
                .order_by("pk")
                .first()
            )
            if incident is not None:
                timeline_write(
                    incident=incident,
                    kind=TimelineKind.ALERT,
                    message=f"Triggered again: {title}",
                    actor=actor,
                    via=via,
                    data={
                        "event_action": "trigger",
                        "dedup_key": dedup_key,
                        "title": title,
                        "severity": severity,
                    },
                )
                return incident, False
        try:
            incident = declare_now()
        except ValidationError as error:  # the winner committed before our full_clean
            if not _is_key_clash(error):
                raise
        except IntegrityError:  # the winner's insert raced ours (and has committed since)
            if not open_with_key(team_id=team.pk, dedup_key=dedup_key).exists():
                raise
        else:
            return incident, True
    raise DedupKeyInUse(f"The dedup key {dedup_key!r} is being claimed right now; try again.")


def engage_description(*, ticket: str, requester_name: str, requester_phone: str) -> str:
    """Handbook 000's format: 'Need immediate help with CSD-123 - Call John at 555-123-4567'."""
    return f"Need immediate help with {ticket} - Call {requester_name} at {requester_phone}"


def incident_engage(
    *,
    team: Team,
    ticket: str,
    requester_name: str,
    requester_phone: str,
    bridge: str,
    actor: User | None,
    severity: str = Severity.SEV1,
    via: str = Via.DASHBOARD,
) -> Incident:
    """Engage development: ONE incident, the veteran walk and the new tier on the same text.

    Its rules (a ticket key, a name, a number to call back) hold at every door."""
    errors: dict[str, Any] = {}
    for name, value in (("ticket", ticket), ("requester_name", requester_name)):
        if not value.strip():
            errors[name] = ValidationError(
                "This field is required to engage development.", code="required"
            )
    try:
        ticket = ticket_clean(ticket)
    except ValidationError as error:
        errors.setdefault("ticket", error)
    try:
        requester_phone = callback_phone_clean(requester_phone)
    except ValidationError as error:
        errors["requester_phone"] = error
    if errors:
        raise ValidationError(errors)
    requester_name = requester_name.strip()
    description = engage_description(
        ticket=ticket, requester_name=requester_name, requester_phone=requester_phone
    )
    return incident_declare(
        title=description,
        description=description,
        body=f"Bridge: {bridge}" if bridge else "",
        actor=actor,
        severity=severity,
        team=team,
        source=Source.ENGAGE,
        via=via,
        ticket=ticket,
        requester_name=requester_name,
        requester_phone=requester_phone,
        bridge=bridge,
    )


def incident_record_call(
    *, incident: Incident, number: str, outcome: str, actor: User | None, via: str = Via.DASHBOARD
) -> Incident:
    """Support dialled a number of a call-directly team; the call goes on the timeline."""
    if not number.strip():
        raise ValidationError({"number": "Which number was called?"})
    with transaction.atomic():
        incident = locked(incident)
        label = next((n["label"] for n in incident.direct_numbers if n["phone"] == number), "")
        timeline_write(
            incident=incident,
            kind=TimelineKind.CALL,
            message=f"Called {label or number} ({number}): {outcome}",
            actor=actor,
            via=via,
            data={"number": number, "label": label, "outcome": outcome},
        )
    return incident
