"""Read a stack file: YAML with line marks, duplicate keys refused, ``extends`` merged.

PyYAML silently keeps the last of two equal keys; a stack file where ``capacity`` is given twice is a
mistake we refuse. The YAML is read by :mod:`.yamlfile` (PyYAML's safe loader composes the node tree, the data
is built from it), so every value keeps the file and line it came from, also across ``extends``. pyyaml comes
with the ``[cli]`` extra, not the core install: without it, reading a stack file raises
:class:`~claude_foundry._errors.ExtraMissing` naming what to install (never an ``ImportError``).

Bounded before any Python object is built (a stack file is a few hundred bytes; these limits are far above
any real one, and documented in docs/reference.md): regular files only, at most :data:`MAX_FILE_BYTES`; the
event stream is scanned first for nesting depth (:data:`MAX_DEPTH`) and size (:data:`MAX_EVENTS`); alias
expansion is budgeted (:data:`MAX_NODES` nodes built in all) and a self-referencing alias refused; ``extends``
chains stop at :data:`MAX_EXTENDS` files and stay inside the stack's project unless the stack says otherwise.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_foundry._errors import ExtraMissing
from claude_foundry.program.spec._issues import MAX_EXTENDS, MAX_FILE_BYTES, Issue, LoadError, Mark, Path_


@dataclass
class Document:
    """A stack file's data with, for every path, the place it was written."""

    data: dict[str, Any]
    marks: dict[Path_, Mark]
    files: list[str]  # the file and every file it extends, child first

    def mark_for(self, path: Path_) -> Mark | None:
        """The mark of ``path``, or of its nearest ancestor that has one."""
        for n in range(len(path), -1, -1):
            mark = self.marks.get(tuple(path[:n]))
            if mark is not None:
                return mark
        return None


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the cwd, or a symlink loop
        return str(path)


