"""Durations in words, the one way the portal says them."""

from datetime import timedelta

import pytest

from oncall.words import duration_words


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (timedelta(weeks=1), "1 week"),
        (timedelta(days=14), "2 weeks"),
        (timedelta(days=10), "10 days"),
        (timedelta(hours=12), "12 hours"),
        (timedelta(hours=1, minutes=30, seconds=5), "1 hour 30 minutes 5 seconds"),
        (timedelta(days=1, hours=2), "1 day 2 hours"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(milliseconds=200), "under a second"),
        (timedelta(0), "no time"),
    ],
)
def test_duration_words(value: timedelta, words: str) -> None:
    assert duration_words(value) == words
