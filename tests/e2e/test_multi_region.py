"""The two-region scenario end to end: a production stack with a second Foundry account in another region and private
endpoints for both accounts and the vault plans, passes the policy, rehearses locally (a second run changes
nothing), cannot be reached from outside the network, and, from a runner inside the virtual network, its runtime
keeps answering through a regional outage: the primary account down, then throttling, while ``FailoverRuntime``
moves every call to the other region."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import pytest
from seeding import SHARED_BASE

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime
from claude_foundry._client.runtime import FoundryRuntime
from claude_foundry._rehearse import SAME, up_local
from claude_foundry.program import policy
from claude_foundry.program._plan import plan
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import extends_line, unique

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

HI = [{"role": "user", "content": "hi"}]


def two_region_stack(directory: Path) -> Path:
    name = unique("cf-mr-")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(extends_line(SHARED_BASE) + f"""environment: prod
resource_group: rg-{name}
foundry:
  name: {name}
  disable_local_auth: true
deployments:
  deep: {{model: claude-opus-4-8, capacity: 50}}
accounts:
  sweden:
    name: {name}-sc
    location: swedencentral
    deployments:
      deep: {{capacity: 100}}
      nordic: {{model: claude-sonnet-4-6}}   # served by this region only
key_vault: {{name: kv{name[-18:]}, purge_protection: true}}
private_network: {{address_space: 10.50.0.0/16, subnet_prefix: 10.50.1.0/24}}
protect: true
alerts: {{emails: [oncall@contoso.com]}}
budget: {{amount: 5000, emails: [finops@contoso.com]}}
""", encoding="utf-8")
    return path


@pytest.fixture
def deployed(tmp_path: Path, connection: dict[str, Any], sandbox: Any) -> Any:
    spec = load_spec(two_region_stack(tmp_path))
    with sandbox_target(connection) as target:
        deploy = up_local(spec, target, state_dir=tmp_path)
        assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
        try:
            yield spec, target, deploy
        finally:
            sandbox.set_inside_network()
            sandbox.clear_faults()


def test_it_plans_and_passes_the_production_policy(tmp_path: Path) -> None:
    spec = load_spec(two_region_stack(tmp_path))
    planned = plan(spec)
    violations = policy.check_plan(planned)
    assert [v for v in violations if v.enforcement == policy.MANDATORY] == []
    accounts = [r for r in planned.resources if r.type == "azure-native:cognitiveservices:Account"]
    assert sorted(r.inputs["location"] for r in accounts) == ["eastus2", "swedencentral"]
    assert all(r.inputs["properties"]["publicNetworkAccess"] == "Disabled" for r in accounts)
    endpoints = [r for r in planned.resources if r.type == "azure-native:network:PrivateEndpoint"]
    targets = sorted(r.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"].rsplit("/", 1)[-1]
                     for r in endpoints)
    assert targets == sorted([spec.foundry.name, spec.accounts["sweden"].name, spec.key_vault.name])

    # the same stack open to the internet: each account is a violation of its own
    open_spec = spec.model_copy(update={"private_network": None})
    names = sorted(v.resource for v in policy.check_plan(plan(open_spec)) if v.rule == "public-network")
    assert names == ["claude-foundry-foundry-account", "claude-foundry-foundry-sweden-account"]


def test_rehearsal_deploys_both_regions_and_a_second_run_changes_nothing(deployed, rm_client, tmp_path) -> None:
    spec, target, _ = deployed
    sub, rg = target.subscription_id, spec.resource_group
    for name, location in ((spec.foundry.name, "eastus2"), (spec.accounts["sweden"].name, "swedencentral")):
        account = rm_client.resources.get_by_id(arm.account_id(sub, rg, name),
                                                api_version=arm.API_VERSIONS[arm.ACCOUNT])
        assert account.location == location
        assert account.properties["publicNetworkAccess"] == "Disabled"
    again = up_local(spec, target, state_dir=tmp_path)
    assert again.result.ok
    assert again.result.count(SAME) == len(again.result.results)


def test_outside_the_network_nothing_answers(deployed) -> None:
    from azure.core.exceptions import HttpResponseError

    _spec, target, deploy = deployed
    with pytest.raises(HttpResponseError) as err:
        FoundryRuntime.from_key_vault(deploy.vault_url, credential=target.credential, ca_bundle=target.ca_bundle)
    assert err.value.status_code == 403
    assert err.value.error.innererror["code"] == "ForbiddenByConnection"


def test_inside_the_network_the_runtime_fails_over_through_a_regional_outage(deployed, sandbox) -> None:
    spec, target, deploy = deployed
    sandbox.set_inside_network(arm.virtual_network_id(target.subscription_id, spec.resource_group,
                                                      spec.private_network.resolved_vnet_name(spec.foundry.name)))
    primary = FoundryRuntime.from_key_vault(deploy.vault_url, credential=target.credential, ca_bundle=target.ca_bundle)
    stack = primary.stack
    assert [(a.account, a.region) for a in stack.accounts] == [(c.PRIMARY_ACCOUNT, "eastus2"),
                                                                ("sweden", "swedencentral")]
    assert stack.first.auth_mode == c.AUTH_MODE_ENTRA
    assert all(a.api_key is None for a in stack.accounts)
    assert [a.account for a in stack.serving("nordic")] == ["sweden"]
    assert [a.account for a in stack.serving("fast")] == [c.PRIMARY_ACCOUNT]
    assert stack.account("sweden").deployments["deep"].capacity == 100
    assert [a.account for a in stack.serving("deep")] == [c.PRIMARY_ACCOUNT, "sweden"]

    fo = FailoverRuntime.from_key_vault(deploy.vault_url, credential=target.credential, ca_bundle=target.ca_bundle,
                                        breaker=CircuitBreaker(failures=2, cool_down=60.0), timeout=5.0)
    assert fo.endpoints == [spec.foundry.name, spec.accounts["sweden"].name]
    client = fo.client()

    def call(model: str = "deep") -> str:
        return client.messages.create(model=model, max_tokens=16, messages=HI).model

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert len(list(pool.map(lambda _: call(), range(16)))) == 16
        assert fo.stats()[spec.foundry.name]["served"] == 16  # healthy: all to the preferred region

        sandbox.set_fault("region:eastus2", "*", {"down": True})  # the primary's region is gone
        assert len(list(pool.map(lambda _: call(), range(24)))) == 24
        assert {a["status"] for a in sandbox.faults.answers(spec.foundry.name)} >= {0}  # dropped there
        sandbox.clear_faults("region:eastus2")
        sandbox.set_fault(spec.foundry.name, "*", {"status": 429, "retry_after": 30})  # back, but throttling
        assert len(list(pool.map(lambda _: call(), range(24)))) == 24
    stats = fo.stats()
    assert stats[spec.accounts["sweden"].name]["served"] >= 48
    assert stats[spec.foundry.name]["breaker"] == "open"
    assert fo.failovers >= 2
    assert call("nordic")  # served by one region only: never sent to the primary
    client.close()
    fo.close()


def test_the_demo_of_a_two_account_stack_smokes_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry.cli import main

    stacks = Path(__file__).resolve().parents[2] / "stacks"
    path = tmp_path / "two.yaml"
    path.write_text(extends_line(stacks / "dev.yaml") + "accounts:\n  sweden: {name: contoso-claude-dev-sc, "
                    "location: swedencentral, deployments: [my-claude-deployment]}\n", encoding="utf-8")
    assert main(["demo", str(path)]) == 0
    out = capsys.readouterr().out
    assert "and account  sweden (swedencentral)" in out
    assert "3/3 deployments passed on 2 accounts (primary, sweden)" in out
