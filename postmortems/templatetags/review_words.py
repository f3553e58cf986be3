"""Template filters and tags of the postmortem pages: durations in words, and the weekly
review's repeated markup built once per row in Python (a row's dozens of template nodes
were most of the review's rendering)."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString
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
