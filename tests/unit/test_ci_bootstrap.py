"""``ci bootstrap`` without Azure: the plan its flags make (``--dry-run --offline``), Azure's name rules (exit 2
naming the flag), deterministic role assignment names, and idempotence over a fake ARM."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure import arm
from claude_foundry._errors import UserError
from claude_foundry._ops import bootstrap as bs
from claude_foundry.cli import main

ROOT = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-0000000000aa"
BASE = ["ci", "bootstrap", "--repo", "contoso/claude-infra", "--resource-group", "rg-ci", "--location", "East US 2",
        "--subscription", SUB, "--stacks-dir", str(ROOT / "stacks")]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*BASE, *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def offline(capsys, *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--dry-run", "--offline", "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def test_dry_run_lists_exactly_what_a_team_must_create(capsys):
    plan = offline(capsys)
    assert [(r["kind"], r["name"]) for r in plan["resources"]] == [
        ("resource group", "rg-ci"), ("resource group", "rg-claude-dev"), ("resource group", "rg-claude-prod"),
        ("managed identity", "id-claude-infra-ci-dev"),
        ("federated credential", "id-claude-infra-ci-dev/github-env-dev"),
        ("managed identity", "id-claude-infra-ci-prod"),
        ("federated credential", "id-claude-infra-ci-prod/github-env-prod"),
        ("managed identity", "id-claude-infra-ci-preview"),
        ("federated credential", "id-claude-infra-ci-preview/github-pull-request"),
        ("managed identity", "id-claude-infra-ci-drift"),
        ("federated credential", "id-claude-infra-ci-drift/github-main"),
        ("storage account", plan["resources"][11]["name"]), ("blob service", plan["resources"][12]["name"]),
        ("blob container", plan["resources"][13]["name"]), ("key vault", plan["resources"][14]["name"]),
        ("key", plan["resources"][15]["name"])]
    assert all(r["action"] == "create" for r in plan["resources"])
    roles = {(g["identity"], g["role"], g["scope"].split("/providers/")[-1] if "/providers/" in g["scope"]
              else g["scope"].rsplit("/", 1)[-1]) for g in plan["role_assignments"]}
    assert ("id-claude-infra-ci-prod", "User Access Administrator", "rg-claude-prod") in roles  # protect: true
    assert ("id-claude-infra-ci-dev", "Role Based Access Control Administrator", "rg-claude-dev") in roles
    assert not any(g["role"] == "Owner" or g["scope"] == f"/subscriptions/{SUB}" for g in plan["role_assignments"])
    assert {g["role"] for g in plan["role_assignments"] if g["identity"].endswith("-preview")} == {
        "Reader", "Cognitive Services User", "Storage Blob Data Contributor", "Key Vault Crypto User"}
    assert all(g["why"] for g in plan["role_assignments"])
    github = {(r["name"], r["where"]) for r in plan["github"]}
    assert {("AZURE_CLIENT_ID", "environment dev"), ("AZURE_CLIENT_ID", "environment prod"),
            ("AZURE_CLIENT_ID", "repository"), ("AZURE_DRIFT_CLIENT_ID", "repository"),
            ("AZURE_TENANT_ID", "repository"), ("AZURE_SUBSCRIPTION_ID", "repository")} <= github
    assert {r["name"] for r in plan["github"]} >= {"PULUMI_BACKEND_URL", "PULUMI_SECRETS_PROVIDER"}


def test_federated_subjects_follow_github(capsys):
    plan = offline(capsys, "--environments", "staging", "--deploy-resource-group", "staging=rg-stg")
    creds = {r["name"] for r in plan["resources"] if r["kind"] == "federated credential"}
    assert creds == {"id-claude-infra-ci-staging/github-env-staging", "id-claude-infra-ci-preview/github-pull-request",
                     "id-claude-infra-ci-drift/github-main"}
    b = bs.plan_bootstrap(bs.BootstrapConfig("o/r", "rg", "eastus2", ("dev",), {"dev": "rg-dev"}), SUB)
    subjects = [i.body["properties"]["subject"] for i in b.items if i.kind == "federated credential"]
    assert subjects == ["repo:o/r:environment:dev", "repo:o/r:pull_request", "repo:o/r:ref:refs/heads/main"]
    for item in b.items:
        if item.kind == "federated credential":
            assert item.body["properties"]["issuer"] == "https://token.actions.githubusercontent.com"
            assert item.body["properties"]["audiences"] == ["api://AzureADTokenExchange"]


def test_text_output(capsys):
    code, out, _ = run(capsys, "--dry-run", "--offline")
    assert code == 0
    assert "dry run, offline" in out
    assert "Key Vault Crypto User" in out
    assert "PULUMI_SECRETS_PROVIDER" in out
    assert out.rstrip().endswith("to create or update")


@pytest.mark.parametrize(("argv", "flag"), [
    (["--storage-account", "Has_Upper"], "--storage-account"),
    (["--storage-account", "ab"], "--storage-account"),
    (["--storage-account", "a" * 25], "--storage-account"),
    (["--container", "a--b"], "--container"),
    (["--container", "ab"], "--container"),
    (["--key-vault", "1vault"], "--key-vault"),
    (["--key-vault", "kv--double"], "--key-vault"),
    (["--key-name", "bad_name"], "--key-name"),
    (["--identity-name=-x"], "--identity-name"),
    (["--repo", "no-slash"], "--repo"),
    (["--resource-group", "ends."], "--resource-group"),
    (["--location", "east_us"], "--location"),
    (["--environments", "preview"], "--environments"),
    (["--environments", "dev,dev"], "--environments"),
    (["--environments", "qa"], "--deploy-resource-group"),
    (["--deploy-resource-group", "dev"], "--deploy-resource-group"),
    (["--deploy-resource-group", "uat=rg-uat"], "--deploy-resource-group"),
])
def test_bad_names_exit_2_naming_the_flag(argv, flag, capsys):
    code, out, err = run(capsys, "--dry-run", "--offline", *argv)
    assert code == 2
    assert f"error: {flag}" in err
    assert not out


def test_offline_needs_dry_run(capsys):
    code, _, err = run(capsys, "--offline")
    assert code == 2
    assert "--offline" in err


def test_sandbox_and_subscription_are_exclusive(capsys, tmp_path):
    code, _, err = run(capsys, "--sandbox", str(tmp_path / "conn.json"))
    assert code == 2
    assert "exclusive" in err


def test_default_names_are_valid_and_stable():
    c = bs.BootstrapConfig("Contoso/My.Repo", "rg", "eastus2", ("dev",), {"dev": "rg-dev"})
    assert c.problems() == []
    assert c.identity == "id-my-repo-ci"
    assert c.account == bs.BootstrapConfig("contoso/my.repo", "rg", "x").account  # case-insensitive digest
    assert len(c.account) <= 24
    assert bs.name_problem("key_vault", c.vault) is None


def test_role_assignment_names_are_deterministic():
    scope = arm.resource_group_id(SUB, "rg-dev")
    a = arm.ci_role_assignment_name(scope, arm.CI_ROLE_IDS["reader"], "P1")
    assert a == arm.ci_role_assignment_name(scope.upper(), arm.CI_ROLE_IDS["reader"], "p1")
    assert a != arm.ci_role_assignment_name(scope, arm.CI_ROLE_IDS["contributor"], "p1")
    assert a != arm.ci_role_assignment_name(scope + "x", arm.CI_ROLE_IDS["reader"], "p1")


def test_plan_refuses_a_bad_config():
    with pytest.raises(UserError, match=r"^storage_account: 'NO' is not allowed"):
        bs.plan_bootstrap(bs.BootstrapConfig("o/r", "rg", "eastus2", ("dev",), {"dev": "rg-dev"},
                                             storage_account="NO"), SUB)


class FakeArm:
    """ARM as a dict: PUT stores (an identity gets ids), GET reads, role assignments listed by principal."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.puts: list[str] = []

    def get(self, arm_id: str, api_version: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.store.get(arm_id.lower()))

    def put(self, arm_id: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
        self.puts.append(arm_id)
        res = copy.deepcopy(body)
        if "/userassignedidentities/" in arm_id.lower() and "federated" not in arm_id.lower():
            old = self.store.get(arm_id.lower(), {}).get("properties", {})
            res["properties"] = old or {"principalId": f"pid-{len(self.puts)}", "clientId": f"cid-{len(self.puts)}"}
        self.store[arm_id.lower()] = res
        return res

    def role_assignments(self, scope: str, principal_id: str) -> list[dict[str, Any]]:
        return [{"properties": {**v["properties"], "scope": k.split("/providers/microsoft.authorization/")[0]}}
                for k, v in self.store.items() if "/roleassignments/" in k
                and v["properties"]["principalId"] == principal_id]

    def tenant_id(self, subscription_id: str) -> str | None:
        return "tenant-1"


def _config() -> bs.BootstrapConfig:
    return bs.BootstrapConfig("o/r", "rg-ci", "eastus2", ("dev", "prod"), {"dev": "rg-dev", "prod": "rg-prod"},
                              protected=frozenset({"prod"}))


def test_apply_then_a_second_run_changes_nothing():
    fake = FakeArm()
    first = bs.apply(bs.inspect(bs.plan_bootstrap(_config(), SUB), fake), fake)
    assert first.changes() == len(first.items) + len(first.grants)
    vault = fake.store[arm.vault_id(SUB, "rg-ci", first.config.vault).lower()]
    assert vault["properties"]["tenantId"] == "tenant-1"
    ra = [v for k, v in fake.store.items() if "/roleassignments/" in k]
    assert len(ra) == len(first.grants)
    assert all(v["properties"]["principalType"] == "ServicePrincipal" for v in ra)
    puts = len(fake.puts)
    second = bs.apply(bs.inspect(bs.plan_bootstrap(_config(), SUB), fake), fake)
    assert second.changes() == 0
    assert len(fake.puts) == puts
    assert second.client_id(second.config.identity_of("dev")).startswith("cid-")


def test_a_differing_setting_is_an_update_and_only_it_is_put():
    fake = FakeArm()
    bs.apply(bs.inspect(bs.plan_bootstrap(_config(), SUB), fake), fake)
    account = arm.storage_account_id(SUB, "rg-ci", _config().account).lower()
    fake.store[account]["properties"]["allowBlobPublicAccess"] = True
    identity = arm.identity_id(SUB, "rg-ci", _config().identity_of("dev")).lower()
    fake.store[identity]["location"] = "East US 2"  # the same region, spelled otherwise
    fake.puts.clear()
    again = bs.inspect(bs.plan_bootstrap(_config(), SUB), fake)
    changed = [(i.kind, i.action, i.differs) for i in again.items if i.action != bs.EXISTS]
    assert changed == [("storage account", bs.UPDATE, ["properties.allowBlobPublicAccess"])]
    bs.apply(again, fake)
    assert [p.lower() for p in fake.puts] == [account]
