"""The weekly review's version tokens, one per part, moved by every write to what it shows.

The review's viewer-independent content is kept between views while its part's token stays
(`postmortems.review`, and the page's cached fragments). The parts depend on different rows,
so a write moves only the tokens of the parts it changes (`Part`):
- INCIDENTS: the week's incident figures, the incidents listed, the week's insights
  headline (incidents, their teams, their page facts), per week: a write to an incident
  moves the token of the week it was triggered in (and of the week after, whose headline
  compares with it), so a past week stays kept while this week's incidents are worked; a
  full save of an existing incident (it may have been reopened: triggered again, in another
  week) moves every week's;
- POSTMORTEMS: the postmortems to review with their checklists, and, for a past week, the
  overdue postmortems (postmortems, their sections, their incidents' titles, severities and
  teams, the playbook entries they proposed);
- ITEMS: the action items opened and closed, and, for a past week, the overdue items.
A person's name or a team's shows in several parts: their writes move every token. An
incident write that names its fields (`save(update_fields=…)`, as the engine's and the
services' are) and changes none the postmortems show (`POSTMORTEM_SHOWN`) moves INCIDENTS
alone: an acknowledgement, an escalation or a page recomputes the figures, not the rest.

Signals move the tokens, in the writer's transaction, on each save and delete of an
incident, team, person (not a save of fields the review does not show: a login, the SSO's
staff flag, a team's policies), postmortem, section or action item; the playbooks app
connects its entries the same way; `incidents.pagefacts` sends `page_facts_written`; writes
that skip signals (`bulk_create`, `bulk_update`, queryset `update`) call `touch_review()`
themselves.

A token is not one row every writer updates (as `rotations.stamp` does for the rarely
written duty configuration): incidents are written all the time, by the engine, ingestion
and people acknowledging at once, and one shared row would queue every incident write behind
the others' commits (and deadlock two that lock incidents in different orders). Instead each
write inserts a `ReviewWrite` row naming its parts, in its own transaction, and a part's
token is the newest id among the rows naming it, with the number of writes they stand for:
- a write counts when it commits, not before: a rolled-back write leaves nothing, and an
  uncommitted one is not seen by the reader that computes the contents;
- a write that commits after a later one (a smaller id) still changes the count;
- old rows are folded by a write (every PRUNE_EVERY-th id), in its transaction: the rows
  before the newest KEEP are replaced by one row per (parts, week) that keeps the newest id
  among them and their number (`weight`). Every token, of every part and week, is the same
  after a fold as before it: what the review keeps outlives the fold, and no token ever
  returns to an earlier value (a token only moves when a write commits).

Not part of it (read live on every view): the review meeting and council decisions (filtered
by who looks). The current week's overdue lists move with the clock too: `postmortems.review`
keeps them only until the next due time passes and the company's day ends.
"""

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max, Model, Q, Sum
from django.db.models.signals import post_delete, post_save

from incidents.models import Incident
from incidents.pagefacts import page_facts_written
from oncall.models import User
from postmortems.models import ActionItem, Postmortem, PostmortemSection, ReviewWrite
from rotations.models import Team

if TYPE_CHECKING:
    from postmortems.review import IsoWeek


class Part(enum.IntFlag):
    INCIDENTS = 1
    POSTMORTEMS = 2
    ITEMS = 4
    ALL = 7


PRUNE_EVERY = 500  # a write whose id is a multiple of this folds the rows before KEEP
KEEP = 100
# A save that changes only these does not change what the review shows.
UNSHOWN_FIELDS: dict[type[Model], frozenset[str]] = {
    Incident: frozenset({"next_target_at", "rung", "rung_at", "last_status_update_at"}),
}
# Of these, the review shows only names: a save naming none of these fields (a login, a
# password, the SSO's staff flag, a team's policies) moves nothing.
SHOWN_FIELDS: dict[type[Model], frozenset[str]] = {
    User: frozenset({"username", "first_name", "last_name", "display_name"}),
    Team: frozenset({"slug", "name"}),
}
# An incident's fields the POSTMORTEMS part shows (its listed postmortems' incidents).
POSTMORTEM_SHOWN = frozenset({"title", "severity", "team", "team_id"})
# The parts each model's rows show in (a person's or team's name shows in every part).
REVIEW_MODELS: dict[type[Model], Part] = {
    Incident: Part.INCIDENTS | Part.POSTMORTEMS,
    Team: Part.ALL,
    User: Part.ALL,
    Postmortem: Part.POSTMORTEMS,
    PostmortemSection: Part.POSTMORTEMS,
    ActionItem: Part.ITEMS,
}


@dataclass(frozen=True)
class ReviewTokens:
    """Each part's token (None when nothing was written to it yet: nothing is kept then)."""

    incidents: str | None
    postmortems: str | None
    items: str | None


