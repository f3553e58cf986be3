"""Triage (handbook 004's checklist): the 5Ws, evidence, the ticket, the service, the five
priority answers, and confirming a severity against the one they suggest.

The rules are in `incidents.triage` (pure); this module stores and records them.
"""

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.acks import TRIAGE_REMINDER
from incidents.models import FIVE_W_MAX, TEXT_MAX, Incident, Severity, TimelineKind, Via
from incidents.services.declare import ticket_clean
from incidents.services.lifecycle import locked
from incidents.services.steering import page_new_tier_if_raised
from incidents.services.targets import incident_target_refresh
from incidents.timeline import timeline_write
from incidents.triage import (
    ANSWER_NAMES,
    answers_clean,
    evidence_clean,
    service_clean,
    suggested_severity,
)
from notifications.services import notifications_cancel_pending
from oncall.models import User

FIVE_WS = ("who", "what", "where", "when", "how")


@dataclass(frozen=True)
class TriageResult:
    incident: Incident
    suggested_severity: str | None  # None until all five questions are answered
    confirmed: bool  # this call confirmed the triage


def _texts(values: dict[str, str | None]) -> dict[str, str]:
    """The 5Ws given (None: leave as stored), trimmed and within FIVE_W_MAX."""
    errors: dict[str, str] = {}
    given: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if not isinstance(value, str):
            errors[name] = "Give text."
        elif len(value.strip()) > FIVE_W_MAX:
            errors[name] = f"At most {FIVE_W_MAX} characters."
        else:
            given[name] = value.strip()
    if errors:
        raise ValidationError(errors)
    return given


def suggestion_for(answers: dict[str, int]) -> str | None:
    """The suggested severity once every question is answered; None before."""
    if all(name in answers for name in ANSWER_NAMES):
        return suggested_severity(answers)
    return None


def _clean(
    *,
    five_ws: dict[str, str | None],
    evidence: Any,
    ticket: str | None,
    service: str | None,
    answers: Any,
    confirming: bool,
) -> dict[str, Any]:
    """Every field given, checked; one ValidationError naming all the bad ones."""
    errors: dict[str, Any] = {}
    changes: dict[str, Any] = {}
    try:
        changes.update(_texts(five_ws))
    except ValidationError as error:
        errors.update(error.message_dict)
    if evidence is not None:
        try:
            changes["evidence"] = evidence_clean(evidence)
        except ValidationError as error:
            errors.update(error.message_dict)
    if ticket is not None:
        try:
            changes["ticket"] = ticket_clean(ticket)
        except ValidationError as error:
            errors["ticket"] = error.messages
    if service is not None:
        try:
            changes["service"] = service_clean(service)
        except ValidationError as error:
            errors["service"] = error.messages
    if answers is not None or confirming:
        try:
            changes["triage_answers"] = answers_clean(answers, required=confirming)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return changes


def incident_triage(
    *,
    incident: Incident,
    actor: User | None,
    via: str = Via.DASHBOARD,
    who: str | None = None,
    what: str | None = None,
    where: str | None = None,
    when: str | None = None,
    how: str | None = None,
    evidence: Any = None,
    ticket: str | None = None,
    service: str | None = None,
    answers: Any = None,
    severity: str = "",
    reason: str = "",
) -> TriageResult:
    """Save what triage has gathered (None leaves a field as it is) and, with `severity`,
    confirm the triage.

    Confirming needs the 5Ws and all five answers; a severity other than the suggested one
    needs a `reason`, stored and written on the timeline. Without `severity` the fields are
    saved (a "details" timeline row names what changed) and the suggestion is returned.
    """
    confirming = bool(severity)
    if confirming and severity not in Severity.values:
        raise ValidationError({"severity": f"{severity} is not a severity (SEV0–SEV3)."})
    if len(reason) > TEXT_MAX:
        raise ValidationError({"reason": f"At most {TEXT_MAX} characters."})
    five_ws = {"who": who, "what": what, "where": where, "when": when, "how": how}
    changes = _clean(
        five_ws=five_ws,
        evidence=evidence,
        ticket=ticket,
        service=service,
        answers=answers,
        confirming=confirming,
    )
    with transaction.atomic():
        incident = locked(incident)
        before = {name: getattr(incident, name) for name in changes}
        for name, value in changes.items():
            setattr(incident, name, value)
        answers_now: dict[str, int] = dict(incident.triage_answers or {})
        suggested = suggestion_for(answers_now)
        changed = [name for name in changes if before[name] != changes[name]]
        if not confirming:
            if changed:
                incident.full_clean()
                incident.save(update_fields=changed)
                timeline_write(
                    incident=incident,
                    kind=TimelineKind.DETAILS,
                    message="Triage notes saved: " + ", ".join(_label(n) for n in changed),
                    actor=actor,
                    via=via,
                    data={"changed": changed, "suggested_severity": suggested},
                )
            return TriageResult(incident, suggested, confirmed=False)
        missing = [name for name in FIVE_WS if not getattr(incident, name).strip()]
        if missing:
            raise ValidationError({name: f"Triage needs all 5Ws: say {name}." for name in missing})
        reason = reason.strip()
        if severity != suggested and not reason:
            raise ValidationError(
                {
                    "reason": f"The answers suggest {suggested}; say why it is {severity}.",
                }
            )
        previous = incident.severity
        incident.severity = severity
        incident.triage_reason = reason if severity != suggested else ""
        incident.triage_confirmed_at = timezone.now()
        incident.full_clean()
        incident.save(
            update_fields=[
                *dict.fromkeys([*changed, "severity", "triage_reason", "triage_confirmed_at"])
            ]
        )
        message = f"Triage confirmed: {severity}" + (
            f" (was {previous})" if previous != severity else ""
        )
        if severity != suggested:
            message += f"; the answers suggested {suggested}: {reason}"
        timeline_write(
            incident=incident,
            kind=TimelineKind.TRIAGE,
            message=message,
            actor=actor,
            via=via,
            data={
                "severity": severity,
                "previous": previous,
                "suggested_severity": suggested,
                "reason": incident.triage_reason,
                "answers": answers_now,
                "evidence": incident.evidence,
                "ticket": incident.ticket,
                "service": incident.service,
                **{name: getattr(incident, name) for name in FIVE_WS},
            },
        )
        notifications_cancel_pending(subject_type=TRIAGE_REMINDER, subject_id=incident.pk)
        page_new_tier_if_raised(incident=incident, previous=previous, actor=actor)
        incident_target_refresh(incident=incident)  # the severity may have moved the targets
    return TriageResult(incident, suggested, confirmed=True)


LABELS = {"triage_answers": "priority answers"}


def _label(name: str) -> str:
    return LABELS.get(name, name)
