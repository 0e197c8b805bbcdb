"""The usage dashboard (``monitoring.dashboard``, issue 24): off by default (nothing new), and when on one Azure
Monitor workbook over every account, its GUID name stable, its content the metric views per deployment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from claude_foundry._azure import arm
from claude_foundry.program._plan import DEFAULT_CLIENT_CONFIG, plan
from claude_foundry.program.components import AccountRef, UsageDashboard, UsageDashboardArgs
from claude_foundry.program.components._dashboard import METRICS, metric_id
from claude_foundry.program.spec import SpecError, load_spec
from claude_foundry_sandbox.testing import extends_line

pytest.importorskip("pulumi_azure_native")

SUB = DEFAULT_CLIENT_CONFIG["subscriptionId"]
STACKS = Path(__file__).resolve().parents[2] / "stacks"
WEST = "accounts:\n  west: {name: contoso-claude-dev-w, location: westus3}\n"


@pytest.fixture
def stack_file(tmp_path):
    def make(overrides: str, base: str = "dev") -> Path:
        path = tmp_path / f"stack-{uuid.uuid4().hex[:8]}.yaml"
        path.write_text(extends_line(STACKS / f"{base}.yaml") + overrides, encoding="utf-8")
        return path

    return make


def workbooks(p):
    return [r for r in p.resources if r.type == arm.WORKBOOK]


def test_off_by_default_and_when_false(dev_plan, stack_file):
    assert workbooks(dev_plan) == []
    assert "dashboard_id" not in dev_plan.outputs
    off = plan(load_spec(stack_file("monitoring: {dashboard: false}\n")))
    assert workbooks(off) == []
    assert "dashboard_id" not in off.outputs
    assert [r.urn for r in off.resources] == [r.urn for r in dev_plan.resources]


@pytest.mark.parametrize("value", ["'yes'", "1", "null", "[true]"])
def test_dashboard_takes_only_true_or_false(stack_file, value):
    with pytest.raises(SpecError) as err:
        load_spec(stack_file(f"monitoring: {{dashboard: {value}}}\n"))
    assert "monitoring.dashboard" in str(err.value)


def test_unknown_monitoring_field_is_refused(stack_file):
    with pytest.raises(SpecError) as err:
        load_spec(stack_file("monitoring: {dashbaord: true}\n"))
    assert "monitoring.dashbaord" in str(err.value)


def test_one_workbook_over_every_account(stack_file):
    p = plan(load_spec(stack_file(WEST + "monitoring: {dashboard: true}\n")))
    [wb] = workbooks(p)
    ids = [arm.account_id(SUB, "rg-claude-dev", n) for n in ("contoso-claude-dev", "contoso-claude-dev-w")]
    name = wb.inputs["resourceName"]
    assert uuid.UUID(name).version == 5
    assert name == arm.workbook_name("dev", ids)
    assert wb.arm is not None
    assert wb.arm.id == arm.workbook_id(SUB, "rg-claude-dev", name)
    assert wb.arm.type == arm.WORKBOOK_TYPE
    assert wb.arm.api_version == "2023-06-01"
    body = wb.arm.body
    assert body["kind"] == "shared"
    assert body["location"] == "eastus2"
    props = body["properties"]
    assert props["category"] == "workbook"
    assert props["version"] == "Notebook/1.0"
    assert props["sourceId"] == arm.resource_group_id(SUB, "rg-claude-dev")
    content = json.loads(props["serializedData"])
    assert content["version"] == props["version"]
    views = [i for i in content["items"] if i["type"] == 10]
    assert {v["name"] for v in views} == {"requests", "tokens", "cache-tokens", "throttled", "failed",
                                         "availability", "latency"}
    for v in views:
        assert v["content"]["resourceIds"] == ids  # every account, the first first
        assert v["content"]["resourceType"] == "microsoft.cognitiveservices/accounts"
    split = {v["name"]: v["content"]["metrics"][0]["splitBy"] for v in views}
    assert split["failed"] == ["StatusCode"]
    assert all(s == ["ModelDeploymentName"] for k, s in split.items() if k != "failed")
    throttled = next(v for v in views if v["name"] == "throttled")["content"]["metrics"][0]
    assert throttled["filters"] == [{"key": "StatusCode", "operator": 0, "values": ["429"]}]
    used = {m["metric"] for v in views for m in v["content"]["metrics"]}
    assert metric_id("Models - Usage", "cacheReadInputTokens") in used
    assert {u.rsplit("-", 1)[-1] for u in used} == set(METRICS)
    cost = next(i for i in content["items"] if i["name"] == "cost")
    query = json.loads(cost["content"]["query"])
    assert query["method"] == "POST"
    assert query["path"] == arm.resource_group_id(SUB, "rg-claude-dev") + "/providers/Microsoft.CostManagement/query"
    assert p.outputs["dashboard_id"] == wb.arm.id
    assert "dashboard_id" not in p.secret_outputs


def test_the_name_is_stable_and_differs_between_stacks(stack_file):
    one = workbooks(plan(load_spec(stack_file("monitoring: {dashboard: true}\n"))))[0].inputs["resourceName"]
    again = workbooks(plan(load_spec(stack_file("monitoring: {dashboard: true}\n"))))[0].inputs["resourceName"]
    prod = workbooks(plan(load_spec(stack_file("monitoring: {dashboard: true}\n", "prod"))))[0]
    assert one == again != prod.inputs["resourceName"]
    assert arm.workbook_name("dev", ["/A/b"]) == arm.workbook_name("DEV", ["/a/B/"])


def test_component_used_alone_loops_over_its_accounts(run_program, make_spec):
    spec = make_spec("dev", "monitoring: {dashboard: true}\n")
    refs = [AccountRef(key=k, name=n, location="eastus2", id=f"/subscriptions/{SUB}/resourceGroups/rg/providers/"
                       f"Microsoft.CognitiveServices/accounts/{n}") for k, n in (("primary", "a1"), ("b", "a2"))]
    run = run_program(lambda: UsageDashboard("d", UsageDashboardArgs(
        spec=spec, resource_group_name="rg", resource_group_id=f"/subscriptions/{SUB}/resourceGroups/rg",
        accounts=refs)))
    [wb] = run.of_type(arm.WORKBOOK)
    content = json.loads(wb.inputs["serializedData"])
    assert content["items"][2]["content"]["resourceIds"] == [r.id for r in refs]
    with pytest.raises(ValueError, match=r"UsageDashboardArgs\.accounts must name at least one account"):
        UsageDashboardArgs(spec=spec, resource_group_name="rg", resource_group_id="/x", accounts=[])
    with pytest.raises(TypeError, match=r"UsageDashboardArgs\.resource_group_id must be a str"):
        UsageDashboardArgs(spec=spec, resource_group_name="rg", resource_group_id=None,  # type: ignore[arg-type]
                           accounts=refs)
