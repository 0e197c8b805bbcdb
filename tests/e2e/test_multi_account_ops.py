"""``smoke`` and ``verify`` of a stack with two accounts (``foundry:`` plus ``accounts: {sweden: ...}``) deployed with
``up --local``: every account is smoked and verified, and what goes wrong on the second account is reported as
that account's, never the primary's."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry._azure.target import Target, sandbox_target
from claude_foundry._client import runtime as rt
from claude_foundry._client import smoke
from claude_foundry._ops.verify import KEY_NOT_CURRENT, MISSING, run_verify
from claude_foundry._ops.view import StackView, stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

SHARED = "my-claude-deployment"  # served by both accounts (the shared base's sonnet deployment)
PRIMARY_ONLY = "fast"  # the shared base's haiku deployment: the primary's only


def accounts_block(name: str, deployments: list[str]) -> str:
    return (f"accounts:\n  sweden:\n    name: {name}\n    location: swedencentral\n"
            f"    deployments: [{', '.join(deployments)}]\n")


@dataclass
class Deployed:
    path: Path
    spec: Any
    target: Target
    view: StackView
    vault_url: str
    sweden: str  # the second account's name

    @property
    def prefix(self) -> str:
        return self.spec.key_vault.secret_prefix

    @property
    def names(self) -> c.SecretNames:
        return c.SecretNames(self.prefix)

    def label(self, key: str = "sweden") -> str:
        return self.view.accounts[key].label


#: The shared base's deployments at capacity 1: the session's sandbox has one quota per model for every test.
SMALL = f"deployments:\n  {SHARED}: {{capacity: 1}}\n  {PRIMARY_ONLY}: {{capacity: 1}}\n"


def deploy_two_accounts(directory: Path, connection: dict[str, Any]) -> Any:
    sweden = unique("cf-ma-sc-")
    path = base_stack(directory, "cf-ma-", extra=SMALL + accounts_block(sweden, [SHARED]))
    spec = load_spec(path)
    assert spec.multi_account
    with sandbox_target(connection) as target:
        deploy = up_local(spec, target, state_dir=directory)
        assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
        assert deploy.vault_url
        yield Deployed(path, spec, target, stack_view(spec, target), deploy.vault_url, sweden)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, connection: dict[str, Any]) -> Any:
    """Deployed once for the tests that change nothing (or put back what they change)."""
    yield from deploy_two_accounts(tmp_path_factory.mktemp("multi"), connection)


@pytest.fixture
def deployed(tmp_path: Path, connection: dict[str, Any]) -> Any:
    """Deployed for one test that changes it."""
    yield from deploy_two_accounts(tmp_path, connection)


def set_secret(stack: Deployed, name: str, value: str) -> None:
    """Write a secret as the deploy does: through ARM (the deployer has no data-plane write role)."""
    from claude_foundry._azure.caller import ArmCaller

    planned = stack.view.secrets[name]
    with ArmCaller(stack.target) as caller:
        status, data = caller.call("PUT", planned.id, planned.api_version, {"properties": {"value": value}})
    assert status in (200, 201), (status, data)


def keys_of(cs_client: Any, stack: Deployed, account: str) -> tuple[str, str]:
    keys = cs_client.accounts.list_keys(stack.spec.resource_group, account)
    return keys.key1, keys.key2


def smoke_json(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    report = tmp_path / "r.json"
    code = main([*argv, "--report-json", str(report)])
    out = capsys.readouterr()
    return code, json.loads(report.read_text(encoding="utf-8")) if report.exists() else None, out.out + out.err


def rows(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["account"], d["name"]): d for d in report["deployments"]}


# --- smoke -----------------------------------------------------------------------------------------------------


def test_smoke_calls_every_account_and_reports_each(stack, conn_file, cs_client, tmp_path, capsys):
    junit = tmp_path / "r.xml"
    code, report, text = smoke_json(["smoke", "--stack", str(stack.path), "--sandbox", conn_file,
                                     "--report-junit", str(junit)], tmp_path, capsys)
    assert code == 0, text
    got = rows(report)
    assert set(got) == {("primary", SHARED), ("primary", PRIMARY_ONLY), ("sweden", SHARED)}
    assert all(d["passed"] for d in got.values())
    assert (got["sweden", SHARED]["resource"], got["sweden", SHARED]["region"]) == (stack.sweden, "swedencentral")
    assert (got["primary", SHARED]["resource"], got["primary", SHARED]["region"]) == \
        (stack.spec.foundry.name, stack.spec.location)
    assert [(a["account"], a["resource"], a["region"]) for a in report["accounts"]] == \
        [("primary", stack.spec.foundry.name, stack.spec.location), ("sweden", stack.sweden, "swedencentral")]
    assert "account" in text.splitlines()[2]  # the table has an account column (header row)
    assert "3/3 deployments passed on 2 accounts" in text
    suite = ET.parse(junit).getroot()  # noqa: S314 (our own report)
    cases = {(case.get("classname"), case.get("name")) for case in suite.iter("testcase")}
    assert cases == {(f"claude_foundry.smoke.{stack.spec.foundry.name}", SHARED),
                     (f"claude_foundry.smoke.{stack.spec.foundry.name}", PRIMARY_ONLY),
                     (f"claude_foundry.smoke.{stack.sweden}", SHARED)}
    for account in (stack.spec.foundry.name, stack.sweden):  # neither account's keys anywhere
        for key in keys_of(cs_client, stack, account):
            assert key not in text + junit.read_text(encoding="utf-8") + json.dumps(report)

    code = main(["smoke", "--stack", str(stack.path), "--sandbox", conn_file, "-q"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "3/3 deployments passed on 2 accounts (primary, sweden)"


def test_smoke_from_the_library_smokes_each_account_with_its_own_key(stack, credential, connection):
    runtime = rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential,
                                               ca_bundle=connection["ca_bundle"])
    assert [a.account for a in runtime.accounts()] == ["primary", "sweden"]
    report = smoke.run_smoke(runtime)
    assert report.passed, report.summary()
    assert [(r.account, r.name) for r in report.results] == \
        [("primary", PRIMARY_ONLY), ("primary", SHARED), ("sweden", SHARED)]
    assert report.account_names == ["primary", "sweden"]
    # given names: each account calls those it serves
    only = smoke.run_smoke(runtime, [PRIMARY_ONLY])
    assert [(r.account, r.name) for r in only.results] == [("primary", PRIMARY_ONLY)]
    assert not only.multi_account  # one account called: the one-account report
    both = smoke.run_smoke(runtime, [SHARED])
    assert [(r.account, r.name) for r in both.results] == [("primary", SHARED), ("sweden", SHARED)]


def test_a_down_second_account_fails_that_account_only(stack, sandbox, conn_file, tmp_path, capsys):
    sandbox.set_fault(stack.sweden, "*", {"down": True})
    try:
        code, report, text = smoke_json(["smoke", "--stack", str(stack.path), "--sandbox", conn_file,
                                         "--timeout", "3", "--format", "github"], tmp_path, capsys)
    finally:
        sandbox.clear_faults(stack.sweden)
    assert code == 1
    got = rows(report)
    assert {k for k, d in got.items() if not d["passed"]} == {("sweden", SHARED)}
    failed = got["sweden", SHARED]
    assert failed["category"] == smoke.CONNECTION
    assert f"Foundry account '{stack.sweden}', sweden, swedencentral" in failed["diagnosis"]
    assert stack.spec.foundry.name not in failed["diagnosis"]
    assert got["primary", SHARED]["passed"]
    assert got["primary", PRIMARY_ONLY]["passed"]
    assert "2/3 deployments passed on 2 accounts" in text
    errors = [line for line in text.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    model = stack.spec.deployments[SHARED].model  # what the stack file says, not a model name copied here
    assert f"deployment {SHARED} ({model}) on account sweden ({stack.sweden}, swedencentral)" in errors[0]


def test_smoke_stack_expects_what_the_stack_file_says_each_account_serves(stack, conn_file, tmp_path, capsys):
    """A stack file saying the second account serves a deployment its published contract lacks: that account's
    row fails (the contract is not the stack's); the primary's rows pass."""
    claims = tmp_path / "claims" / stack.path.name
    claims.parent.mkdir()
    text = stack.path.read_text(encoding="utf-8")
    claims.write_text(text.replace(accounts_block(stack.sweden, [SHARED]),
                                   accounts_block(stack.sweden, [SHARED, PRIMARY_ONLY])), encoding="utf-8")
    assert claims.read_text(encoding="utf-8") != text
    code, report, _ = smoke_json(["smoke", "--stack", str(claims), "--sandbox", conn_file], tmp_path, capsys)
    assert code == 1
    got = rows(report)
    assert {k for k, d in got.items() if not d["passed"]} == {("sweden", PRIMARY_ONLY)}
    bad = got["sweden", PRIMARY_ONLY]
    assert bad["category"] == smoke.CONFIG
    assert f"unknown deployment '{PRIMARY_ONLY}' on resource '{stack.sweden}'" in bad["diagnosis"]
    assert "the stack file says its sweden account (swedencentral) serves it" in bad["diagnosis"]
    assert bad["attempts"] == 0  # decided before any call

    # --stack with --deployments: each account the given names the stack file says it serves
    code, report, _ = smoke_json(["smoke", "--stack", str(stack.path), "--sandbox", conn_file,
                                  "--deployments", SHARED], tmp_path, capsys)
    assert code == 0
    assert set(rows(report)) == {("primary", SHARED), ("sweden", SHARED)}


def test_smoke_vault_subset_is_checked_against_every_account(stack, conn_file, tmp_path, capsys):
    argv = ["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file]
    code, report, text = smoke_json([*argv, "--deployments", SHARED], tmp_path, capsys)
    assert code == 0, text
    assert set(rows(report)) == {("primary", SHARED), ("sweden", SHARED)}
    assert main([*argv, "--deployments", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown deployment 'nope' on any account of the stack" in err
    assert f"sweden: {SHARED}" in err
    assert "Traceback" not in err


# --- verify ----------------------------------------------------------------------------------------------------


def drift_rows(report: Any) -> list[tuple[str, str, str, str]]:
    return [(d.resource, d.field, d.expected, d.actual) for d in report.drifts]


def test_verify_in_sync_checks_both_accounts(stack, conn_file, capsys):
    report = run_verify(stack.view)
    assert report.in_sync, report.to_json()
    one = run_verify(stack_view(load_spec(_without_accounts(stack)), stack.target))
    assert report.checked > one.checked  # the second account, its deployment, role, diagnostics, two secrets
    assert main(["verify", str(stack.path), "--sandbox", conn_file, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["in_sync"] is True


def _without_accounts(stack: Deployed) -> Path:
    """The same stack without its second account (its own file, for comparing the number of checks)."""
    out = stack.path.parent / "one" / stack.path.name
    out.parent.mkdir(exist_ok=True)
    out.write_text(stack.path.read_text(encoding="utf-8").replace(accounts_block(stack.sweden, [SHARED]), ""),
                   encoding="utf-8")
    return out


def test_capacity_change_and_deletion_on_the_second_account_are_its_drift(deployed, cs_client):
    planned = deployed.view.accounts["sweden"].deployments[SHARED]
    body = json.loads(json.dumps(planned.body))
    expected = body["sku"]["capacity"]
    body["sku"]["capacity"] = expected + 7
    rg = deployed.spec.resource_group
    cs_client.deployments.begin_create_or_update(rg, deployed.sweden, SHARED, json.dumps(body).encode(),
                                                 api_version=arm.DEPLOYMENT_API_VERSION).result()
    report = run_verify(deployed.view)
    assert drift_rows(report) == [(f"deployment {SHARED} on {deployed.label()}", "capacity", str(expected),
                                   str(expected + 7))]
    assert "(sweden, swedencentral)" in deployed.label()

    cs_client.deployments.begin_delete(rg, deployed.sweden, SHARED).result()
    report = run_verify(deployed.view)
    assert drift_rows(report) == [(f"deployment {SHARED} on {deployed.label()}", "exists", "present", MISSING)]


def test_network_rules_changed_on_the_second_account(deployed, cs_client):
    rg = deployed.spec.resource_group
    account = cs_client.accounts.get(rg, deployed.sweden).as_dict()
    planned = deployed.view.accounts["sweden"].account
    body = json.loads(json.dumps(planned.body))
    body["properties"]["networkAcls"] = {"defaultAction": "Deny", "ipRules": [{"value": "203.0.113.7"}]}
    assert account["properties"].get("networkAcls", {}).get("defaultAction") != "Deny"
    from claude_foundry._azure.caller import ArmCaller

    with ArmCaller(deployed.target) as caller:
        status, _ = caller.call("PUT", planned.id, planned.api_version, body)
    assert status in (200, 201)
    report = run_verify(deployed.view)
    assert [(d.resource, d.field) for d in report.drifts] == [(deployed.label(), "networkAcls")]
    assert "203.0.113.7" in report.drifts[0].actual


def test_second_account_key_rotated_without_publishing_is_stale(deployed, cs_client, conn_file, capsys):
    rg = deployed.spec.resource_group
    secret = deployed.names.api_key_of("sweden")
    assert secret in deployed.view.secrets
    seen = set(keys_of(cs_client, deployed, deployed.sweden)) | set(keys_of(cs_client, deployed,
                                                                            deployed.spec.foundry.name))
    # key2 regenerated: the vault still holds key1, still current
    cs_client.accounts.regenerate_key(rg, deployed.sweden, key_name="Key2")
    assert run_verify(deployed.view).in_sync
    # during a rotation the vault holds key2: current too
    key1, key2 = keys_of(cs_client, deployed, deployed.sweden)
    set_secret(deployed, secret, key2)
    assert run_verify(deployed.view).in_sync
    set_secret(deployed, secret, key1)
    # key1 regenerated through ARM, the vault not told: that account's key secret is stale, nothing else
    new = cs_client.accounts.regenerate_key(rg, deployed.sweden, key_name="Key1")
    seen |= {key1, key2, new.key1, new.key2}
    report = run_verify(deployed.view)
    assert drift_rows(report) == [(f"secret {secret} of {deployed.label()}", "value", "a current account key",
                                   KEY_NOT_CURRENT)]
    assert main(["verify", str(deployed.path), "--sandbox", conn_file, "--json"]) == 1
    assert main(["verify", str(deployed.path), "--sandbox", conn_file]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert KEY_NOT_CURRENT in text
    assert "sweden" in text
    for key in seen:
        assert key not in text


def test_accounts_secret_that_differs_from_the_plan_names_what_differs(deployed):
    name = deployed.names.accounts
    planned = deployed.view.secrets[name].body["properties"]["value"]
    doc = json.loads(planned)
    assert [a["account"] for a in doc["accounts"]] == ["primary", "sweden"]
    client = deployed.target.secret_client(deployed.vault_url)
    try:
        assert json.loads(client.get_secret(name).value) == doc  # what the deploy wrote is the plan
        stale = {**doc, "accounts": [a for a in doc["accounts"] if a["account"] == "primary"]}
        set_secret(deployed, name, json.dumps(stale))
        report = run_verify(deployed.view)
        assert drift_rows(report) == [(f"secret {name}", "value", "as planned",
                                       "differs from the plan (account sweden missing)")]
        changed = json.loads(planned)
        changed["accounts"][1]["region"] = "westus3"
        set_secret(deployed, name, json.dumps(changed))
        (drift,) = run_verify(deployed.view).drifts
        assert drift.actual == f"differs from the plan ({deployed.label()}: region)"
    finally:
        client.close()


def test_smoke_rereads_the_second_accounts_key_after_a_published_rotation(deployed, cs_client, credential,
                                                                          connection):
    runtime = rt.FoundryRuntime.from_key_vault(deployed.vault_url, prefix=deployed.prefix, credential=credential,
                                               ca_bundle=connection["ca_bundle"])
    new = cs_client.accounts.regenerate_key(deployed.spec.resource_group, deployed.sweden, key_name="Key1")
    set_secret(deployed, deployed.names.api_key_of("sweden"), new.key1)  # rotated and published after the load
    report = smoke.run_smoke(runtime)
    assert report.passed, report.summary()
    assert runtime.key_rereads == 0  # the primary's key did not change: only the sweden account re-read its own
    assert run_verify(deployed.view).in_sync
