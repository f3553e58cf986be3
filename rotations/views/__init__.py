"""Rotation pages: who is on call, a rotation's shifts and overrides, my shifts, iCal feeds.

htmx style: one template per page with `{% partialdef %}` regions; an htmx request gets the
region, a plain request the page, and a plain POST redirects. Times are shown in the
viewer's timezone (UTC on hover).

- `board`: who is on call now and next, for every team.
- `team`: one team's page: on call now and next, its policies in words and their dry run.
- `rotation`: a rotation's page (coming shifts, gaps, overrides, its feed address).
- `overrides`: the cover and swap forms, and removing an override.
- `my_shifts`: the signed-in person's shifts and personal feed.
- `feeds`: the iCal feeds, whose token is the only credential.
- `links` and `shifts`: absolute and feed URLs; shifts fetched whole around a window.
"""

from rotations.views.board import OnCallRow, oncall
from rotations.views.feeds import person_feed, rotation_feed
from rotations.views.links import absolute_url, person_feed_url, rotation_feed_url, webcal_url
from rotations.views.my_shifts import (
    MY_SHIFTS_AHEAD,
    my_request_answer,
    my_shift_change,
    my_shifts,
    personal_feed_rotate,
)
from rotations.views.overrides import override_create, override_delete
from rotations.views.rotation import (
    COMING,
    COMING_SHIFTS,
    rotation_detail,
    rotation_feed_rotate,
)
from rotations.views.shifts import SLACK, shifts_around, user_shifts_around
from rotations.views.team import team_detail

__all__ = [
    "COMING",
    "COMING_SHIFTS",
    "MY_SHIFTS_AHEAD",
    "SLACK",
    "OnCallRow",
    "absolute_url",
    "my_request_answer",
    "my_shift_change",
    "my_shifts",
    "oncall",
    "override_create",
    "override_delete",
    "person_feed",
    "person_feed_url",
    "personal_feed_rotate",
    "rotation_detail",
    "rotation_feed",
    "rotation_feed_rotate",
    "rotation_feed_url",
    "shifts_around",
    "team_detail",
    "user_shifts_around",
    "webcal_url",
]
