"""The weekly review's version token, moved by every write to what the review shows.

The review's viewer-independent content (the week's incident figures and listed incidents,
the postmortems to review with their checklists, action items opened and closed, and, for a
past week, the overdue lists) is kept between views while this token stays
(`postmortems.review`, and the page's cached fragments). Signals move it, in the writer's
transaction, on each save and delete of an incident, team, person (not a login), postmortem,
section or action item; the playbooks app connects its entries (the "proposed entries"
counts) the same way; writes that skip signals (`bulk_create`, `bulk_update`, queryset
`update`) call `touch_review()` themselves. A new random token, not a counter (as
`rotations.stamp`): a rolled-back write leaves the old token, which still names the old
contents.

Not part of it (read live on every view): the review meeting, council decisions (filtered by
who looks), the insights headline, and the current week's overdue lists (they move with the
clock).
"""

import secrets
from typing import Any

from django.db.models import Model
from django.db.models.signals import post_delete, post_save

from incidents.models import Incident
from oncall.models import User
from postmortems.models import ActionItem, Postmortem, PostmortemSection
from rotations.models import ConfigVersion, Team

REVIEW = "review"
# A save that changes only these does not change what the review shows.
UNSHOWN_FIELDS: dict[type[Model], frozenset[str]] = {
    User: frozenset({"last_login", "password"}),
    Incident: frozenset({"next_target_at", "rung", "rung_at", "last_status_update_at"}),
}
REVIEW_MODELS: tuple[type[Model], ...] = (
    Incident,
    Team,
    User,
    Postmortem,
    PostmortemSection,
    ActionItem,
)


def review_token() -> str | None:
    """The current token (one primary-key read), or None when there is no row yet (nothing
    is kept then)."""
    return ConfigVersion.objects.filter(name=REVIEW).values_list("token", flat=True).first()


def touch_review() -> None:
    """Move the token, in the caller's transaction."""
    token = secrets.token_hex(16)
    if not ConfigVersion.objects.filter(name=REVIEW).update(token=token):
        ConfigVersion.objects.update_or_create(name=REVIEW, defaults={"token": token})


def _moved(sender: type[Model], update_fields: frozenset[str] | None = None, **_: Any) -> None:
    unshown = UNSHOWN_FIELDS.get(sender)
    if unshown and update_fields is not None and update_fields <= unshown:
        return
    touch_review()


def connect(*models: type[Model]) -> None:
    """Move the token on every save and delete of these models (the review's own by
    default; apps above postmortems pass theirs)."""
    for model in models or REVIEW_MODELS:
        uid = f"postmortems.stamp.{model._meta.label}"
        post_save.connect(_moved, sender=model, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(_moved, sender=model, dispatch_uid=f"{uid}.delete", weak=False)
