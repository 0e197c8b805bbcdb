"""``ClaudeFoundryStack``: the whole environment described by one :class:`~claude_foundry.program.spec.Spec`.

``ClaudeFoundryStack(name, spec)`` builds everything the spec names. From a program of your own, pass
:class:`ClaudeFoundryStackArgs` instead of the spec to wire in your own resources (``pulumi.Input`` values):
an existing resource group, a Log Analytics workspace, principals created in the same program.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import contract
from claude_foundry.catalogue import Catalogue, load_catalogue
from claude_foundry.program.components.access import (
    AccessAssignments,
    AccessAssignmentsArgs,
    ClaudeUserArgs,
    SecretReaderArgs,
)
from claude_foundry.program.components.account import FoundryAccount, FoundryAccountArgs
from claude_foundry.program.components.alerts import Alerts, AlertsArgs, CostBudget, CostBudgetArgs
from claude_foundry.program.components.common import TYPE_PREFIX
from claude_foundry.program.components.deployments import ClaudeDeployments, ClaudeDeploymentsArgs
from claude_foundry.program.components.diagnostics import Diagnostics, DiagnosticsArgs
from claude_foundry.program.components.network import PrivateNetwork, PrivateNetworkArgs
from claude_foundry.program.components.vault import ContractVault, ContractVaultArgs
from claude_foundry.program.spec.schema import Spec

#: Logical name of the top component in ``infra/__main__.py`` and ``plan``. Changing it changes every URN;
#: keep old URNs with ``opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="<old>")])``.
DEFAULT_COMPONENT_NAME = "claude-foundry"

#: Names of the stack outputs (attributes of the component and ``pulumi.export`` names).
OUTPUT_NAMES = ("endpoint", "resource_name", "account_id", "vault_name", "vault_url", "secret_names",
                "deployment_names", "deployments", "auth_mode")
#: Outputs only a stack with a Foundry project (``foundry.project``) has.
PROJECT_OUTPUT_NAMES = ("project_name",)
#: Outputs only a stack with further accounts (``accounts:``) has: every account's name, region, endpoint, id
#: and deployment names, the primary first.
MULTI_ACCOUNT_OUTPUT_NAMES = ("accounts",)


@dataclass(frozen=True)
class ClaudeFoundryStackArgs:
    """The spec plus what a program of your own wires in; every field but ``spec`` is optional.

    - ``resource_group_name``: an existing resource group (e.g. your ``ResourceGroup``'s ``.name``); the
      stack then creates none (whatever ``create_resource_group`` says) and puts everything in it.
      ``spec.resource_group`` is then only a label: keep it equal to the real name, as ``verify`` and
      ``rotate-keys`` read it from a stack file.
    - ``workspace_id``: your own Log Analytics workspace (its ``.id``); the stack then creates none. Not
      together with ``diagnostics.workspace_id`` in the spec, nor with ``diagnostics.enabled: false``.
    - ``claude_users`` / ``secret_readers``: principals besides the spec's, as object ids
      (``pulumi.Input[str]``, e.g. a user-assigned identity's ``.principal_id``) or
      :class:`ClaudeUserArgs` / :class:`SecretReaderArgs` (principal type, role, a stable ``key``).
    - ``base_url_template``: the Claude endpoint template (default: the contract's, Azure's).
    """

    spec: Spec
    resource_group_name: pulumi.Input[str] | None = None
    workspace_id: pulumi.Input[str] | None = None
    claude_users: Sequence[pulumi.Input[str] | ClaudeUserArgs] = ()
    secret_readers: Sequence[pulumi.Input[str] | SecretReaderArgs] = ()
    base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE


class ClaudeFoundryStack(pulumi.ComponentResource):
    """Resource group (optional), Foundry account, Claude deployments, contract vault, private network
    (optional), access, diagnostics.

    ``ClaudeFoundryStack(name, spec)`` or, wiring your own resources, ``ClaudeFoundryStack(name,
    ClaudeFoundryStackArgs(spec=spec, resource_group_name=rg.name, ...), opts=...)``.

    Outputs (attributes): ``endpoint`` (Claude base URL; not secret), ``resource_name``, ``account_id``,
    ``vault_name``, ``vault_url``, ``secret_names`` (role -> Key Vault secret name), ``deployment_names``,
    ``deployments`` (name -> {model, version, family}), ``auth_mode``; with ``foundry.project``, ``project_name``
    (not secret; ``None`` and not exported without one); besides, ``resource_group_name``.
    """

    def __init__(self, name: str, spec: Spec | ClaudeFoundryStackArgs,
                 base_url_template: str | None = None,
                 opts: pulumi.ResourceOptions | None = None, *, catalogue: Catalogue | None = None):
        super().__init__(f"{TYPE_PREFIX}ClaudeFoundryStack", name, None, opts)
        args = spec if isinstance(spec, ClaudeFoundryStackArgs) else ClaudeFoundryStackArgs(spec=spec)
        if not isinstance(args.spec, Spec):
            raise TypeError("spec must be a claude_foundry.program.spec.Spec (build one with load_spec or "
                            f"spec_from_mapping), got {type(args.spec).__name__}")
        spec = args.spec
        base_url_template = base_url_template or args.base_url_template
        if args.workspace_id is not None and not spec.diagnostics.enabled:
            raise ValueError("workspace_id given but the spec turns diagnostics off (diagnostics.enabled: false)")
        self.spec = spec
        cat = catalogue or load_catalogue()
        tags = spec.all_tags()
        client = azure_native.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))

        self.resource_group: azure_native.resources.ResourceGroup | None = None
        rg_name: pulumi.Input[str] = spec.resource_group
        if args.resource_group_name is not None:
            rg_name = args.resource_group_name
        elif spec.create_resource_group:
            self.resource_group = azure_native.resources.ResourceGroup(
                f"{name}-rg", resource_group_name=spec.resource_group, location=spec.location, tags=tags,
                opts=pulumi.ResourceOptions(parent=self))
            rg_name = self.resource_group.name
        self.resource_group_name: pulumi.Output[str] = pulumi.Output.from_input(rg_name)

        self.foundry = FoundryAccount(f"{name}-foundry", FoundryAccountArgs(
            foundry=spec.foundry, location=spec.location, resource_group_name=rg_name, tags=tags,
            protect=spec.protect, private_network=spec.private_network if spec.private_on else None),
            opts=pulumi.ResourceOptions(parent=self))
        account = self.foundry.account

        self.deployments_component = ClaudeDeployments(f"{name}-deployments", ClaudeDeploymentsArgs(
            deployments=dict(spec.deployments), model_provider=spec.foundry.model_provider, account=account,
            account_name=account.name, resource_group_name=rg_name, protect=spec.protect, catalogue=cat),
            opts=pulumi.ResourceOptions(parent=self))

        # further accounts (accounts:): each with its own deployments, chained within it, in parallel with the others
        self.further_accounts: dict[str, FoundryAccount] = {}
        self.further_deployments: dict[str, ClaudeDeployments] = {}
        further_specs = spec.all_accounts()[1:]
        for acct in further_specs:
            fa = FoundryAccount(f"{name}-foundry-{acct.key}", FoundryAccountArgs(
                foundry=acct.foundry, location=acct.location, resource_group_name=rg_name, tags=tags,
                protect=spec.protect, private_network=spec.private_network if spec.private_on else None),
                opts=pulumi.ResourceOptions(parent=self))
            self.further_accounts[acct.key] = fa
            self.further_deployments[acct.key] = ClaudeDeployments(
                f"{name}-deployments-{acct.key}", ClaudeDeploymentsArgs(
                    deployments=acct.deployments, model_provider=spec.foundry.model_provider, account=fa.account,
                    account_name=fa.account.name, resource_group_name=rg_name, protect=spec.protect,
                    catalogue=cat), opts=pulumi.ResourceOptions(parent=self))
        further = {key: (fa.account, fa.account.name) for key, fa in self.further_accounts.items()}
        further_ids = {key: fa.account.id for key, fa in self.further_accounts.items()}
        further_names = {a.key: a.name for a in further_specs}

        # optional Foundry project: after the last deployment (one change below the account at a time)
        last_deployment = list(self.deployments_component.resources.values())[-1:]
        self.project = self.foundry.add_project(depends_on=last_deployment)

        self.vault = ContractVault(f"{name}-vault", ContractVaultArgs(
            spec=spec, resource_group_name=rg_name, tenant_id=client.tenant_id, account=account,
            account_name=account.name, base_url_template=base_url_template, tags=tags, further_accounts=further),
            opts=pulumi.ResourceOptions(parent=self))

        # optional private networking (private_network:): endpoints, DNS zones; nothing at all when off
        self.network: PrivateNetwork | None = None
        if spec.private_on and spec.private_network is not None:
            self.network = PrivateNetwork(f"{name}-network", PrivateNetworkArgs(
                private=spec.private_network, foundry_name=spec.foundry.name, location=spec.location,
                resource_group_name=rg_name, account_id=account.id, vault_name=spec.key_vault.name,
                vault_id=self.vault.id, tags=tags,
                further_accounts={k: (further_names[k], i) for k, i in further_ids.items()}),
                opts=pulumi.ResourceOptions(parent=self))

        # the scope names of role assignment names: "<resource group>/<resource>"
        rg_label = spec.resource_group if args.resource_group_name is None else args.resource_group_name
        self.access = AccessAssignments(f"{name}-access", AccessAssignmentsArgs(
            access=spec.access, subscription_id=client.subscription_id,
            account_id=account.id, account_scope_name=_scope_name(rg_label, spec.foundry.name),
            vault_id=self.vault.id, vault_scope_name=_scope_name(rg_label, spec.key_vault.name),
            deployer_principal_id=client.object_id, claude_users=args.claude_users,
            secret_readers=args.secret_readers,
            further_accounts=[(k, i, _scope_name(rg_label, further_names[k])) for k, i in further_ids.items()]),
            opts=pulumi.ResourceOptions(parent=self))

        self.diagnostics: Diagnostics | None = None
        if spec.diagnostics.enabled:
            self.diagnostics = Diagnostics(f"{name}-diagnostics", DiagnosticsArgs(
                spec=spec, resource_group_name=rg_name, account_id=account.id, vault_id=self.vault.id,
                tags=tags, workspace_id=args.workspace_id, further_account_ids=further_ids),
                opts=pulumi.ResourceOptions(parent=self))

        # optional observability and cost (alerts:, budget:): nothing at all when off, so no other URN changes
        self.alerts: Alerts | None = None
        if spec.alerts_on:
            self.alerts = Alerts(f"{name}-alerts", AlertsArgs(
                spec=spec, resource_group_name=rg_name, account_id=account.id, tags=tags,
                further_accounts={k: (further_names[k], i) for k, i in further_ids.items()}),
                opts=pulumi.ResourceOptions(parent=self))
        self.budget: CostBudget | None = None
        if spec.budget_on:
            rg_id: pulumi.Input[str] = self.resource_group.id if self.resource_group is not None else \
                pulumi.Output.concat("/subscriptions/", client.subscription_id, "/resourceGroups/", rg_name)
            self.budget = CostBudget(f"{name}-budget", CostBudgetArgs(
                spec=spec, resource_group_id=rg_id,
                action_group_id=self.alerts.action_group_id if self.alerts is not None else None),
                opts=pulumi.ResourceOptions(parent=self))

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
        self.project_name: pulumi.Output[str] | None = self.project.name if self.project is not None else None
        self.accounts: pulumi.Output[list] | None = None
        if spec.multi_account:
            ids = {contract.PRIMARY_ACCOUNT: account.id, **further_ids}
            self.accounts = pulumi.Output.all(**ids).apply(lambda got: [
                {"account": c.account, "resource": c.resource, "region": c.region, "endpoint": c.base_url,
                 "account_id": got[c.account], "deployment_names": sorted(c.deployments)}
                for c in spec.stack_contract(base_url_template, cat).accounts])
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output]:
        """The stack outputs by name (what ``infra/__main__.py`` exports); ``project_name`` only with a project,
        ``accounts`` only with further accounts."""
        names = OUTPUT_NAMES + (PROJECT_OUTPUT_NAMES if self.project is not None else ()) \
            + (MULTI_ACCOUNT_OUTPUT_NAMES if self.accounts is not None else ())
        return {k: getattr(self, k) for k in names}


def _scope_name(resource_group: pulumi.Input[str], resource: str) -> pulumi.Input[str]:
    if isinstance(resource_group, str):
        return f"{resource_group}/{resource}"
    return pulumi.Output.concat(resource_group, "/", resource)
