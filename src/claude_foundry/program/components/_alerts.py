"""``Alerts`` and ``CostBudget``: observability and cost, both opt-in in the stack (``alerts:``, ``budget:``).

``Alerts``: one action group (``monitor.ActionGroup``, global, e-mail and webhook receivers with the common alert
schema; webhook URLs are Pulumi secrets, a URL may carry a token) and up to three metric alerts
(``monitor.MetricAlert``) scoped to the Foundry account, each evaluated every 5 minutes over 15 minutes:

- throttling: ``ModelRequests`` (Total) split by ``StatusCode`` = 429 above ``alerts.throttled_requests``;
- server errors: ``ModelAvailabilityRate`` (Average; "(Total Calls - Server Errors)/Total Calls. Server Errors
  include any HTTP responses >=500") below 100 - ``alerts.server_error_percent``;
- latency: ``TimeToLastByte`` (Average, milliseconds; pay-as-you-go deployments too) above ``alerts.latency_ms``.

Metric names, units, aggregations and dimensions: Microsoft Learn, "Supported metrics for
Microsoft.CognitiveServices/accounts", categories "Models - HTTP Requests" and "Models - Latency"
(MicrosoftDocs/azure-monitor-docs, ``articles/azure-monitor/reference/supported-metrics/
microsoft-cognitiveservices-accounts-metrics.md``; the same page lists Anthropic-only metrics such as
``cacheReadInputTokens`` in "Models - Usage", i.e. Claude deployments report the "Models" family). The older
"Cognitive Services - HTTP Requests" metrics (``ServerErrors``, ``Latency``, ``BlockedCalls``) are marked there
"Do not use for Azure OpenAI service", and a 429 *rate* is no metric at all: a metric alert compares one
metric with a threshold, so throttling is a count per window.

``CostBudget``: one ``consumption.Budget`` on the resource group (category Cost, Monthly, ``timePeriod.startDate``
the first of a month, one notification per threshold, ``thresholdType`` Actual or Forecasted), notifying its
e-mails and, with alerts on, the action group (``contactGroups``). Without an explicit ``budget.start_date`` the
start is the first of the month of the first deploy and later changes of it are ignored (Azure replaces a budget
whose start date changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from claude_foundry._azure import arm
from claude_foundry.program.components._accounts import AccountRef, check_accounts
from claude_foundry.program.components._common import TYPE_PREFIX, check_input, check_type, child_opts
from claude_foundry.program.spec._schema import Spec

EVALUATION_FREQUENCY = "PT5M"
WINDOW_SIZE = "PT15M"
#: Metric names (REST API names) of a Foundry account, from their one home (``_azure.arm``; module docstring).
METRIC_MODEL_REQUESTS = arm.METRIC_MODEL_REQUESTS
METRIC_AVAILABILITY = arm.METRIC_AVAILABILITY
METRIC_TIME_TO_LAST_BYTE = arm.METRIC_TIME_TO_LAST_BYTE
THROTTLED_STATUS_CODE = arm.THROTTLED_STATUS_CODE
#: Alert key -> severity (0 critical ... 4 verbose).
SEVERITIES = {"throttling": 2, "server-errors": 1, "latency": 2}


@dataclass(frozen=True, kw_only=True)
class AlertsArgs:
    """The spec's ``alerts:`` on every account of ``accounts`` (each gets the same alerts), one action group."""

    spec: Spec
    resource_group_name: pulumi.Input[str]
    accounts: Sequence[AccountRef]
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_type("AlertsArgs", "spec", self.spec, Spec, "a claude_foundry.program.spec.Spec")
        check_input("AlertsArgs", "resource_group_name", self.resource_group_name)
        object.__setattr__(self, "accounts", check_accounts("AlertsArgs", self.accounts))


def action_group_name(spec: Spec) -> str:
    return f"ag-{spec.foundry.name}"[:260]


def action_group_short_name(spec: Spec) -> str:
    """``groupShortName`` (at most 12 characters; the sender name of e-mails and SMS)."""
    return f"claude-{spec.environment}"[: arm.ACTION_GROUP_SHORT_NAME_MAX].rstrip("-")


