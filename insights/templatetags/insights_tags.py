"""Template tags of the insights figures: a change against the previous period in words, and
the week's headline on the weekly review (the same code as the insights page)."""

import zoneinfo
from datetime import timedelta
from typing import Any

from django import template
from django.conf import settings

from insights.selectors import Change, Filters, Insights
from oncall.words import duration_words

register = template.Library()


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, timedelta):
        return duration_words(value) if value > timedelta(0) else "0 seconds"
    return str(value)


@register.filter
def figure(value: Any) -> str:
    """A count, or a duration in words; "—" when there is nothing to measure."""
    return _shown(value)


@register.filter
def change_words(change: Change) -> str:
    """ "up 3 from 5", "down 2 minutes from 10 minutes", "same as before", "nothing before"."""
    if change.before is None or change.now is None:
        return "no figure to compare"
    if change.direction == "same":
        return "same as the previous period"
    delta = change.delta
    amount = _shown(abs(delta))
    return f"{change.direction} {amount} from {_shown(change.before)}"


@register.inclusion_tag("insights/headline.html", takes_context=True)
def week_headline(context: Any, review: Any) -> dict[str, Any]:
    """The review's hook: the week's headline against the period before, as the weekly
    review read them with its own figures (`postmortems.review.WeeklyReview`)."""
    start, end = review.start, review.end
    zone = zoneinfo.ZoneInfo(settings.COMPANY_TIME_ZONE)  # the review's weeks are the company's
    found = Insights(
        filters=Filters(start=start, end=end),
        headline=review.headline,
        previous=review.headline_before,
        weeks=[],
        interruptions={},
        heatmap=[],
        tiers={},
        people=[],
    )
    return {
        "found": found,
        "compact": True,
        "from_day": start.astimezone(zone).date().isoformat(),
        "to_day": (end - timedelta(seconds=1)).astimezone(zone).date().isoformat(),
        "request": context.get("request"),
    }
