"""``ClaudeFoundryStack``: the whole environment described by one :class:`~claude_foundry.program.spec.Spec`.

``ClaudeFoundryStack(name, args, opts)`` builds everything the spec names. ``args`` is a
:class:`ClaudeFoundryStackArgs` (the spec plus your own resources as ``pulumi.Input`` values: an existing resource
group, a Log Analytics workspace, principals created in the same program) or just the spec.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry import _contract as contract
from claude_foundry._catalogue import Catalogue, load_catalogue
from claude_foundry.program.components._access import (
    AccessAssignments,
    AccessAssignmentsArgs,
    ClaudeUserArgs,
    SecretReaderArgs,
    check_principals,
)
from claude_foundry.program.components._account import FoundryAccount, FoundryAccountArgs
from claude_foundry.program.components._accounts import AccountRef, account_label
from claude_foundry.program.components._alerts import Alerts, AlertsArgs, CostBudget, CostBudgetArgs
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type
from claude_foundry.program.components._dashboard import UsageDashboard, UsageDashboardArgs
from claude_foundry.program.components._deployments import ClaudeDeployments, ClaudeDeploymentsArgs
from claude_foundry.program.components._diagnostics import Diagnostics, DiagnosticsArgs
from claude_foundry.program.components._network import PrivateNetwork, PrivateNetworkArgs
from claude_foundry.program.components._vault import ContractVault, ContractVaultArgs
from claude_foundry.program.spec._schema import Spec

#: Logical name of the top component in ``infra/__main__.py`` and ``plan``. Changing it changes every URN;
#: keep old URNs with ``opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="<old>")])``.
DEFAULT_COMPONENT_NAME = "claude-foundry"

#: Names of the stack outputs (attributes of the component and ``pulumi.export`` names).
OUTPUT_NAMES = ("endpoint", "resource_name", "account_id", "vault_name", "vault_url", "secret_names",
                "deployment_names", "deployments", "auth_mode")
#: Outputs only a stack with a Foundry project (``foundry.project``) has.
PROJECT_OUTPUT_NAMES = ("project_name",)
#: Outputs only a stack of several accounts (``accounts:``) has: every account's name, region, endpoint, id
#: and deployment names, the first account first.
MULTI_ACCOUNT_OUTPUT_NAMES = ("accounts",)
#: Outputs only a stack with a dashboard (``monitoring.dashboard: true``) has: the workbook's ARM id (not secret).
DASHBOARD_OUTPUT_NAMES = ("dashboard_id",)


@dataclass(frozen=True, kw_only=True)
class ClaudeFoundryStackArgs:
    """The spec plus what a program of your own wires in; every field but ``spec`` is optional. Keyword-only and
    checked when built: a wrong type raises ``TypeError``, a wrong value ``ValueError``, both naming the field.

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

    def __post_init__(self) -> None:
        owner = "ClaudeFoundryStackArgs"
        if not isinstance(self.spec, Spec):
            raise TypeError(f"{owner}.spec must be a claude_foundry.program.spec.Spec (build one with load_spec or "
                            f"spec_from_mapping), got {type(self.spec).__name__}")
        check_input(owner, "resource_group_name", self.resource_group_name, optional=True)
        check_input(owner, "workspace_id", self.workspace_id, optional=True)
        object.__setattr__(self, "claude_users", check_principals(owner, "claude_users", self.claude_users,
                                                                   ClaudeUserArgs))
        object.__setattr__(self, "secret_readers", check_principals(owner, "secret_readers", self.secret_readers,
                                                                     SecretReaderArgs))
        check_type(owner, "base_url_template", self.base_url_template, str, "a str")
        if "{resource}" not in self.base_url_template:
            raise ValueError(f"{owner}.base_url_template must contain {{resource}} "
                             f"(got {self.base_url_template!r})")
        if self.workspace_id is not None and not self.spec.diagnostics.enabled:
            raise ValueError(f"{owner}.workspace_id given but the spec turns diagnostics off "
                             "(diagnostics.enabled: false)")
        if self.workspace_id is not None and self.spec.diagnostics.workspace_id:
            raise ValueError(f"{owner}.workspace_id: give the workspace in the spec (diagnostics.workspace_id) or "
                             "in the args (workspace_id), not both")


