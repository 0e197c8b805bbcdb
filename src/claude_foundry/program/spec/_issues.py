"""What a stack file's problems are made of, shared by the loader and its YAML reader: where a value was written
(:class:`Mark`), one problem (:class:`Issue`), the error carrying them (:class:`LoadError`), a field's dotted
path, and the bounds of a stack file (docs/reference.md, "Limits")."""

from __future__ import annotations

from dataclasses import dataclass

from claude_foundry._errors import ClaudeFoundryError

Path_ = tuple[str | int, ...]

#: Bounds of a stack file (the loader's docstring says how each is held).
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_EVENTS = 200_000
MAX_NODES = 100_000
MAX_EXTENDS = 16
MAX_SCALAR_CHARS = 10_000


@dataclass(frozen=True)
class Mark:
    file: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Issue:
    """One problem found in a stack file."""

    mark: Mark | None
    path: str  # dotted field path, "" for the whole file
    message: str

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        return f"{where}{self.path + ': ' if self.path else ''}{self.message}"


class LoadError(ClaudeFoundryError):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def dotted(path: Path_) -> str:
    """``a.b[0].c`` of a path."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out
