"""Read a stack file: YAML with line marks, duplicate keys refused, ``extends`` merged.

PyYAML silently keeps the last of two equal keys; a stack file where ``capacity`` is given twice is a
mistake we refuse. We compose the node tree with PyYAML's safe loader and build the data ourselves, so
every value keeps the file and line it came from, also across ``extends``.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from claude_foundry.errors import ClaudeFoundryError

Path_ = tuple[str | int, ...]

#: Bounds of a stack file (see the module docstring).
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


def _line_of(event: yaml.Event) -> int:
    """The 1-based line an event starts on (PyYAML's parser always sets the mark; 0 if one ever lacks it)."""
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def display_path(path: Path) -> str:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # outside the cwd, or a symlink loop
        return str(path)


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Issue:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Issue(Mark(file, line), "", f"not valid YAML: {problem}")


class _TooBig(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue


def _scan_events(text: str, file: str) -> None:
    """Walk the event stream (PyYAML's parser is iterative) and refuse a document too deep or too large
    before the (recursive) composer and constructor see it."""
    depth = 0
    count = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            count += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise LoadError([Issue(Mark(file, _line_of(event)), "",
                                           f"nested more than {MAX_DEPTH} levels deep; a stack file needs a few")])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_SCALAR_CHARS:
                raise LoadError([Issue(Mark(file, _line_of(event)), "",
                                       f"a value longer than {MAX_SCALAR_CHARS:,} characters")])
            if count > MAX_EVENTS:
                raise LoadError([Issue(Mark(file, _line_of(event)), "",
                                       f"more than {MAX_EVENTS:,} YAML nodes; a stack file needs a few dozen")])
    except yaml.YAMLError as exc:
        raise LoadError([_yaml_problem(exc, file)]) from None


class _Builder:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.text = text
        self.marks: dict[Path_, Mark] = {}
        self.issues: list[Issue] = []
        self.built = 0
        self._open: set[int] = set()  # nodes being converted (an alias back to one is a cycle)

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1)

    def build(self) -> Any:
        _scan_events(self.text, self.file)
        try:
            self.loader = yaml.SafeLoader(self.text)
        except yaml.YAMLError as exc:  # the reader refuses control characters (a NUL byte) at once
            raise LoadError([_yaml_problem(exc, self.file)]) from None
        try:
            node = self.loader.get_single_node()
        except yaml.YAMLError as exc:
            raise LoadError([_yaml_problem(exc, self.file)]) from None
        finally:
            self.loader.dispose()
        if node is None:
            return None
        self.marks[()] = self.mark(node)
        try:
            return self.convert(node, ())
        except _TooBig as exc:
            raise LoadError([exc.issue]) from None

    def _construct(self, node: yaml.Node, path: Path_) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.issues.append(Issue(self.mark(node), _dotted(path), f"not a valid value: {problem}"))
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            self.issues.append(Issue(self.mark(node), _dotted(path), f"not a valid value: {exc}"))
        return None

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise _TooBig(Issue(self.mark(node), _dotted(path), f"aliases expand to more than {MAX_NODES:,} "
                                                                "values; a stack file needs a few dozen"))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                self.issues.append(Issue(self.mark(node), _dotted(path), "an alias refers to itself"))
                return None
            self._open.add(id(node))
            try:
                return self._convert_collection(node, path)
            finally:
                self._open.discard(id(node))
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(Issue(self.mark(node), _dotted(path), f"the YAML tag {node.tag} is not allowed; "
                                                                     "write plain values"))
            return None
        return self._construct(node, path)

    def _convert_collection(self, node: yaml.Node, path: Path_) -> Any:
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(Issue(self.mark(node), _dotted(path), f"the YAML tag {node.tag} is not allowed; "
                                                                     "write plain values"))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             "YAML merge keys (<<) are not supported; use `extends:`"))
                    continue
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             "mapping keys must be plain strings"))
                    continue
                key = self._construct(key_node, path)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             "mapping keys must be plain strings"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key != key.strip() or any(ord(ch) < 32 for ch in key):
                    self.issues.append(Issue(self.mark(key_node), _dotted(path),
                                             f"key {key.strip()!r} has leading or trailing spaces or control "
                                             "characters; write it plainly (two keys could otherwise collide)"))
                    continue
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
                child = (*path, i)
                self.marks[child] = self.mark(item)
                items.append(self.convert(item, child))
            return items
        return None


#: The tags a stack file may carry (what the safe loader resolves plain YAML to); ``!!binary``, ``!!set``,
#: ``!!omap`` and custom tags are refused (never constructed, so never echoed).
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "timestamp",
                                                             "map", "seq"))


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


dotted = _dotted


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


def _read_one(path: Path) -> tuple[Any, dict[Path_, Mark]]:
    shown = display_path(path)
    text = read_bounded(path)
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
