"""``up --local`` / ``down --local``: the real program's resources applied to the sandbox over HTTPS.

Everything is checked through the unmodified Azure SDKs and the anthropic SDK, as a user would.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._rehearse import CREATE, FAILED, SAME, SKIPPED, up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import Spec, load_spec
from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e



def make_stack(tmp_path: Path, extra: str = "") -> tuple[Path, Spec]:
    """A dev-like stack with names unique in the session's sandbox (subdomains are global there too)."""
    path = base_stack(tmp_path, "cf-local-", extra=extra)
    return path, load_spec(path)


@pytest.fixture
def target(connection: dict[str, Any]) -> Any:
    with sandbox_target(connection) as t:
        yield t


@contextlib.contextmanager
def secret_client(target: Any, vault_url: str) -> Any:
    client = target.secret_client(vault_url)
    try:
        yield client
    finally:
        client.close()


def test_up_creates_everything_readable_through_the_sdks(tmp_path: Path, target: Any, cs_client: Any,
                                                         ssl_context: Any) -> None:

    _, spec = make_stack(tmp_path)
    deploy = up_local(spec, target, state_dir=tmp_path)
    assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
    assert deploy.result.count(CREATE) == len(deploy.result.results)

    # deployments, listed by the management SDK, carry the spec's model and provider data
    live = {d.name: d for d in cs_client.deployments.list(spec.resource_group, spec.foundry.name)}
    assert set(live) == set(spec.deployments)
    for name, dep in spec.deployments.items():
        assert live[name].properties.model.name == dep.model
        assert live[name].sku.capacity == dep.capacity
        raw = live[name].properties.model.as_dict() if hasattr(live[name].properties.model, "as_dict") else {}
        provider = raw.get("modelProviderData") or raw.get("model_provider_data")
        if provider is not None:  # older SDK models drop fields they do not know
            assert provider["countryCode"] == spec.foundry.model_provider.country_code

    # the contract in Key Vault, read with SecretClient (the deployer was granted Secrets User)
    with secret_client(target, deploy.vault_url) as kv:
        _check_contract(kv, spec, target, cs_client, ssl_context)


def _check_contract(kv: Any, spec: Spec, target: Any, cs_client: Any, ssl_context: Any) -> None:
    import anthropic

    names = spec.secret_names
    assert kv.get_secret(names.endpoint).value == spec.base_url(target.foundry_base_url_template)
    assert kv.get_secret(names.resource).value == spec.foundry.name
    assert kv.get_secret(names.auth_mode).value == contract.AUTH_MODE_KEY
    dmap = contract.load_deployment_map(kv.get_secret(names.deployments).value)
    assert {k: v.model for k, v in dmap.items()} == {k: d.model for k, d in spec.deployments.items()}
    key = kv.get_secret(names.api_key).value
    keys = cs_client.accounts.list_keys(spec.resource_group, spec.foundry.name)
    assert key == keys.key1

    # each deployment answers by key and by Entra token
    from azure.identity import get_bearer_token_provider

    base_url = kv.get_secret(names.endpoint).value
    with anthropic.DefaultHttpxClient(verify=ssl_context) as http:
        by_key = anthropic.AnthropicFoundry(api_key=key, base_url=base_url, http_client=http, max_retries=0)
        by_token = anthropic.AnthropicFoundry(
            base_url=base_url, http_client=http, max_retries=0,
            azure_ad_token_provider=get_bearer_token_provider(target.credential, contract.DEFAULT_TOKEN_SCOPE))
        for name, dep in spec.deployments.items():
            for client in (by_key, by_token):
                msg = client.messages.create(model=name, max_tokens=8,
                                             messages=[{"role": "user", "content": "hi"}])
                assert msg.model == dep.model


