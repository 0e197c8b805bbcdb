"""``UsageDashboard``: one Azure Monitor workbook per stack (``monitoring.dashboard: true``) with the same views
for every account, per deployment.

The workbook is ``Microsoft.Insights/workbooks`` (pulumi-azure-native's ``applicationinsights.Workbook``, REST API
2023-06-01; azure-rest-api-specs ``specification/applicationinsights/resource-manager/Microsoft.Insights/stable/
2023-06-01/workbooks_API.json``, example ``WorkbookManagedAdd.json``): kind ``shared``, category ``workbook``,
``sourceId`` the stack's resource group (so it is listed under the resource group's Workbooks), a GUID name
(:func:`claude_foundry._azure.arm.workbook_name`, uuid5 of the stack and its accounts' ids), and ``serializedData``
the JSON of a ``Notebook/1.0`` document built here from a Python dict (:func:`workbook_content`).

Views, each split by ``ModelDeploymentName`` on every account of the stack: requests (``ModelRequests``), input
and output tokens (``InputTokens``, ``OutputTokens``), cache tokens (``cacheReadInputTokens``,
``ephemeral5mInputTokens``, ``ephemeral1hInputTokens``), throttled requests (``ModelRequests`` with ``StatusCode``
429), failed requests (``ModelRequests`` split by ``StatusCode``, and ``ModelAvailabilityRate``) and latency
(``TimeToLastByte``). Metric names, categories, dimensions and aggregations: Microsoft Learn, "Supported metrics
for Microsoft.CognitiveServices/accounts" (MicrosoftDocs/azure-monitor-docs
``articles/azure-monitor/reference/supported-metrics/microsoft-cognitiveservices-accounts-metrics.md``, categories
"Models - HTTP Requests", "Models - Usage", "Models - Latency"; the cache metrics "apply to Anthropic model
deployments"). A workbook names a metric ``<namespace>-<category>-<metric>`` with the category's " - " written as
two spaces (the form the portal's metric picker saves).

Cost per day: Azure Monitor has no cost metric and Log Analytics no cost table, so the cost view is an Azure
Resource Manager query item (workbooks' "Azure Resource Manager" data source) of Cost Management's
``Query_Usage`` (``POST {resource group}/providers/Microsoft.CostManagement/query``, API 2023-11-01) grouped by
day, resource and meter: Cost Management knows the accounts (and the Marketplace meters of Claude's models), not
the deployments, so "per deployment" is per account and meter there. Viewers need Monitoring Reader for the
metrics and Cost Management Reader on the resource group for the cost view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry._azure import arm
from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts
from claude_foundry.program.spec._schema import Spec

METRIC_NAMESPACE = arm.ACCOUNT_METRIC_NAMESPACE.lower()
DEPLOYMENT_DIMENSION = arm.METRIC_DIMENSION_DEPLOYMENT
STATUS_DIMENSION = arm.METRIC_DIMENSION_STATUS
THROTTLED_STATUS_CODE = arm.THROTTLED_STATUS_CODE
#: Workbook metric aggregations (the MetricsItem/2.0 enum): Sum, Average.
AGG_SUM, AGG_AVERAGE = 1, 4
#: Workbook chart types: line, bar; and the grid.
CHART_LINE, CHART_BAR, CHART_GRID = 2, 3, 0
#: The default time range of the views: seven days (the weekly summary's).
DEFAULT_RANGE_MS = 7 * 24 * 3600 * 1000
COST_QUERY_API_VERSION = arm.COST_QUERY_SPEC_API_VERSION

#: (view key, title, [(category, metric, aggregation)], extra metric settings, chart type)
_METRIC_VIEWS: tuple[tuple[str, str, tuple[tuple[str, str, int], ...], dict[str, Any], int], ...] = (
    ("requests", "Requests per deployment",
     (("Models - HTTP Requests", arm.METRIC_MODEL_REQUESTS, AGG_SUM),), {}, CHART_BAR),
    ("tokens", "Input and output tokens per deployment",
     (("Models - Usage", arm.METRIC_INPUT_TOKENS, AGG_SUM), ("Models - Usage", arm.METRIC_OUTPUT_TOKENS, AGG_SUM)),
     {}, CHART_BAR),
    ("cache-tokens", "Prompt-cache tokens per deployment (read, written 5 min, written 1 h)",
     (("Models - Usage", arm.METRIC_CACHE_READ_TOKENS, AGG_SUM),
      ("Models - Usage", arm.METRIC_CACHE_WRITE_5M_TOKENS, AGG_SUM),
      ("Models - Usage", arm.METRIC_CACHE_WRITE_1H_TOKENS, AGG_SUM)), {}, CHART_BAR),
    ("throttled", "Throttled requests (HTTP 429) per deployment",
     (("Models - HTTP Requests", arm.METRIC_MODEL_REQUESTS, AGG_SUM),),
     {"filters": [{"key": STATUS_DIMENSION, "operator": 0, "values": [THROTTLED_STATUS_CODE]}]}, CHART_BAR),
    ("failed", "Requests by status code",
     (("Models - HTTP Requests", arm.METRIC_MODEL_REQUESTS, AGG_SUM),), {"splitBy": [STATUS_DIMENSION]}, CHART_BAR),
    ("availability", "Availability per deployment (% of requests without a server error)",
     (("Models - HTTP Requests", arm.METRIC_AVAILABILITY, AGG_AVERAGE),), {}, CHART_LINE),
    ("latency", "Time to last byte per deployment (ms, average)",
     (("Models - Latency", arm.METRIC_TIME_TO_LAST_BYTE, AGG_AVERAGE),), {}, CHART_LINE),
)
#: Every (metric, aggregation) the workbook reads, for tests and docs.
METRICS = tuple(sorted({metric for view in _METRIC_VIEWS for _category, metric, _agg in view[2]}))


def metric_id(category: str, metric: str) -> str:
    """A workbook's name of an account metric: ``<namespace>-<category, ' - ' as two spaces>-<metric>``."""
    return f"{METRIC_NAMESPACE}-{category.replace(' - ', '  ')}-{metric}"


