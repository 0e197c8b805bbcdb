"""The stack file after a move: ``deployment:`` names the Azure deployment serving a name, so the program declares
the physical deployment (same URN) and the contract maps the logical name to it; absent, nothing changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry._ops.migrate import MoveReport, StackMoveReport, stack_file_change
from claude_foundry.program import _plan as plan_mod
from claude_foundry.program.spec import Spec, SpecError, load_spec

PHYSICAL = "my-claude-deployment--claude-opus-5-5"


def _deployments(plan: plan_mod.Plan) -> dict[str, str]:
    """Pulumi logical name -> the Azure deployment name of its ARM id."""
    return {r.name: r.arm.id.rsplit("/", 1)[1] for r in plan.resources
            if r.arm is not None and r.arm.id.rsplit("/", 2)[-2] == "deployments"}


def _contract_map(plan: plan_mod.Plan, prefix: str = "claude-foundry") -> dict[str, c.DeploymentInfo]:
    secret = next(r for r in plan.resources if r.arm is not None and r.arm.token == arm.SECRET
                  and r.arm.name == f"{prefix}-deployments")
    return c.load_deployment_map(secret.inputs["properties"]["value"])


def test_deployment_names_the_physical_deployment_under_the_same_urn(dev_plan: plan_mod.Plan,
                                                                     make_spec: Callable[..., Spec]) -> None:
    moved = plan_mod.plan(make_spec("dev", f"""
        deployments:
          my-claude-deployment: {{model: claude-opus-5-5, deployment: {PHYSICAL}}}
        """))
    before, after = _deployments(dev_plan), _deployments(moved)
    assert set(before) == set(after)  # the same URNs: Pulumi replaces the resource, no new logical resource
    logical = next(n for n, azure_name in before.items() if azure_name == "my-claude-deployment")
    assert after[logical] == PHYSICAL
    assert after[next(n for n in before if before[n] == "fast")] == "fast"
    dmap = _contract_map(moved)
    assert dmap["my-claude-deployment"].deployment == PHYSICAL
    assert dmap["my-claude-deployment"].model == "claude-opus-5-5"
    assert dmap["fast"].deployment is None
    assert "deployment" not in json.loads(c.dump_deployment_map(_contract_map(dev_plan)))["fast"]


def test_deployment_equal_to_the_name_changes_nothing(dev_plan: plan_mod.Plan,
                                                      make_spec: Callable[..., Spec]) -> None:
    same = plan_mod.plan(make_spec("dev", "deployments:\n  fast: {deployment: fast}\n"))
    assert _deployments(same) == _deployments(dev_plan)
    assert c.dump_deployment_map(_contract_map(same)) == c.dump_deployment_map(_contract_map(dev_plan))


@pytest.mark.parametrize(("overrides", "words"), [
    ("deployments:\n  fast: {deployment: 'bad name'}\n", "2-64 characters"),
    ("deployments:\n  fast: {deployment: my-claude-deployment}\n", "another deployment's name"),
    ("deployments:\n  fast: {deployment: x1}\n  my-claude-deployment: {deployment: x1}\n",
     "both served by the Azure deployment 'x1'"),
    ("accounts:\n  sweden:\n    name: contoso-claude-dev-sc\n    location: swedencentral\n"
     "    deployments:\n      fast: {deployment: my-claude-deployment}\n      my-claude-deployment: {}\n",
     "another deployment's name"),
])
def test_a_deployment_that_clashes_is_refused_with_where_and_why(make_spec: Callable[..., Spec], overrides: str,
                                                                 words: str) -> None:
    with pytest.raises(SpecError) as info:
        make_spec("dev", overrides)
    assert words in str(info.value)
    assert "deployment" in str(info.value)


def _report(*moves: tuple[str, str]) -> StackMoveReport:
    out = StackMoveReport("my-claude-deployment", "claude-opus-5-5")
    for key, account in moves:
        out.moves.append(MoveReport("my-claude-deployment", account, "my-claude-deployment", "claude-sonnet-5-5",
                                    PHYSICAL, "claude-opus-5-5", "2", account_key=key))
    return out


STACK = """\
environment: dev
location: eastus2
resource_group: rg-claude-dev
foundry:
  name: contoso-claude-dev
  model_provider: {organization_name: Contoso, country_code: US, industry: technology}
