"""The weekly review's version token, moved by every write to what the review shows.

The review's viewer-independent content (the week's incident figures and listed incidents,
the postmortems to review with their checklists, action items opened and closed, and, for a
past week, the overdue lists) is kept between views while this token stays
(`postmortems.review`, and the page's cached fragments). Signals move it, in the writer's
transaction, on each save and delete of an incident, team, person (not a login), postmortem,
section or action item; the playbooks app connects its entries (the "proposed entries"
counts) the same way; writes that skip signals (`bulk_create`, `bulk_update`, queryset
`update`) call `touch_review()` themselves.

The token is not one row every writer updates (as `rotations.stamp` does for the rarely
written duty configuration): incidents are written all the time, by the engine, ingestion
and people acknowledging at once, and one shared row would queue every incident write behind
the others' commits (and deadlock two that lock incidents in different orders). Instead each
write inserts a `ReviewWrite` row, in its own transaction, and the token is the newest id with
the number of rows:
- a write counts when it commits, not before: a rolled-back write leaves nothing, and an
  uncommitted one is not seen by the reader that computes the contents;
- a write that commits after a later one (a smaller id) still changes the count;
- old rows are pruned by a write (every PRUNE_EVERY-th id), in its transaction, so a prune
  always comes with a new newest id: the pair never returns to an earlier value.

Not part of it (read live on every view): the review meeting, council decisions (filtered by
who looks), the insights headline, and the current week's overdue lists (they move with the
clock).
"""

from typing import Any

from django.db.models import Count, Max, Model
from django.db.models.signals import post_delete, post_save

from incidents.models import Incident
from oncall.models import User
from postmortems.models import ActionItem, Postmortem, PostmortemSection, ReviewWrite
from rotations.models import Team

PRUNE_EVERY = 500  # a write whose id is a multiple of this deletes the rows before KEEP
KEEP = 100
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
    """The current token (one query over a table of at most a few hundred rows), or None
    when nothing was written yet (nothing is kept then)."""
    row = ReviewWrite.objects.aggregate(last=Max("id"), rows=Count("id"))
    if row["last"] is None:
        return None
    return f"{row['last']}.{row['rows']}"


def touch_review() -> None:
    """Move the token when the caller's transaction commits (an insert: it waits on no other
    writer)."""
    write = ReviewWrite.objects.create()
    if write.pk % PRUNE_EVERY == 0:
        ReviewWrite.objects.filter(id__lt=write.pk - KEEP).delete()


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
