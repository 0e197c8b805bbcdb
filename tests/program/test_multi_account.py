"""The program of a stack with further accounts (``accounts:``), under mocks: one account and its chained deployments
per region, nothing chained across accounts, the version 2 contract in the vault, and every per-account concern
(diagnostics, access, alerts, private endpoints) repeated for each account."""

from __future__ import annotations

import json

import pytest

from claude_foundry import _contract as c
from claude_foundry.program._plan import plan

ACCOUNTS = """\
accounts:
  sweden:
    name: contoso-claude-dev-sc
    location: swedencentral
    deployments: [my-claude-deployment]
  west:
    name: contoso-claude-dev-w
    location: westus3
"""
SWEDEN, WEST = "contoso-claude-dev-sc", "contoso-claude-dev-w"


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    from textwrap import dedent

    from claude_foundry.program.spec import load_spec
    from claude_foundry_sandbox.testing import extends_line
    from conftest import STACKS

    path = tmp_path_factory.mktemp("multi") / "stack.yaml"
    path.write_text(extends_line(STACKS / "dev.yaml") + dedent(ACCOUNTS) + "alerts: {emails: [a@contoso.com]}\n",
                    encoding="utf-8")
    spec = load_spec(path)
    return spec, plan(spec)


def of_type(p, suffix: str) -> list:
    return [r for r in p.resources if r.type.endswith(suffix)]


def test_one_account_per_region_with_its_own_deployments(multi) -> None:
    spec, p = multi
    accounts = {r.inputs["accountName"]: r for r in of_type(p, "cognitiveservices:Account")}
    assert {n: r.inputs["location"] for n, r in accounts.items()} == {
        "contoso-claude-dev": "eastus2", SWEDEN: "swedencentral", WEST: "westus3"}
    assert accounts[SWEDEN].inputs["properties"]["customSubDomainName"] == SWEDEN
    deployments = of_type(p, "resources:Resource")
    by_account = {}
    for d in deployments:
        by_account.setdefault(d.inputs["parentResourcePath"].removeprefix("accounts/"), []).append(d)
    assert sorted(d.inputs["resourceName"] for d in by_account[SWEDEN]) == ["my-claude-deployment"]
    assert sorted(d.inputs["resourceName"] for d in by_account[WEST]) == sorted(spec.deployments)


def test_deployments_chain_within_an_account_and_never_across(multi) -> None:
    _, p = multi
    urn_account = {r.urn: r.inputs["accountName"] for r in of_type(p, "cognitiveservices:Account")}
    deployments = of_type(p, "resources:Resource")
    urn_dep_account = {d.urn: d.inputs["parentResourcePath"].removeprefix("accounts/") for d in deployments}
    for d in deployments:
        mine = urn_dep_account[d.urn]
        on = [u for u in d.depends_on if u in urn_account or u in urn_dep_account]
        assert on, d.name
        assert all((urn_account.get(u) or urn_dep_account.get(u)) == mine for u in on), (d.name, on)
    # the further accounts wait for nothing of the primary's: they deploy in parallel
    for r in of_type(p, "cognitiveservices:Account"):
        assert not [u for u in r.depends_on if u in urn_dep_account]


def test_the_vault_holds_the_version_2_contract_and_a_key_per_account(multi) -> None:
    spec, p = multi
    secrets = {r.inputs["secretName"]: r for r in of_type(p, "keyvault:Secret")}
    names = spec.secret_names
    assert set(secrets) == {names.endpoint, names.resource, names.deployments, names.auth_mode, names.api_key,
                            names.accounts, names.api_key_of("sweden"), names.api_key_of("west")}
    doc = json.loads(secrets[names.accounts].inputs["properties"]["value"])
    assert doc["version"] == c.CONTRACT_VERSION
    assert [(a["account"], a["resource"], a["region"]) for a in doc["accounts"]] == [
        ("primary", "contoso-claude-dev", "eastus2"), ("sweden", SWEDEN, "swedencentral"), ("west", WEST, "westus3")]
    assert doc["accounts"][1]["api_key_secret"] == "claude-foundry-api-key-sweden"
    assert list(doc["accounts"][1]["deployments"]) == ["my-claude-deployment"]
    # the primary's version 1 secrets are those of a one-account stack
    assert secrets[names.resource].inputs["properties"]["value"] == "contoso-claude-dev"
    assert json.loads(secrets[names.deployments].inputs["properties"]["value"]).keys() == spec.deployments.keys()
    for key_secret in (names.api_key, names.api_key_of("sweden"), names.api_key_of("west")):
        assert secrets[key_secret].secret_paths, key_secret  # a Pulumi secret


