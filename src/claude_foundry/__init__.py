"""claude-foundry: Claude on Microsoft Foundry as infrastructure as code.

The front door: what a team uses, importable from here (``from claude_foundry import FoundryRuntime``).

=========================  =========================================================================================
the runtime                :class:`FoundryRuntime` (contract from Key Vault, a file or the environment),
                           :func:`load_runtime`, :class:`FailoverRuntime` (several accounts), :class:`CircuitBreaker`
smoke                      :func:`run_smoke` / :func:`run_smoke_async` → :class:`SmokeReport`,
                           :func:`assert_smoke_passed`
env export                 :func:`env_vars` (what the SDKs and Claude Code read), :func:`render_env`
stack files                :func:`load_spec`, :func:`spec_from_mapping`, :class:`Spec`
errors                     :class:`ClaudeFoundryError` (the root of every error raised on purpose), :class:`UserError`,
                           :class:`OperationFailed`, :class:`SpecError`, :class:`RuntimeConfigError`,
                           :class:`UnknownDeploymentError`, ``RedirectRefusedError``, ``StreamInterruptedError``,
                           ``NoEndpointAvailableError``
=========================  =========================================================================================

The Pulumi pieces (components and their args) are in :mod:`claude_foundry.program.components` and their mocks for
a team's unit tests in :mod:`claude_foundry.testing` (the ``[infra]`` extra). Everything else is internal: its
names may change in any release.

Each name is imported on first use (PEP 562), so ``import claude_foundry`` costs nothing: the CLI and an
application that uses only the runtime never load the spec, Pulumi or the catalogue through this module.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    # One home for the version: the installed distribution's metadata, which setuptools-scm took from the git tag.
    __version__ = version("claude-foundry")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

#: public name → the module that defines it (the one home each name has)
_HOMES: dict[str, str] = {
    "ClaudeFoundryError": "claude_foundry._errors",
    "UserError": "claude_foundry._errors",
    "OperationFailed": "claude_foundry._errors",
    "FoundryRuntime": "claude_foundry._client.runtime",
    "load_runtime": "claude_foundry._client.runtime",
    "RuntimeConfigError": "claude_foundry._client.runtime",
    "UnknownDeploymentError": "claude_foundry._client.runtime",
    "RedirectRefusedError": "claude_foundry._client.runtime",
    "StreamInterruptedError": "claude_foundry._client.runtime",
    "FailoverRuntime": "claude_foundry._client.failover",
    "CircuitBreaker": "claude_foundry._client.failover",
    "NoEndpointAvailableError": "claude_foundry._client.failover",
    "run_smoke": "claude_foundry._client.smoke",
    "run_smoke_async": "claude_foundry._client.smoke",
    "assert_smoke_passed": "claude_foundry._client.smoke",
    "SmokeReport": "claude_foundry._client.smoke",
    "DeploymentResult": "claude_foundry._client.smoke",
    "env_vars": "claude_foundry._client.envexport",
    "render_env": "claude_foundry._client.envexport:render",
    "load_spec": "claude_foundry.program.spec",
    "spec_from_mapping": "claude_foundry.program.spec",
    "Spec": "claude_foundry.program.spec",
    "SpecError": "claude_foundry.program.spec",
}

__all__ = [
    "CircuitBreaker",
    "ClaudeFoundryError",
    "DeploymentResult",
    "FailoverRuntime",
    "FoundryRuntime",
    "NoEndpointAvailableError",
    "OperationFailed",
    "RedirectRefusedError",
    "RuntimeConfigError",
    "SmokeReport",
    "Spec",
    "SpecError",
    "StreamInterruptedError",
    "UnknownDeploymentError",
    "UserError",
    "__version__",
    "assert_smoke_passed",
    "env_vars",
    "load_runtime",
    "load_spec",
    "render_env",
    "run_smoke",
    "run_smoke_async",
    "spec_from_mapping",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'claude_foundry' has no attribute {name!r}")
    module, _, attr = home.partition(":")
    value = getattr(import_module(module), attr or name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors: the same names, eagerly
    from claude_foundry._client.envexport import env_vars
    from claude_foundry._client.envexport import render as render_env
    from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime
    from claude_foundry._client.runtime import (
        FoundryRuntime,
        RuntimeConfigError,
        UnknownDeploymentError,
        load_runtime,
    )
    from claude_foundry._client.smoke import (
        DeploymentResult,
        SmokeReport,
        assert_smoke_passed,
        run_smoke,
        run_smoke_async,
    )
    from claude_foundry._errors import ClaudeFoundryError, OperationFailed, UserError
    from claude_foundry.program.spec import Spec, SpecError, load_spec, spec_from_mapping
