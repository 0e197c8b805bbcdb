"""Load and validate a stack: ``load_spec(path) -> Spec`` from a file, ``spec_from_mapping(data) -> Spec`` from
a mapping built in code; both raise :class:`SpecError` naming every problem.

Each problem reads ``<file>:<line>: <field.path>: <what is wrong and what is allowed>`` (for a mapping,
``<source>: <field.path>: ...``: a mapping has no lines).
"""

from __future__ import annotations

import datetime as dt
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from claude_foundry._catalogue import Catalogue, load_catalogue
from claude_foundry._errors import UserError
from claude_foundry._provider_data import INDUSTRIES
from claude_foundry.program.spec._issues import Issue, LoadError, Mark, dotted
from claude_foundry.program.spec._loader import Document, load_document
from claude_foundry.program.spec._schema import SKUS, Spec, spec_json_schema

__all__ = ["INDUSTRIES", "SKUS", "Issue", "Mark", "Spec", "SpecError", "load_spec", "spec_from_mapping",
           "spec_json_schema", "validate_data"]


class SpecError(UserError):
    """A stack file is invalid. ``issues`` holds every problem found; str() is one line per issue."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


# --- secrets pasted into a spec -------------------------------------------------------------------

#: What a key or token looks like, anywhere in a string (not anchored: a key pasted into a sentence counts).
_SECRET_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),  # Anthropic API key
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWT (Entra ID token)
    re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])"),  # classic Cognitive Services key
    re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{84}(?![A-Za-z0-9])"),  # current Azure AI Services key
    re.compile(r"(AccountKey|SharedAccessKey|client_secret|password)=[^\s;]*", re.IGNORECASE),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
SECRET_SHOWN_AS = "[value not shown]"  # noqa: S105 (the placeholder, not a secret)


def redact_secrets(text: str) -> str:
    """``text`` with anything that looks like a key or token replaced (messages never echo one)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(SECRET_SHOWN_AS, text)
    return text
_SECRET_FIELD = re.compile(r"(^|[_-])(api[_-]?key|key|token|secret|password|client[_-]?secret)$", re.IGNORECASE)


def looks_like_secret(value: str) -> bool:
    return any(p.search(value) for p in _SECRET_PATTERNS)


def _scan_secrets(data: Any, path: tuple[str | int, ...], doc: Document, out: list[Issue]) -> None:
    if isinstance(data, dict):
        for k, v in data.items():
            child = (*path, k)
            if looks_like_secret(str(k)):
                out.append(Issue(doc.mark_for(child), dotted(path) or "(top level)",
                                 "a mapping key looks like a key or token; secrets never belong in a stack file "
                                 "(value not shown). Rotate it if it was committed."))
                continue
            if _SECRET_FIELD.search(str(k)) and v not in (None, "", False):
                out.append(Issue(doc.mark_for(child), dotted(child),
                                 "keys and tokens never belong in a stack file; the stack reads the account "
                                 "key from Azure and stores it in Key Vault (value not shown)"))
            else:
                _scan_secrets(v, child, doc, out)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _scan_secrets(v, (*path, i), doc, out)
    elif isinstance(data, str) and looks_like_secret(data):
        out.append(Issue(doc.mark_for(path), dotted(path),
                         "this value looks like a key or token; secrets never belong in a stack file "
                         "(value not shown). Rotate it if it was committed."))


# --- pydantic errors -> readable issues -----------------------------------------------------------


