"""A team's own Pulumi program: its resource group, Log Analytics workspace and application identity, and
Claude on Microsoft Foundry wired to them with claude-foundry's components."""

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry.program.components import (
    ClaudeFoundryStack,
    ClaudeFoundryStackArgs,
    ClaudeUserArgs,
    SecretReaderArgs,
)
from claude_foundry.program.spec import spec_from_mapping

LOCATION = "eastus2"
RESOURCE_GROUP = f"rg-team-claude-{pulumi.get_stack()}"

# Validated like a stack file (catalogue, region, names, provider data); a SpecError names every problem.
spec = spec_from_mapping({
    "environment": pulumi.get_stack(),
    "location": LOCATION,
    "resource_group": RESOURCE_GROUP,
    "foundry": {
        "name": f"team-claude-{pulumi.get_stack()}",
        "model_provider": {"organization_name": "Contoso", "country_code": "US", "industry": "technology"},
        "disable_local_auth": True,  # Entra ID only: the app's identity calls Claude with tokens
    },
    "deployments": {
        "chat": {"model": "claude-sonnet-5-5", "capacity": 50},
        "fast": {"model": "claude-haiku-4-5"},
    },
    "key_vault": {"name": f"kv-team-claude-{pulumi.get_stack()}"},
}, source="examples/own-program")

# The team's own resources.
rg = azure_native.resources.ResourceGroup("rg", resource_group_name=RESOURCE_GROUP, location=LOCATION)
workspace = azure_native.operationalinsights.Workspace(
    "logs", resource_group_name=rg.name, location=LOCATION, sku={"name": "PerGB2018"}, retention_in_days=90)
app = azure_native.managedidentity.UserAssignedIdentity("app", resource_group_name=rg.name, location=LOCATION)

# Claude, in that resource group, logging to that workspace, callable by that identity.
claude = ClaudeFoundryStack("claude", ClaudeFoundryStackArgs(
    spec=spec,
    resource_group_name=rg.name,
    workspace_id=workspace.id,
    claude_users=[ClaudeUserArgs(principal_id=app.principal_id, key="app")],
    secret_readers=[SecretReaderArgs(principal_id=app.principal_id, key="app")],
))

pulumi.export("endpoint", claude.endpoint)
pulumi.export("vault_url", claude.vault_url)
pulumi.export("app_client_id", app.client_id)
