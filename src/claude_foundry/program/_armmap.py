"""Pulumi type token + resolved inputs -> the ARM request (resource id, API version, PUT body).

One mapping, two users:

* the mocks of :mod:`claude_foundry.program._plan` give every resource its real ARM id (so ``workspace.id`` or
  ``account.id`` resolve to ids of the right shape) and the computed outputs Azure would return
  (:func:`computed_outputs`);
* the local deploy (``up --local``) PUTs exactly these bodies to the local ARM sandbox with
  ``ResourceManagementClient.resources.begin_create_or_update_by_id(id, api_version, body)``.

Inputs arrive the way the Pulumi engine (or the mock monitor) sees them: camelCase keys, integers as floats,
Pulumi secrets already unwrapped (:func:`claude_foundry.program._plan.unwrap_secrets`). Whole floats are normalised
back to ints. The API versions are the ones the pulumi-azure-native 3.x classes use (their docstrings:
"Uses Azure REST API version ..."); the generic ``resources:Resource`` carries its own ``apiVersion``.

Importable without Pulumi.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from claude_foundry._azure import arm

# Type tokens and API versions live in claude_foundry._azure.arm; re-exported for the mapping's users.
from claude_foundry._azure.arm import (
    ACCOUNT,
    API_VERSIONS,
    DIAGNOSTIC_SETTING,
    DIAGNOSTIC_SETTING_V2,
    GENERIC_RESOURCE,
    LOCK_AT_RESOURCE,
    LOCK_BY_SCOPE,
    PROJECT,
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    SECRET,
    VAULT,
    WORKSPACE,
)
from claude_foundry._azure.resource import ArmResource
from claude_foundry._errors import ClaudeFoundryError

#: Namespace for deterministic fake values (workspace customerId) derived from ARM ids.
_FAKE_NS = uuid.UUID("6f1c1d0e-3b8a-4c55-9a55-0c1a0de5f0a1")


class ArmMappingError(ClaudeFoundryError, ValueError):
    """The inputs lack something the ARM id or body needs (e.g. an unresolved resource group name)."""


# --- helpers ----------------------------------------------------------------------------------------


def normalise(value: Any) -> Any:
    """Deep copy with whole floats turned back into ints (the engine sends every number as a double)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    return value


def _req(inputs: dict[str, Any], key: str, type_: str) -> Any:
    value = inputs.get(key)
    if value is None or value == "":
        raise ArmMappingError(f"{type_}: input {key!r} is missing or unknown; cannot build the ARM id")
    return value


def _pick(inputs: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: inputs[k] for k in keys if inputs.get(k) is not None}


def _rg_id(sub: str, inputs: dict[str, Any], type_: str) -> str:
    return arm.resource_group_id(sub, _req(inputs, "resourceGroupName", type_))


# --- the mapping --------------------------------------------------------------------------------------


def to_arm(type_token: str, inputs: dict[str, Any], subscription_id: str) -> ArmResource | None:
    """The ARM request for a resource, or None for a type this module does not map (components).

    Raises :class:`ArmMappingError` when a mapped type lacks an input its id needs.
    """
    mapper = _MAPPERS.get(type_token)
    if mapper is None:
        return None
    return dataclasses.replace(mapper(type_token, normalise(inputs), subscription_id), token=type_token)


