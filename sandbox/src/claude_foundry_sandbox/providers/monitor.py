"""Azure Monitor: Log Analytics workspaces (Microsoft.OperationalInsights: retention, customer id),
diagnostic settings (Microsoft.Insights, an extension type: stored as sent, listed at their own scope only), and
alerting: action groups and metric alerts (Microsoft.Insights, checked as the REST specs constrain them), and
workbooks (Microsoft.Insights/workbooks: a GUID name, kind shared, serializedData JSON)."""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from claude_foundry_sandbox import state as st
from claude_foundry_sandbox.providers.base import (
    ArmError,
    Provider,
    Reply,
    ResourceType,
    Target,
    public,
    require_location,
)

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

WORKSPACES = "microsoft.operationalinsights/workspaces"
DIAGNOSTIC_SETTINGS = "microsoft.insights/diagnosticsettings"


def _put_workspace(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    require_location(body)
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
    require_location(body)
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
    require_location(body)
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
    require_location(body)
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


# --- Azure Monitor metrics of an account (Metrics_List) ---------------------------------------------------
#
# ``GET {resourceUri}/providers/Microsoft.Insights/metrics``: azure-rest-api-specs
# ``specification/monitor/resource-manager/Microsoft.Insights/stable/2023-10-01/metrics_API.json`` (parameters
# ``timespan`` "startDateTime_ISO/endDateTime_ISO", ``interval`` (ISO 8601 duration or FULL, default PT1M),
# ``metricnames``, ``aggregation``, ``$filter`` ("A eq 'a1' and B eq '*'"), ``top`` ("Valid only if $filter is
# specified. Defaults to 10."), ``AutoAdjustTimegrain``, ``ValidateDimensions`` (default true); errors as ARM's
# ``ErrorResponse``) and its example ``GetMetric.json`` (``cost``, ``timespan``, ``interval``, ``value[]`` with
# ``id``, ``type``, ``name{value, localizedValue}``, ``displayDescription``, ``unit``, ``timeseries[]`` of
# ``metadatavalues[{name{value, localizedValue}, value}]`` and ``data[{timeStamp, total|average|...}]``,
# ``errorCode``; ``namespace``, ``resourceregion``). The values come from the Foundry endpoint's traffic
# (``traffic.py``), recorded per UTC day: the sandbox answers ``interval=P1D`` and ``FULL`` (with
# ``AutoAdjustTimegrain=true`` a finer interval is answered per day, as Azure adjusts a grain it cannot serve);
# the refusals' wording is the sandbox's own (the spec carries no error texts).

#: metric -> (display name, unit, what one bucket adds: a traffic field, "requests", or "latency")
_METRIC_DATA: dict[str, tuple[str, str, str]] = {
    "ModelRequests": ("Model Requests", "Count", "requests"),
    "InputTokens": ("Input Tokens", "Count", "input_tokens"),
    "OutputTokens": ("Output Tokens", "Count", "output_tokens"),
    "TotalTokens": ("Total Tokens", "Count", "total_tokens"),
    "cacheReadInputTokens": ("Prompt tokens read from cache", "Count", "cache_read_tokens"),
    "ephemeral5mInputTokens": ("Prompt tokens written to cache (5 minute TTL)", "Count", "cache_write_5m_tokens"),
    "ephemeral1hInputTokens": ("Prompt tokens written to cache (1 hour TTL)", "Count", "cache_write_1h_tokens"),
    "TimeToLastByte": ("Time to Last Byte", "MilliSeconds", "latency"),
}
_CACHE_DIMS = ("ApiName", "Region", "ModelDeploymentName", "ModelName", "ModelVersion", "ContextLength")
ACCOUNT_METRICS.update({"cacheReadInputTokens": _CACHE_DIMS, "ephemeral5mInputTokens": _CACHE_DIMS,
                        "ephemeral1hInputTokens": _CACHE_DIMS})
#: the dimensions the sandbox records (the others are refused in a $filter: it cannot split by them)
_RECORDED_DIMS = ("ModelDeploymentName", "ModelName", "Region", "StatusCode")
_AGGREGATIONS = ("average", "count", "minimum", "maximum", "total")
_MAX_DAYS = 93  # Azure Monitor keeps platform metrics 93 days
METRICS_READ_ROLES = frozenset({"monitoring-reader"})


def _metric_bad(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def _parse_time(text: str) -> _dt.datetime:
    try:
        t = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _metric_bad(f"Invalid timespan '{text}': expected startDateTime_ISO/endDateTime_ISO.") from None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def _parse_filter(text: str) -> dict[str, set[str] | None]:
    """``Dim eq 'v' [or Dim eq 'w'] and Other eq '*'`` -> dimension -> allowed values (None: split, any)."""
    out: dict[str, set[str] | None] = {}
    if not text.strip():
        return out
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        clause = clause.strip().strip("()").strip()
        names, values = set(), set()
        for part in re.split(r"\s+or\s+", clause, flags=re.IGNORECASE):
            m = re.fullmatch(r"\s*(\w+)\s+eq\s+'([^']*)'\s*", part, flags=re.IGNORECASE)
            if m is None:
                raise _metric_bad(f"Invalid $filter clause '{part.strip()}': expected <dimension> eq '<value>'.")
            names.add(m.group(1))
            values.add(m.group(2))
        if len(names) != 1:
            raise _metric_bad("Invalid $filter: the logical or operator cannot separate two different metadata "
                              "names.")
        name = names.pop()
        out[name] = None if "*" in values else values
    return out


def _records(api: ArmApi, account_key: str, start: _dt.date, end: _dt.date) -> list[dict[str, Any]]:
    account = api.s.resources.get(account_key) or {}
    region = str(account.get("location", ""))
    out = []
    for b in api.s.traffic.values():
        if b["account_id"].lower() != account_key or not start.isoformat() <= b["day"] <= end.isoformat():
            continue
        out.append({**b, "Region": region})
    return out


def _metrics(api: ArmApi, method: str, segs: list[str]) -> Reply:
    if method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on metrics.")
    scope_key = "/" + "/".join(p.lower() for p in segs[:-3])
    resource = api.s.resources.get(scope_key)
    if resource is None:
        raise ArmError(404, "ResourceNotFound", f"The Resource '{'/'.join(segs[-5:-3])}' was not found.")
    if not api.s.roles_of(api.oid, scope_key) & (METRICS_READ_ROLES | st.MANAGE_READ_ROLES):
        api.authorize(scope_key, "read", "Microsoft.Insights/metrics/read")
    if str(resource.get("type", "")).lower() != ACCOUNT_NAMESPACE:
        raise _metric_bad("The sandbox serves the metrics of Microsoft.CognitiveServices/accounts only.")
    q = {k.lower(): v for k, v in api.query.items()}
    names = [n.strip() for n in q.get("metricnames", "").split(",") if n.strip()]
    if not names:
        raise _metric_bad("metricnames is required by the sandbox (the names of the metrics, comma separated).")
    unknown = [n for n in names if n not in _METRIC_DATA]
    if unknown:
        raise _metric_bad(f"Failed to find metric configuration for provider: Microsoft.CognitiveServices, resource "
                          f"Type: accounts, metric: {unknown[0]}, Valid metrics: {', '.join(_METRIC_DATA)}")
    now = _dt.datetime.now(_dt.timezone.utc)
    span = q.get("timespan") or f"{(now - _dt.timedelta(hours=1)).isoformat()}/{now.isoformat()}"
    if span.count("/") != 1:
        raise _metric_bad(f"Invalid timespan '{span}': expected startDateTime_ISO/endDateTime_ISO.")
    t0, t1 = (_parse_time(x) for x in span.split("/"))
    if t1 <= t0:
        raise _metric_bad(f"Invalid timespan '{span}': the end must be after the start.")
    if (t1 - t0).days > _MAX_DAYS:
        raise _metric_bad(f"Invalid timespan '{span}': at most {_MAX_DAYS} days of metrics are kept.")
    interval = (q.get("interval") or "PT1M").upper()
    if interval not in ("P1D", "FULL"):
        if str(q.get("autoadjusttimegrain", "")).lower() != "true":
            raise _metric_bad(f"Invalid interval '{interval}': the sandbox records traffic per day (P1D or FULL; "
                              "or AutoAdjustTimegrain=true).")
        interval = "P1D"
    aggs = [a.strip().lower() for a in q.get("aggregation", "").split(",") if a.strip()]
    bad = [a for a in aggs if a not in _AGGREGATIONS]
    if bad:
        raise _metric_bad(f"Invalid aggregation '{bad[0]}': one of Average, Count, Minimum, Maximum, Total.")
    flt = _parse_filter(q.get("$filter", ""))
    top = 10 if flt else 1_000_000
    if q.get("top"):
        try:
            top = int(q["top"])
        except ValueError:
            raise _metric_bad(f"Invalid top '{q['top']}': an integer.") from None
    start_day, end_day = t0.date(), (t1 - _dt.timedelta(microseconds=1)).date()
    days = [start_day + _dt.timedelta(days=i) for i in range((end_day - start_day).days + 1)]
    records = _records(api, scope_key, start_day, end_day)
    value = []
    for name in names:
        dims = ACCOUNT_METRICS[name]
        for d in flt:
            if d not in dims and str(q.get("validatedimensions", "true")).lower() != "false":
                raise _metric_bad(f"Metric {name} has no dimension '{d}'. Valid dimensions: {', '.join(dims)}.")
            if d in dims and d not in _RECORDED_DIMS:
                raise _metric_bad(f"The sandbox does not record the dimension '{d}' (it records "
                                  f"{', '.join(x for x in _RECORDED_DIMS if x in dims)}).")
        display, unit, source = _METRIC_DATA[name]
        wanted = aggs or (["average"] if source == "latency" else ["total"])
        value.append(_metric(scope_key, segs, name, display, unit, source, wanted,
                             {d: v for d, v in flt.items() if d in dims}, records, days, interval, top))
    return Reply(200, {"cost": 0, "timespan": f"{_iso(t0)}/{_iso(t1)}", "interval": interval, "value": value,
                       "namespace": ACCOUNT_NAMESPACE, "resourceregion": str(resource.get("location", ""))})


def _iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _samples(record: dict[str, Any], source: str, by_status: bool) -> list[tuple[str | None, float, int]]:
    """(status, value, count of samples) the record adds to a metric."""
    statuses = {s: int(n) for s, n in record["statuses"].items()}
    requests = sum(statuses.values())
    if source == "requests":
        if by_status:
            return [(s, float(n), n) for s, n in statuses.items()]
        return [(None, float(requests), requests)]
    if source == "latency":
        return [(None, float(record["latency_ms_total"]), requests)]
    if source == "total_tokens":
        return [(None, float(record["input_tokens"] + record["output_tokens"]), requests)]
    return [(None, float(record[source]), requests)]


def _metric(scope_key: str, segs: list[str], name: str, display: str, unit: str, source: str, aggs: list[str],
            flt: dict[str, set[str] | None], records: list[dict[str, Any]], days: list[_dt.date], interval: str,
            top: int) -> dict[str, Any]:
    by_status = "StatusCode" in flt
    series: dict[tuple[str, ...], dict[str, list[float]]] = {}
    split = list(flt)
    for r in records:
        for status, amount, count in _samples(r, source, by_status):
            dims = {"ModelDeploymentName": r["deployment"], "ModelName": r.get("model", ""),
                    "Region": r["Region"], "StatusCode": status or ""}
            if any(allowed is not None and dims[d] not in allowed for d, allowed in flt.items()):
                continue
            key = tuple(dims[d] for d in split)
            slot = r["day"] if interval == "P1D" else "FULL"
            acc = series.setdefault(key, {}).setdefault(slot, [0.0, 0])
            acc[0] += amount
            acc[1] += count
    if not split and not series:
        series[()] = {}
    ranked = sorted(series.items(), key=lambda kv: -sum(v[0] for v in kv[1].values()))[:max(0, top)]
    resource_path = "/" + "/".join(segs[:-3])
    out_series = []
    for key, slots in ranked:
        stamps = [(d.isoformat(), f"{d.isoformat()}T00:00:00Z") for d in days] if interval == "P1D" else \
            [("FULL", f"{days[0].isoformat()}T00:00:00Z")]
        data = []
        for slot, stamp in stamps:
            total, samples = slots.get(slot, [0.0, 0.0])
            point: dict[str, Any] = {"timeStamp": stamp}
            for a in aggs:
                if a == "total" and source != "latency":
                    point["total"] = total
                elif a == "count":
                    point["count"] = samples
                elif a == "average" and samples:
                    point["average"] = total / samples
            data.append(point)
        out_series.append({"metadatavalues": [{"name": {"value": d.lower(), "localizedValue": d.lower()},
                                               "value": v} for d, v in zip(split, key, strict=True)],
                           "data": data})
    return {"id": f"{resource_path}/providers/Microsoft.Insights/metrics/{name}", "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": display}, "displayDescription": display, "unit": unit,
            "timeseries": out_series, "errorCode": "Success"}


PROVIDER = Provider(
    types=(
        ResourceType(WORKSPACES, put=_put_workspace),
        ResourceType(DIAGNOSTIC_SETTINGS, subscription_rollup=False),
        ResourceType(ACTION_GROUPS, put=_put_action_group),
        ResourceType(METRIC_ALERTS, put=_put_metric_alert),
        ResourceType(WORKBOOKS, put=_put_workbook),
    ),
    scope_routes={("microsoft.insights", "metrics"): _metrics},
)