class ClaudeFoundryStack(pulumi.ComponentResource):
    """Resource group (optional), every Foundry account with its Claude deployments, contract vault, private
    network (optional), access, diagnostics, alerts and budget (optional).

    ``ClaudeFoundryStack(name, args, opts)`` as every Pulumi component: ``args`` a :class:`ClaudeFoundryStackArgs`
    (or just the :class:`Spec`), ``opts`` any ``pulumi.ResourceOptions``. Keyword-only: ``catalogue`` (default:
    the packaged one) and ``base_url_template`` (overrides the args').

    A stack is an ordered list of accounts (``spec.all_accounts()``, ``foundry:`` first): each gets a
    :class:`FoundryAccount` and its :class:`ClaudeDeployments` (chained within the account, parallel to the other
    accounts), and every other component takes the same list (:class:`AccountRef`, ``account_refs``).

    Outputs (attributes): ``endpoint`` (Claude base URL; not secret), ``resource_name``, ``account_id``,
    ``vault_name``, ``vault_url``, ``secret_names`` (role -> Key Vault secret name), ``deployment_names``,
    ``deployments`` (name -> {model, version, family}), ``auth_mode`` (all of the first account); with
    ``foundry.project``, ``project_name``; with several accounts, ``accounts`` (each account's name, region,
    endpoint, id and deployment names); besides, ``resource_group_name``. The children: ``foundry_accounts`` and
    ``deployment_components`` (account key -> component), ``foundry`` and ``deployments_component`` (the first
    account's), ``vault``, ``access``, ``diagnostics``, ``network``, ``alerts``, ``budget``, ``dashboard``, ``project``.
    """

    def __init__(self, name: str, args: ClaudeFoundryStackArgs | Spec,
                 opts: pulumi.ResourceOptions | None = None, *, base_url_template: str | None = None,
                 catalogue: Catalogue | None = None):
        if isinstance(opts, str):
            # the third positional was base_url_template before Pulumi's (name, args, opts) was followed
            warnings.warn("ClaudeFoundryStack(name, spec, base_url_template) is deprecated: pass "
                          "base_url_template= as a keyword (or in ClaudeFoundryStackArgs)", DeprecationWarning,
                          stacklevel=2)
            base_url_template, opts = base_url_template or opts, None
        if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
            raise TypeError(f"ClaudeFoundryStack: opts must be a pulumi.ResourceOptions or None, "
                            f"got {type(opts).__name__}")
        if isinstance(args, Spec):
            args = ClaudeFoundryStackArgs(spec=args)
        elif not isinstance(args, ClaudeFoundryStackArgs):
            raise TypeError("ClaudeFoundryStack: args must be a ClaudeFoundryStackArgs or a "
                            "claude_foundry.program.spec.Spec (build one with load_spec or spec_from_mapping), "
                            f"got {type(args).__name__}")
        if base_url_template is not None:
            args = dataclasses.replace(args, base_url_template=base_url_template)
        super().__init__(f"{TYPE_PREFIX}ClaudeFoundryStack", name, None, opts)
        spec = args.spec
        template = args.base_url_template
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
        # the resource group as role assignment names read it: "<resource group>/<resource>"
        rg_label = spec.resource_group if args.resource_group_name is None else args.resource_group_name

        # every account, foundry: first: the account, then its deployments chained within it; accounts in parallel
        private = spec.private_network if spec.private_on else None
        self.foundry_accounts: dict[str, FoundryAccount] = {}
        self.deployment_components: dict[str, ClaudeDeployments] = {}
        refs: list[AccountRef] = []
        for acct in spec.all_accounts():
            suffix = account_label(acct.key)
            fa = FoundryAccount(f"{name}-foundry{suffix}", FoundryAccountArgs(
                foundry=acct.foundry, location=acct.location, resource_group_name=rg_name, tags=tags,
                protect=spec.protect, private_network=private), opts=pulumi.ResourceOptions(parent=self))
            self.foundry_accounts[acct.key] = fa
            self.deployment_components[acct.key] = ClaudeDeployments(
                f"{name}-deployments{suffix}", ClaudeDeploymentsArgs(
                    deployments=acct.deployments, model_provider=spec.foundry.model_provider, account=fa.account,
                    account_name=fa.account.name, resource_group_name=rg_name, protect=spec.protect,
                    catalogue=cat), opts=pulumi.ResourceOptions(parent=self))
            refs.append(fa.ref(key=acct.key, deployments=acct.deployments, resource_group_name=rg_label))
        self.account_refs: tuple[AccountRef, ...] = tuple(refs)
        self.foundry = self.foundry_accounts[refs[0].key]
        self.deployments_component = self.deployment_components[refs[0].key]

        # optional Foundry project (foundry.project; only the first account has one): after the account's last
        # deployment (one change below an account at a time)
        projects = [self.foundry_accounts[a.key].add_project(
            depends_on=list(self.deployment_components[a.key].resources.values())[-1:]) for a in refs]
        self.project = next((p for p in projects if p is not None), None)

        self.vault = ContractVault(f"{name}-vault", ContractVaultArgs(
            spec=spec, resource_group_name=rg_name, tenant_id=client.tenant_id, accounts=refs,
            base_url_template=template, tags=tags), opts=pulumi.ResourceOptions(parent=self))

        # optional private networking (private_network:): endpoints, DNS zones; nothing at all when off
        self.network: PrivateNetwork | None = None
        if private is not None:
            self.network = PrivateNetwork(f"{name}-network", PrivateNetworkArgs(
                private=private, location=spec.location, resource_group_name=rg_name, accounts=refs,
                vault_name=spec.key_vault.name, vault_id=self.vault.id, tags=tags),
                opts=pulumi.ResourceOptions(parent=self))

        self.access = AccessAssignments(f"{name}-access", AccessAssignmentsArgs(
            access=spec.access, subscription_id=client.subscription_id, accounts=refs,
            vault_id=self.vault.id, vault_scope_name=_scope_name(rg_label, spec.key_vault.name),
            deployer_principal_id=client.object_id, claude_users=args.claude_users,
            secret_readers=args.secret_readers), opts=pulumi.ResourceOptions(parent=self))

        self.diagnostics: Diagnostics | None = None
        if spec.diagnostics.enabled:
            self.diagnostics = Diagnostics(f"{name}-diagnostics", DiagnosticsArgs(
                spec=spec, resource_group_name=rg_name, accounts=refs, vault_id=self.vault.id,
                tags=tags, workspace_id=args.workspace_id), opts=pulumi.ResourceOptions(parent=self))

        # optional observability and cost (alerts:, budget:): nothing at all when off, so no other URN changes
        self.alerts: Alerts | None = None
        if spec.alerts_on:
            self.alerts = Alerts(f"{name}-alerts", AlertsArgs(
                spec=spec, resource_group_name=rg_name, accounts=refs, tags=tags),
                opts=pulumi.ResourceOptions(parent=self))
        rg_id: pulumi.Input[str] = ""
        if spec.budget_on or spec.dashboard_on:  # their scope or source: the resource group's ARM id
            rg_id = self.resource_group.id if self.resource_group is not None else \
                pulumi.Output.concat("/subscriptions/", client.subscription_id, "/resourceGroups/", rg_name)
        self.budget: CostBudget | None = None
        if spec.budget_on:
            self.budget = CostBudget(f"{name}-budget", CostBudgetArgs(
                spec=spec, resource_group_id=rg_id,
                action_group_id=self.alerts.action_group_id if self.alerts is not None else None),
                opts=pulumi.ResourceOptions(parent=self))

        # optional usage dashboard (monitoring.dashboard: true): one workbook over every account
        self.dashboard: UsageDashboard | None = None
        if spec.dashboard_on:
            self.dashboard = UsageDashboard(f"{name}-dashboard", UsageDashboardArgs(
                spec=spec, resource_group_name=rg_name, resource_group_id=rg_id, accounts=refs, tags=tags),
                opts=pulumi.ResourceOptions(parent=self))

        first = refs[0]
        dmap = spec.deployment_map(cat)
        self.endpoint: pulumi.Output[str] = pulumi.Output.from_input(contract.foundry_base_url(first.name, template))
        self.resource_name: pulumi.Output[str] = pulumi.Output.from_input(first.name)
        self.account_id: pulumi.Output[str] = pulumi.Output.from_input(first.id)
        self.vault_name: pulumi.Output[str] = self.vault.name
        self.vault_url: pulumi.Output[str] = self.vault.vault_url
        self.secret_names: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(spec.secret_names.as_dict())
        self.deployment_names: pulumi.Output[list[str]] = pulumi.Output.from_input(list(dmap))
        self.deployments: pulumi.Output[dict[str, Any]] = pulumi.Output.from_input(
            {k: {"model": v.model, "version": v.version, "family": v.family} for k, v in dmap.items()})
        self.auth_mode: pulumi.Output[str] = pulumi.Output.from_input(spec.auth_mode)
        self.project_name: pulumi.Output[str] | None = self.project.name if self.project is not None else None
        # the accounts output belongs with contract version 2: a one-account stack exports what it always did
        self.accounts: pulumi.Output[list[dict[str, Any]]] | None = None
        if spec.multi_account:
            self.accounts = pulumi.Output.all(**{a.key: a.id for a in refs}).apply(lambda got: [
                {"account": c.account, "resource": c.resource, "region": c.region, "endpoint": c.base_url,
                 "account_id": got[c.account], "deployment_names": sorted(c.deployments)}
                for c in spec.stack_contract(template, cat).accounts])
        self.dashboard_id: pulumi.Output[str] | None = \
            self.dashboard.workbook_id if self.dashboard is not None else None
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, pulumi.Output[Any]]:
        """The stack outputs by name (what ``infra/__main__.py`` exports); ``project_name`` only with a project,
        ``accounts`` only with several accounts, ``dashboard_id`` only with a dashboard."""
        names = OUTPUT_NAMES + (PROJECT_OUTPUT_NAMES if self.project is not None else ()) \
            + (MULTI_ACCOUNT_OUTPUT_NAMES if self.accounts is not None else ()) \
            + (DASHBOARD_OUTPUT_NAMES if self.dashboard is not None else ())
        return {k: getattr(self, k) for k in names}


def _scope_name(resource_group: pulumi.Input[str], resource: str) -> pulumi.Input[str]:
    if isinstance(resource_group, str):
        return f"{resource_group}/{resource}"
    return pulumi.Output.concat(resource_group, "/", resource)
