"""Template filters and tags of the postmortem pages: durations in words, and the weekly
review's repeated markup built once per row in Python (a row's dozens of template nodes
were most of the review's rendering)."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString

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
