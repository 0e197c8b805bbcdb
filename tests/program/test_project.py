"""The optional Foundry project (``foundry.project``): off by default, one ``accounts/projects`` when set."""

from __future__ import annotations

from pathlib import Path

import pytest

from claude_foundry._azure import arm
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import DEFAULT_CLIENT_CONFIG, plan
from claude_foundry.program.components import ClaudeFoundryStack
from claude_foundry.program.spec import SpecError, load_spec
from claude_foundry_sandbox.testing import extends_line

SUB = DEFAULT_CLIENT_CONFIG["subscriptionId"]
STACKS = Path(__file__).resolve().parents[2] / "stacks"

WITH_PROJECT = """\
foundry:
  project: {name: claude-playground, description: Playground and monitoring}
"""


def one(p, type_token):
    found = [r for r in p.resources if r.type == type_token]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture(scope="module")
def project_plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("project") / "stack.yaml"
    path.write_text(extends_line(STACKS / 'dev.yaml') + f"{WITH_PROJECT}", encoding="utf-8")
    spec = load_spec(path)
    return spec, plan(spec)


# --- off by default ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_project_by_default(stack, dev_plan, prod_plan, dev_spec, prod_spec):
    p, spec = (dev_plan, dev_spec) if stack == "dev" else (prod_plan, prod_spec)
    assert spec.foundry.project is None
    assert not p.of_type(arm.PROJECT)
    # the account is sent as before: no allowProjectManagement at all (not even false)
    assert "allowProjectManagement" not in one(p, armmap.ACCOUNT).arm.body["properties"]
    assert "project_name" not in p.outputs


def test_a_project_changes_no_other_urn(project_plan, dev_plan):
    _, p = project_plan
    project = one(p, arm.PROJECT)
    assert {r.urn for r in p.resources} - {project.urn} == {r.urn for r in dev_plan.resources}


# --- with a project ------------------------------------------------------------------------------------


def test_account_allows_project_management(project_plan):
    _, p = project_plan
    assert one(p, armmap.ACCOUNT).arm.body["properties"]["allowProjectManagement"] is True


def test_project_resource_parent_and_dependencies(project_plan):
    spec, p = project_plan
    project = one(p, arm.PROJECT)
    account = one(p, armmap.ACCOUNT)
    assert project.name == "claude-foundry-foundry-project"
    # a child of the FoundryAccount component, as the account itself
    assert project.parent == account.parent
    assert p.by_urn()[project.parent].type == "claude-foundry:index:FoundryAccount"
    # after the account and after the last deployment of the chain (one change below the account at a time)
    deployments = [r for r in p.resources if r.type == armmap.GENERIC_RESOURCE]
    assert [d.inputs["resourceName"] for d in deployments] == list(spec.deployments)
    assert account.urn in project.depends_on
    assert deployments[-1].urn in project.depends_on
    # nothing waits for the optional project: the deployments' chain and the vault are as without one
    assert all(project.urn not in r.depends_on for r in p.resources)


def test_project_arm_request(project_plan):
    spec, p = project_plan
    project = one(p, arm.PROJECT)
    assert project.arm.id == arm.project_id(SUB, spec.resource_group, spec.foundry.name, "claude-playground")
    assert project.id == project.arm.id
    assert project.arm.api_version == arm.API_VERSIONS[arm.PROJECT] == "2025-06-01"
    assert project.arm.type == "Microsoft.CognitiveServices/accounts/projects"
    assert project.arm.body == {
        "location": spec.location,
        "identity": {"type": "SystemAssigned"},
        "tags": spec.all_tags(),
        "properties": {"displayName": "claude-playground", "description": "Playground and monitoring"},
    }
    assert project.protect is False


def test_project_name_output_is_not_secret(project_plan):
    _, p = project_plan
    assert p.outputs["project_name"] == "claude-playground"
    assert "project_name" not in p.secret_outputs


def test_display_name_and_protect(make_spec):
    spec = make_spec("prod", """\
        foundry:
          project: {name: team.portal_1, display_name: Team portal}
    """)
    p = plan(spec)
    project = one(p, arm.PROJECT)
    assert project.arm.body["properties"] == {"displayName": "Team portal"}  # no description: none sent
    assert project.protect is True  # protect: true in prod protects the project like the account


def test_component_attributes(run_program, make_spec):
    spec = make_spec("dev", WITH_PROJECT)
    seen = {}

    def program():
        stack = ClaudeFoundryStack("x", spec)
        seen["project"] = stack.project
        seen["same"] = stack.foundry.project is stack.project
        seen["outputs"] = set(stack.outputs())

    run = run_program(program)
    assert seen["same"]
    assert seen["project"] is not None
    assert "project_name" in seen["outputs"]
    assert [r.name for r in run.of_type(arm.PROJECT)] == ["x-foundry-project"]


# --- the spec -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["p", "-starts-with-hyphen", "has space", "x" * 65, "ünïcode"])
def test_bad_project_name_is_refused_with_file_and_line(tmp_path, bad):
    path = tmp_path / "stack.yaml"
    path.write_text(extends_line(STACKS / 'dev.yaml') + f"foundry:\n  project:\n    name: '{bad}'\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    lines = [str(i) for i in info.value.issues]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:4: foundry.project.name: must be 2-64 characters"), lines


def test_unknown_project_field_is_refused(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(extends_line(STACKS / 'dev.yaml') + "foundry:\n  project: {name: ok, sku: S0}\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert any("foundry.project.sku" in str(i) for i in info.value.issues)


def test_project_null_is_off(tmp_path):
    path = tmp_path / "stack.yaml"
    path.write_text(extends_line(STACKS / 'dev.yaml') + "foundry:\n  project: null\n", encoding="utf-8")
    assert load_spec(path).foundry.project is None