def test_second_up_changes_nothing_and_down_removes(tmp_path: Path, target: Any, cs_client: Any,
                                                    capsys: pytest.CaptureFixture[str],
                                                    connection: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    stack, spec = make_stack(tmp_path)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    first = capsys.readouterr().out
    assert "LOCAL REHEARSAL" in first
    assert "created" in first
    assert main(["up", str(stack), *args]) == 0
    second = capsys.readouterr().out
    assert "0 to change" in second
    assert "+ created" not in second

    # the same run with the library: everything unchanged
    again = up_local(spec, target, state_dir=tmp_path / "state")
    assert again.result.changed == 0
    assert again.result.count(SAME) == len(again.result.results)

    assert main(["down", str(stack), *args]) == 0
    assert "deleted" in capsys.readouterr().out
    with pytest.raises(ResourceNotFoundError):
        cs_client.accounts.get(spec.resource_group, spec.foundry.name)


def test_up_recreates_what_was_deleted_out_of_band(tmp_path: Path, target: Any, cs_client: Any) -> None:
    _, spec = make_stack(tmp_path)
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    cs_client.deployments.begin_delete(spec.resource_group, spec.foundry.name, "fast").result()
    again = up_local(spec, target, state_dir=tmp_path)
    assert again.result.ok
    assert [r.step.name for r in again.result.results if r.action == CREATE] == ["claude-foundry-deployments-fast"]


def test_failure_stops_dependants_and_a_rerun_resumes(tmp_path: Path) -> None:
    _, spec = make_stack(tmp_path)
    model = spec.deployments["my-claude-deployment"].model  # the stack file's, whichever model is current
    seed = {"quota": {f"GlobalStandard/{model}": 10}}  # the first deployment asks for 50
    with Sandbox(SandboxConfig(state_dir=tmp_path / "sb", seed=seed)) as sb, \
            sandbox_target(sb.connection) as target:
        first = up_local(spec, target, state_dir=tmp_path)
        assert not first.result.ok
        by_name = {r.step.name: r for r in first.result.results}
        failed = by_name["claude-foundry-deployments-my-claude-deployment"]
        assert failed.action == FAILED
        assert "quota" in (failed.error or "").lower()
        # the next deployment of the chain was not attempted; independent resources were created
        assert by_name["claude-foundry-deployments-fast"].action == SKIPPED
        assert by_name["claude-foundry-foundry-account"].action == CREATE
        assert by_name["claude-foundry-vault-vault"].action == CREATE
        assert "claude-foundry-vault-vault" in [r.step.name for r in first.result.results if r.action == CREATE]

        sb.state.quota.clear()  # the quota is raised: the same command resumes
        second = up_local(spec, target, state_dir=tmp_path)
        assert second.result.ok
        created = {r.step.name for r in second.result.results if r.action == CREATE}
        assert created == {"claude-foundry-deployments-my-claude-deployment", "claude-foundry-deployments-fast"}


def test_chained_deployments_never_race_with_provisioning_delay(tmp_path: Path) -> None:
    """With a provisioning delay, unchained writes would get 409 RequestConflict; the chain avoids it,
    while two accounts deploy in parallel."""
    with Sandbox(SandboxConfig(state_dir=tmp_path / "sb", provisioning_delay=0.3)) as sb, \
            sandbox_target(sb.connection) as target:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        _, spec_a = make_stack(tmp_path / "a")
        _, spec_b = make_stack(tmp_path / "b")
        results: dict[str, Any] = {}

        def run(key: str, spec: Spec) -> None:
            results[key] = up_local(spec, target, state_dir=tmp_path / key)

        threads = [threading.Thread(target=run, args=("a", spec_a)), threading.Thread(target=run, args=("b", spec_b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for key in "ab":
            assert results[key].result.ok, [(r.step.name, r.error) for r in results[key].result.results if r.error]


def test_entra_only_stack_exports_no_key(tmp_path: Path, target: Any) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    _, spec = make_stack(tmp_path, "")
    spec = spec.model_copy(update={"foundry": spec.foundry.model_copy(update={"disable_local_auth": True})})
    deploy = up_local(spec, target, state_dir=tmp_path)
    assert deploy.result.ok
    with secret_client(target, deploy.vault_url) as kv:
        assert kv.get_secret(spec.secret_names.auth_mode).value == contract.AUTH_MODE_ENTRA
        with pytest.raises(ResourceNotFoundError):
            kv.get_secret(spec.secret_names.api_key)


def test_up_without_local_flag_points_to_pulumi(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["up", "stacks/dev.yaml"])
    assert info.value.code == 2
    assert "--local" in capsys.readouterr().err


def test_role_assignment_ids_in_sandbox_match_the_program(tmp_path: Path, target: Any, rm_client: Any) -> None:
    group_id = "11111111-2222-3333-4444-555555555555"
    access = f"access:\n  claude_users:\n    - {{principal_id: {group_id}, principal_type: Group}}\n"
    _, spec = make_stack(tmp_path, access)
    deploy = up_local(spec, target, state_dir=tmp_path)
    assert deploy.result.ok
    account = arm.account_id(target.subscription_id, spec.resource_group, spec.foundry.name)
    ras = [r for r in deploy.result.results if r.step.type.endswith("RoleAssignment")]
    assert len(ras) == 3  # the group, and the deployer twice
    for r in ras:
        got = rm_client.resources.get_by_id(r.step.arm_id, api_version=r.step.api_version)
        assert got.properties["principalId"] in (
            "11111111-2222-3333-4444-555555555555", target.principal_id)
    group = next(r for r in ras if r.step.body["properties"]["principalId"].startswith("1111"))
    assert group.step.arm_id.lower().startswith(account.lower())


def test_a_deployment_dropped_from_the_stack_is_deleted(tmp_path: Path, target: Any, cs_client: Any) -> None:
    _, spec = make_stack(tmp_path)
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    smaller = spec.model_copy(update={"deployments": {"fast": spec.deployments["fast"]}})
    again = up_local(smaller, target, state_dir=tmp_path)
    assert again.result.ok
    # the deployment map secret follows; the dropped deployment is deleted, as `pulumi up` would
    assert sorted((r.step.name, r.action) for r in again.result.results if r.action != SAME) == [
        ("claude-foundry-deployments-my-claude-deployment", "deleted"),
        ("claude-foundry-vault-claude-foundry-deployments", "update")]
    live = {d.name for d in cs_client.deployments.list(spec.resource_group, spec.foundry.name)}
    assert live == {"fast"}


def test_embedded_sandbox_keeps_its_state_and_port_between_runs(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    stack, _ = make_stack(tmp_path)
    args = ["--local", "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    first = capsys.readouterr().out
    assert main(["up", str(stack), *args]) == 0
    second = capsys.readouterr().out
    assert "0 to change" in second, second
    port_line = [line for line in first.splitlines() if "embedded sandbox at" in line]
    assert port_line
    assert port_line[0] in second


def test_protected_stack_is_not_taken_down_without_unprotect(tmp_path: Path, connection: dict[str, Any],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    stack, spec = make_stack(tmp_path, "protect: true\n")
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    capsys.readouterr()
    assert main(["down", str(stack), *args]) == 2
    assert "--unprotect" in capsys.readouterr().err
    assert main(["down", str(stack), *args, "--unprotect"]) == 0  # locks go first, then the rest
    out = capsys.readouterr().out
    assert "failed" not in out.split("down:")[-1]
    with sandbox_target(connection) as t, t.cognitive_client() as cs, pytest.raises(ResourceNotFoundError):
        cs.accounts.get(spec.resource_group, spec.foundry.name)


def test_no_key_in_up_or_demo_output(tmp_path: Path, connection: dict[str, Any], cs_client: Any,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    stack, spec = make_stack(tmp_path)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["up", str(stack), "--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "s")]) == 0
    keys = cs_client.accounts.list_keys(spec.resource_group, spec.foundry.name)
    assert main(["smoke", "--vault-url", connection["key_vault_url_template"].format(vault=spec.key_vault.name),
                 "--sandbox", str(conn), "--report-json", str(tmp_path / "r.json"),
                 "--report-junit", str(tmp_path / "r.xml")]) == 0
    captured = capsys.readouterr()
    reports = (tmp_path / "r.json").read_text() + (tmp_path / "r.xml").read_text()
    state = "".join(p.read_text() for p in (tmp_path / "s").rglob("*.json"))
    for key in (keys.key1, keys.key2):
        assert key not in captured.out
        assert key not in captured.err
        assert key not in reports
        assert key not in state  # the local deploy state keeps digests, never values
    # the demo's sandbox is its own, so its keys are unknown here: scan for anything shaped like a key
    from claude_foundry.program.spec import looks_like_secret

    assert main(["demo", str(stack)]) == 0
    demo = capsys.readouterr()
    assert "demo passed" in demo.out
    tokens = re.findall(r"[A-Za-z0-9_.-]{24,}", demo.out + demo.err)
    assert tokens  # the scan sees request ids and URLs at least
    assert [t for t in tokens if looks_like_secret(t)] == []


def test_down_then_up_again_needs_a_purge_as_in_azure(tmp_path: Path, connection: dict[str, Any],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stack, _ = make_stack(tmp_path)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    assert main(["down", str(stack), *args]) == 0
    assert "soft-deleted" in capsys.readouterr().out
    assert main(["up", str(stack), *args]) == 1  # the names are held by the soft-deleted account and vault
    out = capsys.readouterr().out
    assert "FlagMustBeSetForRestore" in out
    assert main(["down", str(stack), *args, "--purge"]) == 0
    purged = capsys.readouterr().out
    assert "purged the soft-deleted account" in purged
    assert "purged the soft-deleted vault" in purged
    assert main(["up", str(stack), *args]) == 0
