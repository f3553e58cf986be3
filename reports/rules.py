"""Who may do what with an on-call report: one place, asked by the services, the pages and
the API. Everyone signed in reads every report."""

from typing import Any

from oncall.roles import is_manager
from reports.models import OnCallReport


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def report_can_edit(user: Any, report: OnCallReport) -> bool:
    """The person whose shift it is writes and submits it; a Manager may too."""
    return _active(user) and (is_manager(user) or user.pk == report.user_id)


def report_can_acknowledge(user: Any, report: OnCallReport, incoming_id: int | None) -> bool:
    """The incoming on-call says they got the handoff (a Manager may record it for them)."""
    return _active(user) and (
        is_manager(user) or (incoming_id is not None and user.pk == incoming_id)
    )
