"""The YAML reader of stack files: PyYAML's safe loader composes the node tree and we build the data ourselves, so
every value keeps the line it came from and a duplicate key is refused (PyYAML silently keeps the last one).

pyyaml comes with the ``[cli]`` extra (and every operator extra), not with the core install: an application reads
its contract from Key Vault, a file or the environment, never a stack file. :mod:`.loader` imports this module
only when a stack file is read, and says what to install when pyyaml is missing. The bounds are :mod:`.issues`'
(``MAX_DEPTH``, ``MAX_EVENTS``, ...): the event stream is scanned for depth and size
before the (recursive) composer and constructor see it, and alias expansion is budgeted.
"""

from __future__ import annotations

from typing import Any

import yaml

from claude_foundry.program.spec._issues import (
    MAX_DEPTH,
    MAX_EVENTS,
    MAX_NODES,
    MAX_SCALAR_CHARS,
    Issue,
    LoadError,
    Mark,
    Path_,
    dotted,
)


def _line_of(event: yaml.Event) -> int:
    """The 1-based line an event starts on (PyYAML's parser always sets the mark; 0 if one ever lacks it)."""
    return event.start_mark.line + 1 if event.start_mark is not None else 0


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
            self.issues.append(Issue(self.mark(node), dotted(path), f"not a valid value: {problem}"))
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            self.issues.append(Issue(self.mark(node), dotted(path), f"not a valid value: {exc}"))
        return None

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.built += 1
        if self.built > MAX_NODES:
            raise _TooBig(Issue(self.mark(node), dotted(path), f"aliases expand to more than {MAX_NODES:,} "
                                                                "values; a stack file needs a few dozen"))
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            if id(node) in self._open:
                self.issues.append(Issue(self.mark(node), dotted(path), "an alias refers to itself"))
                return None
            self._open.add(id(node))
            try:
                return self._convert_collection(node, path)
            finally:
                self._open.discard(id(node))
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(Issue(self.mark(node), dotted(path), f"the YAML tag {node.tag} is not allowed; "
                                                                     "write plain values"))
            return None
        return self._construct(node, path)

    def _convert_collection(self, node: yaml.Node, path: Path_) -> Any:
        if node.tag not in _PLAIN_TAGS:
            self.issues.append(Issue(self.mark(node), dotted(path), f"the YAML tag {node.tag} is not allowed; "
                                                                     "write plain values"))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.issues.append(Issue(self.mark(key_node), dotted(path),
                                             "YAML merge keys (<<) are not supported; use `extends:`"))
                    continue
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                    self.issues.append(Issue(self.mark(key_node), dotted(path),
                                             "mapping keys must be plain strings"))
                    continue
                key = self._construct(key_node, path)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.issues.append(Issue(self.mark(key_node), dotted(path),
                                             "mapping keys must be plain strings"))
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key != key.strip() or any(ord(ch) < 32 for ch in key):
                    self.issues.append(Issue(self.mark(key_node), dotted(path),
                                             f"key {key.strip()!r} has leading or trailing spaces or control "
                                             "characters; write it plainly (two keys could otherwise collide)"))
                    continue
                child = (*path, key)
                if key in out:
                    first = self.marks.get(child)
                    self.issues.append(Issue(
                        self.mark(key_node), dotted(child),
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


def parse(text: str, file: str) -> tuple[Any, dict[Path_, Mark], list[Issue]]:
    """``(data, marks, issues)`` of one stack file's text (``file``: its name in messages); :class:`LoadError`
    when it is not YAML or is beyond the bounds."""
    builder = _Builder(text, file)
    data = builder.build()
    return data, builder.marks, builder.issues
