"""The configuration memo: one read per key inside a block, a read per call outside."""

import pytest

from oncall.memo import config_memo, memoized


class Reads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        self.count += 1
        return self.count


def test_outside_a_block_every_call_reads() -> None:
    read = Reads()
    assert [memoized("k", read) for _ in range(3)] == [1, 2, 3]


def test_inside_a_block_each_key_is_read_once_and_the_next_block_reads_again() -> None:
    first, second = Reads(), Reads()
    with config_memo():
        assert [memoized("a", first) for _ in range(3)] == [1, 1, 1]
        assert memoized("b", second) == 1
    with config_memo():
        assert memoized("a", first) == 2
    assert (first.count, second.count) == (2, 1)


def test_a_nested_block_shares_the_outer_memo_and_leaves_it_in_place() -> None:
    read = Reads()
    with config_memo():
        assert memoized("k", read) == 1
        with config_memo():
            assert memoized("k", read) == 1
        assert memoized("k", read) == 1
    assert memoized("k", read) == 2


def test_a_read_that_fails_is_not_remembered() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database hiccup")
        return "rows"

    with config_memo():
        with pytest.raises(RuntimeError):
            memoized("k", flaky)
        assert memoized("k", flaky) == "rows"
    assert len(calls) == 2
