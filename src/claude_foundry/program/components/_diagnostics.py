"""``Diagnostics``: Log Analytics workspace (unless an existing one is given) and diagnostic settings of the
account (allLogs + AllMetrics) and the vault (allLogs).

An existing workspace comes from the spec (``diagnostics.workspace_id``, an ARM id) or, from a program of your
own, as ``DiagnosticsArgs.workspace_id`` (any ``pulumi.Input[str]``, e.g. your workspace's ``.id``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts
from claude_foundry.program.spec._schema import Spec

DIAGNOSTIC_SETTING_NAME = "claude-foundry-logs"
WORKSPACE_SKU = "PerGB2018"


@dataclass(frozen=True, kw_only=True)
class DiagnosticsArgs:
    """The workspace (created or given) and what sends its logs there: every account of ``accounts`` and the vault."""

    spec: Spec
    resource_group_name: pulumi.Input[str]
    #: The stack's accounts, the first one first; each sends its logs to the same workspace.
    accounts: Sequence[AccountRef]
    vault_id: pulumi.Input[str]
    tags: dict[str, str] = field(default_factory=dict)
    #: An existing Log Analytics workspace (its ARM id); the component then creates none.
    workspace_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        check_type("DiagnosticsArgs", "spec", self.spec, Spec, "a claude_foundry.program.spec.Spec")
        check_input("DiagnosticsArgs", "resource_group_name", self.resource_group_name)
        check_input("DiagnosticsArgs", "vault_id", self.vault_id)
        check_input("DiagnosticsArgs", "workspace_id", self.workspace_id, optional=True)
        object.__setattr__(self, "accounts", check_accounts("DiagnosticsArgs", self.accounts))
        if self.workspace_id is not None and self.spec.diagnostics.workspace_id:
            raise ValueError("give the workspace in the spec (diagnostics.workspace_id) or in the args "
                             "(workspace_id), not both")


class Diagnostics(pulumi.ComponentResource):
    workspace: azure_native.operationalinsights.Workspace | None
    workspace_id: pulumi.Output[str]
    #: account key -> its diagnostic setting, the first account first
    account_settings: dict[str, azure_native.monitor.DiagnosticSetting]
    vault_setting: azure_native.monitor.DiagnosticSetting

    def __init__(self, name: str, args: DiagnosticsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}Diagnostics", name, None, opts)
        spec = args.spec
        existing = args.workspace_id if args.workspace_id is not None else spec.diagnostics.workspace_id
        if existing:
            self.workspace = None
            self.workspace_id = pulumi.Output.from_input(existing)
        else:
            self.workspace = azure_native.operationalinsights.Workspace(
                f"{name}-workspace",
                workspace_name=spec.workspace_name,
                resource_group_name=args.resource_group_name,
                location=spec.location,
                retention_in_days=spec.diagnostics.retention_days,
                sku={"name": WORKSPACE_SKU},
                tags=args.tags,
                opts=child_opts(self),
            )
            self.workspace_id = self.workspace.id
        self.account_settings = {a.key: self._account_setting(f"{name}-account{a.suffix}", a.id)
                                 for a in args.accounts}
        self.vault_setting = azure_native.monitor.DiagnosticSetting(
            f"{name}-vault",
            name=DIAGNOSTIC_SETTING_NAME,
            resource_uri=args.vault_id,
            workspace_id=self.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            opts=child_opts(self),
        )
        self.register_outputs({"workspace_id": self.workspace_id})

    @property
    def account_setting(self) -> azure_native.monitor.DiagnosticSetting:
        """The first account's setting."""
        return next(iter(self.account_settings.values()))

    def _account_setting(self, logical: str, account_id: pulumi.Input[str]) -> azure_native.monitor.DiagnosticSetting:
        """allLogs and AllMetrics of one Foundry account to the workspace."""
        return azure_native.monitor.DiagnosticSetting(
            logical,
            name=DIAGNOSTIC_SETTING_NAME,
            resource_uri=account_id,
            workspace_id=self.workspace_id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            metrics=[{"category": "AllMetrics", "enabled": True}],
            opts=child_opts(self),
        )
