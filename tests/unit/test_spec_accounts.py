"""``accounts:``: further Foundry accounts of a stack, what they inherit, and every refusal with its file, line
and field path."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from stacktext import one_deployment_stack

from claude_foundry import _contract as c
from claude_foundry.program._reference import schema_json
from claude_foundry.program.spec import SpecError, load_spec, spec_from_mapping

BASE = one_deployment_stack("fast: {model: claude-haiku-4-5}\n  deep: {model: claude-opus-4-8, capacity: 50}")


def write(tmp_path: Path, accounts: str, extra: str = "") -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(BASE + extra + "accounts:\n" + accounts, encoding="utf-8")
    return path


def problems(tmp_path: Path, accounts: str, extra: str = "") -> list[str]:
    with pytest.raises(SpecError) as err:
        load_spec(write(tmp_path, accounts, extra))
    return [str(i) for i in err.value.issues]


def test_a_further_account_serves_every_deployment_by_default(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "  sweden: {name: contoso-claude-dev-sc, location: swedencentral}\n"))
    primary, sweden = spec.all_accounts()
    assert (primary.key, primary.name, primary.location, primary.path, primary.settings_path) == (
        "primary", "contoso-claude-dev", "eastus2", (), ("foundry",))
    assert (sweden.key, sweden.name, sweden.location, sweden.path, sweden.settings_path) == (
        "sweden", "contoso-claude-dev-sc", "swedencentral", ("accounts", "sweden"), ("accounts", "sweden"))
    assert list(sweden.deployments) == ["fast", "deep"]
    assert sweden.deployments["deep"] == spec.deployments["deep"]  # same model, version, SKU and capacity
    assert sweden.foundry.model_provider == spec.foundry.model_provider
    assert sweden.foundry.disable_local_auth == spec.foundry.disable_local_auth
    assert spec.multi_account


def test_a_list_names_a_subset_and_a_mapping_overrides(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, """\
  sweden:
    name: contoso-claude-dev-sc
    location: swedencentral
    deployments: [deep]
  west:
    name: contoso-claude-dev-w
    location: westus3
    deployments:
      deep: {capacity: 10}
      fast: {hosting: anthropic}
      extra: {model: claude-sonnet-4-6}
"""))
    _, sweden, west = spec.all_accounts()
    assert list(sweden.deployments) == ["deep"]
    assert west.deployments["deep"].capacity == 10
    assert west.deployments["deep"].model == "claude-opus-4-8"
    assert spec.deployments["fast"].version == "2"
    assert west.deployments["fast"].version == "1"
    assert west.deployments["extra"].model == "claude-sonnet-4-6"
    assert "extra" not in spec.deployments


def test_the_stack_contract_lists_every_account_in_order(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "  sweden: {name: contoso-claude-dev-sc, location: swedencentral, "
                                     "deployments: [deep]}\n"))
    stack = spec.stack_contract()
    assert stack.version == c.CONTRACT_VERSION
    assert [(a.account, a.resource, a.region) for a in stack.accounts] == [
        ("primary", "contoso-claude-dev", "eastus2"), ("sweden", "contoso-claude-dev-sc", "swedencentral")]
    assert stack.accounts[1].base_url == "https://contoso-claude-dev-sc.services.ai.azure.com/anthropic"
    assert [a.account for a in stack.serving("deep")] == ["primary", "sweden"]
    assert [a.account for a in stack.serving("fast")] == ["primary"]
    assert stack.deployment_names == ["deep", "fast"]


def test_one_account_stacks_are_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(BASE, encoding="utf-8")
    spec = load_spec(path)
    assert not spec.multi_account
    assert [a.key for a in spec.all_accounts()] == ["primary"]
    assert spec.stack_contract().version == 1


def test_an_unknown_deployment_needs_a_model(tmp_path: Path) -> None:
    (issue,) = problems(tmp_path, "  sweden: {name: contoso-claude-dev-sc, location: swedencentral, "
                                  "deployments: {nope: {}}}\n")
    assert issue.startswith(f"{tmp_path / 'stack.yaml'}:12: accounts.sweden.deployments: ")
    assert "'nope' is not one of the stack's deployments (fast, deep)" in issue
    assert "give it a model:" in issue


def test_a_deployment_is_checked_against_the_accounts_own_location(tmp_path: Path) -> None:
    # DataZoneStandard is the US data zone: allowed in eastus2, not in swedencentral
    (issue,) = problems(tmp_path, """\
  sweden:
    name: contoso-claude-dev-sc
    location: swedencentral
    deployments:
      fast: {sku: DataZoneStandard}
