"""Durations in words, one way everywhere: "1 week", "10 days", "1 hour 30 minutes"."""

from datetime import timedelta

WEEK = timedelta(weeks=1)
UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def plural(count: int | float, unit: str) -> str:
    return f"{count:g} {unit}{'' if count == 1 else 's'}"


def duration_words(value: timedelta) -> str:
    """Whole weeks as weeks; otherwise days, hours, minutes and seconds, largest first.

    Zero or less is "no time" (callers that mean something else by it say so themselves).
    """
    if value <= timedelta(0):
        return "no time"
    if not value % WEEK:
        return plural(value // WEEK, "week")
    total = int(value.total_seconds())
    parts = []
    for size, unit in UNITS:
        count, total = divmod(total, size)
        if count:
            parts.append(plural(count, unit))
    return " ".join(parts) or "under a second"
