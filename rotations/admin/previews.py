"""Read-only previews on the admin pages: next shifts, coverage gaps, a policy's dry run.

Everything is rendered with format_html/format_html_join, so names and reasons are escaped.
Previews read the saved rows, never the form's instance, which may hold rejected input.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from oncall.words import duration_words
from rotations import resolver
from rotations.escalation import PlannedPage, policy_plan
from rotations.models import EscalationPolicy, Rotation
from rotations.selectors import (
    rotation_gaps,
    rotation_shifts,
    rotation_spec,
    rotations_with_members,
)

SHIFTS_SHOWN = 8
GAP_HORIZON = timedelta(weeks=4)
GAPS_SHOWN = 40
# A stored row that slipped past validation must not take the page down with it.
BAD_DATA = (ValueError, zoneinfo.ZoneInfoNotFoundError)


def utc_text(at: datetime) -> str:
    return f"{at.astimezone(UTC):%a %Y-%m-%d %H:%M} UTC"


def local_text(at: datetime, tz: zoneinfo.ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _saved_rotation(rotation: Rotation) -> Rotation | None:
    if rotation.pk is None:
        return None
    return rotations_with_members(Rotation.objects.filter(pk=rotation.pk)).first()


def _unavailable(error: Exception) -> SafeString:
    return format_html('<p class="errornote">Preview unavailable: {}</p>', error)


def next_shifts(rotation: Rotation, now: datetime) -> SafeString:
    """The next shifts (overrides applied) with their times in UTC and the rotation's zone."""
    saved = _saved_rotation(rotation)
    if saved is None:
        return format_html("<p>{}</p>", "Save the rotation to see its shifts.")
    if not getattr(saved, "ordered_members", None):
        return format_html("<p>{}</p>", "Nobody is in this rotation yet: add members.")
    try:
        tz = saved.tzinfo
        first_handoff = resolver.shift_boundary(rotation_spec(saved), 0)
        end = max(now, first_handoff) + saved.shift_length * (SHIFTS_SHOWN + 1)
        shifts = rotation_shifts(rotation=saved, start=now, end=end)[:SHIFTS_SHOWN]
    except BAD_DATA as error:
        return _unavailable(error)
    rows = format_html_join(
        "\n",
        '<tr><td>{}</td><td class="who">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
        "<td>{}</td></tr>",
        (
            (
                number,
                shift.user,
                utc_text(shift.start),
                local_text(shift.start, tz),
                utc_text(shift.end),
                local_text(shift.end, tz),
                "override" if shift.override else "",
            )
            for number, shift in enumerate(shifts, start=1)
        ),
    )
    return format_html(
        '<table id="next-shifts"><thead><tr><th>#</th><th>Who</th><th>From (UTC)</th>'
        "<th>From ({})</th><th>Until (UTC)</th><th>Until ({})</th><th></th></tr></thead>"
        "<tbody>{}</tbody></table>",
        saved.timezone,
        saved.timezone,
        rows,
    )


def coverage_gaps(rotation: Rotation, now: datetime) -> SafeString:
    """Stretches of the next four weeks when nobody would be paged."""
    saved = _saved_rotation(rotation)
    if saved is None:
        return format_html("<p>{}</p>", "Save the rotation to see its coverage.")
    try:
        tz = saved.tzinfo
        gaps = rotation_gaps(rotation=saved, start=now, end=now + GAP_HORIZON)
    except BAD_DATA as error:
        return _unavailable(error)
    if not gaps:
        return format_html("<p>{}</p>", "No gaps in the next 4 weeks.")
    items = format_html_join(
        "\n",
        "<li>{} ({}) until {} ({}): {}</li>",
        (
            (
                utc_text(start),
                local_text(start, tz),
                utc_text(end),
                local_text(end, tz),
                duration_words(end - start),
            )
            for start, end in gaps[:GAPS_SHOWN]
        ),
    )
    more = len(gaps) - GAPS_SHOWN
    return format_html(
        "<p>Nobody is on call in {} stretch{} of the next 4 weeks (covered: {}).</p>"
        '<ul id="coverage-gaps">{}</ul>{}',
        len(gaps),
        "" if len(gaps) == 1 else "es",
        saved.working_hours_display(),
        items,
        format_html("<p>… and {} more.</p>", more) if more > 0 else "",
    )


def offset_text(offset: timedelta) -> str:
    minutes, seconds = divmod(int(offset.total_seconds()), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def _page_row(page: PlannedPage, now: datetime) -> tuple[object, ...]:
    who = page.user if page.user is not None else "nobody"
    repeat = f", repeat {page.repeat}" if page.repeat else ""
    css = "" if page.user is not None else ' class="errornote"'
    return (
        SafeString(css),
        offset_text(page.offset),
        who,
        page.reason,
        f"step {page.step}{repeat}",
        utc_text(now + page.offset),
    )


def dry_run(policy: EscalationPolicy, now: datetime) -> SafeString:
    """Who the saved policy pages at which minute from `now` if nobody acknowledges."""
    if policy.pk is None:
        return format_html("<p>{}</p>", "Save the policy to see its dry run.")
    saved = EscalationPolicy.objects.select_related("team").filter(pk=policy.pk).first()
    if saved is None:
        return format_html("<p>{}</p>", "This policy no longer exists.")
    try:
        plan = policy_plan(policy=saved, at=now)
    except BAD_DATA as error:
        return _unavailable(error)
    if not plan:
        return format_html("<p>{}</p>", "This policy pages nobody: add steps.")
    items = format_html_join(
        "\n",
        "<li{}><strong>{}</strong> {} — {} · {} · {}</li>",
        (_page_row(page, now) for page in plan),
    )
    return format_html(
        '<p>If nobody acknowledges an incident declared at {}:</p><ol id="dry-run">{}</ol>',
        utc_text(now),
        items,
    )