""")
    assert ":16: accounts.sweden.deployments.fast.sku: " in issue
    assert "swedencentral is in eu" in issue


@pytest.mark.parametrize(("accounts", "where", "words"), [
    ("  primary: {name: contoso-claude-dev-b, location: eastus}\n", "accounts", "not 'primary'"),
    ("  Sweden: {name: contoso-claude-dev-b, location: eastus}\n", "accounts", "lower-case"),
    ("  sweden: {name: contoso-claude-dev, location: eastus}\n", "accounts",
     "'contoso-claude-dev' is already foundry.name"),
    ("  sweden: {name: Bad_Name, location: eastus}\n", "accounts.sweden.name", "lower-case letters"),
    ("  sweden: {name: contoso-claude-dev-b, location: marsnorth}\n", "accounts.sweden.location",
     "Claude is not offered in 'marsnorth'"),
    ("  sweden: {name: contoso-claude-dev-b, location: eastus, deployments: [deep, deep]}\n",
     "accounts.sweden.deployments", "listed twice"),
    ("  sweden: {name: contoso-claude-dev-b, location: eastus, deployments: []}\n",
     "accounts.sweden.deployments", "at least one deployment"),
    ("  sweden: {name: contoso-claude-dev-b, location: eastus, colour: blue}\n", "accounts.sweden.colour",
     "unknown field; allowed here: name, location, network, deployments"),
])
def test_refusals_name_the_field(tmp_path: Path, accounts: str, where: str, words: str) -> None:
    (issue,) = problems(tmp_path, accounts)
    assert f": {where}: " in issue
    assert words in issue


def test_two_further_accounts_may_not_share_a_name(tmp_path: Path) -> None:
    (issue,) = problems(tmp_path, "  a: {name: contoso-claude-dev-x, location: eastus}\n"
                                  "  b: {name: contoso-claude-dev-x, location: westus3}\n")
    assert "b.name 'contoso-claude-dev-x' is already accounts.a.name" in issue


def test_a_key_secret_name_too_long_is_refused(tmp_path: Path) -> None:
    prefix = "p" * c.MAX_SECRET_PREFIX_LENGTH
    with pytest.raises(SpecError) as err:
        spec_from_mapping({**_mapping(), "key_vault": {"name": "kv-contoso-claude-dev", "secret_prefix": prefix},
                           "accounts": {"a-long-account-name": {"name": "contoso-claude-dev-b",
                                                                "location": "eastus"}}})
    assert "its key secret name is too long with key_vault.secret_prefix" in str(err.value)


def test_private_network_refuses_an_account_that_says_public(tmp_path: Path) -> None:
    (issue,) = problems(tmp_path, "  sweden:\n    name: contoso-claude-dev-sc\n    location: swedencentral\n"
                                  "    network: {public_network_access: true}\n",
                        extra="private_network: {address_space: 10.0.0.0/16, subnet_prefix: 10.0.1.0/24}\n")
    assert "accounts.sweden.network.public_network_access is true" in issue


def test_an_account_network_replaces_the_foundry_one(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, "  sweden:\n    name: contoso-claude-dev-sc\n    location: swedencentral\n"
                                     "    network: {ip_rules: [203.0.113.0/24]}\n"))
    assert spec.all_accounts()[1].foundry.network.ip_rules == ["203.0.113.0/24"]
    assert spec.foundry.network.ip_rules == []


def test_lifecycle_verdicts_reach_a_model_only_an_account_deploys(tmp_path: Path) -> None:
    from claude_foundry.program.spec import Document, validate_data

    data = {**_mapping(), "accounts": {"sweden": {"name": "contoso-claude-dev-sc", "location": "swedencentral",
                                                  "deployments": {"old": {"model": "claude-opus-4-1"}}}}}
    _, errors, _ = validate_data(Document(data=data, marks={}, files=["<m>"]), today=dt.date(2026, 12, 1))
    (retired,) = [e for e in errors if e.path == "accounts.sweden.deployments.old.model"]
    assert "retired" in retired.message.lower()


def test_the_json_schema_takes_a_list_or_a_mapping_of_overrides() -> None:
    props = json.loads(schema_json())["$defs"]["AccountSpec"]["properties"]["deployments"]
    kinds = sorted(option["type"] for option in props["anyOf"])
    assert kinds == ["array", "object"]


def _mapping() -> dict:
    import yaml

    return yaml.safe_load(BASE)


def test_the_example_in_docs_regions_is_a_valid_stack(tmp_path: Path) -> None:
    import re

    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "regions.md").read_text(encoding="utf-8")
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.DOTALL).group(1))
    base = _mapping()
    spec = spec_from_mapping({**base, **example, "foundry": {**base["foundry"], **example["foundry"]}})
    assert [(a.key, a.location) for a in spec.all_accounts()] == [
        ("primary", "eastus2"), ("sweden", "swedencentral"), ("west", "westus3")]
    sweden = spec.all_accounts()[1]
    assert sweden.deployments["my-claude-deployment"].capacity == 100
    assert "nordic" in sweden.deployments


def test_validate_names_every_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry.cli import main

    path = write(tmp_path, "  sweden: {name: contoso-claude-dev-sc, location: swedencentral, deployments: [deep]}\n")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "and account sweden: contoso-claude-dev-sc in swedencentral, 1 deployment(s): deep" in out
