"""Live tests against real Azure: the same checks users' CI runs after ``pulumi up``.

Skipped unless ``CLAUDE_FOUNDRY_LIVE=1`` (see tests/conftest.py) and the variables below are set; they use
``DefaultAzureCredential`` (in GitHub Actions: azure/login with OIDC). Nothing here creates resources: the
stack is deployed by ``pulumi up`` before, so a failed test never leaves anything behind.

- ``CLAUDE_FOUNDRY_VAULT_URL`` (and optionally ``CLAUDE_FOUNDRY_SECRET_PREFIX``): the deployed stack's vault.
- ``CLAUDE_FOUNDRY_LIVE_STACK``: the stack file that was deployed (default stacks/dev.yaml).
- ``AZURE_SUBSCRIPTION_ID``: for the management-plane checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claude_foundry import _contract as contract
from claude_foundry.program.spec import load_spec

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]


def _need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set")
    return value


@pytest.fixture(scope="module")
def spec():
    return load_spec(os.environ.get("CLAUDE_FOUNDRY_LIVE_STACK", str(ROOT / "stacks" / "dev.yaml")))


def test_every_deployment_answers(spec) -> None:
    from claude_foundry._client.runtime import FoundryRuntime
    from claude_foundry._client.smoke import run_smoke

    vault_url = _need(contract.ENV_VAULT_URL)
    with FoundryRuntime.from_key_vault(vault_url, prefix=spec.key_vault.secret_prefix) as runtime:
        assert set(runtime.deployments) == set(spec.deployments)
        assert runtime.base_url == spec.base_url()  # built from the subdomain: services.ai.azure.com
        report = run_smoke(runtime)
    assert report.passed, report.summary()


def test_live_deployments_match_the_spec(spec) -> None:
    from azure.identity import DefaultAzureCredential
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    sub = _need("AZURE_SUBSCRIPTION_ID")
    with DefaultAzureCredential() as cred, CognitiveServicesManagementClient(cred, sub) as client:
        account = client.accounts.get(spec.resource_group, spec.foundry.name)
        assert account.kind == "AIServices"
        assert account.properties.custom_sub_domain_name == spec.foundry.name
        live = {d.name: d for d in client.deployments.list(spec.resource_group, spec.foundry.name)}
    assert set(live) == set(spec.deployments)
    for name, dep in spec.deployments.items():
        assert live[name].properties.model.name == dep.model
        assert live[name].properties.model.format == "Anthropic"