deployments:
  my-claude-deployment: {model: claude-sonnet-5-5, capacity: 50}
  fast: {model: claude-haiku-4-5}
key_vault: {name: kv-contoso-claude-dev}
"""
SWEDEN = "accounts:\n  sweden:\n    name: contoso-claude-dev-sc\n    location: swedencentral\n"


def _move_and_write(tmp_path: Path, text: str, report: StackMoveReport) -> Spec:
    path = tmp_path / "stack.yaml"
    path.write_text(text, encoding="utf-8")
    change = stack_file_change(str(path), load_spec(path), report)
    assert change.text is not None, change.problems
    path.write_text(change.text, encoding="utf-8")
    return load_spec(path)


def test_the_stack_file_change_declares_the_move_and_validates(tmp_path: Path) -> None:
    spec = _move_and_write(tmp_path, STACK, _report(("primary", "contoso-claude-dev")))
    dep = spec.deployments["my-claude-deployment"]
    assert (dep.model, dep.deployment, dep.capacity) == ("claude-opus-5-5", PHYSICAL, 50)
    assert spec.deployment_map()["my-claude-deployment"].physical("my-claude-deployment") == PHYSICAL
    assert spec.deployments["fast"].deployment is None


def test_every_account_moved_needs_only_the_stack_entry(tmp_path: Path) -> None:
    spec = _move_and_write(tmp_path, STACK + SWEDEN, _report(("primary", "contoso-claude-dev"),
                                                             ("sweden", "contoso-claude-dev-sc")))
    for acct in spec.all_accounts():
        dep = acct.deployments["my-claude-deployment"]
        assert (acct.key, dep.model, dep.deployment) == (acct.key, "claude-opus-5-5", PHYSICAL)
    assert "sweden:\n    name: contoso-claude-dev-sc\n    location: swedencentral\n" in \
        (tmp_path / "stack.yaml").read_text(encoding="utf-8")  # no override written for it


def test_an_account_not_moved_keeps_its_old_model_by_an_override(tmp_path: Path) -> None:
    spec = _move_and_write(tmp_path, STACK + SWEDEN, _report(("primary", "contoso-claude-dev")))
    primary, sweden = spec.all_accounts()
    assert primary.deployments["my-claude-deployment"].deployment == PHYSICAL
    kept = sweden.deployments["my-claude-deployment"]
    assert (kept.model, kept.deployment) == ("claude-sonnet-5-5", None)
    assert set(sweden.deployments) == {"my-claude-deployment", "fast"}  # still every deployment


def test_only_a_further_account_moved_gets_its_own_override(tmp_path: Path) -> None:
    spec = _move_and_write(tmp_path, STACK + SWEDEN, _report(("sweden", "contoso-claude-dev-sc")))
    primary, sweden = spec.all_accounts()
    assert primary.deployments["my-claude-deployment"].model == "claude-sonnet-5-5"
    moved = sweden.deployments["my-claude-deployment"]
    assert (moved.model, moved.deployment) == ("claude-opus-5-5", PHYSICAL)


def test_an_entry_from_an_extended_file_is_not_written_and_says_where(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(STACK, encoding="utf-8")
    path = tmp_path / "stack.yaml"
    path.write_text("extends: base.yaml\nenvironment: prod\n", encoding="utf-8")
    change = stack_file_change(str(path), load_spec(path), _report(("primary", "contoso-claude-dev")))
    assert change.text is None
    assert "deployments" in change.problems[0]
    assert "extends" in change.problems[0]
    assert change.to_json()["edits"][0]["set"] == {"model": "claude-opus-5-5", "deployment": PHYSICAL}
