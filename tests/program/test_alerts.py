"""Alerts and the cost budget (``alerts:``, ``budget:``): off by default (nothing new, no URN changes), and when on
the action group, the metric alerts on the account and the budget on the resource group, with secret webhooks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from claude_foundry._azure import arm
from claude_foundry.program import _armmap as armmap
from claude_foundry.program._plan import DEFAULT_CLIENT_CONFIG, SECRET_MASK, plan
from claude_foundry.program.components import ClaudeFoundryStack
from claude_foundry.program.spec import SpecError, load_spec
from claude_foundry_sandbox.testing import extends_line

SUB = DEFAULT_CLIENT_CONFIG["subscriptionId"]
STACKS = Path(__file__).resolve().parents[2] / "stacks"
WEBHOOK = "https://example.invalid/hooks/claude-alerts?code=not-a-real-one"

WITH_BOTH = f"""\
alerts:
  emails: [oncall@contoso.com]
  webhooks:
    - {WEBHOOK}
budget:
  amount: 1000
"""
NEW_TYPES = (arm.ACTION_GROUP, arm.METRIC_ALERT, arm.BUDGET)


def one(p, type_token):
    found = [r for r in p.resources if r.type == type_token]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture
def stack_file(tmp_path):
    def make(overrides: str, base: str = "dev") -> Path:
        path = tmp_path / f"stack-{abs(hash(overrides))}.yaml"
        path.write_text(extends_line(STACKS / f"{base}.yaml") + overrides, encoding="utf-8")
        return path

    return make


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    path = tmp_path_factory.mktemp("alerts") / "stack.yaml"
    path.write_text(extends_line(STACKS / "dev.yaml") + WITH_BOTH, encoding="utf-8")
    spec = load_spec(path)
    return spec, plan(spec)


# --- off by default -------------------------------------------------------------------------------------


def test_off_by_default_nothing_new(dev_plan, dev_spec):
    assert dev_spec.alerts is None
    assert dev_spec.budget is None
    assert not [r for r in dev_plan.resources if r.type in NEW_TYPES or r.type.endswith(("Alerts", "CostBudget"))]


def test_turning_them_on_changes_no_other_urn(both, dev_plan):
    _, p = both
    new = {r.urn for r in p.resources if r.type in NEW_TYPES or r.type.endswith((":Alerts", ":CostBudget"))}
    assert len(new) == 7  # 2 components, 1 action group, 3 alerts, 1 budget
    assert {r.urn for r in p.resources} - new == {r.urn for r in dev_plan.resources}
    by_urn = dev_plan.by_urn()
    for r in p.resources:
        if r.urn in by_urn and r.arm is not None:
            assert r.arm.body == by_urn[r.urn].arm.body, r.name


def test_enabled_false_is_off(stack_file):
    p = plan(load_spec(stack_file("alerts: {enabled: false}\nbudget: {enabled: false, amount: 5}\n")))
    assert not [r for r in p.resources if r.type in NEW_TYPES]


# --- the action group and the alerts --------------------------------------------------------------------


def test_action_group_shape_and_secret_webhooks(both):
    spec, p = both
    group = one(p, arm.ACTION_GROUP)
    assert group.name == "claude-foundry-alerts-action-group"
    assert group.arm.id == arm.action_group_id(SUB, spec.resource_group, f"ag-{spec.foundry.name}")
    assert group.arm.api_version == "2024-10-01-preview"
    body = group.arm.body
    assert body["location"] == "global"
    assert len(body["properties"]["groupShortName"]) <= 12
    assert body["properties"]["emailReceivers"] == [
        {"name": "email-1", "emailAddress": "oncall@contoso.com", "useCommonAlertSchema": True}]
    assert body["properties"]["webhookReceivers"][0]["serviceUri"] == WEBHOOK  # what the rehearsal sends
    # a Pulumi secret, masked everywhere plan shows it
    assert "webhookReceivers" in group.secret_paths
    text = json.dumps(p.to_json())
    assert WEBHOOK not in text
    assert "not-a-real-one" not in text
    shown = group.to_json()
    assert shown["arm"]["body"]["properties"]["webhookReceivers"][0]["serviceUri"] == SECRET_MASK
    assert WEBHOOK in json.dumps(p.to_json(reveal_secrets=True))


def test_webhook_secrecy_seen_from_the_program(run_program, both):
    spec, _ = both

    async def program():
        stack = ClaudeFoundryStack("s", spec)
        assert await stack.alerts.action_group.webhook_receivers.is_secret()
        assert not await stack.alerts.action_group.email_receivers.is_secret()

    run_program(program)


def test_metric_alerts_on_the_account(both):
    spec, p = both
    account = one(p, armmap.ACCOUNT)
    group = one(p, arm.ACTION_GROUP)
    alerts = {r.name.rsplit("-alerts-", 1)[1]: r for r in p.of_type(arm.METRIC_ALERT)}
    assert set(alerts) == {"throttling", "server-errors", "latency"}
    metrics = {}
    for key, r in alerts.items():
        assert r.arm.api_version == "2018-03-01"
        assert r.arm.id == arm.metric_alert_id(SUB, spec.resource_group, f"{spec.foundry.name}-{key}")
        props = r.arm.body["properties"]
        assert r.arm.body["location"] == "global"
        assert props["scopes"] == [account.arm.id]
        assert (props["evaluationFrequency"], props["windowSize"]) == ("PT5M", "PT15M")
        assert props["enabled"] is True
        assert props["autoMitigate"] is True
        assert props["actions"] == [{"actionGroupId": group.arm.id}]
        assert props["criteria"]["odata.type"] == "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
        (criterion,) = props["criteria"]["allOf"]
        assert criterion["criterionType"] == "StaticThresholdCriterion"
        assert criterion["metricNamespace"] == "Microsoft.CognitiveServices/accounts"
        metrics[key] = criterion
        assert account.urn in r.depends_on
        assert group.urn in r.depends_on
    assert metrics["throttling"]["metricName"] == "ModelRequests"
    assert metrics["throttling"]["dimensions"] == [{"name": "StatusCode", "operator": "Include", "values": ["429"]}]
    assert (metrics["throttling"]["operator"], metrics["throttling"]["threshold"],
            metrics["throttling"]["timeAggregation"]) == ("GreaterThan", 10, "Total")
    assert (metrics["server-errors"]["metricName"], metrics["server-errors"]["operator"],
            metrics["server-errors"]["threshold"]) == ("ModelAvailabilityRate", "LessThan", 95)
    assert (metrics["latency"]["metricName"], metrics["latency"]["threshold"]) == ("TimeToLastByte", 30000)


def test_a_threshold_set_to_null_drops_that_alert(stack_file):
    p = plan(load_spec(stack_file("alerts:\n  emails: [a@contoso.com]\n  latency_ms: null\n"
                                  "  server_error_percent: 2.5\n")))
    names = sorted(r.name for r in p.of_type(arm.METRIC_ALERT))
    assert names == ["claude-foundry-alerts-server-errors", "claude-foundry-alerts-throttling"]
    server = next(r for r in p.of_type(arm.METRIC_ALERT) if r.name.endswith("server-errors"))
    assert server.arm.body["properties"]["criteria"]["allOf"][0]["threshold"] == 97.5
    assert not p.of_type(arm.BUDGET)


# --- the budget -----------------------------------------------------------------------------------------


def test_budget_on_the_resource_group(both):
    spec, p = both
    budget = one(p, arm.BUDGET)
    rg = one(p, armmap.RESOURCE_GROUP)
    group = one(p, arm.ACTION_GROUP)
    assert budget.name == "claude-foundry-budget-budget"
    rg_id = arm.resource_group_id(SUB, spec.resource_group)
    assert budget.inputs["scope"] == rg_id
    assert budget.arm.id == f"{rg_id}/providers/Microsoft.Consumption/budgets/{spec.foundry.name}-budget"
    assert budget.arm.api_version == "2024-08-01"
    props = budget.arm.body["properties"]
    assert (props["category"], props["amount"], props["timeGrain"]) == ("Cost", 1000, "Monthly")
    start = dt.date.fromisoformat(props["timePeriod"]["startDate"][:10])
    assert start == dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    notes = props["notifications"]
    assert sorted((n["thresholdType"], n["threshold"]) for n in notes.values()) == [
        ("Actual", 50), ("Actual", 80), ("Actual", 100), ("Forecasted", 100)]
    for n in notes.values():
        assert n["enabled"] is True
        assert n["operator"] == "GreaterThan"
        assert n["contactEmails"] == ["oncall@contoso.com"]  # budget.emails default: alerts.emails
        assert n["contactGroups"] == [group.arm.id]
    assert rg.urn in budget.depends_on


def test_budget_without_alerts_and_an_explicit_start(stack_file):
    spec = load_spec(stack_file("budget:\n  amount: 20.5\n  emails: [finops@contoso.com]\n  thresholds: [90]\n"
                                "  forecast_thresholds: []\n  start_date: 2026-01-01\n  name: claude-dev\n"))
    p = plan(spec)
    assert not p.of_type(arm.ACTION_GROUP)
    props = one(p, arm.BUDGET).arm.body["properties"]
    assert one(p, arm.BUDGET).arm.id.endswith("/budgets/claude-dev")
    assert props["timePeriod"] == {"startDate": "2026-01-01T00:00:00Z"}
    assert props["amount"] == 20.5
    assert list(props["notifications"]) == ["Actual_GreaterThan_90_Percent"]
    assert "contactGroups" not in props["notifications"]["Actual_GreaterThan_90_Percent"]


def test_budget_in_an_existing_resource_group(stack_file):
    p = plan(load_spec(stack_file("create_resource_group: false\nresource_group: rg-shared\n"
                                  "budget: {amount: 10, emails: [a@contoso.com]}\n")))
    assert one(p, arm.BUDGET).inputs["scope"] == arm.resource_group_id(SUB, "rg-shared")


def test_prod_stack_ships_with_alerts_and_budget(prod_plan):
    assert len(prod_plan.of_type(arm.METRIC_ALERT)) == 3
    assert len(prod_plan.of_type(arm.BUDGET)) == 1


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "line", "text"), [
    ("alerts: {emails: [not-an-email]}\n", "alerts.emails", "e-mail addresses"),
    ("alerts:\n  webhooks:\n    - http://example.invalid/x?token=abc\n", "alerts.webhooks", "https://"),
    ("alerts: {enabled: true}\n", "alerts", "at least one receiver"),
    ("alerts: {emails: [a@contoso.com], throttled_requests: 0}\n", "alerts.throttled_requests", ">= 1"),
    ("budget: {amount: 0, emails: [a@contoso.com]}\n", "budget.amount", "> 0"),
    ("budget: {amount: 5}\n", "budget", "nobody is notified"),
    ("budget: {amount: 5, emails: [a@contoso.com], thresholds: [0]}\n", "budget.thresholds", "1-1000"),
    ("budget: {amount: 5, emails: [a@contoso.com], thresholds: [1001]}\n", "budget.thresholds", "1-1000"),
    ("budget: {amount: 5, emails: [a@contoso.com], thresholds: [10, 20, 30, 40, 50]}\n", "budget",
     "at most 5 notifications"),
    ("budget: {amount: 5, emails: [a@contoso.com], start_date: 2026-01-15}\n", "budget.start_date",
     "first of a month"),
    ("budget: {amount: 5, emails: [a@contoso.com], start_date: 2017-01-01}\n", "budget.start_date", "2017-06-01"),
])
def test_invalid_alerts_and_budgets_name_file_line_and_field(stack_file, overrides, line, text):
    path = stack_file(overrides)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert f"{path}:" in message
    assert f": {line}: " in message, message
    assert text in message, message


def test_a_webhook_is_never_echoed_in_an_error(stack_file):
    path = stack_file("alerts:\n  webhooks:\n    - http://example.invalid/x?sig=hidden-value\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "hidden-value" not in str(info.value)
