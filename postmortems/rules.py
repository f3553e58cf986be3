"""Who may do what with a postmortem: one place, asked by the services (and later the pages
and the API to decide what to show). Everyone signed in reads every postmortem."""

from typing import Any

from oncall.roles import ENGINEER, MANAGER, SUPPORT, SUPPORT_MANAGER, is_manager, user_roles
from postmortems.models import ActionItem, Postmortem


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def postmortem_can_edit(user: Any, postmortem: Postmortem) -> bool:
    """Its owner, its incident's commander and Managers write a postmortem."""
    if not _active(user):
        return False
    return (
        is_manager(user)
        or user.pk == postmortem.owner_id
        or user.pk == postmortem.incident.commander_id
    )


def postmortem_can_submit(user: Any, postmortem: Postmortem) -> bool:
    """The owner submits for review (a Manager may do it for them)."""
    return _active(user) and (is_manager(user) or user.pk == postmortem.owner_id)


def declared_by_support(postmortem: Postmortem) -> bool:
    """The incident was declared by someone in a support role (and not an engineer's or
    manager's role as well)."""
    declarer = postmortem.incident.declared_by
    if declarer is None:
        return False
    roles = user_roles(declarer)
    return bool(roles & {SUPPORT, SUPPORT_MANAGER}) and not roles & {ENGINEER, MANAGER}


def postmortem_can_publish(user: Any, postmortem: Postmortem) -> bool:
    """A Manager publishes; so does the Support manager when support declared the incident."""
    if not _active(user):
        return False
    if is_manager(user):
        return True
    return SUPPORT_MANAGER in user_roles(user) and declared_by_support(postmortem)


def postmortem_can_reopen(user: Any, postmortem: Postmortem) -> bool:
    """A published postmortem goes back to review to be corrected by whoever may write it or
    publish it (it must then be published again)."""
    return postmortem_can_edit(user, postmortem) or postmortem_can_publish(user, postmortem)


def action_item_can_change(user: Any, item: ActionItem) -> bool:
    """Its owner moves an action item on; whoever may edit its postmortem changes it all."""
    if not _active(user):
        return False
    return user.pk == item.owner_id or postmortem_can_edit(user, item.postmortem)


def review_meeting_can_edit(user: Any) -> bool:
    """The weekly review meeting's attendees, notes, decisions and "held" are written by
    Managers (the engineering council runs the review) and Support managers (support's
    incidents are reviewed there too, and they publish those); everyone else reads them."""
    if not _active(user):
        return False
    return is_manager(user) or SUPPORT_MANAGER in user_roles(user)
