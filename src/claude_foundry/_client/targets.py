"""Where a stack's contract comes from, as a library call: Key Vault, env-style values, or an exported file.

``claude-foundry smoke`` / ``env`` turn their flags into a :class:`RuntimeTarget` and call
:func:`resolve_runtime`; a team's own tooling can do the same without argparse.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import _contract as c
from claude_foundry._client import runtime as rt
from claude_foundry._errors import OperationFailed, Parameter, UserError


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

    #: the fields that choose a target (at most one)
    TARGETS = ("vault_url", "base_url", "resource", "contract_file")


def _joined(parts: list[Parameter], sep: str) -> list[str | Parameter]:
    out: list[str | Parameter] = []
    for part in parts:
        out += [sep, part] if out else [part]
    return out


def split_names(text: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; empty -> None."""
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


def _forbidden_by_rbac(exc: Exception) -> bool:
    """Key Vault's 403 for a caller without a data-plane role (``ForbiddenByRbac``): what a fresh role
    assignment answers until it propagates. Firewall (``ForbiddenByFirewall``) and access-policy denials are not."""
    return getattr(exc, "status_code", None) == 403 and "forbiddenbyrbac" in str(exc).lower()


def _forbidden_by_network(exc: Exception) -> bool:
    """Key Vault's 403 for a caller outside its network: inner code ``ForbiddenByConnection`` (public access
    disabled) or ``ForbiddenByFirewall`` (address not allowed), the outer code being plain ``Forbidden``."""
    if getattr(exc, "status_code", None) != 403:
        return False
    err = getattr(exc, "error", None)
    inner = getattr(err, "innererror", None) or {}
    codes = {str(getattr(err, "code", "") or ""), str(inner.get("code", "") if isinstance(inner, dict) else "")}
    text = str(exc).lower()
    return bool(codes & {"ForbiddenByConnection", "ForbiddenByFirewall"}) or \
        "public network access is disabled" in text or "client address is not authorized" in text


def _vault_error(vault_url: str, exc: Exception, waited: float | None = None) -> OperationFailed:
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    hint = ""
    if _forbidden_by_network(exc):
        from claude_foundry._client.smoke import outside_network_words

        hint = f"; {outside_network_words(f'Key Vault {vault_url}')}"
    elif _forbidden_by_rbac(exc):
        hint = ("; the caller lacks 'Key Vault Secrets User' (or Officer) on the vault (access.secret_readers; "
                "role assignments take minutes to apply")
        if waited:
            return OperationFailed(f"cannot read the contract from Key Vault {vault_url}: {type(exc).__name__}: "
                                   f"{first}{hint}: still denied after waiting {waited:.0f}s, raise ",
                                   Parameter("role_propagation_timeout"), " if the assignment is that new)")
        hint += ")"
    return OperationFailed(f"cannot read the contract from Key Vault {vault_url}: {type(exc).__name__}: {first}"
                           + hint)


def _from_key_vault(vault_url: str, prefix: str | None, common: dict[str, Any], role_propagation_timeout: float,
                    poll_interval: float, progress: Callable[[str], None] | None,
                    vault_timeout: float = rt.DEFAULT_VAULT_TIMEOUT) -> rt.FoundryRuntime:
    """The runtime from Key Vault; a ``ForbiddenByRbac`` 403 (a fresh Key Vault Secrets User assignment) is
    retried with backoff for up to ``role_propagation_timeout`` seconds, with progress lines."""
    from azure.core.exceptions import AzureError

    from claude_foundry._client.smoke import MAX_POLL_INTERVAL, PropagationLog

    log = PropagationLog(progress, f"Key Vault {vault_url}", role_propagation_timeout)
    start, interval, tries = time.monotonic(), poll_interval, 0
    while True:
        tries += 1
        try:
            runtime = rt.FoundryRuntime.from_key_vault(vault_url, prefix=prefix, vault_timeout=vault_timeout, **common)
        except UserError:
            raise
        except AzureError as exc:
            waited = time.monotonic() - start
            if _forbidden_by_rbac(exc) and waited + interval <= role_propagation_timeout:
                log.denied("the contract read", "403 ForbiddenByRbac")
                time.sleep(interval)
                interval = min(interval * 1.5, MAX_POLL_INTERVAL)
                continue
            log.done("the contract read", granted=False)
            raise _vault_error(vault_url, exc, waited if tries > 1 else None) from None
        log.done("the contract read")
        return runtime


