"""Who may page whom: support roles never page a named engineer (handbook 000: "the 2nd
level is pulled in by the on-call, never directly"). Every door that pages a named person
(reassign to a person, add a responder) asks `refuse_direct_page` first."""

from django.contrib.auth.models import Group

from incidents.services.lifecycle import IncidentError
from oncall.models import User
from oncall.roles import SUPPORT, SUPPORT_MANAGER, user_roles

SUPPORT_ROLES = frozenset({SUPPORT, SUPPORT_MANAGER})


class NotAllowed(IncidentError):
    """The person's role may not do this (the API's 403, the portal's 403)."""

    code = "not_allowed"


def is_support_only(user: User | None) -> bool:
    """Support or Support manager without an engineering role (Engineer, Manager)."""
    if user is None:
        return False  # the system or an integration
    roles = user_roles(user)
    return bool(roles & SUPPORT_ROLES) and not roles - SUPPORT_ROLES


def refuse_direct_page(*, actor: User | None, user: User | None) -> None:
    if user is not None and is_support_only(actor):
        raise NotAllowed(
            "Support cannot page an individual engineer directly: use Escalate, and the "
            "on-call engineer pulls in whoever else is needed."
        )


def group_members(name: str) -> list[User]:
    """The active members of the group named `name`, oldest account first."""
    group = Group.objects.filter(name=name).first()
    if group is None:
        return []
    return list(User.objects.filter(groups=group, is_active=True).order_by("pk"))
