"""Azure Resource Manager facts shared by the Pulumi components, the local deploy, the sandbox and ops.

Importable without Pulumi.
"""

from __future__ import annotations

import os as _os

#: API version of ``Microsoft.CognitiveServices/accounts/deployments`` for Claude deployments: 2026-05-01, the
#: first GA version verified live with ``properties.modelProviderData`` (a sibling of ``properties.model``; not
#: yet in the published REST spec, azure-rest-api-specs issue 43610). Source: Azure/bicep-registry-modules,
#: ``avm/res/cognitive-services/account`` CHANGELOG 0.18.0 — AVM itself later held the feature back and no
#: longer sends modelProviderData; Azure's starter kit (Azure-Samples/claude) sends it at 2025-10-01-preview.
DEPLOYMENT_API_VERSION_GA = "2026-05-01"
#: The documented fallback (the starter kit's version), for a subscription or cloud where the GA version is not
#: rolled out yet: set ``CLAUDE_FOUNDRY_DEPLOYMENT_API_VERSION=2025-10-01-preview``.
DEPLOYMENT_API_VERSION_FALLBACK = "2025-10-01-preview"
ENV_DEPLOYMENT_API_VERSION = "CLAUDE_FOUNDRY_DEPLOYMENT_API_VERSION"
DEPLOYMENT_API_VERSIONS = (DEPLOYMENT_API_VERSION_GA, DEPLOYMENT_API_VERSION_FALLBACK)
DEPLOYMENT_API_VERSION = _os.environ.get(ENV_DEPLOYMENT_API_VERSION) or DEPLOYMENT_API_VERSION_GA

COGNITIVE_SERVICES_NAMESPACE = "Microsoft.CognitiveServices"
ACCOUNT_KIND = "AIServices"
ACCOUNT_SKU = "S0"
RAI_POLICY_DEFAULT = "Microsoft.DefaultV2"
#: What ARM assumes when a deployment names no versionUpgradeOption.
ARM_VERSION_UPGRADE_DEFAULT = "OnceNewDefaultVersionAvailable"
#: Claude deployments stay on their version (= hosting) unless the stack says otherwise.
VERSION_UPGRADE_DEFAULT = "NoAutoUpgrade"
VERSION_UPGRADE_OPTIONS = ("OnceNewDefaultVersionAvailable", "OnceCurrentVersionExpired", "NoAutoUpgrade")

#: Built-in role definition ids (the GUIDs are the same in every Azure tenant).
ROLE_IDS = {
    "cognitive-services-user": "a97b65f3-24c7-4388-baec-2e87135dc908",
    "azure-ai-user": "53ca6127-db72-4b80-b1b0-d745d6d5456d",
    "key-vault-secrets-user": "4633458b-17de-408a-b874-0445c86b69e6",
    "key-vault-secrets-officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "owner": "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
    "contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
}
ROLE_NAMES = {
    "cognitive-services-user": "Cognitive Services User",
    "azure-ai-user": "Azure AI User",
    "key-vault-secrets-user": "Key Vault Secrets User",
    "key-vault-secrets-officer": "Key Vault Secrets Officer",
    "owner": "Owner",
    "contributor": "Contributor",
}
#: Roles that allow calling Claude (data actions on the account).
CLAUDE_CALLER_ROLES = ("cognitive-services-user", "azure-ai-user")
#: Roles that allow reading Key Vault secret values.
SECRET_READER_ROLES = ("key-vault-secrets-user", "key-vault-secrets-officer")


def role_definition_id(subscription_id: str, role: str) -> str:
    return (f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
            f"{ROLE_IDS[role]}")


def resource_group_id(subscription_id: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"


def account_id(subscription_id: str, resource_group: str, account: str) -> str:
    return (f"{resource_group_id(subscription_id, resource_group)}/providers/"
            f"{COGNITIVE_SERVICES_NAMESPACE}/accounts/{account}")


def deployment_id(subscription_id: str, resource_group: str, account: str, deployment: str) -> str:
    return f"{account_id(subscription_id, resource_group, account)}/deployments/{deployment}"


def vault_id(subscription_id: str, resource_group: str, vault: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.KeyVault/vaults/{vault}"


def workspace_id(subscription_id: str, resource_group: str, workspace: str) -> str:
    return (f"{resource_group_id(subscription_id, resource_group)}/providers/"
            f"Microsoft.OperationalInsights/workspaces/{workspace}")


# --- Pulumi type tokens of the resources the program declares, and their ARM API versions -----------

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
GENERIC_RESOURCE = "azure-native:resources:Resource"
ACCOUNT = "azure-native:cognitiveservices:Account"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"  # noqa: S105 (a type token)
WORKSPACE = "azure-native:operationalinsights:Workspace"
#: pulumi-azure-native 3.x moved ``insights`` into ``monitor``; the old token is accepted too.
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
DIAGNOSTIC_SETTING_V2 = "azure-native:insights:DiagnosticSetting"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
LOCK_BY_SCOPE = "azure-native:authorization:ManagementLockByScope"
LOCK_AT_RESOURCE = "azure-native:authorization:ManagementLockAtResourceLevel"

#: API version per type token (pulumi-azure-native 3.29's default versions).
API_VERSIONS: dict[str, str] = {
    RESOURCE_GROUP: "2024-03-01",
    ACCOUNT: "2025-06-01",
    VAULT: "2024-11-01",
    SECRET: "2024-11-01",
    WORKSPACE: "2023-09-01",
    DIAGNOSTIC_SETTING: "2021-05-01-preview",
    DIAGNOSTIC_SETTING_V2: "2021-05-01-preview",
    ROLE_ASSIGNMENT: "2022-04-01",
    LOCK_BY_SCOPE: "2020-05-01",
    LOCK_AT_RESOURCE: "2020-05-01",
}
SUPPORTED_TYPES = frozenset([*API_VERSIONS, GENERIC_RESOURCE])

#: API versions of the ARM calls ops make that no declared resource carries.
PERMISSIONS_API_VERSION = "2022-04-01"
MARKETPLACE_API_VERSION = "2021-01-01"
