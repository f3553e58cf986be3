"""Writes of the weekly review meeting (one row per ISO week, named by its Monday).

Notes, decisions and attendees are saved only if the `version` the writer read is still the
saved one (else `MeetingConflict` with both texts, and nothing is written), as postmortems
are. Marking the meeting held (or not) is a separate service and leaves the version alone,
so someone ticking "held" never makes the note-taker's save stale. A meeting that was
never saved has version 0.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from oncall.models import User
from postmortems import rules
from postmortems.models import ReviewMeeting
from postmortems.services import NotAllowed, PostmortemConflict

NOT_ALLOWED = "Managers and Support managers write the review meeting."


class MeetingConflict(PostmortemConflict):
    """A save based on an older version of the meeting: nothing was written (409)."""

    def __init__(
        self, *, current_version: int, theirs: dict[str, Any], yours: dict[str, Any]
    ) -> None:
        super().__init__(current_version=current_version, theirs=theirs, yours=yours)
        self.args = (
            f"Someone else saved this meeting since you opened it (it is now version "
            f"{current_version}); nothing of yours was written. Compare both texts and save again.",
        )


def _locked_meeting(week: date) -> ReviewMeeting:
    """The week's meeting row, made if missing, locked for this transaction."""
    now = timezone.now()
    meeting = ReviewMeeting(week=week, created_at=now, updated_at=now)
    meeting.full_clean(validate_unique=False)
    ReviewMeeting.objects.get_or_create(week=week, defaults={"created_at": now, "updated_at": now})
    return ReviewMeeting.objects.select_for_update(of=("self",)).get(week=week)


def review_meeting_save(
    *,
    week: date,
    actor: User | None,
    version: int,
    notes: str | None = None,
    decisions: str | None = None,
    attendees: Sequence[User] | None = None,
) -> ReviewMeeting:
    """Save what the writer changed (None: unchanged) if `version` is still the saved one."""
    if not rules.review_meeting_can_edit(actor):
        raise NotAllowed(NOT_ALLOWED)
    with transaction.atomic():
        meeting = _locked_meeting(week)
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, value in (("notes", notes), ("decisions", decisions)):
            if value is not None and value != getattr(meeting, name):
                before[name], after[name] = getattr(meeting, name), value
        saved_ids = sorted(meeting.attendees.values_list("pk", flat=True))
        if attendees is not None and sorted({u.pk for u in attendees}) != saved_ids:
            before["attendees"], after["attendees"] = saved_ids, sorted({u.pk for u in attendees})
        if version != meeting.version:
            raise MeetingConflict(
                current_version=meeting.version,
                theirs={name: before[name] for name in after},
                yours=after,
            )
        if not after:
            return meeting
        for name in ("notes", "decisions"):
            if name in after:
                setattr(meeting, name, after[name])
        meeting.version += 1
        meeting.updated_at = timezone.now()
        meeting.full_clean(validate_unique=False)
        meeting.save(update_fields=["notes", "decisions", "version", "updated_at"])
        if "attendees" in after:
            assert attendees is not None
            meeting.attendees.set(attendees)
    return meeting


def review_meeting_mark_held(*, week: date, actor: User | None, held: bool) -> ReviewMeeting:
    """Record that the meeting was held (who, now), or take that back."""
    if not rules.review_meeting_can_edit(actor):
        raise NotAllowed(NOT_ALLOWED)
    with transaction.atomic():
        meeting = _locked_meeting(week)
        if held == (meeting.held_at is not None):
            return meeting
        meeting.held_at = timezone.now() if held else None
        meeting.held_by = actor if held else None
        meeting.updated_at = timezone.now()
        meeting.full_clean(validate_unique=False)
        meeting.save(update_fields=["held_at", "held_by", "updated_at"])
    return meeting
