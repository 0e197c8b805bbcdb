"""Export a stack's contract as environment variables for the anthropic SDK and Claude Code.

``ANTHROPIC_FOUNDRY_RESOURCE`` when the base URL is the standard one for the resource, else
``ANTHROPIC_FOUNDRY_BASE_URL`` (the SDK refuses both); ``CLAUDE_CODE_USE_FOUNDRY=1``; and
``ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL`` pinned to this stack's deployment names. The key only when
asked for (``with_key``) and only when the stack has one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
from collections.abc import Mapping
from pathlib import Path

from claude_foundry import contract as c
from claude_foundry.catalogue import Catalogue, load_catalogue

FORMATS = ("sh", "dotenv", "json")


class EnvExportError(ValueError):
    pass


def _family(info: c.DeploymentInfo, catalogue: Catalogue) -> str:
    return info.family or catalogue.family_of(info.model)


def pick_family_deployments(
    contract: c.Contract, *, prefer: str | None = None, catalogue: Catalogue | None = None
) -> dict[str, str]:
    """Family -> deployment name, for the families Claude Code knows (opus, sonnet, haiku).

    When several deployments share a family: ``prefer`` if it is one of them, else the newest model by
    catalogue order (the catalogue lists newer models first), then the deployment name.
    """
    cat = catalogue or load_catalogue()
    if prefer is not None and prefer not in contract.deployments:
        known = ", ".join(sorted(contract.deployments)) or "(none)"
        raise EnvExportError(f"unknown deployment {prefer!r}; known deployments: {known}")
    order = {model: i for i, model in enumerate(cat.models)}
    chosen: dict[str, tuple[tuple[int, int, str], str]] = {}
    for name, info in contract.deployments.items():
        family = _family(info, cat)
        if family not in c.ENV_DEFAULT_MODEL:
            continue
        rank = (0 if name == prefer else 1, order.get(info.model, len(order)), name)
        if family not in chosen or rank < chosen[family][0]:
            chosen[family] = (rank, name)
    return {family: chosen[family][1] for family in c.ENV_DEFAULT_MODEL if family in chosen}


def env_vars(
    contract: c.Contract,
    *,
    deployment: str | None = None,
    with_key: bool = False,
    catalogue: Catalogue | None = None,
) -> dict[str, str]:
    """The variables, in a stable order. The key is included only with ``with_key`` and key auth."""
    out: dict[str, str] = {}
    if contract.resource and contract.base_url.rstrip("/") == c.foundry_base_url(contract.resource):
        out[c.ENV_RESOURCE] = contract.resource
    else:
        out[c.ENV_BASE_URL] = contract.base_url.rstrip("/")
    if with_key and contract.api_key and contract.auth_mode != c.AUTH_MODE_ENTRA:
        out[c.ENV_API_KEY] = contract.api_key
    out[c.ENV_CLAUDE_CODE_USE_FOUNDRY] = "1"
    for family, name in pick_family_deployments(contract, prefer=deployment, catalogue=catalogue).items():
        out[c.ENV_DEFAULT_MODEL[family]] = name
    if contract.deployments:
        out[c.ENV_DEPLOYMENTS] = c.dump_deployment_map(contract.deployments)
    return out


def render(variables: Mapping[str, str], fmt: str = "sh") -> str:
    """``sh`` (``export K=...``), ``dotenv`` (``K=...``) or ``json`` (an object); values shell-quoted."""
    if fmt == "json":
        return json.dumps(dict(variables), indent=2) + "\n"
    if fmt not in FORMATS:
        raise EnvExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    lead = "export " if fmt == "sh" else ""
    return "".join(f"{lead}{k}={shlex.quote(v)}\n" for k, v in variables.items())


def render_contract_json(contract: c.Contract, variables: Mapping[str, str]) -> str:
    """The ``--format json`` export: ``Contract.public_json()`` plus the non-secret variables."""
    data = contract.public_json()
    data["env"] = {k: v for k, v in variables.items() if k != c.ENV_API_KEY}
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def write_private(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600, atomically.

    The temporary file is created with ``os.open(O_CREAT | O_EXCL, 0o600)`` (owner-only from the first byte,
    never following a planted symlink), filled, synced and renamed over ``path``.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target
