"""Where a stack's contract comes from, as a library call: Key Vault, env-style values, or an exported file.

``claude-foundry smoke`` / ``env`` turn their flags into a :class:`RuntimeTarget` and call
:func:`resolve_runtime`; a team's own tooling can do the same without argparse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import contract as c
from claude_foundry.client import runtime as rt
from claude_foundry.errors import OperationFailed, UserError


@dataclass(frozen=True)
class RuntimeTarget:
    """One of: ``vault_url`` (with ``prefix``), ``base_url`` / ``resource`` (with ``deployments``), or
    ``contract_file``; none of them means: from the environment (``CLAUDE_FOUNDRY_VAULT_URL``, then
    ``ANTHROPIC_FOUNDRY_RESOURCE`` / ``ANTHROPIC_FOUNDRY_BASE_URL``)."""

    vault_url: str | None = None
    prefix: str | None = None
    base_url: str | None = None
    resource: str | None = None
    contract_file: str | None = None
    deployments: list[str] | None = None  # a subset to use (None: all of the contract's)
    auth: str = "auto"  # auto | key | entra
    token_scope: str | None = None
    ca_bundle: str | None = None  # only for the local sandbox
    credential: Any = field(default=None, repr=False)  # e.g. the sandbox's; default DefaultAzureCredential
    #: True when the deployment names come from the stack file: a name missing from the vault's map is then
    #: a smoke failure to report, not a usage error.
    names_from_stack: bool = False

    #: flag spelling of each target, for messages
    FLAGS = (("vault_url", "--vault-url"), ("base_url", "--base-url"), ("resource", "--resource"),
             ("contract_file", "--contract"))


def split_names(text: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; empty -> None."""
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


def _vault_error(vault_url: str, exc: Exception) -> OperationFailed:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return OperationFailed(f"cannot read the contract from Key Vault {vault_url}: {type(exc).__name__}: {first}")


def resolve_runtime(target: RuntimeTarget, environ: Mapping[str, str] | None = None
                    ) -> tuple[rt.FoundryRuntime, list[str] | None]:
    """(runtime, deployment names to use or None for all). Raises :class:`UserError` for a target that
    cannot work (nothing chosen, two chosen, no key), :class:`OperationFailed` when Key Vault cannot be read."""
    from azure.core.exceptions import AzureError

    env = os.environ if environ is None else environ
    chosen = [flag for attr, flag in RuntimeTarget.FLAGS if getattr(target, attr)]
    if len(chosen) > 1:
        raise UserError(f"{' and '.join(chosen)} are exclusive: choose one target")
    names = target.deployments
    common: dict[str, Any] = {"auth": target.auth, "token_scope": target.token_scope,
                              "ca_bundle": target.ca_bundle}
    if target.credential is not None:
        common["credential"] = target.credential
    has_key = bool(env.get(c.ENV_API_KEY))

    def key_or_entra() -> dict[str, Any]:
        return {**common, "auth": "entra"} if common["auth"] != "entra" and not has_key else common

    vault_url = target.vault_url
    if not chosen:
        if env.get(c.ENV_VAULT_URL):
            vault_url = env[c.ENV_VAULT_URL]
        elif env.get(c.ENV_RESOURCE) or env.get(c.ENV_BASE_URL):
            if not names and not env.get(c.ENV_DEPLOYMENTS):
                raise UserError(f"no deployments: pass --deployments or set {c.ENV_DEPLOYMENTS}")
            return rt.FoundryRuntime.from_env(env, **key_or_entra()), names
        else:
            raise UserError(f"no target: pass --vault-url, --base-url/--resource with --deployments, --stack or "
                            f"--contract (or set {c.ENV_VAULT_URL})")

    if target.base_url or target.resource:
        if not names:
            raise UserError("--base-url/--resource need --deployments a,b,c")
        values = {c.ENV_DEPLOYMENTS: ",".join(names)}
        if target.base_url:
            values[c.ENV_BASE_URL] = target.base_url
        else:
            values[c.ENV_RESOURCE] = str(target.resource)
        if target.auth != "entra" and has_key:
            values[c.ENV_API_KEY] = env[c.ENV_API_KEY]
        elif target.auth != "entra":
            raise UserError(f"no key: set {c.ENV_API_KEY}, or pass --entra to use an Entra ID token")
        return rt.FoundryRuntime(rt.contract_from_env(values), **common), names

    if target.contract_file:
        runtime = rt.FoundryRuntime.from_json(target.contract_file, **key_or_entra())
        return runtime, _subset(runtime, names)

    assert vault_url is not None
    try:
        runtime = rt.FoundryRuntime.from_key_vault(vault_url, prefix=target.prefix, **common)
    except UserError:
        raise
    except AzureError as exc:
        raise _vault_error(vault_url, exc) from None
    if target.names_from_stack:
        return runtime, names
    return runtime, _subset(runtime, names)


def _subset(runtime: rt.FoundryRuntime, names: list[str] | None) -> list[str] | None:
    for n in names or ():
        runtime.deployment(n)  # UnknownDeploymentError (a UserError) lists the known ones
    return names
