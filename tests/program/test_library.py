"""The components as a library: ``ClaudeFoundryStackArgs`` wiring a program's own resources, the public
mocks of :mod:`claude_foundry.testing`, and the example program of docs/library.md with its unit test."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pulumi
import pulumi_azure_native as azure_native
import pytest

from claude_foundry._azure import arm
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import DEFAULT_CLIENT_CONFIG, plan
from claude_foundry.program.components import (
    ClaudeFoundryStack,
    ClaudeFoundryStackArgs,
    ClaudeUserArgs,
    SecretReaderArgs,
    role_assignment_name,
)
from claude_foundry.program.components._deployments import deployment_properties

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own-program"
SUB = DEFAULT_CLIENT_CONFIG["subscriptionId"]


def _shape(resources):
    return sorted((r.type, r.name, r.parent, tuple(r.depends_on), repr(r.inputs)) for r in resources)


def test_args_with_only_the_spec_plan_exactly_as_the_spec(run_program, dev_spec, prod_spec):
    for spec in (dev_spec, prod_spec):
        run = run_program(lambda spec=spec: ClaudeFoundryStack("claude-foundry", ClaudeFoundryStackArgs(spec=spec)),
                          stack=spec.environment)
        assert _shape(run.resources) == _shape(plan(spec).resources)


def test_a_programs_own_resources_are_wired_in(run_program, make_spec):
    spec = make_spec("dev", "create_resource_group: true\n")
    rg_name = "rg-team-own"

    def program():
        rg = azure_native.resources.ResourceGroup("team-rg", resource_group_name=rg_name, location=spec.location)
        ws = azure_native.operationalinsights.Workspace("team-logs", resource_group_name=rg.name,
                                                        workspace_name="team-logs", location=spec.location)
        principal = pulumi.Output.from_input("11111111-2222-3333-4444-555555555555")
        ClaudeFoundryStack("c", ClaudeFoundryStackArgs(
            spec=spec, resource_group_name=rg.name, workspace_id=ws.id,
            claude_users=[ClaudeUserArgs(principal_id=principal, key="app", role="azure-ai-user"),
                          "66666666-7777-8888-9999-000000000000"],
            secret_readers=[SecretReaderArgs(principal_id=principal, key="app")]))

    run = run_program(program)
    rgs = run.of_type(armmap.RESOURCE_GROUP)
    assert [r.name for r in rgs] == ["team-rg"]  # the stack created none, though the spec says create
    team_rg = rgs[0]
    for r in run.resources:
        if r.custom and "resourceGroupName" in r.inputs:
            assert r.inputs["resourceGroupName"] == rg_name, r.name
            if r.name.startswith("c-"):
                assert team_rg.urn in r.depends_on, r.name  # wired through the Output
    assert [w.name for w in run.of_type(armmap.WORKSPACE)] == ["team-logs"]
    workspace_id = f"{arm.resource_group_id(SUB, rg_name)}/providers/Microsoft.OperationalInsights/workspaces/team-logs"
    settings = run.of_type(armmap.DIAGNOSTIC_SETTING)
    assert len(settings) == 2
    assert {s.inputs["workspaceId"] for s in settings} == {workspace_id}

    by_name = {r.name: r for r in run.of_type(armmap.ROLE_ASSIGNMENT)}
    account_scope, vault_scope = f"{rg_name}/{spec.foundry.name}", f"{rg_name}/{spec.key_vault.name}"
    user, reader = by_name["c-access-user-app"], by_name["c-access-reader-app"]
    assert user.inputs["principalId"] == reader.inputs["principalId"] == "11111111-2222-3333-4444-555555555555"
    assert user.inputs["principalType"] == "ServicePrincipal"
    assert user.inputs["roleAssignmentName"] == role_assignment_name(account_scope, user.inputs["principalId"],
                                                                     "azure-ai-user")
    assert user.inputs["roleDefinitionId"] == arm.role_definition_id(SUB, "azure-ai-user")
    assert user.inputs["scope"] == arm.account_id(SUB, rg_name, spec.foundry.name)
    assert reader.inputs["roleAssignmentName"] == role_assignment_name(vault_scope, reader.inputs["principalId"],
                                                                       "key-vault-secrets-user")
    assert reader.inputs["scope"] == arm.vault_id(SUB, rg_name, spec.key_vault.name)
    plain = by_name["c-access-user-66666666-7777-8888-9999-000000000000"]
    assert plain.inputs["roleAssignmentName"] == role_assignment_name(
        account_scope, "66666666-7777-8888-9999-000000000000", "cognitive-services-user")
    # the spec's deployer grant is still there
    assert {"c-access-deployer-claude", "c-access-deployer-secrets"} <= set(by_name)


def test_conflicting_or_bad_wiring_is_refused(run_program, make_spec, dev_spec):
    existing = f"/subscriptions/{uuid.UUID(int=1)}/resourceGroups/rg/providers/Microsoft.OperationalInsights/" \
               "workspaces/logs"
    with_ws = make_spec("dev", f"diagnostics: {{workspace_id: {existing}}}\n")
    no_diag = make_spec("dev", "diagnostics: {enabled: false}\n")
    cases = [  # refused when the args are built (before any resource), and so from inside a program too
        (lambda: ClaudeFoundryStackArgs(spec=with_ws, workspace_id="/x"), "not both"),
        (lambda: ClaudeFoundryStackArgs(spec=no_diag, workspace_id="/x"), "diagnostics off"),
        (lambda: ClaudeFoundryStackArgs(spec=dev_spec, claude_users=["not-a-guid"]), "object id"),
        (lambda: ClaudeFoundryStackArgs(spec={"environment": "dev"}), "spec_from_mapping"),  # type: ignore[arg-type]
    ]
    for build, words in cases:
        with pytest.raises((ValueError, TypeError), match=words):
            build()
        with pytest.raises((ValueError, TypeError), match=words):
            run_program(lambda build=build: ClaudeFoundryStack("c", build()))


def test_an_unvalidated_spec_never_sends_a_none_version(dev_spec):
    dep = next(iter(dev_spec.deployments.values()))
    unchecked = type(dep).model_construct(**{**dict(dep), "version": None})
    with pytest.raises(ValueError, match="spec_from_mapping"):
        deployment_properties(unchecked, dev_spec.foundry.model_provider, "Anthropic")


def test_deployment_bodies_carry_catalogue_versions(dev_spec):
    for r in plan(dev_spec).of_type(armmap.GENERIC_RESOURCE):
        assert r.arm.body["properties"]["model"]["version"] not in ("", "None")


# --- claude_foundry.testing and the example --------------------------------------------------------------


def _python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,  # noqa: S603
                          timeout=300, check=False)


def test_testing_imports_with_pulumi_only():
    code = ("import sys, claude_foundry.testing as t; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'cryptography') "
            "or m.startswith('azure.mgmt.resource') or m.startswith('claude_foundry_sandbox')]; "
            "assert not bad, bad; assert t.FoundryMocks and t.set_mocks")
    result = _python("-c", code)
    assert result.returncode == 0, result.stderr


def test_the_example_program_passes_its_unit_test():
    result = _python("-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "test_program.py"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout


def test_docs_show_the_example_files_as_they_are():
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```\n", text, flags=re.DOTALL))
    assert set(blocks) == {"examples/own-program/__main__.py", "examples/own-program/test_program.py"}
    for path, code in blocks.items():
        assert code == (ROOT / path).read_text(encoding="utf-8"), f"docs/library.md is out of date for {path}"
