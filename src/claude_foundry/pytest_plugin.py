"""pytest plugin: smoke-test a Claude-on-Foundry stack from a team's own test suite.

Enable it with ``-p claude_foundry.pytest_plugin`` or
``pytest_plugins = ["claude_foundry.pytest_plugin"]`` in a ``conftest.py``. It adds:

* ``claude_foundry_runtime`` (session): a :class:`~claude_foundry._client.runtime.FoundryRuntime` from
  ``--claude-foundry-vault-url`` / ``CLAUDE_FOUNDRY_VAULT_URL`` (Key Vault), else ``--claude-foundry-contract``
  (exported JSON), else the ``ANTHROPIC_FOUNDRY_*`` variables; the test is skipped when none is configured.
* ``claude_foundry_smoke`` (session): the :class:`~claude_foundry._client.smoke.SmokeReport` of one smoke run over every
  deployment (or ``--claude-foundry-deployments a,b``).

Example::

    from claude_foundry._client.smoke import assert_smoke_passed

    def test_claude_answers(claude_foundry_smoke):
        assert_smoke_passed(claude_foundry_smoke)
"""

from __future__ import annotations

import os
from typing import Any, Literal

import pytest

from claude_foundry import _contract as c


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claude-foundry")
    group.addoption("--claude-foundry-vault-url", default=None,
                    help=f"Key Vault with the stack's contract (default: ${c.ENV_VAULT_URL})")
    group.addoption("--claude-foundry-prefix", default=None, help="Key Vault secret prefix")
    group.addoption("--claude-foundry-contract", default=None, help="exported contract JSON file")
    group.addoption("--claude-foundry-deployments", default=None, help="comma-separated subset to smoke")
    group.addoption("--claude-foundry-entra", action="store_true", default=False,
                    help="use Entra ID even when a key is available")
    group.addoption("--claude-foundry-propagation-timeout", type=float, default=120.0,
                    help="seconds a 404 is retried while deployments propagate")
    group.addoption("--claude-foundry-role-propagation-timeout", type=float, default=300.0,
                    help="seconds an Entra ID 401/403 'permission denied' is retried while fresh role assignments "
                         "propagate (0: no wait)")


@pytest.fixture(scope="session")
def claude_foundry_runtime(request: pytest.FixtureRequest) -> Any:
    from claude_foundry._client.runtime import FoundryRuntime

    opt = request.config.getoption
    auth: Literal["entra", "auto"] = "entra" if opt("--claude-foundry-entra") else "auto"
    vault_url = opt("--claude-foundry-vault-url") or os.environ.get(c.ENV_VAULT_URL)
    if vault_url:
        return FoundryRuntime.from_key_vault(vault_url, prefix=opt("--claude-foundry-prefix"), auth=auth)
    if opt("--claude-foundry-contract"):
        return FoundryRuntime.from_json(opt("--claude-foundry-contract"), auth=auth)
    if os.environ.get(c.ENV_RESOURCE) or os.environ.get(c.ENV_BASE_URL):
        return FoundryRuntime.from_env(auth=auth)
    pytest.skip(f"no Claude on Foundry target: set {c.ENV_VAULT_URL} (or pass --claude-foundry-vault-url)")


@pytest.fixture(scope="session")
def claude_foundry_smoke(request: pytest.FixtureRequest, claude_foundry_runtime: Any) -> Any:
    from claude_foundry._client.smoke import run_smoke

    subset = request.config.getoption("--claude-foundry-deployments")
    names = [n.strip() for n in subset.split(",") if n.strip()] if subset else None
    return run_smoke(claude_foundry_runtime, names,
                     propagation_timeout=request.config.getoption("--claude-foundry-propagation-timeout"),
                     role_propagation_timeout=request.config.getoption("--claude-foundry-role-propagation-timeout"))