def review_tokens(week: "IsoWeek | None" = None) -> ReviewTokens:
    """The current tokens, the incidents' for `week` (every week's when None): one query over
    a table of at most a few hundred rows."""
    weeks = Q()
    if week is not None:
        mondays = [week.monday] + ([previous.monday] if (previous := week.previous) else [])
        weeks = Q(week__isnull=True) | Q(week__in=mondays)
    aggregates: dict[str, Any] = {}
    for part in (Part.INCIDENTS, Part.POSTMORTEMS, Part.ITEMS):
        name = str(part.name).lower()
        names = Q(parts__in=[bits for bits in range(8) if bits & part])
        if part == Part.INCIDENTS:
            names &= weeks
        aggregates[f"{name}_last"] = Max("id", filter=names)
        aggregates[f"{name}_rows"] = Sum("weight", filter=names)
    row = ReviewWrite.objects.aggregate(**aggregates)

    def token(name: str) -> str | None:
        last = row[f"{name}_last"]
        return None if last is None else f"{last}.{row[f'{name}_rows']}"

    return ReviewTokens(token("incidents"), token("postmortems"), token("items"))


def week_of(instant: datetime) -> date:
    """The Monday of the review week (in the company's zone) holding `instant`."""
    from postmortems.review import IsoWeek

    return IsoWeek.of(instant).monday


def touch_review(parts: Part = Part.ALL, weeks: Iterable[date] | None = None) -> None:
    """Move these parts' tokens when the caller's transaction commits, the incidents' for
    these weeks only (named by their Mondays; every week's when None). Inserts only: it
    waits on no other writer."""
    chosen = sorted(set(weeks)) if weeks is not None else [None]
    written = ReviewWrite.objects.bulk_create(
        [ReviewWrite(parts=int(parts), week=week) for week in chosen]
    )
    if any(write.pk % PRUNE_EVERY == 0 for write in written):
        _fold(before=max(write.pk for write in written) - KEEP)


def _fold(*, before: int) -> None:
    """Replace the committed rows with ids below `before` by one row per (parts, week),
    with the newest id among them and their total weight: every token stays as it was.

    The rows are locked and then deleted by id, so a row committing meanwhile (a smaller
    id, late) is neither deleted nor counted twice; a second folder at once waits, then
    finds the rows gone and folds only what is left (its rows keep their own newest ids,
    which no other row holds)."""
    with transaction.atomic():
        rows = list(
            ReviewWrite.objects.select_for_update()
            .filter(id__lt=before)
            .order_by("id")
            .values_list("id", "parts", "week", "weight")
        )
        if not rows:
            return
        folded: dict[tuple[int, date | None], tuple[int, int]] = {}
        for pk, parts, week, weight in rows:
            last, total = folded.get((parts, week), (0, 0))
            folded[parts, week] = (max(last, pk), total + weight)
        ReviewWrite.objects.filter(id__in=[row[0] for row in rows]).delete()
        ReviewWrite.objects.bulk_create(
            ReviewWrite(id=last, parts=parts, week=week, weight=total)
            for (parts, week), (last, total) in folded.items()
        )


def _moved(
    sender: type[Model],
    parts: Part,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    unshown = UNSHOWN_FIELDS.get(sender)
    if unshown and update_fields is not None and update_fields <= unshown:
        return
    shown = SHOWN_FIELDS.get(sender)
    if shown and update_fields is not None and not update_fields & shown:
        return
    if sender is not Incident:
        touch_review(parts)
        return
    if update_fields is not None and not update_fields & POSTMORTEM_SHOWN:
        parts = Part.INCIDENTS
    # Its week, unless a full save of an existing row may have moved it to another.
    deleted = "created" not in kwargs
    same_week = (
        deleted
        or kwargs["created"]
        or (update_fields is not None and "triggered_at" not in update_fields)
    )
    incident = kwargs["instance"]
    touch_review(parts, [week_of(incident.triggered_at)] if same_week else None)


def connect(*models: type[Model], parts: Part = Part.ALL) -> None:
    """Move the tokens on every save and delete of these models (the review's own by
    default, each with its parts; apps above postmortems pass theirs and the parts they
    show in)."""
    chosen = {model: parts for model in models} if models else REVIEW_MODELS
    for model, moves in chosen.items():
        uid = f"postmortems.stamp.{model._meta.label}"

        def moved(sender: type[Model], moves: Part = moves, **kwargs: Any) -> None:
            _moved(sender, moves, **kwargs)

        post_save.connect(moved, sender=model, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(moved, sender=model, dispatch_uid=f"{uid}.delete", weak=False)
    if not models:
        page_facts_written.connect(
            _page_facts_written, dispatch_uid="postmortems.stamp.page_facts", weak=False
        )


def _page_facts_written(triggered: dict[int, datetime], **_: Any) -> None:
    # The week's headline counts escalations and tiers.
    touch_review(Part.INCIDENTS, {week_of(at) for at in triggered.values()})
