"""The one place the sandbox parses a JSON request body (ARM, Key Vault, the Foundry endpoint, the admin API) and
a token's claims: within :mod:`claude_foundry._jsontext`'s bounds (nesting depth, number range), so a hostile body
is a :class:`~claude_foundry._jsontext.JsonError` each route answers with a 400 in its service's error shape, never
a ``RecursionError`` and a 500. The message says what is wrong without quoting the body."""

from __future__ import annotations

from typing import Any

from claude_foundry import _jsontext as jsontext
from claude_foundry._jsontext import JsonError

__all__ = ["MAX_DEPTH", "JsonError", "parse_json"]

#: Nesting a request body may have (an ARM body nests ~6, a Messages request with tool schemas a few more).
MAX_DEPTH = jsontext.MAX_DEPTH


def parse_json(raw: bytes | str, *, empty: Any = None) -> Any:
    """The JSON value of ``raw`` (``empty`` for an empty body); :class:`JsonError` otherwise."""
    if not raw:
        return empty
    return jsontext.loads(raw, max_depth=MAX_DEPTH)