def display_name(spec: Spec) -> str:
    """The workbook's title (unique per resource group, source and category, as Azure requires)."""
    return f"Claude on Foundry: {spec.environment} ({spec.foundry.name})"


def _metric_item(key: str, title: str, metrics: Sequence[tuple[str, str, int]], extra: dict[str, Any],
                 chart: int, account_ids: Sequence[str]) -> dict[str, Any]:
    split = extra.get("splitBy", [DEPLOYMENT_DIMENSION])
    return {"type": 10, "name": key, "content": {
        "chartId": f"claude-foundry-{key}", "version": "MetricsItem/2.0", "size": 0, "chartType": chart,
        "resourceType": METRIC_NAMESPACE, "metricScope": 0, "resourceIds": list(account_ids),
        "timeContextFromParameter": "TimeRange", "timeContext": {"durationMs": DEFAULT_RANGE_MS},
        "metrics": [{"namespace": METRIC_NAMESPACE, "metric": metric_id(cat, name), "aggregation": agg,
                     "splitBy": split, "splitByLimit": 50,
                     **({"filters": extra["filters"]} if "filters" in extra else {})}
                    for cat, name, agg in metrics],
        "title": title, "gridSettings": {"rowLimit": 10000}}}


def _cost_item(resource_group_id: str) -> dict[str, Any]:
    """Cost Management's daily cost of the resource group by resource and meter (an ARM query item)."""
    body = {"type": "ActualCost", "timeframe": "Custom",
            "timePeriod": {"from": "{TimeRange:startISO}", "to": "{TimeRange:endISO}"},
            "dataset": {"granularity": "Daily",
                        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                        "grouping": [{"type": "Dimension", "name": "ResourceId"},
                                     {"type": "Dimension", "name": "Meter"}]}}
    return {"type": 3, "name": "cost", "content": {
        "version": "KqlItem/1.0", "queryType": 12, "title": "Cost per day by account and meter (Cost Management)",
        "query": json.dumps({"version": "ARMEndpoint/1.0", "data": json.dumps(body), "headers": [],
                             "method": "POST",
                             "path": f"{resource_group_id}/providers/Microsoft.CostManagement/query",
                             "urlParams": [{"key": "api-version", "value": COST_QUERY_API_VERSION}],
                             "batchDisabled": False,
                             "transformers": [{"type": "jsonpath", "settings": {
                                 "tablePath": "$.properties.rows", "columns": [
                                     {"path": "$[0]", "columnid": "Cost"},
                                     {"path": "$[1]", "columnid": "Day"},
                                     {"path": "$[2]", "columnid": "Resource"},
                                     {"path": "$[3]", "columnid": "Meter"},
                                     {"path": "$[4]", "columnid": "Currency"}]}}]}),
        "size": 0, "timeContextFromParameter": "TimeRange", "visualization": "table"}}


