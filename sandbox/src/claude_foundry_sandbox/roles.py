"""The permissions of the built-in roles the sandbox knows, as Azure defines them.

Each entry is the role definition's ``permissions[0]`` (``actions``, ``notActions``, ``dataActions``,
``notDataActions``), copied from the published built-in role definitions (learn.microsoft.com, "Azure
built-in roles": privileged, AI + machine learning and security). ``GET {scope}/providers/
Microsoft.Authorization/permissions`` answers one of these per role the caller holds at the scope or above.
The sandbox's own authorization (``state.MANAGE_WRITE_ROLES`` ...) is coarser; this table is what the
permissions API reports.
"""

from __future__ import annotations

import copy
from typing import Any

#: The Contributor role's GUID in Azure. ``claude_foundry._azure.arm.ROLE_IDS["contributor"]`` differs from it; the
#: sandbox maps both to Contributor so assignments made with either are honoured.
AZURE_CONTRIBUTOR_GUID = "b24988ac-6180-42a0-ab88-20f7382dd24c"

_KV_ACTIONS = [
    "Microsoft.Authorization/*/read",
    "Microsoft.Insights/alertRules/*",
    "Microsoft.Resources/deployments/*",
    "Microsoft.Resources/subscriptions/resourceGroups/read",
    "Microsoft.Support/*",
    "Microsoft.KeyVault/checkNameAvailability/read",
    "Microsoft.KeyVault/deletedVaults/read",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.KeyVault/vaults/*/read",
    "Microsoft.KeyVault/operations/read",
]

_CS_USER_ACTIONS = [
    "Microsoft.CognitiveServices/*/read",
    "Microsoft.CognitiveServices/accounts/listkeys/action",
    "Microsoft.Insights/alertRules/read",
    "Microsoft.Insights/diagnosticSettings/read",
    "Microsoft.Insights/logDefinitions/read",
    "Microsoft.Insights/metricdefinitions/read",
    "Microsoft.Insights/metrics/read",
    "Microsoft.ResourceHealth/availabilityStatuses/read",
]


def _perm(actions: list[str], not_actions: list[str] | None = None, data_actions: list[str] | None = None,
          not_data_actions: list[str] | None = None) -> dict[str, list[str]]:
    return {"actions": actions, "notActions": not_actions or [], "dataActions": data_actions or [],
            "notDataActions": not_data_actions or []}


#: Role key (``state.ALL_ROLE_IDS``) -> the role's permissions. Order: the order of answers.
ROLE_PERMISSIONS: dict[str, dict[str, list[str]]] = {
    "owner": _perm(["*"]),
    "contributor": _perm(["*"], [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ]),
    "reader": _perm(["*/read"]),
    # Microsoft Learn, "Azure built-in roles" (Monitor; Management and governance)
    "monitoring-reader": _perm(["*/read", "Microsoft.OperationalInsights/workspaces/search/action",
                                "Microsoft.Support/*"]),
    "cost-management-reader": _perm(["Microsoft.Consumption/*/read", "Microsoft.CostManagement/*/read",
                                     "Microsoft.Billing/billingPeriods/read", "Microsoft.Resources/subscriptions/read",
                                     "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*",
                                     "Microsoft.Advisor/configurations/read", "Microsoft.Advisor/recommendations/read",
                                     "Microsoft.Management/managementGroups/read",
                                     "Microsoft.Billing/billingProperty/read"]),
    "user-access-administrator": _perm(["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"]),
    "cognitive-services-contributor": _perm([
        "Microsoft.Authorization/*/read",
        "Microsoft.CognitiveServices/*",
        "Microsoft.Features/features/read",
        "Microsoft.Features/providers/features/read",
        "Microsoft.Features/providers/features/register/action",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Insights/diagnosticSettings/*",
        "Microsoft.Insights/logDefinitions/read",
        "Microsoft.Insights/metricdefinitions/read",
        "Microsoft.Insights/metrics/read",
        "Microsoft.ResourceHealth/availabilityStatuses/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/deployments/operations/read",
        "Microsoft.Resources/subscriptions/operationresults/read",
        "Microsoft.Resources/subscriptions/read",
        "Microsoft.Resources/subscriptions/resourcegroups/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
    ]),
    "cognitive-services-user": _perm([
        *_CS_USER_ACTIONS,
        "Microsoft.Resources/deployments/operations/read",
        "Microsoft.Resources/subscriptions/operationresults/read",
        "Microsoft.Resources/subscriptions/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
    ], data_actions=["Microsoft.CognitiveServices/*"]),
    "azure-ai-user": _perm([
        *_CS_USER_ACTIONS,
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/operationresults/read",
        "Microsoft.Resources/subscriptions/read",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
    ], data_actions=["Microsoft.CognitiveServices/*"]),
    "cognitive-services-openai-user": _perm([
        "Microsoft.CognitiveServices/*/read",
        "Microsoft.Authorization/roleAssignments/read",
        "Microsoft.Authorization/roleDefinitions/read",
    ], data_actions=[
        "Microsoft.CognitiveServices/accounts/OpenAI/*/read",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/search/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/generate/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/audio/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/search/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/realtime/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/extensions/chat/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/images/generations/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/assistants/*",
    ], not_data_actions=["Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"]),
    "key-vault-administrator": _perm(list(_KV_ACTIONS), data_actions=["Microsoft.KeyVault/vaults/*"]),
    "key-vault-secrets-officer": _perm(list(_KV_ACTIONS), data_actions=["Microsoft.KeyVault/vaults/secrets/*"]),
    "key-vault-secrets-user": _perm([], data_actions=[
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ]),
    "key-vault-reader": _perm(list(_KV_ACTIONS), data_actions=[
        "Microsoft.KeyVault/vaults/*/read",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    ]),
}


def permissions_of(roles: set[str]) -> list[dict[str, Any]]:
    """One permissions entry per known role in ``roles`` (role keys; unknown keys or GUIDs are skipped)."""
    return [copy.deepcopy(perm) for key, perm in ROLE_PERMISSIONS.items() if key in roles]
