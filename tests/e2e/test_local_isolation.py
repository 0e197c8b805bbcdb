"""Local deploy state belongs to one stack: stacks sharing an ``environment:`` deploy side by side, an orphan is
deleted only inside the stack's own resource group, protected resources are never deleted as orphans, every
deletion is in the summary, and one account's deployments are deleted one after another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure.target import sandbox_target
from claude_foundry._rehearse import DELETED, KEPT, down_local, up_local
from claude_foundry._rehearse.apply import stack_scope, state_file
from claude_foundry._rehearse.graph import deletion_order, steps_from_plan
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import write_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def target(connection: dict[str, Any]) -> Any:
    return sandbox_target(connection)


def _live_deployments(cs_client: Any, spec: Any) -> set[str]:
    return {d.name for d in cs_client.deployments.list(spec.resource_group, spec.foundry.name)}


def test_two_stacks_sharing_an_environment_deploy_side_by_side(tmp_path: Path, target: Any, cs_client: Any) -> None:
    first = load_spec(write_stack(tmp_path, {"da": {"model": "claude-sonnet-4-6", "capacity": 1}}, tag="shared"))
    second = load_spec(write_stack(tmp_path, {"db": {"model": "claude-haiku-4-5", "capacity": 1}}, tag="shared"))
    assert first.environment == second.environment
    assert state_file(tmp_path, first, target) != state_file(tmp_path, second, target)
    assert up_local(first, target, state_dir=tmp_path).result.ok
    up2 = up_local(second, target, state_dir=tmp_path)
    assert up2.result.ok
    assert up2.result.count(DELETED) == 0, up2.result.summary()
    assert _live_deployments(cs_client, first) == {"da"}
    down = down_local(second, target, state_dir=tmp_path)
    assert down.ok
    assert _live_deployments(cs_client, first) == {"da"}  # the first stack is intact
    again = up_local(first, target, state_dir=tmp_path)
    assert again.result.ok
    assert again.result.changed == 0, again.result.summary()


def test_a_legacy_shared_state_file_hands_over_only_the_stacks_own_entries(tmp_path: Path, target: Any,
                                                                          cs_client: Any) -> None:
    first = load_spec(write_stack(tmp_path, {"da": {"model": "claude-sonnet-4-6", "capacity": 1}}, tag="legacy"))
    second = load_spec(write_stack(tmp_path, {"db": {"model": "claude-haiku-4-5", "capacity": 1}}, tag="legacy"))
    assert up_local(first, target, state_dir=tmp_path).result.ok
    # what a pre-0.2 run left: the first stack's entries in the file named by environment and subscription
    mine = state_file(tmp_path, first, target)
    legacy = tmp_path / f"deploy-{first.environment}-{target.subscription_id}.json"
    mine.rename(legacy)
    up2 = up_local(second, target, state_dir=tmp_path)
    assert up2.result.ok
    assert up2.result.count(DELETED) == 0, up2.result.summary()
    assert _live_deployments(cs_client, first) == {"da"}
    again = up_local(first, target, state_dir=tmp_path)  # adopts its entries from the legacy file
    assert again.result.changed == 0, again.result.summary()
    assert not legacy.exists()


def test_an_orphan_outside_the_stacks_resource_group_is_kept_and_reported(tmp_path: Path, target: Any,
                                                                         cs_client: Any) -> None:
    spec = load_spec(write_stack(tmp_path, {"da": {"model": "claude-sonnet-4-6", "capacity": 1}}, tag="scope"))
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    other = load_spec(write_stack(tmp_path, {"dx": {"model": "claude-sonnet-4-6", "capacity": 1}}, tag="other"))
    assert up_local(other, target, state_dir=tmp_path).result.ok
    # forge a state entry pointing into the other stack's resource group (a hand-edited or corrupted file)
    path = state_file(tmp_path, spec, target)
    data = json.loads(path.read_text(encoding="utf-8"))
    foreign = f"{stack_scope(other, target)}/providers/Microsoft.CognitiveServices/accounts/{other.foundry.name}" \
              "/deployments/dx"
    data["applied"][foreign.lower()] = {"digest": "0", "id": foreign, "type": "azure-native:resources:Resource",
                                        "name": "foreign", "api_version": "2026-05-01"}
    path.write_text(json.dumps(data), encoding="utf-8")
    result = up_local(spec, target, state_dir=tmp_path).result
    assert result.ok
    kept = [r for r in result.results if r.action == KEPT]
    assert [r.step.arm_id for r in kept] == [foreign]
    assert "outside this stack's resource group" in (kept[0].error or "")
    assert "1 no longer in the stack but kept" in result.summary()
    assert _live_deployments(cs_client, other) == {"dx"}


def test_a_protected_resource_dropped_from_the_stack_is_kept(tmp_path: Path, target: Any, rm_client: Any) -> None:
    path = write_stack(tmp_path, {"da": {"model": "claude-sonnet-4-6", "capacity": 1}}, tag="prot", protect=True)
    spec = load_spec(path)
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    old_vault = spec.key_vault.name
    # the protected stack moves to another vault: the old one (protected, locked) is now an orphan
    moved = spec.model_copy(update={"key_vault": spec.key_vault.model_copy(update={"name": old_vault[:-1] + "z"})})
    result = up_local(moved, target, state_dir=tmp_path).result
    assert result.ok, result.summary()
    kept = {r.step.arm_id.rsplit("/", 1)[-1]: r for r in result.results if r.action == KEPT}
    deleted = [r.step.name for r in result.results if r.action == DELETED]
    assert old_vault in kept, result.summary()
    assert "protected" in (kept[old_vault].error or "")
    assert not [n for n in deleted if "lock" in n], deleted  # its lock stays with it
    vault_id = f"{stack_scope(spec, target)}/providers/Microsoft.KeyVault/vaults/{old_vault}"
    assert rm_client.resources.get_by_id(vault_id, api_version="2024-11-01").name == old_vault


def test_every_deletion_is_in_the_summary_and_deployments_go_one_by_one(tmp_path: Path, target: Any,
                                                                       cs_client: Any) -> None:
    deployments = {n: {"model": "claude-sonnet-4-6", "capacity": 1} for n in ("d1", "d2", "d3")}
    spec = load_spec(write_stack(tmp_path, deployments, tag="del"))
    assert up_local(spec, target, state_dir=tmp_path).result.ok
    smaller = spec.model_copy(update={"deployments": {"d1": spec.deployments["d1"]}})
    result = up_local(smaller, target, state_dir=tmp_path).result
    assert result.ok, result.summary()
    assert "2 deleted: claude-foundry-deployments-d2, claude-foundry-deployments-d3" in result.summary()
    assert _live_deployments(cs_client, spec) == {"d1"}


def test_deletion_order_chains_one_accounts_deployments(tmp_path: Path) -> None:
    from claude_foundry.program._plan import plan

    spec = load_spec(write_stack(tmp_path, {n: {"model": "claude-sonnet-4-6", "capacity": 1}
                                                for n in ("d1", "d2", "d3")}, tag="chain"))
    steps = deletion_order([s for s in steps_from_plan(plan(spec).resources) if "/deployments/" in s.arm_id])
    by_name = {s.arm_id.rsplit("/", 1)[-1]: s for s in steps}
    assert by_name["d1"].key in by_name["d2"].depends_on
    assert by_name["d2"].key in by_name["d3"].depends_on
