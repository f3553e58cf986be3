"""Domain errors, the one place an incident's status changes, the incident row lock and the
severity policy lookup: what every incident service shares."""

from django.db.models import QuerySet

from incidents.models import TRANSITIONS, Incident, SeverityPolicy, Status
from oncall.memo import memoized


class IncidentError(Exception):
    """A domain error of the incidents app (the API maps it to a 4xx)."""

    code = "incident_error"


class IllegalTransition(IncidentError):
    code = "illegal_transition"


class TriageIncomplete(IncidentError):
    code = "triage_incomplete"


def incident_transition(*, incident: Incident, to: Status) -> None:
    """Set the status if the map allows it (the caller holds the row lock and saves)."""
    if to not in TRANSITIONS[incident.status]:
        raise IllegalTransition(
            f"{incident.number} is {incident.get_status_display().lower()}; "
            f"it cannot become {Status(to).label.lower()}"
        )
    incident.status = to


def locked(incident: Incident) -> Incident:
    """The incident re-read under its row lock (lock order: incident, then its states)."""
    queryset: QuerySet[Incident] = Incident.objects.select_for_update()
    return queryset.get(pk=incident.pk)


def severity_policy(level: str) -> SeverityPolicy | None:
    return memoized(
        ("severity_policy", level),
        lambda: (
            SeverityPolicy.objects.filter(level=level).select_related("escalation_policy").first()
        ),
    )