def test_per_account_concerns_are_repeated(multi) -> None:
    _, p = multi
    account_ids = sorted(r.arm.id for r in of_type(p, "cognitiveservices:Account"))
    settings = of_type(p, "monitor:DiagnosticSetting")
    assert sorted(s.inputs["resourceUri"] for s in settings if "/accounts/" in s.inputs["resourceUri"]) == account_ids
    deployer = [r for r in of_type(p, "authorization:RoleAssignment") if "deployer-claude" in r.name]
    assert sorted(r.inputs["scope"] for r in deployer) == account_ids
    alerts = of_type(p, "monitor:MetricAlert")
    assert sorted({a.inputs["scopes"][0] for a in alerts}) == account_ids
    assert len({a.inputs["ruleName"] for a in alerts}) == len(alerts) == 3 * len(account_ids)


def test_outputs_list_every_account(multi) -> None:
    _, p = multi
    got = p.outputs["accounts"]
    assert [(a["account"], a["region"], a["endpoint"]) for a in got] == [
        ("primary", "eastus2", "https://contoso-claude-dev.services.ai.azure.com/anthropic"),
        ("sweden", "swedencentral", f"https://{SWEDEN}.services.ai.azure.com/anthropic"),
        ("west", "westus3", f"https://{WEST}.services.ai.azure.com/anthropic")]
    assert got[1]["deployment_names"] == ["my-claude-deployment"]


def test_a_one_account_stack_plans_as_before(dev_plan) -> None:
    assert "accounts" not in dev_plan.outputs
    names = {r.inputs["secretName"] for r in of_type(dev_plan, "keyvault:Secret")}
    assert names == set(c.SecretNames().as_dict().values())
    assert len(of_type(dev_plan, "cognitiveservices:Account")) == 1


def test_an_entra_only_stack_exports_no_key_for_any_account(make_spec) -> None:
    spec = make_spec("dev", "foundry:\n  disable_local_auth: true\n" + ACCOUNTS)
    p = plan(spec)
    names = {r.inputs["secretName"] for r in of_type(p, "keyvault:Secret")}
    assert not [n for n in names if "api-key" in n]
    doc = json.loads(next(r for r in of_type(p, "keyvault:Secret")
                          if r.inputs["secretName"] == spec.secret_names.accounts).inputs["properties"]["value"])
    assert {a["auth_mode"] for a in doc["accounts"]} == {"entra"}
    assert all(a["api_key_secret"] is None for a in doc["accounts"])
    accounts = of_type(p, "cognitiveservices:Account")
    assert all(a.inputs["properties"]["disableLocalAuth"] is True for a in accounts)


def test_private_network_gives_every_account_an_endpoint_in_the_same_zones(make_spec) -> None:
    spec = make_spec("dev", ACCOUNTS + "private_network: {address_space: 10.1.0.0/16, subnet_prefix: 10.1.1.0/24}\n")
    p = plan(spec)
    endpoints = of_type(p, "network:PrivateEndpoint")
    targets = sorted(e.inputs["privateLinkServiceConnections"][0]["privateLinkServiceId"].rsplit("/", 1)[-1]
                     for e in endpoints)
    assert targets == sorted(["contoso-claude-dev", SWEDEN, WEST, spec.key_vault.name])
    assert len(of_type(p, "privatedns:PrivateZone")) == 4  # shared, not one set per account
    for a in of_type(p, "cognitiveservices:Account"):
        assert a.inputs["properties"]["publicNetworkAccess"] == "Disabled"
