"""The four role groups and what each may do.

Groups are created by a data migration (0002_role_groups). Their permissions are granted
after every migrate, because Django creates permissions only then and later apps add models.
Each app names what its models allow per role in its AppConfig as `role_permissions`:
{role: {model_name: ("view", "add", ...)}}, so this module never imports the apps above it.
"""

from collections.abc import Iterable
from typing import Any

from django.apps import apps as global_apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models import prefetch_related_objects
from django.utils.functional import LazyObject, empty

SUPPORT = "Support"
SUPPORT_MANAGER = "Support manager"
ENGINEER = "Engineer"
MANAGER = "Manager"
ROLES = (SUPPORT, SUPPORT_MANAGER, ENGINEER, MANAGER)
# Handbook 004's other distinctions are not permission roles: first and second tier are who
# is on duty in a support team's rotations (rotations.Tier.FIRST/SECOND), the engineering
# manager is a Manager (a team's escalation contact), and the engineering council is this
# group's membership (migration 0006), which grants no permissions.
ENGINEERING_COUNCIL = "Engineering council"

VIEW = ("view",)
EDIT = ("view", "add", "change", "delete")

# The core app's own models (OncallConfig.role_permissions).
CORE_ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # Managers may revoke anyone's API key in the admin (keys are created by their owners).
    MANAGER: {"user": ("view", "change"), "apikey": ("view", "change")},
    SUPPORT_MANAGER: {"user": VIEW},
    ENGINEER: {"user": VIEW},
    SUPPORT: {"user": VIEW},
}


def wanted_codenames(app_configs: Iterable[Any]) -> dict[str, set[tuple[str, str]]]:
    """Map each role to the (app_label, codename) pairs the apps declare for it."""
    wanted: dict[str, set[tuple[str, str]]] = {role: set() for role in ROLES}
    for config in app_configs:
        for role, models in getattr(config, "role_permissions", {}).items():
            for model_name, actions in models.items():
                wanted[role].update((config.label, f"{action}_{model_name}") for action in actions)
    return wanted


def grant_role_permissions(
    sender: Any = None, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    """Make each role group hold exactly the permissions the apps declare for it."""
    from django.contrib.auth.models import Group, Permission

    wanted = wanted_codenames(global_apps.get_app_configs())
    permissions = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.using(using).select_related("content_type")
    }
    for role, codenames in wanted.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set([permissions[c] for c in sorted(codenames) if c in permissions])


def group_names(user: Any) -> frozenset[str]:
    """The names of the user's groups, read once per user object: a page asks several rules
    about the same person. Kept in Django's prefetch cache, which `user.groups.add/remove/
    set/clear` empty, so a change made through the user is seen at once."""
    if not user.is_authenticated:
        return frozenset()
    target = user
    if isinstance(user, LazyObject):  # the request's user: prefetch onto the real instance
        target = user._wrapped if user._wrapped is not empty else user
    if "groups" not in getattr(target, "_prefetched_objects_cache", {}):
        prefetch_related_objects([target], "groups")
    return frozenset(g.name for g in target.groups.all())


def user_roles(user: Any) -> set[str]:
    """The role names a user holds (superusers hold all of them)."""
    if user.is_superuser:
        return set(ROLES)
    return set(group_names(user).intersection(ROLES))


def is_council_member(user: Any) -> bool:
    return bool(
        user.is_authenticated and (user.is_superuser or ENGINEERING_COUNCIL in group_names(user))
    )


def is_manager(user: Any) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or MANAGER in user_roles(user)))
