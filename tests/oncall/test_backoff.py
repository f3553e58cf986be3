"""The one retry backoff: doubling from the base, never above the cap, whatever the count."""

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from oncall.backoff import exponential_backoff

BASE, CAP = timedelta(seconds=30), timedelta(minutes=10)


def test_it_doubles_from_the_base_and_stops_at_the_cap() -> None:
    pauses = [exponential_backoff(attempts=n, base=BASE, cap=CAP).total_seconds() for n in range(7)]
    assert pauses == [30, 30, 60, 120, 240, 480, 600]


@given(st.integers(min_value=-5, max_value=10**9))
def test_any_attempt_count_gives_a_pause_between_base_and_cap(attempts: int) -> None:
    pause = exponential_backoff(attempts=attempts, base=BASE, cap=CAP)
    assert BASE <= pause <= CAP
