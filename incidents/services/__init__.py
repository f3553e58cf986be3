"""Every write of the incidents app: one keyword-only function per use case."""

from incidents.services.actionable import (
    ActionableRefused,
    NotResolved,
    actionable_may_answer,
    incident_mark_actionable,
)
from incidents.services.declare import (
    engage_description,
    incident_declare,
    incident_engage,
    incident_record_call,
)
from incidents.services.details import incident_update
from incidents.services.lifecycle import (
    IllegalTransition,
    IncidentError,
    TriageIncomplete,
    incident_transition,
)
from incidents.services.steering import (
    incident_add_note,
    incident_set_commander,
    incident_set_severity,
)
from incidents.services.transitions import (
    AcknowledgeRefused,
    StalePage,
    incident_acknowledge,
    incident_escalate_now,
    incident_reassign,
    incident_reopen,
    incident_resolve,
)
from incidents.services.triage import TriageResult, incident_triage
from incidents.services.updates import (
    incident_post_status_update,
    incident_timers_sweep,
    incident_triage_confirm,
)

__all__ = [
    "AcknowledgeRefused",
    "ActionableRefused",
    "IllegalTransition",
    "IncidentError",
    "NotResolved",
    "StalePage",
    "TriageIncomplete",
    "TriageResult",
    "actionable_may_answer",
    "engage_description",
    "incident_acknowledge",
    "incident_add_note",
    "incident_declare",
    "incident_engage",
    "incident_escalate_now",
    "incident_mark_actionable",
    "incident_post_status_update",
    "incident_reassign",
    "incident_record_call",
    "incident_reopen",
    "incident_resolve",
    "incident_set_commander",
    "incident_set_severity",
    "incident_timers_sweep",
    "incident_transition",
    "incident_triage",
    "incident_triage_confirm",
    "incident_update",
]