def metric_criteria(spec: Spec, account_name: str | None = None) -> dict[str, dict[str, Any]]:
    """Alert key -> description and one static criterion (``MetricCriteriaArgs`` keywords), for the thresholds
    the spec sets, on ``account_name`` (default: the first account, ``foundry.name``)."""
    a = spec.alerts
    if a is None:
        return {}
    account_name = account_name or spec.foundry.name
    out: dict[str, dict[str, Any]] = {}
    base = {"criterion_type": "StaticThresholdCriterion", "metric_namespace": arm.ACCOUNT_METRIC_NAMESPACE}
    if a.throttled_requests is not None:
        out["throttling"] = {
            "description": f"Claude on {account_name}: more than {a.throttled_requests} requests throttled "
                           "(HTTP 429, rate or quota limit) in 15 minutes. Raise the deployment's capacity or slow "
                           "the callers down.",
            "criterion": {**base, "name": "throttled-requests", "metric_name": METRIC_MODEL_REQUESTS,
                          "operator": "GreaterThan", "threshold": a.throttled_requests, "time_aggregation": "Total",
                          "dimensions": [azure_native.monitor.MetricDimensionArgs(
                              name="StatusCode", operator="Include", values=[THROTTLED_STATUS_CODE])]},
        }
    if a.server_error_percent is not None:
        floor = round(100 - a.server_error_percent, 6)
        out["server-errors"] = {
            "description": f"Claude on {account_name}: more than {a.server_error_percent:g}% of requests failed "
                           f"with a server error (HTTP >= 500) in 15 minutes (availability below {floor:g}%).",
            "criterion": {**base, "name": "availability", "metric_name": METRIC_AVAILABILITY,
                          "operator": "LessThan", "threshold": floor, "time_aggregation": "Average"},
        }
    if a.latency_ms is not None:
        out["latency"] = {
            "description": f"Claude on {account_name}: average time to last byte above {a.latency_ms} ms in "
                           "15 minutes.",
            "criterion": {**base, "name": "time-to-last-byte", "metric_name": METRIC_TIME_TO_LAST_BYTE,
                          "operator": "GreaterThan", "threshold": a.latency_ms, "time_aggregation": "Average"},
        }
    return out


class Alerts(pulumi.ComponentResource):
    """The action group and the metric alerts on the Foundry account (``alerts:`` in the spec)."""

    action_group: azure_native.monitor.ActionGroup
    metric_alerts: dict[str, azure_native.monitor.MetricAlert]  # "throttling", "server-errors", "latency"
    action_group_id: pulumi.Output[str]

    def __init__(self, name: str, args: AlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}Alerts", name, None, opts)
        spec = args.spec
        if spec.alerts is None:
            raise ValueError("the spec has no alerts")
        a = spec.alerts
        self.action_group = azure_native.monitor.ActionGroup(
            f"{name}-action-group",
            action_group_name=action_group_name(spec),
            resource_group_name=args.resource_group_name,
            location=arm.GLOBAL_LOCATION,
            group_short_name=action_group_short_name(spec),
            enabled=True,
            email_receivers=[{"name": f"email-{n}", "email_address": email, "use_common_alert_schema": True}
                             for n, email in enumerate(a.emails, 1)],
            # a webhook URL may carry a token: each one is a Pulumi secret (masked in `plan` and in Pulumi's state)
            webhook_receivers=[{"name": f"webhook-{n}", "service_uri": pulumi.Output.secret(url),
                                "use_common_alert_schema": True} for n, url in enumerate(a.webhooks, 1)],
            tags=args.tags,
            opts=child_opts(self),
        )
        self.action_group_id = self.action_group.id
        self.metric_alerts = {}
        for acct in args.accounts:
            for key, alert in metric_criteria(spec, acct.name).items():
                self.metric_alerts[key + acct.suffix] = self._alert(name + acct.suffix, key, acct.name, acct.id,
                                                                    alert, args)
        self.register_outputs({"action_group_id": self.action_group_id})

    def _alert(self, name: str, key: str, account_name: str, account_id: pulumi.Input[str], alert: dict[str, Any],
               args: AlertsArgs) -> azure_native.monitor.MetricAlert:
        """One metric alert on one account (logical name ``<name>-<key>``, rule ``<account>-<key>``)."""
        return azure_native.monitor.MetricAlert(
            f"{name}-{key}",
            rule_name=f"{account_name}-{key}",
            resource_group_name=args.resource_group_name,
            location=arm.GLOBAL_LOCATION,
            description=alert["description"],
            severity=SEVERITIES[key],
            enabled=True,
            scopes=[account_id],
            evaluation_frequency=EVALUATION_FREQUENCY,
            window_size=WINDOW_SIZE,
            # the typed Args: criteria is a union, so a plain dict would not be translated to camelCase
            criteria=azure_native.monitor.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type=arm.METRIC_ALERT_CRITERIA_SINGLE,
                all_of=[azure_native.monitor.MetricCriteriaArgs(**alert["criterion"])]),
            auto_mitigate=True,
            actions=[{"action_group_id": self.action_group.id}],
            tags=args.tags,
            opts=child_opts(self),
        )


