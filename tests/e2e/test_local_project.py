"""The optional Foundry project over real HTTPS: ``up --local`` of a stack with ``foundry.project``, read back
through the unmodified management SDK, and the sandbox refusing a project under an account without
``allowProjectManagement``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._rehearse import CREATE, up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import Spec, load_spec
from claude_foundry_sandbox import Sandbox, SandboxConfig
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

PROJECT = "claude-playground"


def make_project_stack(tmp_path: Path) -> tuple[Path, Spec]:
    """A dev-like stack with a Foundry project and names unique in the session's sandbox."""
    path = base_stack(tmp_path, "cf-proj-", foundry=f"  project: {{name: {PROJECT}, display_name: Claude playground, "
                      "description: Portal playground and monitoring}\n")
    return path, load_spec(path)


@pytest.fixture
def target(connection: dict[str, Any]) -> Any:
    with sandbox_target(connection) as t:
        yield t


def test_up_local_creates_the_project_after_the_deployments(tmp_path: Path, target: Any, cs_client: Any) -> None:
    _, spec = make_project_stack(tmp_path)
    deploy = up_local(spec, target, state_dir=tmp_path)
    assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
    names = [r.step.name for r in deploy.result.results if r.action == CREATE]
    assert "claude-foundry-foundry-project" in names
    assert names.index("claude-foundry-foundry-project") > max(
        names.index(f"claude-foundry-deployments-{d}") for d in spec.deployments)

    account = cs_client.accounts.get(spec.resource_group, spec.foundry.name)
    assert account.properties.allow_project_management is True
    project = cs_client.projects.get(spec.resource_group, spec.foundry.name, PROJECT)
    assert project.id == arm.project_id(target.subscription_id, spec.resource_group, spec.foundry.name, PROJECT)
    assert project.type == "Microsoft.CognitiveServices/accounts/projects"
    assert project.location == spec.location
    assert project.properties.display_name == "Claude playground"
    assert project.properties.description == "Portal playground and monitoring"
    assert project.properties.provisioning_state == "Succeeded"
    assert project.properties.is_default is True
    assert project.properties.endpoints["AI Foundry API"] == \
        f"https://{spec.foundry.name}.services.ai.azure.com/api/projects/{PROJECT}"
    assert project.identity.type == "SystemAssigned"
    assert project.identity.principal_id
    # the deployments are there as without a project
    assert {d.name for d in cs_client.deployments.list(spec.resource_group, spec.foundry.name)} == \
        set(spec.deployments)


def test_second_up_changes_nothing_and_down_removes_the_project(tmp_path: Path, cs_client: Any,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 connection: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    stack, spec = make_project_stack(tmp_path)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    assert "created" in capsys.readouterr().out
    assert main(["up", str(stack), *args]) == 0
    assert "0 to change" in capsys.readouterr().out
    assert main(["down", str(stack), *args]) == 0
    capsys.readouterr()
    with pytest.raises(ResourceNotFoundError):
        cs_client.projects.get(spec.resource_group, spec.foundry.name, PROJECT)


def test_project_never_races_the_deployments_with_provisioning_delay(tmp_path: Path) -> None:
    """With a provisioning delay, a project written while a deployment is in flight gets 409 RequestConflict;
    the project waits for the last deployment, so it never does."""
    with Sandbox(SandboxConfig(state_dir=tmp_path / "sb", provisioning_delay=0.2)) as sb, \
            sandbox_target(sb.connection) as target:
        _, spec = make_project_stack(tmp_path)
        deploy = up_local(spec, target, state_dir=tmp_path)
        assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]


def test_sandbox_refuses_a_project_without_allow_project_management(claude_account: dict[str, Any],
                                                                    cs_client: Any) -> None:
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

    rg, account = claude_account["resource_group"], claude_account["account"]
    body = {"location": "eastus2", "identity": {"type": "SystemAssigned"},
            "properties": {"displayName": "p1", "description": "refused"}}
    with pytest.raises(HttpResponseError) as info:
        cs_client.projects.begin_create(rg, account, "refused-project", body).result()
    assert info.value.status_code == 400
    assert info.value.error.code == "BadRequest"
    assert "allowProjectManagement" in info.value.error.message
    with pytest.raises(ResourceNotFoundError):
        cs_client.projects.get(rg, account, "refused-project")


def test_sandbox_project_lifecycle_through_the_sdk(cs_client: Any, rm_client: Any) -> None:
    """PUT, GET, list and DELETE of ``accounts/{a}/projects/{p}`` once the account allows project management."""
    from azure.core.exceptions import ResourceNotFoundError

    rg, name = unique("rg-proj-"), unique("cf-proj-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    cs_client.accounts.begin_create(rg, name, {
        "location": "eastus2", "kind": arm.ACCOUNT_KIND, "sku": {"name": arm.ACCOUNT_SKU},
        "identity": {"type": "SystemAssigned"},
        "properties": {"customSubDomainName": name, "allowProjectManagement": True}}).result()
    first = cs_client.projects.begin_create(rg, name, "first", {
        "location": "eastus2", "identity": {"type": "SystemAssigned"}, "properties": {"displayName": "First"}}).result()
    second = cs_client.projects.begin_create(rg, name, "second", {
        "location": "eastus2", "identity": {"type": "SystemAssigned"}, "properties": {}}).result()
    assert first.properties.is_default is True
    assert second.properties.is_default is False
    assert first.identity.principal_id != second.identity.principal_id
    assert {p.name for p in cs_client.projects.list(rg, name)} == {"first", "second"}
    cs_client.projects.begin_delete(rg, name, "second").result()
    with pytest.raises(ResourceNotFoundError):
        cs_client.projects.get(rg, name, "second")
    assert cs_client.projects.get(rg, name, "first").properties.display_name == "First"
