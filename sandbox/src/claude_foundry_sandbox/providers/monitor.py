"""Azure Monitor: Log Analytics workspaces (Microsoft.OperationalInsights: retention, customer id),
diagnostic settings (Microsoft.Insights, an extension type: stored as sent, listed at their own scope only), and
alerting: action groups and metric alerts (Microsoft.Insights, checked as the REST specs constrain them), and
workbooks (Microsoft.Insights/workbooks: a GUID name, kind shared, serializedData JSON)."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from claude_foundry_sandbox.providers.base import ArmError, Provider, Reply, ResourceType, Target, public

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

WORKSPACES = "microsoft.operationalinsights/workspaces"
DIAGNOSTIC_SETTINGS = "microsoft.insights/diagnosticsettings"


def _put_workspace(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    res = api.base(target, body, existing)
    p = res["properties"]
    retention = int(p.get("retentionInDays", 30))
    if not 30 <= retention <= 730 and retention != 7:
        raise ArmError(400, "InvalidParameter", "retentionInDays must be between 30 and 730.")
    p["retentionInDays"] = retention
    p.setdefault("sku", {"name": "PerGB2018"})
    p["customerId"] = (existing or {}).get("properties", {}).get("customerId") or str(uuid.uuid4())
    p["provisioningState"] = "Succeeded"
    return api.store(target, res, existing)




# --- Azure Monitor alerts: action groups and metric alerts (Microsoft.Insights) -------------------------
#
# Shapes: azure-rest-api-specs, Microsoft.Insights ``actionGroups`` (example createOrUpdateActionGroup.json) and
# ``metricAlerts`` 2018-03-01 (example createOrUpdateMetricAlertSingleResource.json). The checks are what those
# specs constrain (groupShortName at most 12 characters, severity 0-4, the ISO 8601 frequencies and windows, the
# criteria's operators and aggregations); the wording of the refusals is the sandbox's own unless it says
# otherwise, as the specs carry no error texts.

ACTION_GROUPS = "microsoft.insights/actiongroups"
METRIC_ALERTS = "microsoft.insights/metricalerts"

ACTION_GROUP_SHORT_NAME_MAX = 12
RECEIVER_KINDS = ("emailReceivers", "smsReceivers", "webhookReceivers", "itsmReceivers", "azureAppPushReceivers",
                  "automationRunbookReceivers", "voiceReceivers", "logicAppReceivers", "azureFunctionReceivers",
                  "armRoleReceivers", "eventHubReceivers", "incidentReceivers")
EVALUATION_FREQUENCIES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H")
WINDOW_SIZES = ("PT1M", "PT5M", "PT15M", "PT30M", "PT1H", "PT6H", "PT12H", "P1D")
_DURATION_MINUTES = {"PT1M": 1, "PT5M": 5, "PT15M": 15, "PT30M": 30, "PT1H": 60, "PT6H": 360, "PT12H": 720,
                     "P1D": 1440}
OPERATORS = ("Equals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual")
AGGREGATIONS = ("Average", "Count", "Minimum", "Maximum", "Total")
SINGLE_RESOURCE_CRITERIA = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
CRITERIA_TYPES = (SINGLE_RESOURCE_CRITERIA, "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria",
                  "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria")
ACCOUNT_NAMESPACE = "microsoft.cognitiveservices/accounts"
#: Metrics of Microsoft.CognitiveServices/accounts a sandbox alert may name, with their dimensions (Microsoft
#: Learn, "Supported metrics for Microsoft.CognitiveServices/accounts": "Models - HTTP Requests", "Models -
#: Latency", "Models - Usage" and the older "Cognitive Services - HTTP Requests"). A subset: the sandbox's own.
_MODEL_DIMS = ("ApiName", "OperationName", "Region", "StreamType", "ModelDeploymentName", "ModelName", "ModelVersion")
_CS_DIMS = ("ApiName", "OperationName", "Region", "RatelimitKey")
ACCOUNT_METRICS: dict[str, tuple[str, ...]] = {
    "ModelRequests": (*_MODEL_DIMS, "StatusCode", "IsSpillover", "ServiceTierRequest", "ServiceTierResponse"),
    "ModelAvailabilityRate": ("Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    "TimeToLastByte": _MODEL_DIMS,
    "TimeToResponse": (*_MODEL_DIMS, "StatusCode"),
    "NormalizedTimeToFirstToken": _MODEL_DIMS,
    "NormalizedTimeBetweenTokens": _MODEL_DIMS,
    "TokensPerSecond": _MODEL_DIMS,
    "InputTokens": ("ApiName", "Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    "OutputTokens": ("ApiName", "Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    "TotalTokens": ("ApiName", "Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    "ProvisionedUtilization": ("Region", "ModelDeploymentName", "ModelName", "ModelVersion"),
    "AzureOpenAIRequests": (*_MODEL_DIMS, "StatusCode", "IsSpillover", "ServiceTierRequest", "ServiceTierResponse"),
    "BlockedCalls": _CS_DIMS, "ClientErrors": _CS_DIMS, "ServerErrors": _CS_DIMS, "Latency": _CS_DIMS,
    "SuccessfulCalls": _CS_DIMS, "TotalCalls": _CS_DIMS, "TotalErrors": _CS_DIMS, "SuccessRate": _CS_DIMS,
    "Ratelimit": ("Region", "RatelimitKey"),
}


def _bad(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def _put_action_group(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    props = body.get("properties") or {}
    short = props.get("groupShortName")
    if not isinstance(short, str) or not 1 <= len(short) <= ACTION_GROUP_SHORT_NAME_MAX:
        raise _bad(f"properties.groupShortName is required and must be 1-{ACTION_GROUP_SHORT_NAME_MAX} characters.")
    if not isinstance(props.get("enabled"), bool):
        raise _bad("properties.enabled is required (true or false).")
    names: set[str] = set()
    for kind in RECEIVER_KINDS:
        receivers = props.get(kind) or []
        if not isinstance(receivers, list):
            raise _bad(f"properties.{kind} must be a list.")
        for r in receivers:
            name = r.get("name") if isinstance(r, dict) else None
            if not isinstance(name, str) or not name:
                raise _bad(f"Every receiver in properties.{kind} needs a name.")
            if name.lower() in names:
                raise _bad(f"The receiver name '{name}' is used twice: receiver names are unique in an action group.")
            names.add(name.lower())
            if kind == "emailReceivers" and "@" not in str(r.get("emailAddress", "")):
                raise _bad(f"Email receiver '{name}': emailAddress is not an e-mail address.")
            if kind == "webhookReceivers":
                uri = urlparse(str(r.get("serviceUri", "")))
                if uri.scheme not in ("http", "https") or not uri.netloc:
                    raise _bad(f"Webhook receiver '{name}': serviceUri must be an http(s) URL.")
    res = api.base(target, body, existing)
    p = res["properties"]
    for r in p.get("emailReceivers") or []:
        r.setdefault("useCommonAlertSchema", False)
        r["status"] = "Enabled"  # what the service answers for a receiver it will send to
    for r in p.get("webhookReceivers") or []:
        r.setdefault("useCommonAlertSchema", False)
    return api.store(target, res, existing)


def _criteria_problem(api: ArmApi, criteria: Any, scopes: list[str]) -> str | None:
    if not isinstance(criteria, dict) or criteria.get("odata.type") not in CRITERIA_TYPES:
        return f"properties.criteria.odata.type must be one of {', '.join(CRITERIA_TYPES)}."
    if criteria["odata.type"] != SINGLE_RESOURCE_CRITERIA:
        return None  # stored as sent
    if len(scopes) != 1:
        return f"{SINGLE_RESOURCE_CRITERIA} takes exactly one scope (got {len(scopes)})."
    all_of = criteria.get("allOf")
    if not isinstance(all_of, list) or not all_of:
        return "properties.criteria.allOf must hold at least one criterion."
    scope = api.s.resources.get(scopes[0].lower()) or {}
    is_account = str(scope.get("type", "")).lower() == ACCOUNT_NAMESPACE
    for c in all_of:
        if not isinstance(c, dict):
            return "Every criterion of properties.criteria.allOf must be an object."
        if c.get("criterionType", "StaticThresholdCriterion") != "StaticThresholdCriterion":
            continue  # dynamic thresholds: stored as sent
        for key in ("name", "metricName"):
            if not isinstance(c.get(key), str) or not c[key]:
                return f"Criterion: {key} is required."
        if c.get("operator") not in OPERATORS:
            return f"Criterion '{c['name']}': operator must be one of {', '.join(OPERATORS)}."
        if c.get("timeAggregation") not in AGGREGATIONS:
            return f"Criterion '{c['name']}': timeAggregation must be one of {', '.join(AGGREGATIONS)}."
        if not isinstance(c.get("threshold"), int | float) or isinstance(c.get("threshold"), bool):
            return f"Criterion '{c['name']}': threshold must be a number."
        namespace = str(c.get("metricNamespace") or ACCOUNT_NAMESPACE).lower()
        if is_account and namespace == ACCOUNT_NAMESPACE and not c.get("skipMetricValidation"):
            dims = ACCOUNT_METRICS.get(c["metricName"])
            if dims is None:
                return (f"Couldn't find a metric named {c['metricName']} for Microsoft.CognitiveServices/accounts "
                        "(the sandbox's list of the account's metrics).")
            for d in c.get("dimensions") or []:
                if not isinstance(d, dict) or d.get("name") not in dims or d.get("operator") not in (
                        "Include", "Exclude") or not d.get("values"):
                    return (f"Criterion '{c['name']}': dimension {d.get('name') if isinstance(d, dict) else d!r} "
                            f"is not a dimension of {c['metricName']} with operator Include or Exclude and values.")
    return None


def _put_metric_alert(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    p = body.get("properties") or {}
    severity = p.get("severity")
    if not isinstance(severity, int) or isinstance(severity, bool) or not 0 <= severity <= 4:
        raise _bad("properties.severity is required: 0 (critical) to 4 (verbose).")
    if not isinstance(p.get("enabled"), bool):
        raise _bad("properties.enabled is required (true or false).")
    scopes = p.get("scopes")
    if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
        raise _bad("properties.scopes must name at least one resource id.")
    for scope in scopes:
        if scope.lower().rstrip("/") not in api.s.resources:
            raise ArmError(400, "ResourceNotFound", f"The scope '{scope}' of the metric alert was not found.")
    frequency, window = p.get("evaluationFrequency"), p.get("windowSize")
    if frequency not in EVALUATION_FREQUENCIES:
        raise _bad(f"properties.evaluationFrequency must be one of {', '.join(EVALUATION_FREQUENCIES)}.")
    if window not in WINDOW_SIZES:
        raise _bad(f"properties.windowSize must be one of {', '.join(WINDOW_SIZES)}.")
    if _DURATION_MINUTES[window] < _DURATION_MINUTES[frequency]:
        raise _bad("properties.windowSize must be at least properties.evaluationFrequency.")
    problem = _criteria_problem(api, p.get("criteria"), scopes)
    if problem:
        raise _bad(problem)
    for action in p.get("actions") or []:
        gid = action.get("actionGroupId") if isinstance(action, dict) else None
        if not isinstance(gid, str) or gid.lower() not in api.s.resources:
            raise ArmError(400, "ResourceNotFound", f"The action group '{gid}' of the metric alert was not found.")
    res = api.base(target, body, existing)
    res["properties"].setdefault("autoMitigate", True)
    res["properties"]["isMigrated"] = False
    res["properties"]["lastUpdatedTime"] = res["systemData"]["lastModifiedAt"]
    return api.store(target, res, existing)


# --- Azure Monitor workbooks (Microsoft.Insights/workbooks) ----------------------------------------------
#
# Shape: azure-rest-api-specs ``specification/applicationinsights/resource-manager/Microsoft.Insights/stable/
# 2023-06-01/workbooks_API.json`` (example WorkbookManagedAdd.json): a tracked resource (location required) of kind
# ``shared`` ("Only valid value is shared"), ``properties.displayName``, ``category`` and ``serializedData`` required,
# ``serializedData`` "a string containing valid JSON", ``version`` "like 'Notebook/1.0', which should match the
# workbook in serializedData"; the reply adds ``userId``, ``timeModified`` and a ``revision`` (a new one per change).
# The name must be a GUID: Azure answers another one with "Invalid Workbook resource name: '<name>'" (the name lower
# case), and a second workbook with the same display name in the same place with 409 Conflict "A Workbook with the
# same name already exists within this subscription." (both reported in MicrosoftDocs/azure-docs issue 52844 and
# microsoft/ApplicationInsights-Home issue 476; the spec's WorkbookError carries code and message). The other
# refusals' wording is the sandbox's own.

WORKBOOKS = "microsoft.insights/workbooks"
WORKBOOK_KINDS = ("shared",)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _put_workbook(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    if not _GUID.match(target.name):
        raise _bad(f"Invalid Workbook resource name: '{target.name.lower()}'")
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    kind = body.get("kind")
    if kind is not None and kind not in WORKBOOK_KINDS:
        raise _bad(f"kind '{kind}' is not supported: the only valid kind of a workbook is 'shared'.")
    p = body.get("properties")
    if not isinstance(p, dict):
        raise _bad("properties is required: displayName, category and serializedData.")
    for key in ("displayName", "category", "serializedData"):
        if not isinstance(p.get(key), str) or not p[key].strip():
            raise _bad(f"properties.{key} is required.")
    try:
        content = json.loads(p["serializedData"])
    except ValueError:
        raise _bad("properties.serializedData must be a string containing valid JSON.") from None
    if not isinstance(content, dict):
        raise _bad("properties.serializedData must hold a JSON object (a workbook document).")
    version = p.get("version")
    if version is not None and content.get("version") is not None and version != content["version"]:
        raise _bad(f"properties.version '{version}' does not match the workbook's version "
                   f"'{content['version']}' in serializedData.")
    source = str(p.get("sourceId") or "").lower()
    for key, other in api.s.resources.items():
        if key == target.key or str(other.get("type", "")).lower() != WORKBOOKS or \
                other["id"].lower().rsplit("/providers/", 1)[0] != target.parent.lower():
            continue
        op = other.get("properties") or {}
        if op.get("displayName") == p["displayName"] and str(op.get("category")) == p["category"] and \
                str(op.get("sourceId") or "").lower() == source:
            raise ArmError(409, "Conflict", "A Workbook with the same name already exists within this subscription.")
    res = api.base(target, body, existing)
    res["kind"] = kind or "shared"
    rp = res["properties"]
    rp["userId"] = api.oid
    rp["timeModified"] = res["systemData"]["lastModifiedAt"]
    rp["revision"] = uuid.uuid4().hex
    return api.store(target, res, existing)


PROVIDER = Provider(types=(
    ResourceType(WORKSPACES, put=_put_workspace),
    ResourceType(DIAGNOSTIC_SETTINGS, subscription_rollup=False),
    ResourceType(ACTION_GROUPS, put=_put_action_group),
    ResourceType(METRIC_ALERTS, put=_put_metric_alert),
    ResourceType(WORKBOOKS, put=_put_workbook),
))
