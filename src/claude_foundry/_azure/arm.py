"""Azure Resource Manager facts shared by the Pulumi components, the local deploy, the sandbox and ops.

Importable without Pulumi.
"""

from __future__ import annotations

import os as _os
import uuid as _uuid

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

#: Model deployments one Foundry account (Microsoft.CognitiveServices/accounts) may hold: Azure's default limit
#: "Max deployments per resource (model deployments within a Foundry resource)", 32, in Microsoft Learn's
#: "Microsoft Foundry Models quotas and limits" (MicrosoftDocs/azure-ai-docs,
#: articles/ai-foundry/foundry-models/quotas-limits.md, "Resource limits"; the Azure OpenAI page,
#: articles/ai-foundry/openai/quotas-limits.md, says the same: "Max Standard deployments per resource | 32").
#: ``validate`` refuses a stack whose account would hold more.
MAX_DEPLOYMENTS_PER_ACCOUNT = 32
MAX_DEPLOYMENTS_SOURCE = ("Azure's 'Max deployments per resource' limit, "
                          "https://learn.microsoft.com/azure/ai-foundry/foundry-models/quotas-limits")

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


#: Names of ``accounts/projects``: 2-64 characters, ``^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`` (Microsoft Learn, REST API
#: "Projects - Create" 2025-06-01, path parameter projectName; the same in Azure/bicep-types-az 2025-06-01).
PROJECT_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$"


def project_id(subscription_id: str, resource_group: str, account: str, project: str) -> str:
    return f"{account_id(subscription_id, resource_group, account)}/projects/{project}"