def _resource_group(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.resource_group_id(sub, _req(i, "resourceGroupName", t))
    return ArmResource(rid, API_VERSIONS[t], _pick(i, "location", "tags", "managedBy"),
                      "Microsoft.Resources/resourceGroups")


def _account(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rg = _req(i, "resourceGroupName", t)
    rid = arm.account_id(sub, rg, _req(i, "accountName", t))
    body = _pick(i, "location", "kind", "sku", "identity", "tags")
    body["properties"] = dict(i.get("properties") or {})
    return ArmResource(rid, API_VERSIONS[t], body, f"{arm.COGNITIVE_SERVICES_NAMESPACE}/accounts")


def _project(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    """``accounts/projects`` (the typed ``cognitiveservices.Project``): location, identity, tags, properties
    (displayName, description), as azure-rest-api-specs' CreateProject.json example sends them."""
    rid = arm.project_id(sub, _req(i, "resourceGroupName", t), _req(i, "accountName", t),
                         _req(i, "projectName", t))
    body = _pick(i, "location", "identity", "tags")
    body["properties"] = dict(i.get("properties") or {})
    return ArmResource(rid, API_VERSIONS[t], body, f"{arm.COGNITIVE_SERVICES_NAMESPACE}/accounts/projects")


def _generic(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    ns = _req(i, "resourceProviderNamespace", t)
    rtype = _req(i, "resourceType", t).strip("/")
    parent = (i.get("parentResourcePath") or "").strip("/")
    name = _req(i, "resourceName", t)
    middle = f"{parent}/" if parent else ""
    rid = f"{_rg_id(sub, i, t)}/providers/{ns}/{middle}{rtype}/{name}"
    body = _pick(i, "location", "kind", "sku", "identity", "tags", "plan", "managedBy", "extendedLocation")
    body["properties"] = i.get("properties") if i.get("properties") is not None else {}
    parent_types = [p for n, p in enumerate(parent.split("/")) if parent and n % 2 == 0]
    arm_type = "/".join([ns, *parent_types, rtype])
    return ArmResource(rid, _req(i, "apiVersion", t), body, arm_type)


def _vault(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.vault_id(sub, _req(i, "resourceGroupName", t), _req(i, "vaultName", t))
    body = _pick(i, "location", "tags")
    body["properties"] = dict(i.get("properties") or {})
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.KeyVault/vaults")


def _secret(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    vid = arm.vault_id(sub, _req(i, "resourceGroupName", t), _req(i, "vaultName", t))
    rid = f"{vid}/secrets/{_req(i, 'secretName', t)}"
    body = _pick(i, "tags")
    body["properties"] = dict(i.get("properties") or {})
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.KeyVault/vaults/secrets")


_WORKSPACE_PROPERTY_INPUTS = ("retentionInDays", "sku", "features", "workspaceCapping",
                              "publicNetworkAccessForIngestion", "publicNetworkAccessForQuery",
                              "forceCmkForQuery", "defaultDataCollectionRuleResourceId")


def _workspace(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.workspace_id(sub, _req(i, "resourceGroupName", t), _req(i, "workspaceName", t))
    body = _pick(i, "location", "tags", "identity")
    body["properties"] = _pick(i, *_WORKSPACE_PROPERTY_INPUTS)
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.OperationalInsights/workspaces")


def _diagnostic_setting(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    scope = _req(i, "resourceUri", t).rstrip("/")
    rid = f"{scope}/providers/Microsoft.Insights/diagnosticSettings/{_req(i, 'name', t)}"
    body = {"properties": _pick(i, "workspaceId", "logs", "metrics", "logAnalyticsDestinationType",
                                "storageAccountId", "eventHubAuthorizationRuleId", "eventHubName",
                                "serviceBusRuleId", "marketplacePartnerId")}
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.Insights/diagnosticSettings")


def _role_assignment(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    scope = _req(i, "scope", t).rstrip("/")
    rid = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{_req(i, 'roleAssignmentName', t)}"
    body = {"properties": _pick(i, "roleDefinitionId", "principalId", "principalType", "description",
                                "condition", "conditionVersion", "delegatedManagedIdentityResourceId")}
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.Authorization/roleAssignments")


def _lock_by_scope(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    scope = _req(i, "scope", t).rstrip("/")
    rid = f"{scope}/providers/Microsoft.Authorization/locks/{_req(i, 'lockName', t)}"
    return ArmResource(rid, API_VERSIONS[t], {"properties": _pick(i, "level", "notes", "owners")},
                      "Microsoft.Authorization/locks")


def _lock_at_resource(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    ns = _req(i, "resourceProviderNamespace", t)
    parent = (i.get("parentResourcePath") or "").strip("/")
    middle = f"{parent}/" if parent else ""
    target = f"{_rg_id(sub, i, t)}/providers/{ns}/{middle}{_req(i, 'resourceType', t)}/" \
             f"{_req(i, 'resourceName', t)}"
    rid = f"{target}/providers/Microsoft.Authorization/locks/{_req(i, 'lockName', t)}"
    return ArmResource(rid, API_VERSIONS[t], {"properties": _pick(i, "level", "notes", "owners")},
                      "Microsoft.Authorization/locks")


_MAPPERS = {
    RESOURCE_GROUP: _resource_group,
    GENERIC_RESOURCE: _generic,
    ACCOUNT: _account,
    PROJECT: _project,
    VAULT: _vault,
    SECRET: _secret,
    WORKSPACE: _workspace,
    DIAGNOSTIC_SETTING: _diagnostic_setting,
    DIAGNOSTIC_SETTING_V2: _diagnostic_setting,
    ROLE_ASSIGNMENT: _role_assignment,
    LOCK_BY_SCOPE: _lock_by_scope,
    LOCK_AT_RESOURCE: _lock_at_resource,
}


# --- computed outputs -------------------------------------------------------------------------------


def account_endpoint(subdomain: str) -> str:
    """ARM's ``properties.endpoint`` of an AIServices account (NOT the Claude endpoint)."""
    return f"https://{subdomain}.cognitiveservices.azure.com/"


def project_endpoint(project_id: str) -> str:
    """The Foundry project endpoint, ``https://<account>.services.ai.azure.com/api/projects/<project>``, from
    the project's ARM id (the account name stands in for its custom subdomain, as the program sets them equal)."""
    parts = project_id.rstrip("/").split("/")
    return f"https://{parts[-3].lower()}.services.ai.azure.com/api/projects/{parts[-1]}"


def vault_uri(vault_name: str) -> str:
    return f"https://{vault_name}.vault.azure.net/"


def computed_outputs(type_token: str, inputs: dict[str, Any], request: ArmResource) -> dict[str, Any]:
    """Output properties Azure computes for the resource, in Pulumi's (camelCase, top-level) shape.

    The mock returns these merged over the inputs: ``name``, ``type`` and per type e.g. the account's
    ``properties.endpoint``, the vault's ``properties.vaultUri``, the workspace's ``customerId``.
    """
    out: dict[str, Any] = {"name": request.name, "type": request.type}
    if type_token == ACCOUNT:
        sub = (inputs.get("properties") or {}).get("customSubDomainName") or request.name
        out["properties"] = {"endpoint": account_endpoint(sub), "provisioningState": "Succeeded",
                             "endpoints": {"Anthropic": f"https://{sub}.services.ai.azure.com/anthropic/"}}
    elif type_token == PROJECT:
        # CreateProject.json's response: provisioningState, endpoints, isDefault, the identity's principalId
        out["properties"] = {"provisioningState": "Succeeded", "isDefault": True,
                             "endpoints": {"AI Foundry API": project_endpoint(request.id)}}
        identity = inputs.get("identity")
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
            out["identity"] = {"principalId": str(uuid.uuid5(_FAKE_NS, request.id.lower()))}
    elif type_token == VAULT:
        out["properties"] = {"vaultUri": vault_uri(request.name), "provisioningState": "Succeeded"}
    elif type_token == SECRET:
        vault = request.id.split("/vaults/", 1)[1].split("/", 1)[0]
        out["properties"] = {"secretUri": f"{vault_uri(vault)}secrets/{request.name}"}
    elif type_token == WORKSPACE:
        out["customerId"] = str(uuid.uuid5(_FAKE_NS, request.id.lower()))
        out["provisioningState"] = "Succeeded"
    elif type_token == GENERIC_RESOURCE:
        out["properties"] = {"provisioningState": "Succeeded"}
    return out


def deep_merge(base: Any, over: Any) -> Any:
    """``over`` merged onto ``base`` (mappings key by key, anything else replaced)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return over


# --- observability and cost: action groups, metric alerts, budgets -----------------------------------


def _odata(value: Any) -> Any:
    """Pulumi's ``odataType`` is ARM's ``odata.type`` (metric alert criteria), at any depth."""
    if isinstance(value, dict):
        return {("odata.type" if k == "odataType" else k): _odata(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_odata(v) for v in value]
    return value


_ACTION_GROUP_PROPERTY_INPUTS = ("groupShortName", "enabled", "emailReceivers", "smsReceivers", "webhookReceivers",
                                 "itsmReceivers", "azureAppPushReceivers", "automationRunbookReceivers",
                                 "voiceReceivers", "logicAppReceivers", "azureFunctionReceivers",
                                 "armRoleReceivers", "eventHubReceivers", "incidentReceivers")


def _action_group(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    """``Microsoft.Insights/actionGroups`` as createOrUpdateActionGroup.json sends it: location, tags and the
    receivers under properties."""
    rid = arm.action_group_id(sub, _req(i, "resourceGroupName", t), _req(i, "actionGroupName", t))
    body = _pick(i, "location", "tags", "identity")
    body["properties"] = _pick(i, *_ACTION_GROUP_PROPERTY_INPUTS)
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.Insights/actionGroups")


_METRIC_ALERT_PROPERTY_INPUTS = ("description", "severity", "enabled", "scopes", "evaluationFrequency", "windowSize",
                                 "targetResourceType", "targetResourceRegion", "criteria", "autoMitigate", "actions")


def _metric_alert(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    """``Microsoft.Insights/metricAlerts`` as createOrUpdateMetricAlertSingleResource.json sends it."""
    rid = arm.metric_alert_id(sub, _req(i, "resourceGroupName", t), _req(i, "ruleName", t))
    body = _pick(i, "location", "tags")
    body["properties"] = _odata(_pick(i, *_METRIC_ALERT_PROPERTY_INPUTS))
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.Insights/metricAlerts")


def _budget(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    """``Microsoft.Consumption/budgets`` at its scope (the resource group), as CreateOrUpdateBudget.json sends it."""
    rid = arm.budget_id(_req(i, "scope", t), _req(i, "budgetName", t))
    body: dict[str, Any] = {"properties": _pick(i, "category", "amount", "timeGrain", "timePeriod", "filter",
                                                "notifications")}
    if i.get("eTag"):
        body["eTag"] = i["eTag"]
    return ArmResource(rid, API_VERSIONS[t], body, "Microsoft.Consumption/budgets")


_MAPPERS.update({
    arm.ACTION_GROUP: _action_group,
    arm.METRIC_ALERT: _metric_alert,
    arm.BUDGET: _budget,
})


# --- private networking: virtual network, private endpoints, DNS zone groups, private DNS zones, links -------
#
# Pulumi flattens ``properties`` (x-ms-client-flatten) at every level; ARM nests them again. Shapes as
# azure-rest-api-specs' examples send them: VirtualNetworkCreateSubnet.json, PrivateEndpointCreate.json,
# PrivateEndpointDnsZoneGroupCreate.json (network 2024-05-01), PrivateZonePut.json, VirtualNetworkLinkPut.json
# (privatedns 2024-06-01).


def _nested(item: Any, top: tuple[str, ...] = ("name", "id")) -> Any:
    """A flattened Pulumi sub-resource (``{name, addressPrefix}``) as ARM nests it (``{name, properties: {...}}``)."""
    if not isinstance(item, dict):
        return item
    out = {k: item[k] for k in top if item.get(k) is not None}
    props = {k: v for k, v in item.items() if k not in top and v is not None}
    if props:
        out["properties"] = props
    return out


_VNET_PROPERTY_INPUTS = ("addressSpace", "dhcpOptions", "enableDdosProtection", "enableVmProtection",
                         "ddosProtectionPlan", "bgpCommunities", "encryption", "flowTimeoutInMinutes",
                         "privateEndpointVNetPolicies")


def _virtual_network(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.virtual_network_id(sub, _req(i, "resourceGroupName", t), _req(i, "virtualNetworkName", t))
    body = _pick(i, "location", "tags", "extendedLocation")
    props = _pick(i, *_VNET_PROPERTY_INPUTS)
    if i.get("subnets") is not None:
        props["subnets"] = [_nested(s) for s in i["subnets"]]
    body["properties"] = props
    return ArmResource(rid, API_VERSIONS[t], body, f"{arm.NETWORK_NAMESPACE}/virtualNetworks")


def _private_endpoint(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.private_endpoint_id(sub, _req(i, "resourceGroupName", t), _req(i, "privateEndpointName", t))
    body = _pick(i, "location", "tags", "extendedLocation")
    props = _pick(i, "subnet", "customNetworkInterfaceName", "applicationSecurityGroups", "customDnsConfigs")
    for key in ("privateLinkServiceConnections", "manualPrivateLinkServiceConnections", "ipConfigurations"):
        if i.get(key) is not None:
            props[key] = [_nested(c) for c in i[key]]
    body["properties"] = props
    return ArmResource(rid, API_VERSIONS[t], body, f"{arm.NETWORK_NAMESPACE}/privateEndpoints")


def _private_dns_zone_group(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    pe = arm.private_endpoint_id(sub, _req(i, "resourceGroupName", t), _req(i, "privateEndpointName", t))
    rid = f"{pe}/privateDnsZoneGroups/{_req(i, 'privateDnsZoneGroupName', t)}"
    configs = [_nested(c, ("name",)) for c in i.get("privateDnsZoneConfigs") or []]
    return ArmResource(rid, API_VERSIONS[t], {"properties": {"privateDnsZoneConfigs": configs}},
                       f"{arm.NETWORK_NAMESPACE}/privateEndpoints/privateDnsZoneGroups")


def _private_dns_zone(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    rid = arm.private_dns_zone_id(sub, _req(i, "resourceGroupName", t), _req(i, "privateZoneName", t))
    return ArmResource(rid, API_VERSIONS[t], _pick(i, "location", "tags"), f"{arm.NETWORK_NAMESPACE}/privateDnsZones")


def _virtual_network_link(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    zone = arm.private_dns_zone_id(sub, _req(i, "resourceGroupName", t), _req(i, "privateZoneName", t))
    rid = f"{zone}/virtualNetworkLinks/{_req(i, 'virtualNetworkLinkName', t)}"
    body = _pick(i, "location", "tags")
    body["properties"] = _pick(i, "virtualNetwork", "registrationEnabled", "resolutionPolicy")
    return ArmResource(rid, API_VERSIONS[t], body, f"{arm.NETWORK_NAMESPACE}/privateDnsZones/virtualNetworkLinks")


_MAPPERS.update({
    arm.VIRTUAL_NETWORK: _virtual_network,
    arm.PRIVATE_ENDPOINT: _private_endpoint,
    arm.PRIVATE_DNS_ZONE_GROUP: _private_dns_zone_group,
    arm.PRIVATE_DNS_ZONE: _private_dns_zone,
    arm.VIRTUAL_NETWORK_LINK: _virtual_network_link,
})


# --- the usage dashboard: an Azure Monitor workbook ---------------------------------------------------------


def _workbook(t: str, i: dict[str, Any], sub: str) -> ArmResource:
    """``Microsoft.Insights/workbooks`` as azure-rest-api-specs' WorkbookManagedAdd.json (2023-06-01) sends it:
    location, kind, tags, and displayName, serializedData, version, category, sourceId, description under
    properties. The Pulumi input ``resourceName`` is the workbook's (GUID) name."""
    rid = arm.workbook_id(sub, _req(i, "resourceGroupName", t), _req(i, "resourceName", t))
    body = _pick(i, "location", "kind", "tags", "identity")
    body["properties"] = _pick(i, "displayName", "serializedData", "version", "category", "sourceId", "description",
                               "storageUri")
    return ArmResource(rid, API_VERSIONS[t], body, arm.WORKBOOK_TYPE)


_MAPPERS.update({arm.WORKBOOK: _workbook})
