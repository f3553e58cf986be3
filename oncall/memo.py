"""Configuration read once per unit of work: a batch that folds many events into incidents
reads each team's rotations, policies and subscriptions once, not once per incident.

Inside `with config_memo():`, `memoized(key, read)` calls `read()` the first time a key is
asked for and hands out the same value after; outside one, every call reads. The memo
lives as long as the block (one batch, one transaction), so a change to the configuration
is seen by the next batch. Values are shared: callers must not change them.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_memo: ContextVar[dict[Hashable, Any] | None] = ContextVar("config_memo", default=None)


@contextmanager
def config_memo() -> Iterator[None]:
    """Memoize configuration reads for the block (a nested block shares the outer memo)."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def memoized[T](key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, once per key inside a `config_memo()` block; every time outside one."""
    memo = _memo.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    value: T = memo[key]
    return value