def workbook_content(spec: Spec, account_ids: Sequence[str], resource_group_id: str) -> dict[str, Any]:
    """The ``Notebook/1.0`` document: a title, the time range, the metric views over ``account_ids``, the cost."""
    names = ", ".join(a.foundry.name for a in spec.all_accounts())
    items: list[dict[str, Any]] = [
        {"type": 1, "name": "title", "content": {"json": (
            f"## Claude on Foundry: {spec.environment}\n"
            f"Every deployment of {names}, per deployment (`{DEPLOYMENT_DIMENSION}`). Made by claude-foundry "
            "(`monitoring.dashboard: true`); edits in the portal are replaced on the next deploy.")}},
        {"type": 9, "name": "parameters", "content": {"version": "KqlParameterItem/1.0", "style": "pills",
                                                       "parameters": [{
            "id": "3f0b9a3e-6c61-4a1a-9a8e-1c0f6d7e2b10", "version": "KqlParameterItem/1.0", "name": "TimeRange",
            "label": "Time range", "type": 4, "isRequired": True, "value": {"durationMs": DEFAULT_RANGE_MS},
            "typeSettings": {"allowCustom": True, "selectableValues": [
                {"durationMs": ms} for ms in (3600000, 86400000, DEFAULT_RANGE_MS, 30 * 86400000)]}}]}},
    ]
    items += [_metric_item(key, title, metrics, extra, chart, account_ids)
              for key, title, metrics, extra, chart in _METRIC_VIEWS]
    items.append(_cost_item(resource_group_id))
    return {"version": arm.WORKBOOK_VERSION, "items": items, "isLocked": False,
            "fallbackResourceIds": [resource_group_id]}


@dataclass(frozen=True, kw_only=True)
class UsageDashboardArgs:
    """The workbook of ``spec`` over every account of ``accounts`` (the one list; no account is special), in the
    resource group ``resource_group_name`` whose ARM id is ``resource_group_id`` (the workbook's source)."""

    spec: Spec
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    accounts: Sequence[AccountRef]
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_type("UsageDashboardArgs", "spec", self.spec, Spec, "a claude_foundry.program.spec.Spec")
        check_input("UsageDashboardArgs", "resource_group_name", self.resource_group_name)
        check_input("UsageDashboardArgs", "resource_group_id", self.resource_group_id)
        check_type("UsageDashboardArgs", "tags", self.tags, dict, "a dict of str")
        object.__setattr__(self, "accounts", check_accounts("UsageDashboardArgs", self.accounts))


class UsageDashboard(pulumi.ComponentResource):
    """One ``Microsoft.Insights/workbooks`` (``applicationinsights.Workbook``) with per-deployment views of every
    account. Outputs: ``workbook_id`` (its ARM id) and ``workbook_name`` (its GUID)."""

    workbook: azure_native.applicationinsights.Workbook
    workbook_id: pulumi.Output[str]
    workbook_name: pulumi.Output[str]

    def __init__(self, name: str, args: UsageDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}UsageDashboard", name, None, opts)
        spec = args.spec
        ids = pulumi.Output.all(*[a.id for a in args.accounts])
        rg_id = pulumi.Output.from_input(args.resource_group_id)
        self.workbook = azure_native.applicationinsights.Workbook(
            f"{name}-workbook",
            resource_name_=ids.apply(lambda got: arm.workbook_name(spec.environment, [str(i) for i in got])),
            resource_group_name=args.resource_group_name,
            location=spec.location,
            kind=arm.WORKBOOK_KIND,
            category=arm.WORKBOOK_CATEGORY,
            display_name=display_name(spec),
            description=f"Claude usage, errors, latency and cost of the {spec.environment} stack "
                        "(claude-foundry, monitoring.dashboard).",
            version=arm.WORKBOOK_VERSION,
            source_id=rg_id,
            serialized_data=pulumi.Output.all(ids, rg_id).apply(
                lambda got: json.dumps(workbook_content(spec, [str(i) for i in got[0]], str(got[1])),
                                       separators=(",", ":"))),
            tags=args.tags,
            opts=child_opts(self),
        )
        self.workbook_id = self.workbook.id
        self.workbook_name = self.workbook.name
        self.register_outputs({"workbook_id": self.workbook_id})
