"""Unit test of the program in ``__main__.py``, under claude-foundry's mocks (no Azure, no Pulumi CLI):
``python -m pytest examples/own-program``."""

import runpy
from pathlib import Path

import pulumi

from claude_foundry import testing

mocks = testing.set_mocks(stack="dev")  # before the program runs, as Pulumi's testing guide says

program = runpy.run_path(str(Path(__file__).with_name("__main__.py")))
claude, rg, workspace, app = program["claude"], program["rg"], program["workspace"], program["app"]


@pulumi.runtime.test
def test_claude_lives_in_the_programs_resource_group():
    created = [claude.account_id, claude.vault.id, *(d.id for d in claude.deployments_component.resources.values())]

    def check(args):
        rg_name = args[0]
        assert rg_name == "rg-team-claude-dev"
        # every resource of the stack goes into it, and the stack made no resource group of its own
        assert {r.inputs["resourceGroupName"] for r in mocks.resources if "resourceGroupName" in r.inputs} == {rg_name}
        assert [r.name for r in mocks.of_type("azure-native:resources:ResourceGroup")] == ["rg"]

    return pulumi.Output.all(rg.name, *created).apply(check)


@pulumi.runtime.test
def test_logs_go_to_the_programs_workspace():
    assert claude.diagnostics.workspace is None  # none created

    def check(args):
        workspace_id, account_logs, vault_logs = args
        assert account_logs == vault_logs == workspace_id
        assert workspace_id.endswith("/providers/Microsoft.OperationalInsights/workspaces/logs")

    return pulumi.Output.all(workspace.id, claude.diagnostics.account_setting.workspace_id,
                             claude.diagnostics.vault_setting.workspace_id).apply(check)


@pulumi.runtime.test
def test_the_app_identity_may_call_claude_and_read_the_contract():
    grants = [pulumi.Output.all(a.principal_id, a.scope) for a in claude.access.assignments]

    def check(args):
        principal, account_id, vault_id, *pairs = args
        assert [principal, account_id] in pairs
        assert [principal, vault_id] in pairs

    return pulumi.Output.all(app.principal_id, claude.account_id, claude.vault.id, *grants).apply(check)


@pulumi.runtime.test
def test_entra_only_endpoint_and_no_key():
    assert "api_key" not in claude.vault.secrets

    def check(args):
        endpoint, auth_mode, deployments = args
        assert endpoint == "https://team-claude-dev.services.ai.azure.com/anthropic"
        assert auth_mode == "entra"
        assert set(deployments) == {"chat", "fast"}
        assert all(d["version"] not in (None, "None") for d in deployments.values())

    return pulumi.Output.all(claude.endpoint, claude.auth_mode, claude.deployments).apply(check)
