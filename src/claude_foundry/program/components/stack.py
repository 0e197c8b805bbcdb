"""``ClaudeFoundryStack``: the whole environment described by one :class:`~claude_foundry.program.spec.Spec`."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import contract
from claude_foundry.catalogue import Catalogue, load_catalogue
from claude_foundry.program.components.access import AccessAssignments, AccessAssignmentsArgs
from claude_foundry.program.components.account import FoundryAccount, FoundryAccountArgs
from claude_foundry.program.components.common import TYPE_PREFIX
from claude_foundry.program.components.deployments import ClaudeDeployments, ClaudeDeploymentsArgs
from claude_foundry.program.components.diagnostics import Diagnostics, DiagnosticsArgs
from claude_foundry.program.components.vault import ContractVault, ContractVaultArgs
from claude_foundry.program.spec.schema import Spec

#: Logical name of the top component in ``infra/__main__.py`` and ``plan``. Changing it changes every URN;
#: keep old URNs with ``opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="<old>")])``.
DEFAULT_COMPONENT_NAME = "claude-foundry"

#: Names of the stack outputs (attributes of the component and ``pulumi.export`` names).
OUTPUT_NAMES = ("endpoint", "resource_name", "account_id", "vault_name", "vault_url", "secret_names",
                "deployment_names", "deployments", "auth_mode")


class ClaudeFoundryStack(pulumi.ComponentResource):
    """Resource group (optional), Foundry account, Claude deployments, contract vault, access, diagnostics.

    Outputs (attributes): ``endpoint`` (Claude base URL; not secret), ``resource_name``, ``account_id``,
    ``vault_name``, ``vault_url``, ``secret_names`` (role -> Key Vault secret name), ``deployment_names``,
    ``deployments`` (name -> {model, version, family}), ``auth_mode``.
    """

    def __init__(self, name: str, spec: Spec,
                 base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE,
                 opts: pulumi.ResourceOptions | None = None, *, catalogue: Catalogue | None = None):
        super().__init__(f"{TYPE_PREFIX}ClaudeFoundryStack", name, None, opts)
        self.spec = spec
        cat = catalogue or load_catalogue()
        tags = spec.all_tags()
        client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.resource_group: azure_native.resources.ResourceGroup | None = None
        rg_name: pulumi.Input[str] = spec.resource_group
        if spec.create_resource_group:
            self.resource_group = azure_native.resources.ResourceGroup(
                f"{name}-rg", resource_group_name=spec.resource_group, location=spec.location, tags=tags,
                opts=pulumi.ResourceOptions(parent=self))
            rg_name = self.resource_group.name

        self.foundry = FoundryAccount(f"{name}-foundry", FoundryAccountArgs(
            foundry=spec.foundry, location=spec.location, resource_group_name=rg_name, tags=tags,
            protect=spec.protect), opts=pulumi.ResourceOptions(parent=self))
        account = self.foundry.account

        self.deployments_component = ClaudeDeployments(f"{name}-deployments", ClaudeDeploymentsArgs(
            deployments=dict(spec.deployments), model_provider=spec.foundry.model_provider, account=account,
            account_name=account.name, resource_group_name=rg_name, protect=spec.protect, catalogue=cat),
            opts=pulumi.ResourceOptions(parent=self))

        self.vault = ContractVault(f"{name}-vault", ContractVaultArgs(
            spec=spec, resource_group_name=rg_name, tenant_id=client.tenant_id, account=account,
            account_name=account.name, base_url_template=base_url_template, tags=tags),
            opts=pulumi.ResourceOptions(parent=self))

        self.access = AccessAssignments(f"{name}-access", AccessAssignmentsArgs(
            access=spec.access, subscription_id=client.subscription_id,
            account_id=account.id, account_scope_name=f"{spec.resource_group}/{spec.foundry.name}",
            vault_id=self.vault.id, vault_scope_name=f"{spec.resource_group}/{spec.key_vault.name}",
            deployer_principal_id=client.object_id),
            opts=pulumi.ResourceOptions(parent=self))

        self.diagnostics: Diagnostics | None = None
        if spec.diagnostics.enabled:
            self.diagnostics = Diagnostics(f"{name}-diagnostics", DiagnosticsArgs(
                spec=spec, resource_group_name=rg_name, account_id=account.id, vault_id=self.vault.id,
                tags=tags), opts=pulumi.ResourceOptions(parent=self))

        dmap = spec.deployment_map(cat)
        self.endpoint: pulumi.Output[str] = pulumi.Output.from_input(spec.base_url(base_url_template))
        self.resource_name: pulumi.Output[str] = pulumi.Output.from_input(spec.foundry.name)
        self.account_id: pulumi.Output[str] = account.id
        self.vault_name: pulumi.Output[str] = self.vault.name
        self.vault_url: pulumi.Output[str] = self.vault.vault_url
        self.secret_names: pulumi.Output[dict] = pulumi.Output.from_input(spec.secret_names.as_dict())
        self.deployment_names: pulumi.Output[list] = pulumi.Output.from_input(list(dmap))
        self.deployments: pulumi.Output[dict] = pulumi.Output.from_input(
            {k: {"model": v.model, "version": v.version, "family": v.family} for k, v in dmap.items()})
        self.auth_mode: pulumi.Output[str] = pulumi.Output.from_input(spec.auth_mode)
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack outputs by name (what ``infra/__main__.py`` exports)."""
        return {k: getattr(self, k) for k in OUTPUT_NAMES}
