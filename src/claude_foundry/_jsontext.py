"""JSON text from outside (a Key Vault secret, a ``--contract`` file, an environment variable, a request body the
sandbox receives) parsed within bounds: nesting depth, number range. Vocabulary: imports nothing of ours.

Python's :func:`json.loads` recurses once per nesting level and raises ``RecursionError`` (not ``ValueError``)
on a deep document, turns ``1e400`` into ``inf`` and accepts ``NaN``/``Infinity``; an integer of more than
4,300 digits raises ``ValueError`` only on Python 3.11+. :func:`loads` scans the text first (linear, no
recursion) and refuses all of these with :class:`JsonError`, a ``ValueError`` whose message says what is wrong
and never repeats the text (it may hold a secret).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from claude_foundry._errors import ClaudeFoundryError

#: Levels of ``[``/``{`` a document may nest. The deepest document claude-foundry itself writes (the
#: accounts secret) nests 4; an ARM body or a Messages request with tool schemas a few more.
MAX_DEPTH = 64
#: Digits an integer may have (``int`` of ``str`` is quadratic in it; Python 3.11+ stops at 4,300).
MAX_INT_DIGITS = 100

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_TOKEN_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class JsonError(ClaudeFoundryError, ValueError):
    """The text is not JSON within bounds; the message says why, without quoting it."""


def depth_of(text: str | bytes) -> int:
    """The deepest nesting of ``[``/``{`` in ``text`` (strings skipped); linear, no recursion."""
    tokens: Iterator[str | bytes]
    opening: tuple[str, str] | tuple[bytes, bytes]
    if isinstance(text, (bytes, bytearray)):
        tokens, opening = (m.group() for m in _TOKEN_BYTES.finditer(text)), (b"[", b"{")
    else:
        tokens, opening = (m.group() for m in _TOKEN.finditer(text)), ("[", "{")
    depth = deepest = 0
    for token in tokens:
        if len(token) != 1:
            continue  # a string
        if token in opening:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise JsonError(f"a number has {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError("a number is out of range (it overflows a 64-bit float)")
    return value


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number")


def loads(text: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` within bounds: :class:`JsonError` for text that is not JSON, nests deeper than
    ``max_depth``, holds ``NaN``/``Infinity``, a float that overflows or an integer of more than
    :data:`MAX_INT_DIGITS` digits."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonError("not valid JSON: not UTF-8 text") from None
    depth = depth_of(text)
    if depth > max_depth:
        raise JsonError(f"JSON nested more than {max_depth} levels deep")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except JsonError:
        raise
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "malformed"
        raise JsonError(f"not valid JSON: {reason}{where}") from None
