"""Who may do what with playbooks (oncall.roles)."""

from typing import Any

from oncall.roles import MANAGER, SUPPORT_MANAGER, user_roles


def may_edit_playbooks(user: Any) -> bool:
    """Managers and support managers write and change entries (handbook 004's weekly review
    plans them; the support manager runs the desk)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user_roles(user) & {MANAGER, SUPPORT_MANAGER}
    )


def may_record_attempts(user: Any) -> bool:
    """Whoever may triage records what they tried: everyone signed in."""
    return bool(user is not None and user.is_authenticated and user.is_active)
