"""Every write of playbooks: entries (managers, support managers) and attempts, which write
a `playbook` row on the incident's timeline (the ladder reads those: "the playbook was
tried" when it escalates to the on-call engineer)."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, TimelineKind, Via
from incidents.timeline import timeline_write
from incidents.triage import service_clean
from oncall.models import User
from playbooks.models import Outcome, PlaybookAttempt, PlaybookEntry
from playbooks.rules import may_edit_playbooks, may_record_attempts

ENTRY_FIELDS = ("team", "service", "title", "applies_when", "steps", "postmortem", "is_active")


def _service(value: str) -> str:
    try:
        return service_clean(value)
    except ValidationError as error:
        raise ValidationError({"service": error.messages}) from None


def playbook_entry_create(*, actor: User, **fields: Any) -> PlaybookEntry:
    """A new entry (team, title, applies_when, steps; optional service, postmortem)."""
    if not may_edit_playbooks(actor):
        raise PermissionDenied("Only managers and support managers write playbook entries.")
    unknown = set(fields) - set(ENTRY_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a playbook entry field." for name in unknown})
    fields["service"] = _service(fields.get("service", ""))
    entry = PlaybookEntry(created_by=actor, **fields)
    entry.full_clean()
    entry.save()
    return entry


def playbook_entry_update(*, entry: PlaybookEntry, actor: User, **changes: Any) -> PlaybookEntry:
    """Change the fields given; the rest stay."""
    if not may_edit_playbooks(actor):
        raise PermissionDenied("Only managers and support managers change playbook entries.")
    unknown = set(changes) - set(ENTRY_FIELDS)
    if unknown:
        raise ValidationError({name: "Not a playbook entry field." for name in unknown})
    if "service" in changes:
        changes["service"] = _service(changes["service"])
    with transaction.atomic():
        entry = PlaybookEntry.objects.select_for_update().get(pk=entry.pk)
        for name, value in changes.items():
            setattr(entry, name, value)
        entry.full_clean()
        entry.save(update_fields=[*changes, "updated_at"])
    return entry


def playbook_attempt_record(
    *,
    incident: Incident,
    entry: PlaybookEntry,
    actor: User,
    steps_tried: list[int],
    outcome: str,
    note: str = "",
    via: str = Via.DASHBOARD,
) -> PlaybookAttempt:
    """Record which of the entry's steps were tried on the incident and what came of it; a
    `playbook` timeline row says so (data: entry, steps, outcome)."""
    if not may_record_attempts(actor):
        raise PermissionDenied("Sign in to record a playbook attempt.")
    steps = entry.step_list()
    errors: dict[str, str] = {}
    numbers = sorted(set(steps_tried))
    if not numbers:
        errors["steps_tried"] = "Tick the steps you tried."
    elif any(not isinstance(n, int) or isinstance(n, bool) for n in numbers):
        errors["steps_tried"] = "Give step numbers."
    elif numbers[0] < 1 or numbers[-1] > max(len(steps), 1):
        errors["steps_tried"] = f"This entry has steps 1 to {max(len(steps), 1)}."
    if outcome not in Outcome.values:
        errors["outcome"] = f"One of: {', '.join(Outcome.values)}."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        attempt = PlaybookAttempt(
            incident=incident,
            entry=entry,
            entry_title=entry.title,
            steps_tried=numbers,
            outcome=outcome,
            note=note.strip(),
            actor=actor,
            at=timezone.now(),
        )
        attempt.full_clean()
        attempt.save()
        listed = ", ".join(str(n) for n in numbers)
        timeline_write(
            incident=incident,
            kind=TimelineKind.PLAYBOOK,
            message=f"Playbook “{entry.title}” tried (step{'s' if len(numbers) > 1 else ''} "
            f"{listed}): {attempt.get_outcome_display().lower()}"
            + (f". {attempt.note}" if attempt.note else ""),
            actor=actor,
            via=via,
            data={
                "attempt_id": attempt.pk,
                "entry_id": entry.pk,
                "steps": numbers,
                "outcome": outcome,
            },
            at=attempt.at,
        )
    return attempt