@dataclass(frozen=True, kw_only=True)
class CostBudgetArgs:
    spec: Spec
    #: the budget's scope: the resource group's ARM id
    resource_group_id: pulumi.Input[str]
    #: with alerts on, the action group the budget notifies too
    action_group_id: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        check_type("CostBudgetArgs", "spec", self.spec, Spec, "a claude_foundry.program.spec.Spec")
        check_input("CostBudgetArgs", "resource_group_id", self.resource_group_id)
        check_input("CostBudgetArgs", "action_group_id", self.action_group_id, optional=True)


def budget_name(spec: Spec) -> str:
    return (spec.budget.name if spec.budget and spec.budget.name else f"{spec.foundry.name}-budget")[:63]


def budget_notifications(spec: Spec, action_group_id: pulumi.Input[str] | None = None) -> dict[str, Any]:
    """``notifications``: one per threshold, keyed ``<Actual|Forecasted>_GreaterThan_<n>_Percent`` (as in
    azure-rest-api-specs' CreateOrUpdateBudget.json)."""
    b = spec.budget
    if b is None:
        return {}
    emails = list(b.emails or (spec.alerts.emails if spec.alerts_on and spec.alerts else []))
    out: dict[str, Any] = {}
    for kind, thresholds in (("Actual", b.thresholds), ("Forecasted", b.forecast_thresholds)):
        for t in thresholds:
            note: dict[str, Any] = {"enabled": True, "operator": "GreaterThan", "threshold": t,
                                    "threshold_type": kind, "contact_emails": emails}
            if action_group_id is not None:
                note["contact_groups"] = [action_group_id]
            out[f"{kind}_GreaterThan_{t:g}_Percent".replace(".", "_")] = note
    return out


class CostBudget(pulumi.ComponentResource):
    """The monthly cost budget on the resource group (``budget:`` in the spec)."""

    budget: azure_native.consumption.Budget

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}CostBudget", name, None, opts)
        spec = args.spec
        if spec.budget is None:
            raise ValueError("the spec has no budget")
        b = spec.budget
        budget_opts = child_opts(self)
        if b.start_date is None:
            # the default start (this month's first) must not move every month: Azure replaces such a budget
            budget_opts = pulumi.ResourceOptions.merge(budget_opts,
                                                       pulumi.ResourceOptions(ignore_changes=["timePeriod"]))
        self.budget = azure_native.consumption.Budget(
            f"{name}-budget",
            budget_name=budget_name(spec),
            scope=args.resource_group_id,
            category="Cost",
            amount=b.amount,
            time_grain="Monthly",
            time_period={"start_date": f"{b.resolved_start_date.isoformat()}T00:00:00Z"},
            notifications=budget_notifications(spec, args.action_group_id),
            opts=budget_opts,
        )
        self.register_outputs({"budget_name": self.budget.name})