def read_bounded(path: Path, what: str = "a YAML stack file") -> str:
    """The text of a regular file of at most :data:`MAX_FILE_BYTES` (never a device, FIFO or directory: those
    block or never end), or :class:`LoadError` saying why not."""
    shown = display_path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise LoadError([Issue(None, "", f"{shown}: file not found")]) from None
    except OSError as exc:  # a symlink loop, a path too long, no permission
        raise LoadError([Issue(None, "", f"{shown}: cannot read: {exc.strerror}")]) from None
    if stat.S_ISDIR(info.st_mode):
        raise LoadError([Issue(None, "", f"{shown}: is a directory, expected {what}")])
    if not stat.S_ISREG(info.st_mode):
        raise LoadError([Issue(None, "", f"{shown}: not a regular file (a device, pipe or socket); expected {what}")])
    if info.st_size > MAX_FILE_BYTES:
        raise LoadError([Issue(None, "", f"{shown}: {info.st_size:,} bytes; a stack file is at most "
                                         f"{MAX_FILE_BYTES:,} bytes")])
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise LoadError([Issue(None, "", f"{shown}: cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise LoadError([Issue(None, "", f"{shown}: more than {MAX_FILE_BYTES:,} bytes")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LoadError([Issue(Mark(shown, 1), "", "not UTF-8 text")]) from None


#: What reading a stack file needs beyond the core install (pyyaml, brought by this extra).
YAML_EXTRA = "cli"


def _yaml_parser() -> Callable[[str, str], tuple[Any, dict[Path_, Mark], list[Issue]]]:
    """:func:`.yamlfile.parse`, or :class:`ExtraMissing` on an install without pyyaml (the core install)."""
    try:
        from claude_foundry.program.spec._yamlfile import parse
    except ModuleNotFoundError as exc:
        if exc.name != "yaml":
            raise
        raise ExtraMissing("reading a stack file (YAML)", (YAML_EXTRA,), "yaml") from None
    return parse


def _read_one(path: Path) -> tuple[Any, dict[Path_, Mark]]:
    parse = _yaml_parser()
    shown = display_path(path)
    text = read_bounded(path)
    data, marks, issues = parse(text, shown)
    if issues:
        raise LoadError(issues)
    if data is None:
        raise LoadError([Issue(Mark(shown, 1), "", "the file is empty; expected a mapping with "
                                                      "environment, location, resource_group, foundry, "
                                                      "deployments and key_vault")])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise LoadError([Issue(Mark(shown, 1), "", f"the top level must be a mapping of fields, got {kind}")])
    return data, marks


class _MarkIndex:
    """The marks of a document by every prefix of their path, so copying a subtree's marks costs its size
    (not the whole document's: ``extends`` stays linear)."""

    def __init__(self, marks: dict[Path_, Mark]) -> None:
        self.by_prefix: dict[Path_, list[tuple[Path_, Mark]]] = defaultdict(list)
        for p, m in marks.items():
            for n in range(len(p) + 1):
                self.by_prefix[p[:n]].append((p, m))

    def get(self, path: Path_) -> Mark | None:
        for p, m in self.by_prefix.get(path, ()):
            if p == path:
                return m
        return None


def _merge(base: Any, base_marks: _MarkIndex, over: Any, over_marks: _MarkIndex,
           path: Path_, marks: dict[Path_, Mark]) -> Any:
    """Deep merge: mappings merge key by key (so deployments merge by name), anything else is replaced.

    A key set to null in the child removes it from the merged mapping (e.g. drop a base deployment).
    """
    if isinstance(base, dict) and isinstance(over, dict):
        out: dict[str, Any] = {}
        for key in list(base) + [k for k in over if k not in base]:
            child = (*path, key)
            if key in over:
                if over[key] is None and key in base and isinstance(base[key], dict):
                    continue  # removal
                out[key] = _merge(base.get(key), base_marks, over[key], over_marks, child, marks) \
                    if key in base else _copy_marks(over[key], over_marks, child, marks)
                mark = over_marks.get(child)
                if mark is not None:
                    marks[child] = mark
            else:
                out[key] = _copy_marks(base[key], base_marks, child, marks)
        return out
    return _copy_marks(over, over_marks, path, marks)


def _copy_marks(value: Any, src: _MarkIndex, path: Path_, marks: dict[Path_, Mark]) -> Any:
    marks.update(src.by_prefix.get(path, ()))
    return value


def project_root(stack: Path) -> Path:
    """The stack's project: the nearest directory holding ``Pulumi.yaml`` above the stack file, else the stack
    file's own directory."""
    for d in (stack.parent, *stack.parent.parents):
        if (d / "Pulumi.yaml").is_file():
            return d
    return stack.parent


def _extends_target(ref: Any, ext_mark: Mark | None) -> tuple[str, bool]:
    """(path, allowed outside the project) from ``extends: PATH`` or ``extends: {path: PATH,
    outside_project: true}``."""
    if isinstance(ref, dict):
        unknown = set(ref) - {"path", "outside_project"}
        if unknown or not isinstance(ref.get("path"), str) or not isinstance(ref.get("outside_project", False), bool):
            raise LoadError([Issue(ext_mark, "extends", "must be a path, or {path: PATH, outside_project: true} to "
                                                        "extend a file outside the stack's project")])
        ref, outside = ref["path"], ref.get("outside_project", False)
    else:
        outside = False
    if not isinstance(ref, str) or not ref.strip():
        raise LoadError([Issue(ext_mark, "extends", "must be the path of another stack file, relative to "
                                                    "this one")])
    return ref, outside


def load_document(path: str | Path, _chain: tuple[Path, ...] = ()) -> Document:
    """Load a stack file and everything it ``extends``; raise :class:`LoadError` with every issue."""
    path = Path(path)
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise LoadError([Issue(None, "", f"{display_path(path)}: cannot read: a symlink loop")]) from None
    root = project_root(resolved)  # each file may extend only inside its own project
    data, marks = _read_one(path)
    files = [display_path(path)]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return Document(data, marks, files)
    ext_mark = marks.get(("extends",))
    ref, outside = _extends_target(parent_ref, ext_mark)
    chain = (*_chain, resolved)
    if len(chain) >= MAX_EXTENDS:
        raise LoadError([Issue(ext_mark, "extends", f"extends chain longer than {MAX_EXTENDS} files")])
    try:
        parent = (resolved.parent / ref).resolve()
    except (OSError, RuntimeError):
        raise LoadError([Issue(ext_mark, "extends", f"cannot resolve {ref}: a symlink loop")]) from None
    if parent in chain:
        cycle = " -> ".join(display_path(p) for p in (*chain, parent))
        raise LoadError([Issue(ext_mark, "extends", f"extends cycle: {cycle}")])
    if not outside and not parent.is_relative_to(root):
        raise LoadError([Issue(ext_mark, "extends", f"{ref} lies outside the stack's project "
                                                    f"({display_path(root)}); write extends: {{path: ..., "
                                                    "outside_project: true} if you mean it")])
    if not parent.exists():
        raise LoadError([Issue(ext_mark, "extends", f"file not found: {display_path(parent)} "
                                                    f"(resolved relative to {display_path(resolved.parent)})")])
    base = load_document(parent, chain)
    merged_marks: dict[Path_, Mark] = {}
    merged = _merge(base.data, _MarkIndex(base.marks), data, _MarkIndex(marks), (), merged_marks)
    merged_marks[()] = marks.get((), Mark(files[0], 1))
    return Document(merged, merged_marks, files + base.files)
