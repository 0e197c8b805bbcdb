"""Reading what `claude-foundry env --write` wrote (a module of its own: tests cannot import one `conftest` from
another directory's, pytest keeps only one module of that name)."""

from __future__ import annotations

import shlex


def parse_dotenv(text: str) -> dict[str, str]:
    """``K=shell-quoted value`` lines (what ``env --write`` writes) -> dict."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        words = shlex.split(value)
        out[name.strip()] = words[0] if words else ""
    return out