def vault_id(subscription_id: str, resource_group: str, vault: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.KeyVault/vaults/{vault}"


def workspace_id(subscription_id: str, resource_group: str, workspace: str) -> str:
    return (f"{resource_group_id(subscription_id, resource_group)}/providers/"
            f"Microsoft.OperationalInsights/workspaces/{workspace}")


# --- Pulumi type tokens of the resources the program declares, and their ARM API versions -----------

RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
GENERIC_RESOURCE = "azure-native:resources:Resource"
ACCOUNT = "azure-native:cognitiveservices:Account"
#: The optional Foundry project (``Microsoft.CognitiveServices/accounts/projects``), the typed class.
PROJECT = "azure-native:cognitiveservices:Project"
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
    PROJECT: "2025-06-01",
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


# --- `claude-foundry ci bootstrap`: the Azure side of CI (identities, state storage, secrets key) -----

#: Microsoft.ManagedIdentity userAssignedIdentities (+ federatedIdentityCredentials), azure-rest-api-specs
#: ``specification/msi/.../stable/2023-01-31`` (the first GA version with federated credentials).
MANAGED_IDENTITY_API_VERSION = "2023-01-31"
#: Microsoft.Storage storageAccounts, blobServices, containers (``specification/storage/.../stable/2023-05-01``).
STORAGE_API_VERSION = "2023-05-01"
#: Microsoft.KeyVault vaults and ``vaults/keys`` through ARM: the vault's version.
KEY_VAULT_API_VERSION = API_VERSIONS[VAULT]
#: ``Subscriptions_Get`` (the subscription's tenant).
SUBSCRIPTIONS_API_VERSION = "2022-12-01"

#: Built-in roles the CI identities get (same GUIDs in every tenant; learn.microsoft.com "Azure built-in roles").
CI_ROLE_IDS = {
    "contributor": ROLE_IDS["contributor"],
    "reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "role-based-access-control-administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
    "user-access-administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "storage-blob-data-contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "key-vault-crypto-user": "12338af0-0e69-4776-bea7-57ae8d297424",
    "key-vault-secrets-user": ROLE_IDS["key-vault-secrets-user"],
    "cognitive-services-user": ROLE_IDS["cognitive-services-user"],
}
CI_ROLE_NAMES = {
    **{k: v for k, v in ROLE_NAMES.items() if k in CI_ROLE_IDS},
    "reader": "Reader",
    "role-based-access-control-administrator": "Role Based Access Control Administrator",
    "user-access-administrator": "User Access Administrator",
    "storage-blob-data-contributor": "Storage Blob Data Contributor",
    "key-vault-crypto-user": "Key Vault Crypto User",
}

#: Namespace of the deterministic names of the role assignments ``ci bootstrap`` makes (never change it).
CI_ROLE_ASSIGNMENT_NAMESPACE = _uuid.UUID("6f1f8f0a-3c2e-4d59-9b5e-2a7d0c4e9b31")


def ci_role_assignment_name(scope: str, role_guid: str, principal_id: str) -> str:
    """The GUID name of a role assignment, from scope, role and principal: a second run finds the same one."""
    return str(_uuid.uuid5(CI_ROLE_ASSIGNMENT_NAMESPACE, f"{scope.lower()}|{role_guid}|{principal_id.lower()}"))


def role_definition_id_of(subscription_id: str, role_guid: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"


def identity_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.ManagedIdentity/"
            f"userAssignedIdentities/{name}")


def storage_account_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.Storage/storageAccounts/{name}"


def blob_container_id(subscription_id: str, resource_group: str, account: str, container: str) -> str:
    return f"{storage_account_id(subscription_id, resource_group, account)}/blobServices/default/containers/{container}"


# --- Observability and cost: Azure Monitor metric alerts, an action group, a Consumption budget ---------

#: pulumi-azure-native 3.x typed classes and the REST API versions their docstrings name ("Uses Azure REST API
#: version ..."): ``monitor.ActionGroup`` 2024-10-01-preview, ``monitor.MetricAlert`` 2018-03-01,
#: ``consumption.Budget`` 2024-08-01.
ACTION_GROUP = "azure-native:monitor:ActionGroup"
METRIC_ALERT = "azure-native:monitor:MetricAlert"
BUDGET = "azure-native:consumption:Budget"
API_VERSIONS.update({
    ACTION_GROUP: "2024-10-01-preview",
    METRIC_ALERT: "2018-03-01",
    BUDGET: "2024-08-01",
})
SUPPORTED_TYPES = frozenset([*API_VERSIONS, GENERIC_RESOURCE])

#: Action groups and metric alerts are global resources (``location: global`` in azure-rest-api-specs'
#: createOrUpdateActionGroup.json / createOrUpdateMetricAlertSingleResource.json).
GLOBAL_LOCATION = "global"
#: ``groupShortName``: at most 12 characters (the SMS and email sender name; ActionGroups spec, maxLength 12).
ACTION_GROUP_SHORT_NAME_MAX = 12
#: The metric namespace of a Foundry (AIServices) account's platform metrics.
ACCOUNT_METRIC_NAMESPACE = f"{COGNITIVE_SERVICES_NAMESPACE}/accounts"
METRIC_ALERT_CRITERIA_SINGLE = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"


def action_group_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.Insights/actionGroups/{name}"


def metric_alert_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.Insights/metricAlerts/{name}"


def budget_id(scope: str, name: str) -> str:
    """A budget is an extension resource: ``{scope}/providers/Microsoft.Consumption/budgets/{name}`` (scope: a
    resource group or subscription id)."""
    return f"{scope.rstrip('/')}/providers/Microsoft.Consumption/budgets/{name}"


# --- Private networking: private endpoints into a subnet, the private DNS zones Azure uses -----------------

#: pulumi-azure-native 3.x typed classes and the REST API versions their docstrings name ("Uses Azure REST API
#: version ..."): ``network.VirtualNetwork``, ``network.PrivateEndpoint``, ``network.PrivateDnsZoneGroup``
#: 2024-05-01; ``privatedns.PrivateZone``, ``privatedns.VirtualNetworkLink`` 2024-06-01.
VIRTUAL_NETWORK = "azure-native:network:VirtualNetwork"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
PRIVATE_DNS_ZONE_GROUP = "azure-native:network:PrivateDnsZoneGroup"
PRIVATE_DNS_ZONE = "azure-native:privatedns:PrivateZone"
VIRTUAL_NETWORK_LINK = "azure-native:privatedns:VirtualNetworkLink"
API_VERSIONS.update({
    VIRTUAL_NETWORK: "2024-05-01",
    PRIVATE_ENDPOINT: "2024-05-01",
    PRIVATE_DNS_ZONE_GROUP: "2024-05-01",
    PRIVATE_DNS_ZONE: "2024-06-01",
    VIRTUAL_NETWORK_LINK: "2024-06-01",
})
SUPPORTED_TYPES = frozenset([*API_VERSIONS, GENERIC_RESOURCE])

NETWORK_NAMESPACE = "Microsoft.Network"
#: Private-link sub-resources (``groupIds``) of the two services: learn.microsoft.com "Azure Private Endpoint
#: private DNS zone values" (AI services: ``account``; Key Vault: ``vault``).
ACCOUNT_PRIVATE_LINK_GROUP = "account"
VAULT_PRIVATE_LINK_GROUP = "vault"
#: The private DNS zones Azure uses for each (same source): an AIServices account answers under three names
#: (cognitiveservices, openai, services.ai — the Claude endpoint is ``<name>.services.ai.azure.com``).
ACCOUNT_PRIVATE_DNS_ZONES = ("privatelink.cognitiveservices.azure.com", "privatelink.openai.azure.com",
                             "privatelink.services.ai.azure.com")
VAULT_PRIVATE_DNS_ZONES = ("privatelink.vaultcore.azure.net",)
PRIVATE_DNS_ZONES = ACCOUNT_PRIVATE_DNS_ZONES + VAULT_PRIVATE_DNS_ZONES
#: Trusted Azure services may pass the network rules (networkAcls.bypass).
NETWORK_BYPASS_TRUSTED = "AzureServices"


def virtual_network_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/{NETWORK_NAMESPACE}/virtualNetworks/{name}"


def subnet_id(subscription_id: str, resource_group: str, vnet: str, subnet: str) -> str:
    return f"{virtual_network_id(subscription_id, resource_group, vnet)}/subnets/{subnet}"


def private_endpoint_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/{NETWORK_NAMESPACE}/privateEndpoints/{name}"


def private_dns_zone_id(subscription_id: str, resource_group: str, zone: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/{NETWORK_NAMESPACE}/privateDnsZones/{zone}"


# --- A usage dashboard: an Azure Monitor workbook per stack (monitoring.dashboard) ---------------------------

#: pulumi-azure-native 3.x's typed ``applicationinsights.Workbook`` ("Uses Azure REST API version 2023-06-01"):
#: ``Microsoft.Insights/workbooks`` as azure-rest-api-specs
#: ``specification/applicationinsights/resource-manager/Microsoft.Insights/stable/2023-06-01/workbooks_API.json``
#: defines it (example ``WorkbookManagedAdd.json``): ``kind`` ``shared`` (the only value), required
#: ``properties.displayName``, ``category`` and ``serializedData`` (a string holding valid JSON), ``version``
#: ``Notebook/1.0`` matching the JSON, ``sourceId`` the resource the workbook belongs to.
WORKBOOK = "azure-native:applicationinsights:Workbook"
API_VERSIONS.update({WORKBOOK: "2023-06-01"})
SUPPORTED_TYPES = frozenset([*API_VERSIONS, GENERIC_RESOURCE])
WORKBOOK_TYPE = "Microsoft.Insights/workbooks"
WORKBOOK_KIND = "shared"
WORKBOOK_CATEGORY = "workbook"
WORKBOOK_VERSION = "Notebook/1.0"
#: Namespace of the deterministic workbook names (a workbook's name must be a GUID; never change it).
WORKBOOK_NAMESPACE = _uuid.UUID("0c6b1f4e-5d0a-4f8e-9a57-3f1d2b7c8e41")


def workbook_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"{resource_group_id(subscription_id, resource_group)}/providers/Microsoft.Insights/workbooks/{name}"


def workbook_name(environment: str, account_ids: list[str] | tuple[str, ...]) -> str:
    """The workbook's GUID name: uuid5 of the stack (environment) and its accounts' ARM ids (case-insensitive), so
    a second deploy finds the same workbook and two stacks never share one."""
    key = "|".join([environment.lower(), *(i.lower().rstrip("/") for i in account_ids)])
    return str(_uuid.uuid5(WORKBOOK_NAMESPACE, key))


#: Read-only roles of the drift identity for ``claude-foundry usage`` and the weekly summary (Microsoft Learn,
#: "Azure built-in roles": Monitoring Reader "Can read all monitoring data." — ``*/read`` and
#: ``Microsoft.OperationalInsights/workspaces/search/action``; Cost Management Reader "Can view cost data and
#: configuration (e.g. budgets, exports)" — ``Microsoft.Consumption/*/read``, ``Microsoft.CostManagement/*/read``).
MONITORING_READER_ROLE_ID = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
COST_MANAGEMENT_READER_ROLE_ID = "72fafb9e-0641-4937-9268-a91bfd8191a3"
MONITORING_READER_ROLE_NAME = "Monitoring Reader"
COST_MANAGEMENT_READER_ROLE_NAME = "Cost Management Reader"
CI_ROLE_IDS.update({"monitoring-reader": MONITORING_READER_ROLE_ID,
                    "cost-management-reader": COST_MANAGEMENT_READER_ROLE_ID})
CI_ROLE_NAMES.update({"monitoring-reader": MONITORING_READER_ROLE_NAME,
                      "cost-management-reader": COST_MANAGEMENT_READER_ROLE_NAME})


# --- Usage and cost (`usage`): Azure Monitor metrics of the accounts, Cost Management's query and forecast -----
# (the read-only roles `usage` needs are above: MONITORING_READER_ROLE_ID, COST_MANAGEMENT_READER_ROLE_ID)

#: ``Metrics_List`` (``GET {resourceUri}/providers/Microsoft.Insights/metrics``), the version azure-mgmt-monitor
#: 7.0 sends; the parameters and the answer's shape were read in azure-rest-api-specs
#: ``specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json`` and its
#: examples ``GetMetric.json``, ``GetMetricError.json``.
METRICS_API_VERSION = "2024-02-01"
#: ``Query_Usage`` (``POST {scope}/providers/Microsoft.CostManagement/query``), the version
#: azure-mgmt-costmanagement 5.0 sends; shapes read in azure-rest-api-specs
#: ``specification/cost-management/resource-manager/Microsoft.CostManagement/stable/2023-11-01`` (examples
#: ``ResourceGroupQueryGrouping.json``, ``BillingAccountForecast.json``).
COST_MANAGEMENT_API_VERSION = "2025-03-01"

#: The account metrics ``usage`` reads (learn.microsoft.com "Supported metrics for
#: Microsoft.CognitiveServices/accounts", MicrosoftDocs/azure-monitor-docs
#: ``articles/azure-monitor/reference/supported-metrics/microsoft-cognitiveservices-accounts-metrics.md``,
#: ms.date 2026-07-31): categories "Models - HTTP Requests", "Models - Usage", "Models - Latency". All Count /
#: Total (Sum) but the latency (MilliSeconds, Average); all split by ``ModelDeploymentName``; ``ModelRequests``
#: also by ``StatusCode``. The cache metrics "apply to Anthropic model deployments" and are "surfaced in response
#: usage section as" ``cache_read_input_tokens``, ``cache_creation.ephemeral_5m_input_tokens`` and
#: ``cache_creation.ephemeral_1h_input_tokens``. ``TimeToLastByte`` is the latency that "applies to PTU,
#: PTU-managed, and Pay-as-you-go deployments" (``TimeToResponse`` only to PTU ones; Claude deploys Global or
#: Data Zone Standard, pay-as-you-go).
METRIC_MODEL_REQUESTS = "ModelRequests"
METRIC_INPUT_TOKENS = "InputTokens"
METRIC_OUTPUT_TOKENS = "OutputTokens"
METRIC_CACHE_READ_TOKENS = "cacheReadInputTokens"
METRIC_CACHE_WRITE_5M_TOKENS = "ephemeral5mInputTokens"
METRIC_CACHE_WRITE_1H_TOKENS = "ephemeral1hInputTokens"
METRIC_TIME_TO_LAST_BYTE = "TimeToLastByte"
#: "Availability percentage with the following calculation: (total calls - server errors)/total calls" (the alerts'
#: server-error rule and the workbook read it; same page).
METRIC_AVAILABILITY = "ModelAvailabilityRate"
METRIC_DIMENSION_DEPLOYMENT = "ModelDeploymentName"
METRIC_DIMENSION_STATUS = "StatusCode"
#: The ``StatusCode`` value of a throttled request.
THROTTLED_STATUS_CODE = "429"
#: ``Query_Usage`` as the workbook's ARM query item calls it from the portal: the newest stable version of the spec
#: the shapes were read in (the SDK ``usage`` uses sends its own, COST_MANAGEMENT_API_VERSION).
COST_QUERY_SPEC_API_VERSION = "2023-11-01"
