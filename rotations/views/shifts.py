"""Shifts overlapping a window, fetched whole so none is cut at the window's edges."""

from datetime import datetime, timedelta

from django.db.models import Max

from oncall.models import User
from rotations.models import Rotation
from rotations.selectors import ShiftView, rotation_shifts, user_shifts

# Whole-day shifts last an hour longer across a DST change: look back a bit more than one.
SLACK = timedelta(days=1)


def _unclipped(shifts: list[ShiftView], start: datetime, end: datetime) -> list[ShiftView]:
    """Shifts overlapping [start, end) from a wider fetch, so none is cut at the edges."""
    return [s for s in shifts if s.end > start and s.start < end]


def shifts_around(rotation: Rotation, start: datetime, end: datetime) -> list[ShiftView]:
    """A rotation's shifts overlapping [start, end), whole (stable starts and UIDs)."""
    margin = rotation.shift_length + SLACK
    shifts = rotation_shifts(rotation=rotation, start=start - margin, end=end + margin)
    return _unclipped(shifts, start, end)


def user_shifts_around(user: User, start: datetime, end: datetime) -> list[ShiftView]:
    """A person's shifts overlapping [start, end) across rotations, whole."""
    longest = Rotation.objects.filter(members__user=user).aggregate(longest=Max("shift_length"))
    margin = (longest["longest"] or timedelta(0)) + SLACK
    shifts = user_shifts(user=user, start=start - margin, end=end + margin)
    return _unclipped(shifts, start, end)
