"""``claude-foundry verify`` finds each kind of drift between a deployed stack and its plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.target import Target, sandbox_target
from claude_foundry._ops.verify import KEY_NOT_CURRENT, MISSING, run_verify
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import deployment_body, write_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def target(connection: dict[str, Any]) -> Target:
    return sandbox_target(connection)


@pytest.fixture
def deployed(tmp_path: Path, target: Target) -> tuple[Path, Any, ArmCaller]:
    path = write_stack(tmp_path, {"sonnet": {"model": "claude-sonnet-4-6", "capacity": 5},
                                   "haiku": {"model": "claude-haiku-4-5", "capacity": 3}}, tag="vf")
    spec = load_spec(path)
    result = up_local(spec, target, state_dir=tmp_path)
    assert result.result.ok, result.result.summary()
    view = stack_view(spec, target)
    caller = ArmCaller(target)
    yield path, view, caller
    caller.close()


def call_ok(caller: ArmCaller, method: str, path: str, api_version: str, body: Any = None) -> Any:
    status, data = caller.call(method, path, api_version, body)
    assert status in (200, 201, 202, 204), (status, data)
    return data


def rows(report: Any) -> set[tuple[str, str]]:
    return {(d.resource, d.field) for d in report.drifts}


def test_in_sync_after_deploy(deployed: Any) -> None:
    _, view, _ = deployed
    report = run_verify(view)
    assert report.in_sync, report.to_json()
    assert report.checked >= 12


def test_capacity_changed_out_of_band(deployed: Any) -> None:
    _, view, caller = deployed
    planned = view.first.deployments["sonnet"]
    body = json.loads(json.dumps(planned.body))
    body["sku"]["capacity"] = 7
    call_ok(caller, "PUT", planned.id, planned.api_version, body)
    report = run_verify(view)
    assert [(d.resource, d.field, d.expected, d.actual) for d in report.drifts] == \
        [("deployment sonnet", "capacity", "5", "7")]


def test_extra_and_missing_deployment(deployed: Any) -> None:
    _, view, caller = deployed
    extra = view.first.account.id + "/deployments/rogue"
    call_ok(caller, "PUT", extra, view.first.deployments["sonnet"].api_version, deployment_body(capacity=1))
    call_ok(caller, "DELETE", view.first.deployments["haiku"].id, view.first.deployments["haiku"].api_version)
    report = run_verify(view)
    assert rows(report) == {("deployment rogue", "exists"), ("deployment haiku", "exists")}
    missing = next(d for d in report.drifts if d.resource == "deployment haiku")
    assert missing.actual == MISSING
    rogue = next(d for d in report.drifts if d.resource == "deployment rogue")
    assert "claude-sonnet-4-6" in rogue.actual


def test_local_auth_flipped(deployed: Any) -> None:
    _, view, caller = deployed
    body = json.loads(json.dumps(view.first.account.body))
    body["properties"]["disableLocalAuth"] = True
    call_ok(caller, "PUT", view.first.account.id, view.first.account.api_version, body)
    report = run_verify(view)
    assert ("account " + view.first.name, "disableLocalAuth") in rows(report)
    d = next(d for d in report.drifts if d.field == "disableLocalAuth")
    assert (d.expected, d.actual) == ("false", "true")


def test_api_key_secret_not_current_after_regenerate(deployed: Any, capsys: pytest.CaptureFixture[str],
                                                     connection: dict[str, Any], tmp_path: Path) -> None:
    path, view, caller = deployed
    old = call_ok(caller, "POST", view.first.account.id + "/listKeys", view.first.account.api_version)
    new = call_ok(caller, "POST", view.first.account.id + "/regenerateKey", view.first.account.api_version,
                  {"keyName": "Key1"})
    report = run_verify(view)
    key_rows = [d for d in report.drifts if d.resource.endswith("-api-key")]
    assert [(d.field, d.actual) for d in key_rows] == [("value", KEY_NOT_CURRENT)]
    # the CLI: exit 1, a table, and no key anywhere in the output
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["verify", str(path), "--sandbox", str(conn)]) == 1
    assert main(["verify", str(path), "--sandbox", str(conn), "--json"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert KEY_NOT_CURRENT in text
    for key in (old["key1"], old["key2"], new["key1"], new["key2"]):
        assert key not in text


def test_missing_role_assignment(deployed: Any) -> None:
    _, view, caller = deployed
    ra = view.role_assignments[0]
    call_ok(caller, "DELETE", ra.id, ra.api_version)
    report = run_verify(view)
    assert len(report.drifts) == 1
    assert report.drifts[0].resource.startswith("role ")
    assert report.drifts[0].actual == MISSING


def test_missing_diagnostic_setting_and_purge_protection(deployed: Any) -> None:
    _, view, caller = deployed
    diag = view.diagnostic_settings[0]
    call_ok(caller, "DELETE", diag.id, diag.api_version)
    vault = view.vault
    body = json.loads(json.dumps(vault.body))
    body["properties"]["enablePurgeProtection"] = True
    call_ok(caller, "PUT", vault.id, vault.api_version, body)
    report = run_verify(view)
    fields = {d.field for d in report.drifts}
    assert {"exists", "enablePurgeProtection"} <= fields


def test_cannot_read_secrets_without_role(deployed: Any, sandbox: Any, connection: dict[str, Any]) -> None:
    """A Contributor without Key Vault Secrets User: verify says which role is missing."""
    _, view, _ = deployed
    subscription = f"/subscriptions/{connection['subscription_id']}"
    p = sandbox.add_principal("verify-no-secrets", roles=[("contributor", subscription)])
    other = sandbox_target({**connection, "client_id": p["client_id"], "client_secret": p["client_secret"],
                            "principal_id": p["principal_id"]})
    report = run_verify(stack_view(view.spec, other))
    assert any("cannot read secrets: Key Vault Secrets User missing" in d.actual for d in report.drifts)


def test_cli_in_sync_exit_zero(deployed: Any, connection: dict[str, Any], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    path, _, _ = deployed
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["verify", str(path), "--sandbox", str(conn), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["in_sync"] is True
    assert data["drift"] == []


def test_fields_azure_may_not_echo_are_not_drift_when_absent(tmp_path: Path,
                                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    """Whether ARM's GET echoes modelProviderData is unverified (raiPolicyName and versionUpgradeOption are
    optional): a sandbox that leaves them out of GET reports no drift; one that echoes a different value does."""
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    seed = {"deployment_get_omits": ["modelProviderData", "versionUpgradeOption"]}
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("omits"), seed=seed)) as sb, \
            sandbox_target(sb.connection) as target:
        path = write_stack(tmp_path, {"haiku": {"model": "claude-haiku-4-5", "capacity": 3}}, tag="ve")
        spec = load_spec(path)
        assert up_local(spec, target, state_dir=tmp_path).result.ok
        view = stack_view(spec, target)
        with ArmCaller(target) as caller:
            haiku = view.first.deployments["haiku"]
            got = call_ok(caller, "GET", haiku.id, haiku.api_version)
        assert "modelProviderData" not in got["properties"]  # the sandbox really leaves it out
        report = run_verify(view)
        assert report.in_sync, report.to_json()


def test_a_different_echoed_upgrade_option_is_drift(deployed: Any) -> None:
    _, view, caller = deployed
    planned = view.first.deployments["haiku"]
    body = json.loads(json.dumps(planned.body))
    assert body["properties"]["versionUpgradeOption"] == "NoAutoUpgrade"
    body["properties"]["versionUpgradeOption"] = "OnceNewDefaultVersionAvailable"
    call_ok(caller, "PUT", planned.id, planned.api_version, body)
    report = run_verify(view)
    assert [(d.resource, d.field, d.expected, d.actual) for d in report.drifts] == \
        [("deployment haiku", "versionUpgradeOption", "NoAutoUpgrade", "OnceNewDefaultVersionAvailable")]


def test_a_leftover_accounts_document_on_a_one_account_stack_is_drift(deployed: Any) -> None:
    """A one-account stack has no ``<prefix>-accounts`` secret; one left there (the stack once had several accounts)
    would send clients to accounts the stack no longer has."""
    _, view, caller = deployed
    names = view.spec.secret_names
    assert names.accounts not in view.secrets
    some = view.secrets[names.endpoint]
    leftover = some.id.rsplit("/", 1)[0] + "/" + names.accounts
    call_ok(caller, "PUT", leftover, some.api_version, {"properties": {"value": '{"version":2,"accounts":[]}'}})
    report = run_verify(view)
    assert [(d.resource, d.field, d.expected) for d in report.drifts] == \
        [(f"secret {names.accounts}", "exists", "(absent) (the stack has one account)")]
