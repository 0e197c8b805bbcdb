"""The Pulumi program as a library: one ``ComponentResource`` per concern.

``ClaudeFoundryStack`` (the top) builds, in order: the resource group, for each account of the stack (an ordered
list, ``foundry:`` first) a :class:`FoundryAccount` and its :class:`ClaudeDeployments`, the optional Foundry
project (:func:`foundry_project`, below the account),
:class:`ContractVault`, :class:`AccessAssignments`, :class:`Diagnostics` and, when the spec turns them on,
:class:`PrivateNetwork`, :class:`Alerts`, :class:`CostBudget` and :class:`UsageDashboard`.
``infra/__main__.py``, ``claude-foundry plan`` (mocks), the local deploy and the tests all run this same code.

From a program of your own: ``ClaudeFoundryStack(name, ClaudeFoundryStackArgs(spec=..., resource_group_name=...,
workspace_id=..., claude_users=[...], secret_readers=[...]))`` wires in your resources (``pulumi.Input`` values);
see docs/library.md. Every component is ``(name, args, opts)`` with frozen keyword-only ``*Args`` checked when
built; the components below the top take the stack's accounts as one list of :class:`AccountRef`
(``FoundryAccount(...).ref()``). Test such a program with :mod:`claude_foundry.testing`.
``FOUNDRY_BASE_URL_TEMPLATE`` is the Claude endpoint template (Azure's) that ``base_url_template`` defaults to.

Needs the ``infra`` extra (pulumi, pulumi-azure-native).
"""

from claude_foundry._contract import FOUNDRY_BASE_URL_TEMPLATE
from claude_foundry.program.components._access import (
    AccessAssignments,
    AccessAssignmentsArgs,
    ClaudeUserArgs,
    PrincipalArgs,
    SecretReaderArgs,
    role_assignment_name,
)
from claude_foundry.program.components._account import FoundryAccount, FoundryAccountArgs
from claude_foundry.program.components._accounts import AccountRef
from claude_foundry.program.components._alerts import Alerts, AlertsArgs, CostBudget, CostBudgetArgs
from claude_foundry.program.components._common import TYPE_PREFIX
from claude_foundry.program.components._dashboard import UsageDashboard, UsageDashboardArgs
from claude_foundry.program.components._deployments import ClaudeDeployments, ClaudeDeploymentsArgs
from claude_foundry.program.components._diagnostics import Diagnostics, DiagnosticsArgs
from claude_foundry.program.components._network import PrivateNetwork, PrivateNetworkArgs, private_network_acls
from claude_foundry.program.components._project import FoundryProjectArgs, foundry_project
from claude_foundry.program.components._stack import DEFAULT_COMPONENT_NAME, ClaudeFoundryStack, ClaudeFoundryStackArgs
from claude_foundry.program.components._vault import ContractVault, ContractVaultArgs

__all__ = [
    "DEFAULT_COMPONENT_NAME",
    "FOUNDRY_BASE_URL_TEMPLATE",
    "TYPE_PREFIX",
    "AccessAssignments",
    "AccessAssignmentsArgs",
    "AccountRef",
    "Alerts",
    "AlertsArgs",
    "ClaudeDeployments",
    "ClaudeDeploymentsArgs",
    "ClaudeFoundryStack",
    "ClaudeFoundryStackArgs",
    "ClaudeUserArgs",
    "ContractVault",
    "ContractVaultArgs",
    "CostBudget",
    "CostBudgetArgs",
    "Diagnostics",
    "DiagnosticsArgs",
    "FoundryAccount",
    "FoundryAccountArgs",
    "FoundryProjectArgs",
    "PrincipalArgs",
    "PrivateNetwork",
    "PrivateNetworkArgs",
    "SecretReaderArgs",
    "UsageDashboard",
    "UsageDashboardArgs",
    "foundry_project",
    "private_network_acls",
    "role_assignment_name",
]
