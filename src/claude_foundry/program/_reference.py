"""Generate the field reference of the stack spec (docs/reference.md) from the pydantic models."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from claude_foundry.program.spec._issues import (
    MAX_DEPTH,
    MAX_EVENTS,
    MAX_EXTENDS,
    MAX_FILE_BYTES,
    MAX_NODES,
    MAX_SCALAR_CHARS,
)
from claude_foundry.program.spec._schema import Spec, spec_json_schema

HEADER = f"""# Stack file reference

Generated from the pydantic models by `claude-foundry schema --reference`; do not edit by hand (a test
fails when it is stale). Editors validate stack files with `schema/stack.schema.json` through the
`# yaml-language-server: $schema=...` comment at the top of each file.

`extends: <path>` (relative to the file) merges the file onto another: mappings merge key by key
(deployments by name), a key set to `null` removes it, anything else is replaced. The file extended must lie
inside the stack's project (the nearest directory holding `Pulumi.yaml`, else the stack file's directory);
`extends: {{path: <path>, outside_project: true}}` says explicitly that it may lie elsewhere.

## Limits

A stack file is read only when it is a regular file (never a device, pipe or directory) of at most
{MAX_FILE_BYTES:,} bytes, UTF-8. Before any value is built, its YAML is checked for nesting (at most
{MAX_DEPTH} levels), size (at most {MAX_EVENTS:,} YAML events, values of at most {MAX_SCALAR_CHARS:,} characters)
and alias expansion (at most {MAX_NODES:,} values built in all; an alias to itself is refused); `extends`
chains are at most {MAX_EXTENDS} files.
Mapping keys are plain strings without leading or trailing spaces or control characters; YAML merge keys
(`<<`), `!!binary`, `!!set` and custom tags are refused. Anything that looks like a key or token, in a value or
a key, is refused and never shown in a message.
"""


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is dict:
        return f"map of name → {_type_name(args[1])}"
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + " (optional)"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]  # the spec's factories take no arguments
        if isinstance(value, BaseModel):
            return "defaults of its fields"
        return f"`{json.dumps(value)}`"
    if field.default is PydanticUndefined or field.default is None:
        return "—"
    return f"`{json.dumps(field.default)}`"


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for f in model.model_fields.values():
            for t in _walk(f.annotation):
                visit(t)

    visit(root)
    return seen


def _walk(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for a in typing.get_args(annotation):
        out.extend(_walk(a))
    return out


def reference_markdown() -> str:
    lines = [HEADER]
    for model in _models(Spec):
        lines.append(f"## {model.__name__}\n")
        doc = (model.__doc__ or "").strip()
        if doc:
            lines.append(" ".join(doc.split()) + "\n")
        lines.append("| field | type | default | meaning |")
        lines.append("|---|---|---|---|")
        for name, f in model.model_fields.items():
            desc = " ".join((f.description or "").split()).replace("|", "\\|")
            lines.append(f"| `{name}` | {_type_name(f.annotation)} | {_default(f)} | {desc} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def schema_json() -> str:
    return json.dumps(spec_json_schema(), indent=2, sort_keys=True) + "\n"
