"""Template filters and tags of the postmortem pages: durations in words, and the weekly
review's repeated markup built once per row in Python (a row's dozens of template nodes
were most of the review's rendering)."""

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.timezone import localtime

from incidents.models import Severity
from oncall.words import duration_words

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """ "1 hour 30 minutes"; "—" when there is nothing to measure."""
    return "—" if value is None else duration_words(value)


@register.simple_tag
def severity_badges() -> dict[str, SafeString]:
    """{severity: its badge}, each rendered once from `incidents/severity.html` (the same
    markup as an include per row)."""
    return {
        severity: SafeString(render_to_string("incidents/severity.html", {"severity": severity}))
        for severity in Severity.values
    }


def _day(at: datetime) -> str:
    """Django's "D j M" ("Mon 9 Mar"), from its own translated names."""
    return f"{WEEKDAYS_ABBR[at.weekday()]} {at.day} {MONTHS_3[at.month].title()}"


def _date(day: date) -> str:
    """Django's "j M Y" ("9 Mar 2026"), from its own translated names."""
    return f"{day.day} {MONTHS_3[day.month].title()} {day.year}"


@register.filter
def when(at: datetime) -> SafeString:
    """`rotations/when.html`'s markup (the time in the viewer's zone, UTC in the title),
    built here: a list shows one per row, and the include (or the `date` filter's
    formatter) cost a third of a millisecond each."""
    in_utc = at.astimezone(UTC)
    local = localtime(at)
    return format_html(
        '<time datetime="{}Z" title="{} {}, {} UTC">{}, {} {}</time>',
        in_utc.strftime("%Y-%m-%dT%H:%M:%S"),
        _day(in_utc),
        in_utc.year,
        in_utc.strftime("%H:%M"),
        _day(local),
        local.strftime("%H:%M"),
        local.tzname() or "",
    )


@register.filter
def badge(badges: Mapping[str, SafeString], severity: str) -> SafeString:
    return badges[severity]


@register.simple_tag
def review_checklist(item: Any, proposed: Mapping[int, int]) -> SafeString:
    """The `<li>`s of a postmortem's handbook 004 checklist (`PostmortemToReview`), with the
    playbook entries it proposed (`proposed`: {postmortem id: entries}). Plain strings (the
    labels escaped, the count an int): format_html per line cost as much as the nodes did."""
    lines = []
    for check in item.checklist:
        extra = ""
        if check.key == "playbook_entries":
            n = int(proposed.get(item.postmortem.pk, 0))
            extra = f' <small class="proposed-entries">({n} proposed entr{"y" if n == 1 else "ies"})</small>'
        state, mark, words = (
            ("filled", "✓", "filled in") if check.filled else ("missing", "✗", "not filled in")
        )
        lines.append(
            f'<li class="{state}">{mark} {escape(check.label)}{extra}'
            f'<span class="visually-hidden">: {words}</span></li>'
        )
    return SafeString("".join(lines))


@register.simple_tag
def review_article(
    item: Any, badges: Mapping[str, SafeString], proposed: Mapping[int, int], prefix: str
) -> SafeString:
    """A postmortem to review (`PostmortemToReview`): its heading, owner, summary and
    checklist, each value escaped (`summary_html` is already sanitised Markdown; `prefix`: the
    postmortems' address)."""
    pm = item.postmortem
    number = escape(pm.incident.number)
    byline: str = escape(pm.owner.name if pm.owner and pm.owner.name else "nobody")
    if pm.team_name:
        byline += f" · {escape(pm.team_name)}"
    if pm.published_at:
        byline += f" · published {when(pm.published_at)}"
    summary = item.summary_html or "<p class='muted'>No summary yet.</p>"
    return SafeString(
        '\n  <article class="review-postmortem">\n'
        f'    <h3><a href="{escape(prefix)}{int(pm.pk)}/">{number} {escape(pm.title)}</a>\n'
        f"      {badges[pm.incident.severity]}\n"
        f'      <span class="badge status">{escape(pm.get_status_display())}</span></h3>\n'
        f'    <p class="muted small">Owner: {byline}</p>\n'
        f'    <div class="markdown">{summary}</div>\n'
        f'    <ul class="checklist" aria-label="Review checklist of {number}: '
        f'{int(item.checked)} of {len(item.checklist)} filled in">\n'
        f"      {review_checklist(item, proposed)}\n"
        "    </ul>\n"
        "  </article>\n  "
    )


@register.simple_tag
def overdue_postmortem_rows(rows: Any, prefix: str, cutoff: datetime) -> SafeString:
    """The `<li>`s of an owner's overdue postmortems (`PostmortemRow`s): each links its
    postmortem (`prefix`: the postmortems' address) and says how long before `cutoff` it was
    due (Django's `timesince`)."""
    return SafeString(
        "".join(
            f'<li><a href="{escape(prefix)}{int(pm.pk)}/">{escape(pm.incident.number)}</a> '
            f'{escape(pm.title)} <small class="muted">due '
            f"{escape(timesince(pm.due_at, cutoff))} before</small></li>"
            for pm in rows
        )
    )


@register.simple_tag
def overdue_item_rows(rows: Any, prefix: str) -> SafeString:
    """The `<li>`s of an owner's overdue action items (`ActionItemRow`s): each links its
    postmortem (`prefix`: the postmortems' address) and says when it was due."""
    return SafeString(
        "".join(
            f'<li>{escape(item.title)} <small class="muted">(<a href="{escape(prefix)}'
            f'{int(item.postmortem_id)}/">{escape(item.incident_number)}</a>, due '
            f"{_date(item.due_date)})</small></li>"
            for item in rows
        )
    )