def _got(value: Any) -> str:
    if isinstance(value, str) and looks_like_secret(value):
        return "a value that looks like a secret"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: Mapping[str, Any], field_names: list[str]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(field_names) if field_names else "none"
        return f"unknown field; allowed here: {allowed}"
    if kind == "missing":
        return "required field missing"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"must be an integer (got {_got(value)})"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false (got {_got(value)})"
    if kind in ("string_type",):
        return f"must be a string (got {_got(value)})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"must be a mapping of fields (got {_got(value)})"
    if kind == "list_type":
        return f"must be a list (got {_got(value)})"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "?")
        noun = "an integer" if isinstance(value, int) else "a number"
        return f"must be {noun} {op} {bound} (got {_got(value)})"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else \
            f"must be at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_got(value)})"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{err['msg']} (got {_got(value)})"


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Allowed field names of the model at ``loc`` (for 'unknown field' messages)."""
    current: Any = Spec
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    return list(getattr(current, "model_fields", {}))


def _unwrap(annotation: Any) -> Any:
    """Strip Optional[...] / Annotated[...] down to a model, dict or list type."""
    while typing.get_origin(annotation) not in (None, dict, list):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if args else None
    return annotation


def _issues_from_validation(exc: ValidationError, doc: Document) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic adds the function name for "after" validators on dict items; keep field paths only
        parent = _fields_at(loc[:-1]) if err["type"] == "extra_forbidden" else []
        issues.append(Issue(doc.mark_for(loc), dotted(loc), _message(err, parent)))
    return issues


def _lifecycle(spec: Spec, cat: Catalogue, doc: Document, today: dt.date) -> tuple[list[Issue], list[Issue]]:
    """Refusals and warnings that need the whole spec: retired / deprecated / preview / gated models, and an
    Entra-only model in a stack that exports a key."""
    errors: list[Issue] = []
    warnings: list[Issue] = []
    seen: set[tuple[str, str | None]] = set()
    for account in spec.all_accounts():
        prefix = account.path  # () for foundry:, whose deployments are the stack's deployments:
        for name, dep in account.deployments.items():
            if (dep.model, dep.version) in seen and prefix:
                continue  # the same model and version, already judged where the stack names it
            seen.add((dep.model, dep.version))
            _judge(spec, cat, doc, today, (*prefix, "deployments", name, "model"), dep, errors, warnings)
    return errors, warnings


def _client_traps(spec: Spec, cat: Catalogue, doc: Document) -> list[Issue]:
    """Warnings on deployment names that trip the clients teams point at them: a name with upper case (clients
    and proxies that lower-case model names, LiteLLM's among them, then ask for a deployment that does not
    exist) and a name that is another model's id (Claude Code, LiteLLM and the SDKs' helpers infer a model's
    features from the name they send, so they would assume that model's, not the one deployed)."""
    out: list[Issue] = []
    for account in spec.all_accounts():
        prefix = account.path  # () for foundry:, whose deployments are the stack's deployments:
        for name, dep in account.deployments.items():
            loc = (*prefix, "deployments", name)
            if prefix and name in spec.deployments:
                continue  # judged where the stack names it
            if name != name.lower():
                out.append(Issue(doc.mark_for(loc), dotted(loc),
                                 f"deployment name {name!r} has upper case: clients and proxies that lower-case "
                                 f"the model name (LiteLLM among them) would ask for {name.lower()!r}, which does "
                                 "not exist; prefer a lower-case name"))
            if cat.model(name) is not None and name != dep.model:
                out.append(Issue(doc.mark_for(loc), dotted(loc),
                                 f"deployment name {name!r} is another model's id but serves {dep.model}: Claude "
                                 f"Code and other clients infer the model's features from the name they send and "
                                 f"would assume {name}'s; name it after {dep.model} or after its role"))
    return out


