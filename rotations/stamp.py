"""The duty configuration's version token (`ConfigVersion`), moved by every write to it.

Signals move it on each save and delete of a team, direct number, rotation, member or person
(a person's name shows on the duty board; a login's `last_login` does not count); writes that
skip signals (`bulk_create`, queryset `update`) call `touch_duty_config()` themselves.
Overrides are not part of it: readers read the overrides of the moment on every poll.
"""

import secrets
from typing import Any

from django.db.models.signals import post_delete, post_save

from oncall.models import User
from rotations.models import ConfigVersion, DirectNumber, Rotation, RotationMember, Team

DUTY = "duty"
DUTY_MODELS = (Team, DirectNumber, Rotation, RotationMember, User)
# A person's save that changes only these does not change what the duty board shows.
UNSHOWN_USER_FIELDS = frozenset({"last_login", "password"})


def duty_config_token() -> str | None:
    """The current token (one primary-key read), or None when there is no row yet."""
    return ConfigVersion.objects.filter(name=DUTY).values_list("token", flat=True).first()


def touch_duty_config() -> None:
    """Move the token, in the caller's transaction."""
    token = secrets.token_hex(16)
    if not ConfigVersion.objects.filter(name=DUTY).update(token=token):
        ConfigVersion.objects.update_or_create(name=DUTY, defaults={"token": token})


def _moved(sender: type, update_fields: frozenset[str] | None = None, **_: Any) -> None:
    if sender is User and update_fields is not None and update_fields <= UNSHOWN_USER_FIELDS:
        return
    touch_duty_config()


def connect() -> None:
    for model in DUTY_MODELS:
        uid = f"rotations.stamp.{model._meta.label}"
        post_save.connect(_moved, sender=model, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(_moved, sender=model, dispatch_uid=f"{uid}.delete", weak=False)
