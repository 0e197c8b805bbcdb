"""``claude_foundry._jsontext``: JSON from outside parsed within bounds (depth, numbers), linear, with words."""

from __future__ import annotations

import time

import pytest

from claude_foundry import _jsontext as jsontext


def test_within_bounds_is_plain_json() -> None:
    doc = '{"a": [1, 2.5, "x[{]", {"b": null}], "c": "\\"[["}'
    assert jsontext.loads(doc) == {"a": [1, 2.5, "x[{]", {"b": None}], "c": '"[['}
    assert jsontext.loads(doc.encode()) == jsontext.loads(doc)
    assert jsontext.depth_of(doc) == 3
    at_limit = "[" * jsontext.MAX_DEPTH + "]" * jsontext.MAX_DEPTH
    assert jsontext.depth_of(jsontext.loads(at_limit) and at_limit) == jsontext.MAX_DEPTH


@pytest.mark.parametrize(("text", "fragment"), [
    ("[" * (jsontext.MAX_DEPTH + 1) + "]" * (jsontext.MAX_DEPTH + 1), "nested more than 64"),
    ("[" * 200_000 + "]" * 200_000, "nested more than 64"),
    ('{"capacity": 1e400}', "out of range"),
    ('{"capacity": -1e400}', "out of range"),
    ('{"capacity": NaN}', "NaN is not a JSON number"),
    ('{"capacity": Infinity}', "Infinity is not a JSON number"),
    ('{"capacity": ' + "9" * 5000 + "}", "5000 digits"),
    ('{"a": ', "not valid JSON"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_out_of_bounds_is_a_value_error_with_words(text: str | bytes, fragment: str) -> None:
    started = time.monotonic()
    with pytest.raises(jsontext.JsonError) as info:
        jsontext.loads(text)
    assert time.monotonic() - started < 2
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)
    assert "9999999999" not in str(info.value)  # the text itself is never repeated


def test_scanning_is_linear() -> None:
    """Many strings with brackets and escapes inside: the depth scan stays well under a second for 4 MB."""
    text = "[" + ",".join(['"a\\"[{b"'] * 500_000) + "]"
    started = time.monotonic()
    assert jsontext.depth_of(text) == 1
    assert time.monotonic() - started < 2