def _judge(spec: Spec, cat: Catalogue, doc: Document, today: dt.date, loc: tuple[str, ...], dep: Any,
       errors: list[Issue], warnings: list[Issue]) -> None:
    """The lifecycle verdict of one deployment at ``loc``, and the Entra-only check."""
    info = cat.model(dep.model)
    where = doc.mark_for(loc)
    path = dotted(loc)
    if info is None:  # a Claude model id newer than the snapshot (a typo was refused by the schema)
        verdict = cat.unknown_model(dep.model)
        (errors if verdict[0] == "error" else warnings).append(Issue(where, path, verdict[1]))
        return
    if dep.version is None:
        return
    judged = cat.lifecycle(dep.model, dep.version, today)
    if judged is not None:
        (errors if judged[0] == "error" else warnings).append(Issue(where, path, judged[1]))
    if info.entra_only and not spec.foundry.disable_local_auth:
        errors.append(Issue(where, path, f"{dep.model} accepts Microsoft Entra ID only, but this stack enables "
                                         "key auth and exports a key: set foundry.disable_local_auth: true "
                                         "(or deploy it from an Entra-only stack)"))


def validate_data(doc: Document, catalogue: Catalogue | None = None,
                  today: dt.date | None = None, *, judge_lifecycle: bool = True,
                  ) -> tuple[Spec | None, list[Issue], list[Issue]]:
    """Validate loaded data; returns (spec or None, errors, warnings). ``judge_lifecycle=False`` leaves out the
    lifecycle verdicts (a retired model is then no error): what ``claude-foundry lifecycle`` reads a stack with."""
    cat = catalogue or load_catalogue()
    issues: list[Issue] = []
    _scan_secrets(doc.data, (), doc, issues)
    location = doc.data.get("location")
    try:
        spec = Spec.model_validate(doc.data, context={"catalogue": cat, "location": location})
    except ValidationError as exc:
        issues.extend(_issues_from_validation(exc, doc))
        spec = None
    warnings: list[Issue] = []
    if spec is not None and not issues and judge_lifecycle:
        errors, warnings = _lifecycle(spec, cat, doc, today or dt.date.today())
        issues.extend(errors)
    if spec is not None and not issues:
        warnings.extend(_client_traps(spec, cat, doc))
    issues.sort(key=lambda i: (i.mark.file if i.mark else "", i.mark.line if i.mark else 0))
    # no message ever echoes a secret: not the pydantic one about the same field, not a path holding one
    issues = [Issue(i.mark, redact_secrets(i.path), redact_secrets(i.message)) for i in issues]
    warnings = [Issue(w.mark, redact_secrets(w.path), redact_secrets(w.message)) for w in warnings]
    return (None if issues else spec), issues, warnings


def load_spec(path: str | Path, catalogue: Catalogue | None = None, *,
              warnings: list[Issue] | None = None) -> Spec:
    """Load, merge (``extends``) and validate a stack file. Raises :class:`SpecError` with every issue.

    Lifecycle warnings (a model due to retire) are appended to ``warnings`` when a list is given.
    """
    try:
        doc = load_document(path)
    except LoadError as exc:
        raise SpecError(exc.issues) from None
    return _spec_of(doc, catalogue, warnings)


@dataclass(frozen=True)
class _SourceMark(Mark):
    """Where a problem of a mapping is: its source's name, no line."""

    def __str__(self) -> str:
        return self.file


def spec_from_mapping(data: Mapping[str, Any], *, source: str = "<mapping>", catalogue: Catalogue | None = None,
                      warnings: list[Issue] | None = None) -> Spec:
    """Validate a stack given as a mapping (what a stack file holds, without ``extends``), with every check
    :func:`load_spec` makes and the same messages, one line per problem: ``<source>: <field.path>: ...``.

    Raises :class:`SpecError`. Lifecycle warnings are appended to ``warnings`` when a list is given.
    """
    mark = _SourceMark(source, 0)
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise SpecError([Issue(mark, "", f"the top level must be a mapping of fields, got {kind}")])
    return _spec_of(Document(data=dict(data), marks={(): mark}, files=[source]), catalogue, warnings)


def _spec_of(doc: Document, catalogue: Catalogue | None, warnings: list[Issue] | None) -> Spec:
    spec, issues, warns = validate_data(doc, catalogue)
    if warnings is not None:
        warnings.extend(warns)
    if issues or spec is None:
        raise SpecError(issues)
    return spec
