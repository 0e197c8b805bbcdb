"""Every ``# type: ignore`` in the shipped source names its error code and says why (issue 21, item 6).

mypy itself refuses a bare ignore (``enable_error_code = ["ignore-without-code"]`` in pyproject.toml) and an
unneeded one (``warn_unused_ignores``); this test adds the reason, which mypy cannot ask for: a comment after the
code, on the same line (``# type: ignore[code]  # why``).
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (ROOT / "src" / "claude_foundry", ROOT / "sandbox" / "src" / "claude_foundry_sandbox")

_IGNORE = re.compile(r"#\s*type:\s*ignore")
#: ``type: ignore[code, code]`` then ``#`` and at least a few words of reason.
_WELL_FORMED = re.compile(r"#\s*type:\s*ignore\[[a-z][a-z-]*(?:\s*,\s*[a-z][a-z-]*)*\]\s*#\s*\S.{5,}")


def ignore_problems(text: str, where: str) -> list[str]:
    """``where:line: comment`` for each ``type: ignore`` comment in ``text`` without a code or a reason."""
    problems = []
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type != tokenize.COMMENT or not _IGNORE.search(tok.string):
            continue
        if not _WELL_FORMED.search(tok.string):
            problems.append(f"{where}:{tok.start[0]}: {tok.string.strip()}")
    return problems


def test_every_type_ignore_in_src_has_a_code_and_a_reason() -> None:
    files = [p for root in SOURCES for p in sorted(root.rglob("*.py"))]
    assert len(files) > 50, "the source trees were not found"
    problems = [problem for path in files
                for problem in ignore_problems(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert problems == [], "write `# type: ignore[code]  # reason` (or fix the type):\n" + "\n".join(problems)


@pytest.mark.parametrize(("line", "ok"), [
    ("x = f()  # type: ignore\n", False),
    ("x = f()  # type: ignore[arg-type]\n", False),
    ("x = f()  # type: ignore[arg-type]  #\n", False),
    ("x = f()  #type:ignore[arg-type]\n", False),
    ("x = f()  # type: ignore[arg-type]  # pulumi's stub is narrower than its runtime\n", True),
    ("x = f()  # type: ignore[arg-type, union-attr]  # the SDK returns None only on 204\n", True),
    ('x = "# type: ignore"\n', True),  # inside a string: not a comment
])
def test_the_check_tells_bare_ignores_from_explained_ones(line: str, ok: bool) -> None:
    assert (ignore_problems(line, "f.py") == []) is ok
