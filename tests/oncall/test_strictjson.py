"""The one JSON reader of the API and the ingestion doors: what it refuses, and where."""

import pytest

from oncall.strictjson import MAX_DEPTH, JSONRefused, strict_json_loads


@pytest.mark.parametrize(
    ("raw", "path", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, (), "nested too deeply"),
        (b'{"a": ' * 70 + b"1" + b"}" * 70, ("a",) * (MAX_DEPTH + 1), "nested too deeply"),
        (b'{"a": [{"note": "x\\u0000"}]}', ("a", 0, "note"), "NUL character"),
        (b'{"a": {"\\u0000": 1}}', ("a",), "key that contains a NUL"),
        (b'{"labels": {"x": "\\ud800"}}', ("labels", "x"), "lone surrogate"),
        (b'{"n": 1e999}', ("n",), "out of range: 1e999"),
        (b'{"n": [-1e999]}', ("n", 0), "out of range"),
        (b'{"id": 1000000000000000000000000000000}', ("id",), "at most 64 bits"),
    ],
)
def test_refusals_name_the_value(raw: bytes, path: tuple[object, ...], problem: str) -> None:
    with pytest.raises(JSONRefused) as refused:
        strict_json_loads(raw)

    assert refused.value.path == path
    assert problem in refused.value.problem
    assert not refused.value.syntax


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b"[Infinity]", b"-Infinity", b"\xff", b"{"])
def test_what_is_not_json_is_a_syntax_refusal(raw: bytes) -> None:
    with pytest.raises(JSONRefused) as refused:
        strict_json_loads(raw)

    assert refused.value.syntax


def test_paths_are_written_both_ways() -> None:
    refused = JSONRefused("contains a NUL character", ("alerts", 0, "labels", "note"))

    assert refused.dotted() == "alerts.0.labels.note"
    assert refused.bracketed() == "alerts[0].labels.note"


def test_ordinary_json_passes_unchanged() -> None:
    raw = '{"a": [1, 2.5, -3e10, true, null, "caf\\u00e9 \\ud83d\\ude00"], "b": {"c": 9223372036854775807}}'

    assert strict_json_loads(raw.encode()) == {
        "a": [1, 2.5, -3e10, True, None, "café 😀"],
        "b": {"c": 2**63 - 1},
    }
