"""Alerts and the cost budget over real HTTPS: ``up --local`` of a stack with ``alerts:`` and ``budget:``, read back
through the unmodified management SDK; a second up changes nothing; the sandbox refuses what Azure refuses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._rehearse import CREATE, up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import Spec, load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

WEBHOOK = "https://example.invalid/hooks/claude-alerts?code=not-a-real-one"


def make_stack(tmp_path: Path) -> tuple[Path, Spec]:
    path = base_stack(tmp_path, "cf-alert-", extra="alerts:\n  emails: [oncall@contoso.com]\n  webhooks:\n"
                      f"    - {WEBHOOK}\n"
                      "budget:\n  amount: 250\n  emails: [finops@contoso.com]\n")
    return path, load_spec(path)


@pytest.fixture
def target(connection: dict[str, Any]) -> Any:
    with sandbox_target(connection) as t:
        yield t


def _get(rm_client: Any, rid: str, api_version: str) -> Any:
    return rm_client.resources.get_by_id(rid, api_version=api_version)


def test_up_local_creates_the_action_group_the_alerts_and_the_budget(tmp_path: Path, target: Any,
                                                                    rm_client: Any) -> None:
    _, spec = make_stack(tmp_path)
    deploy = up_local(spec, target, state_dir=tmp_path)
    assert deploy.result.ok, [(r.step.name, r.error) for r in deploy.result.results if r.error]
    created = {r.step.name for r in deploy.result.results if r.action == CREATE}
    assert {"claude-foundry-alerts-action-group", "claude-foundry-alerts-throttling",
            "claude-foundry-alerts-server-errors", "claude-foundry-alerts-latency",
            "claude-foundry-budget-budget"} <= created

    sub, rg = target.subscription_id, spec.resource_group
    group_id = arm.action_group_id(sub, rg, f"ag-{spec.foundry.name}")
    group = _get(rm_client, group_id, arm.API_VERSIONS[arm.ACTION_GROUP])
    assert group.location == "global"
    assert group.properties["groupShortName"] == "claude-e2e"
    assert group.properties["emailReceivers"][0]["emailAddress"] == "oncall@contoso.com"
    assert group.properties["emailReceivers"][0]["status"] == "Enabled"
    assert group.properties["webhookReceivers"][0]["serviceUri"] == WEBHOOK  # the real value reaches Azure

    account_id = arm.account_id(sub, rg, spec.foundry.name)
    throttling = _get(rm_client, arm.metric_alert_id(sub, rg, f"{spec.foundry.name}-throttling"),
                      arm.API_VERSIONS[arm.METRIC_ALERT])
    p = throttling.properties
    assert p["scopes"] == [account_id]
    assert p["criteria"]["odata.type"] == arm.METRIC_ALERT_CRITERIA_SINGLE
    assert p["criteria"]["allOf"][0]["metricName"] == "ModelRequests"
    assert p["criteria"]["allOf"][0]["dimensions"] == [{"name": "StatusCode", "operator": "Include",
                                                        "values": ["429"]}]
    assert (p["evaluationFrequency"], p["windowSize"]) == ("PT5M", "PT15M")
    assert p["actions"] == [{"actionGroupId": group_id}]

    budget = _get(rm_client, arm.budget_id(arm.resource_group_id(sub, rg), f"{spec.foundry.name}-budget"),
                  arm.API_VERSIONS[arm.BUDGET])
    b = budget.properties
    assert (b["category"], b["amount"], b["timeGrain"]) == ("Cost", 250, "Monthly")
    assert b["timePeriod"]["startDate"].startswith(dt.datetime.now(dt.timezone.utc).date().replace(day=1).isoformat())
    assert set(b["notifications"]) == {"Actual_GreaterThan_50_Percent", "Actual_GreaterThan_80_Percent",
                                       "Actual_GreaterThan_100_Percent", "Forecasted_GreaterThan_100_Percent"}
    assert b["notifications"]["Actual_GreaterThan_80_Percent"]["contactEmails"] == ["finops@contoso.com"]
    assert b["notifications"]["Actual_GreaterThan_80_Percent"]["contactGroups"] == [group_id]
    assert b["currentSpend"]["amount"] == 0  # nothing served under its resource group yet
    assert b["forecastSpend"] == {"amount": 0, "unit": "USD"}  # it has a Forecasted notification


def test_second_up_changes_nothing_and_down_removes_them(tmp_path: Path, rm_client: Any,
                                                         capsys: pytest.CaptureFixture[str],
                                                         connection: dict[str, Any]) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    stack, spec = make_stack(tmp_path)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    args = ["--local", "--sandbox", str(conn), "--state-dir", str(tmp_path / "state")]
    assert main(["up", str(stack), *args]) == 0
    out = capsys.readouterr().out
    assert "created" in out
    assert WEBHOOK not in out
    assert main(["up", str(stack), *args]) == 0
    assert "0 to change" in capsys.readouterr().out
    assert main(["down", str(stack), *args]) == 0
    capsys.readouterr()
    sub = connection["subscription_id"]
    with pytest.raises(ResourceNotFoundError):
        _get(rm_client, arm.metric_alert_id(sub, spec.resource_group, f"{spec.foundry.name}-latency"),
             arm.API_VERSIONS[arm.METRIC_ALERT])


@pytest.fixture
def group(rm_client: Any, connection: dict[str, Any]) -> dict[str, str]:
    rg = unique("rg-alerts-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    return {"rg": rg, "rg_id": arm.resource_group_id(connection["subscription_id"], rg)}


def _put(rm_client: Any, rid: str, token: str, body: dict[str, Any]) -> Any:
    return rm_client.resources.begin_create_or_update_by_id(rid, api_version=arm.API_VERSIONS[token],
                                                            parameters=body).result()


def _refused(rm_client: Any, rid: str, token: str, body: dict[str, Any]) -> Any:
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        _put(rm_client, rid, token, body)
    assert info.value.status_code == 400
    return info.value.error


def _budget_body(start: str) -> dict[str, Any]:
    return {"properties": {"category": "Cost", "amount": 100, "timeGrain": "Monthly",
                           "timePeriod": {"startDate": start},
                           "notifications": {"Actual_GreaterThan_80_Percent": {
                               "enabled": True, "operator": "GreaterThan", "threshold": 80,
                               "contactEmails": ["a@contoso.com"]}}}}


def test_sandbox_refuses_a_budget_that_does_not_start_on_the_first(group: dict[str, str], rm_client: Any) -> None:
    rid = arm.budget_id(group["rg_id"], "refused")
    this_month = dt.datetime.now(dt.timezone.utc).date().replace(day=1)
    error = _refused(rm_client, rid, arm.BUDGET, _budget_body(this_month.replace(day=2).isoformat()))
    assert "The start date must be first of the month" in error.message
    error = _refused(rm_client, rid, arm.BUDGET, _budget_body("2017-05-01"))
    assert "on or after June 1, 2017" in error.message
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    error = _refused(rm_client, rid, arm.BUDGET, _budget_body(last_month.isoformat()))
    assert "within the timegrain period" in error.message
    body = _budget_body(this_month.isoformat())
    body["properties"]["notifications"]["Actual_GreaterThan_80_Percent"]["threshold"] = 1001
    assert "threshold" in _refused(rm_client, rid, arm.BUDGET, body).message
    created = _put(rm_client, rid, arm.BUDGET, _budget_body(this_month.isoformat()))
    assert created.properties["currentSpend"] == {"amount": 0, "unit": "USD"}
    assert "forecastSpend" not in created.properties  # "only provided if the budget contains a forecast alert type"


def test_sandbox_refuses_invalid_action_groups_and_alerts(group: dict[str, str], rm_client: Any,
                                                          connection: dict[str, Any]) -> None:
    sub, rg = connection["subscription_id"], group["rg"]
    gid = arm.action_group_id(sub, rg, "ag")
    long_name = {"location": "global", "properties": {"groupShortName": "far-too-long-name", "enabled": True}}
    assert "groupShortName" in _refused(rm_client, gid, arm.ACTION_GROUP, long_name).message
    _put(rm_client, gid, arm.ACTION_GROUP, {"location": "global", "properties": {
        "groupShortName": "ag", "enabled": True,
        "emailReceivers": [{"name": "e", "emailAddress": "a@contoso.com", "useCommonAlertSchema": True}]}})

    missing = arm.account_id(sub, rg, "no-such-account")
    alert = {"location": "global", "properties": {
        "severity": 2, "enabled": True, "scopes": [missing], "evaluationFrequency": "PT5M", "windowSize": "PT15M",
        "criteria": {"odata.type": arm.METRIC_ALERT_CRITERIA_SINGLE, "allOf": [{
            "criterionType": "StaticThresholdCriterion", "name": "c", "metricName": "ModelRequests",
            "operator": "GreaterThan", "threshold": 1, "timeAggregation": "Total"}]},
        "actions": [{"actionGroupId": gid}]}}
    aid = arm.metric_alert_id(sub, rg, "a")
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        _put(rm_client, aid, arm.METRIC_ALERT, alert)
    assert "not found" in info.value.error.message
    alert["properties"]["scopes"] = [group["rg_id"]]
    alert["properties"]["windowSize"] = "PT1M"
    assert "windowSize" in _refused(rm_client, aid, arm.METRIC_ALERT, alert).message
