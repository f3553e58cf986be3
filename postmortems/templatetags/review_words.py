"""Template filters of the postmortem pages: durations in words."""

from datetime import timedelta

from django import template

from oncall.words import duration_words

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """ "1 hour 30 minutes"; "—" when there is nothing to measure."""
    return "—" if value is None else duration_words(value)