def resolve_runtime(target: RuntimeTarget, environ: Mapping[str, str] | None = None, *,
                    role_propagation_timeout: float = 0.0, poll_interval: float = 2.0,
                    progress: Callable[[str], None] | None = None,
                    vault_timeout: float = rt.DEFAULT_VAULT_TIMEOUT) -> tuple[rt.FoundryRuntime, list[str] | None]:
    """(runtime, deployment names to use or None for all). Raises :class:`UserError` for a target that
    cannot work (nothing chosen, two chosen, no key), :class:`OperationFailed` when Key Vault cannot be read
    (:class:`~claude_foundry._client.runtime.VaultTimeoutError` when a read took longer than ``vault_timeout``).
    With ``role_propagation_timeout`` a Key Vault ``ForbiddenByRbac`` 403 (a role assignment the deploy just
    made) is retried that long, ``progress`` getting the wait's lines."""
    env = os.environ if environ is None else environ
    chosen = [Parameter(attr) for attr in RuntimeTarget.TARGETS if getattr(target, attr)]
    if len(chosen) > 1:
        raise UserError(*_joined(chosen, " and "), " are exclusive: choose one target")
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
                raise UserError("no deployments: pass ", Parameter("deployments"), f" or set {c.ENV_DEPLOYMENTS}")
            return rt.FoundryRuntime.from_env(env, **key_or_entra()), names
        else:
            raise UserError("no target: pass ", Parameter("vault_url"), ", ", Parameter("base_url"), "/",
                            Parameter("resource"), " with ", Parameter("deployments"), " or ",
                            Parameter("contract_file"), f" (or set {c.ENV_VAULT_URL})")

    if target.base_url or target.resource:
        if not names:
            raise UserError(Parameter("base_url"), "/", Parameter("resource"), " need ", Parameter("deployments"),
                            " a,b,c")
        values = {c.ENV_DEPLOYMENTS: ",".join(names)}
        if target.base_url:
            values[c.ENV_BASE_URL] = target.base_url
        else:
            values[c.ENV_RESOURCE] = str(target.resource)
        if target.auth != "entra" and has_key:
            values[c.ENV_API_KEY] = env[c.ENV_API_KEY]
        elif target.auth != "entra":
            raise UserError(f"no key: set {c.ENV_API_KEY}, or pass ", Parameter("auth", said='auth="entra"'),
                            " to use an Entra ID token")
        return rt.FoundryRuntime(rt.contract_from_env(values), **common), names

    if target.contract_file:
        runtime = rt.FoundryRuntime.from_json(target.contract_file, **key_or_entra())
        return runtime, _subset(runtime, names)

    assert vault_url is not None
    runtime = _from_key_vault(vault_url, target.prefix, common, role_propagation_timeout, poll_interval, progress,
                              vault_timeout)
    if target.names_from_stack:
        return runtime, names
    return runtime, _subset(runtime, names)


def _subset(runtime: rt.FoundryRuntime, names: list[str] | None) -> list[str] | None:
    """Every name is served by an account of the runtime's stack: a one-account stack's
    ``UnknownDeploymentError`` (a UserError) lists the known ones; with several accounts, each account's."""
    accounts = runtime.stack.accounts
    for n in names or ():
        if len(accounts) == 1:
            runtime.deployment(n)
        elif not any(not a.deployments or n in a.deployments for a in accounts):
            known = "; ".join(f"{a.account}: {', '.join(sorted(a.deployments))}" for a in accounts)
            raise UserError(f"unknown deployment {n!r} on any account of the stack; known deployments: {known}")
    return names
