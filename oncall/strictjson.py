"""One JSON reader for every door that takes JSON (the API's parser and the ingestion doors).

It refuses, with the path of the offending value, what would otherwise crash later:
nesting deeper than `MAX_DEPTH` (Python's parser raises RecursionError), `NaN`/`Infinity`
and numbers that overflow a float (`1e999`), integers outside 64 bits, and strings or keys
holding a NUL character or a lone surrogate (PostgreSQL cannot store either in text or
jsonb). A refusal is a `JSONRefused`; each door renders it in its own error shape.
"""

import json
import math
import re
from typing import Any

MAX_DEPTH = 64
MAX_INT = 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Path = tuple[str | int, ...]


class JSONRefused(Exception):
    """The body cannot be taken: `problem` says why, `path` where (empty: the body).

    `syntax`: it is not JSON at all (grammar, encoding, `NaN`), rather than JSON holding a
    value the portal refuses (too deep, out of range, unstorable characters)."""

    def __init__(self, problem: str, path: Path = (), *, syntax: bool = False) -> None:
        super().__init__(problem)
        self.problem, self.path, self.syntax = problem, path, syntax

    def dotted(self) -> str:
        """`steps.0.action`: the API's way of naming a nested field."""
        return ".".join(str(part) for part in self.path)

    def bracketed(self) -> str:
        """`alerts[0].labels.note`: the ingestion formats' way."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


class _OutOfRange:
    """A number that does not fit, kept in place so the walk can name where it is."""

    def __init__(self, text: str, limit: str = "") -> None:
        self.problem = f"is out of range: {text[:40]}{limit}"


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _float(text: str) -> float | _OutOfRange:
    value = float(text)
    return value if math.isfinite(value) else _OutOfRange(text)


def _int(text: str) -> int | _OutOfRange:
    value = int(text)
    return value if abs(value) <= MAX_INT else _OutOfRange(text, " (at most 64 bits)")


def unstorable_problem(text: str) -> str | None:
    """Why a string cannot be stored (a NUL character, a lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x})"


def strict_json_check(data: Any) -> None:
    """Walk a parsed value (iteratively: no recursion) and refuse what cannot be kept."""
    stack: list[tuple[Path, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if len(path) > MAX_DEPTH:
            raise JSONRefused(f"is nested too deeply (more than {MAX_DEPTH} levels)", path)
        if isinstance(value, _OutOfRange):
            raise JSONRefused(value.problem, path)
        if isinstance(value, str):
            problem = unstorable_problem(value)
            if problem:
                raise JSONRefused(problem, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = unstorable_problem(key)
                if problem:
                    raise JSONRefused(f"has a key that {problem}", path)
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))


def strict_json_loads(raw: bytes | str) -> Any:
    """The parsed body, or `JSONRefused`."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        raise JSONRefused(
            f"is not UTF-8 ({error.reason} at byte {error.start})", syntax=True
        ) from None
    try:
        data = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise JSONRefused(f"is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as error:  # JSONDecodeError, NaN, or an integer of over 4300 digits
        raise JSONRefused(f"is not JSON: {error}", syntax=True) from None
    strict_json_check(data)
    return data
