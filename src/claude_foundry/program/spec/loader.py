"""Read a stack file: YAML with line marks, duplicate keys refused, ``extends`` merged.

PyYAML silently keeps the last of two equal keys; a stack file where ``capacity`` is given twice is a
mistake we refuse. We compose the node tree with PyYAML's safe loader and build the data ourselves, so
every value keeps the file and line it came from, also across ``extends``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


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


class LoadError(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


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
    except ValueError:
        return str(path)


class _Builder:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.loader = yaml.SafeLoader(text)
        self.marks: dict[Path_, Mark] = {}
        self.issues: list[Issue] = []

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1)

    def build(self) -> Any:
        try:
            node = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise LoadError([Issue(Mark(self.file, line), "", f"not valid YAML: {problem}")]) from None
        finally:
            self.loader.dispose()
        if node is None:
            return None
        self.marks[()] = self.mark(node)
        return self.convert(node, ())

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             "YAML merge keys (<<) are not supported; use `extends:`"))
                    continue
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             "mapping keys must be plain strings"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                child = (*path, key)
                if key in out:
                    first = self.marks.get(child)
                    self.issues.append(Issue(
                        self.mark(key_node), _dotted(child),
                        f"duplicate key (first given at line {first.line if first else '?'}); "
                        "YAML would silently keep only the last one",
                    ))
                    continue
                self.marks[child] = self.mark(key_node)
                out[key] = self.convert(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.marks[(*path, i)] = self.mark(item)
                items.append(self.convert(item, (*path, i)))
            return items
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.issues.append(Issue(self.mark(node), _dotted(path), f"not a valid value: {exc}"))
            return None


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


dotted = _dotted


def _read_one(path: Path) -> tuple[Any, dict[Path_, Mark]]:
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LoadError([Issue(None, "", f"{shown}: file not found")]) from None
    except IsADirectoryError:
        raise LoadError([Issue(None, "", f"{shown}: is a directory, expected a YAML stack file")]) from None
    except UnicodeDecodeError:
        raise LoadError([Issue(Mark(shown, 1), "", "not UTF-8 text")]) from None
    except OSError as exc:
        raise LoadError([Issue(None, "", f"{shown}: cannot read: {exc.strerror}")]) from None
    builder = _Builder(text, shown)
    data = builder.build()
    if builder.issues:
        raise LoadError(builder.issues)
    if data is None:
        raise LoadError([Issue(Mark(shown, 1), "", "the file is empty; expected a mapping with "
                                                      "environment, location, resource_group, foundry, "
                                                      "deployments and key_vault")])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise LoadError([Issue(Mark(shown, 1), "", f"the top level must be a mapping of fields, got {kind}")])
    return data, builder.marks


def _merge(base: Any, base_marks: dict[Path_, Mark], over: Any, over_marks: dict[Path_, Mark],
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
                if child in over_marks:
                    marks[child] = over_marks[child]
            else:
                out[key] = _copy_marks(base[key], base_marks, child, marks)
        return out
    return _copy_marks(over, over_marks, path, marks)


def _copy_marks(value: Any, src: dict[Path_, Mark], path: Path_, marks: dict[Path_, Mark]) -> Any:
    n = len(path)
    for p, m in src.items():
        if p[:n] == path:
            marks[p] = m
    return value


def load_document(path: str | Path, _chain: tuple[Path, ...] = ()) -> Document:
    """Load a stack file and everything it ``extends``; raise :class:`LoadError` with every issue."""
    path = Path(path)
    resolved = path.resolve()
    data, marks = _read_one(path)
    files = [display_path(path)]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return Document(data, marks, files)
    ext_mark = marks.get(("extends",))
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        raise LoadError([Issue(ext_mark, "extends", "must be the path of another stack file, relative to "
                                                    "this one")])
    parent = (resolved.parent / parent_ref).resolve()
    chain = (*_chain, resolved)
    if parent in chain:
        cycle = " -> ".join(display_path(p) for p in (*chain, parent))
        raise LoadError([Issue(ext_mark, "extends", f"extends cycle: {cycle}")])
    if not parent.is_file():
        raise LoadError([Issue(ext_mark, "extends", f"file not found: {display_path(parent)} "
                                                    f"(resolved relative to {display_path(resolved.parent)})")])
    base = load_document(parent, chain)
    merged_marks: dict[Path_, Mark] = {}
    merged = _merge(base.data, base.marks, data, marks, (), merged_marks)
    merged_marks[()] = marks.get((), Mark(files[0], 1))
    return Document(merged, merged_marks, files + base.files)
