"""`usage` rehearsed end to end: a stack deployed to a fresh sandbox, smoke-tested (plain and streamed) through
the runtime with OpenTelemetry's in-memory reader and exporter, then read back through Azure Monitor's metrics
API and Cost Management's query as the sandbox answers them: the tokens per deployment equal what the responses
reported and what the runtime's metrics counted, a cost appears, and the chart is a real SVG / PNG."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from claude_foundry._azure import arm
from claude_foundry._azure.target import sandbox_target
from claude_foundry._client import _telemetry
from claude_foundry._client.runtime import FoundryRuntime
from claude_foundry._client.smoke import run_smoke
from claude_foundry._errors import OperationFailed
from claude_foundry._ops.usage import collect
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

ROOT = Path(__file__).resolve().parents[2]
STACK = str(ROOT / "stacks" / "dev.yaml")


@pytest.fixture(scope="module")
def otel() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    """SDK providers as the runtime sees them (OpenTelemetry sets its global providers once per process, so the
    module's lookups are pointed at these instead, as tests/unit/test_telemetry.py does)."""
    from opentelemetry import metrics, trace

    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    mp = MeterProvider(metric_readers=[reader])
    mp_ = pytest.MonkeyPatch()
    _telemetry._reset_for_tests()
    mp_.setattr(trace, "get_tracer_provider", lambda: tp)
    mp_.setattr(metrics, "get_meter_provider", lambda: mp)
    mp_.setattr(trace, "get_tracer", lambda *a, **k: tp.get_tracer(*a, **k))
    mp_.setattr(metrics, "get_meter", lambda *a, **k: mp.get_meter(*a, **k))
    mp_.setattr(_telemetry, "_DEFAULTS", [])
    yield spans, reader
    mp_.undo()
    _telemetry._reset_for_tests()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, otel: Any) -> Iterator[dict[str, Any]]:
    """A fresh sandbox (its traffic is this module's alone), stacks/dev.yaml deployed, smoke run plain and
    streamed, and a prompt-cached call, all through the runtime."""
    tmp = tmp_path_factory.mktemp("usage")
    spans, reader = otel
    with Sandbox(SandboxConfig(state_dir=str(tmp / "sbx"))) as sb:
        conn = sb.write_connection_file(tmp / "conn.json")
        spec = load_spec(STACK)
        with sandbox_target(conn) as target:
            deploy = up_local(spec, target, state_dir=tmp / "st")
            assert deploy.result.ok
            with FoundryRuntime.from_key_vault(deploy.vault_url, prefix=deploy.secret_prefix,
                                               credential=target.credential, ca_bundle=target.ca_bundle,
                                               use_cache=False) as runtime:
                assert run_smoke(runtime).passed
                assert run_smoke(runtime, stream=True).passed
                system = [{"type": "text", "text": "policy " * 1200, "cache_control": {"type": "ephemeral"}}]
                # a client from runtime.client() is the caller's to close (its HTTP connections with it)
                with runtime.client("my-claude-deployment") as client:
                    for _ in range(2):  # a cache write, then a cache read
                        client.messages.create(model="my-claude-deployment", max_tokens=16, system=system,
                                               messages=[{"role": "user", "content": "hello"}])
            yield {"sandbox": sb, "conn": conn, "spec": spec, "target": target, "deploy": deploy,
                   "spans": spans.get_finished_spans(),
                   "metrics": reader.get_metrics_data(), "tmp": tmp}


def _from_spans(spans: Any) -> dict[str, dict[str, int]]:
    """deployment -> what the responses reported (the span's gen_ai.usage.* attributes)."""
    out: dict[str, dict[str, int]] = {}
    for s in spans:
        a = s.attributes or {}
        if "gen_ai.usage.output_tokens" not in a:
            continue
        t = out.setdefault(str(a["claude_foundry.deployment"]), {"input": 0, "output": 0, "cache_read": 0,
                                                                  "cache_write": 0})
        t["input"] += int(a["gen_ai.usage.input_tokens"])  # includes cache reads and writes (the conventions)
        t["output"] += int(a["gen_ai.usage.output_tokens"])
        t["cache_read"] += int(a.get("gen_ai.usage.cache_read.input_tokens", 0))
        t["cache_write"] += int(a.get("gen_ai.usage.cache_creation.input_tokens", 0))
    return out


def _from_metrics(data: Any) -> dict[str, dict[str, int]]:
    """deployment -> gen_ai.client.token.usage sums by token type (the runtime's OpenTelemetry metrics)."""
    out: dict[str, dict[str, int]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name != "gen_ai.client.token.usage":
                    continue
                for p in metric.data.data_points:
                    dep = str(p.attributes["gen_ai.request.model"])
                    kind = str(p.attributes["gen_ai.token.type"])
                    out.setdefault(dep, {"input": 0, "output": 0})[kind] += int(p.sum)
    return out


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def test_usage_equals_the_responses_and_the_runtime_metrics(served: dict[str, Any]) -> None:
    report = collect(stack_view(served["spec"], served["target"]), _today(), _today() + dt.timedelta(days=1))
    reported = _from_spans(served["spans"])
    counted = _from_metrics(served["metrics"])
    assert set(reported) == {"my-claude-deployment", "fast"}
    totals = {dep: t for (_, dep), t in report.totals_by_deployment().items()}
    assert set(totals) == set(reported)
    for dep, t in totals.items():
        azure_input = t["input_tokens"] + t["cache_read_tokens"] + t["cache_write_tokens"]
        assert azure_input == reported[dep]["input"] == counted[dep]["input"], dep
        assert t["output_tokens"] == reported[dep]["output"] == counted[dep]["output"], dep
        assert t["cache_read_tokens"] == reported[dep]["cache_read"]
        assert t["cache_write_tokens"] == reported[dep]["cache_write"]
        assert t["requests"] >= 2
        assert t["throttled"] == 0
        assert t["failed"] == 0
    assert totals["my-claude-deployment"]["cache_read_tokens"] > 0  # the cached prompt was read back
    assert totals["my-claude-deployment"]["cache_write_tokens"] > 0
    assert all(r.latency_ms is not None and r.latency_ms >= 0 for r in report.rows)
    assert report.currency == "USD"
    assert all(r.cost is not None and r.cost > 0 for r in report.rows)
    assert report.cost_unattributed == 0
    assert report.total_cost > 0


def test_throttled_and_failed_requests_are_counted(served: dict[str, Any]) -> None:
    sb, target = served["sandbox"], served["target"]
    account = served["spec"].foundry.name
    before = collect(stack_view(served["spec"], target), _today(), _today() + dt.timedelta(days=1), with_cost=False)
    deploy = served["deploy"]
    with FoundryRuntime.from_key_vault(deploy.vault_url, prefix=deploy.secret_prefix, credential=target.credential,
                                       ca_bundle=target.ca_bundle, use_cache=False) as runtime, \
            runtime.client("fast", max_retries=0) as client:  # the client is the caller's to close
        for status, count in ((429, 2), (503, 1)):
            sb.set_fault(account, "fast", _fault(status, count))
            for _ in range(count):
                with pytest.raises(anthropic.APIStatusError):
                    client.messages.create(model="fast", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    after = collect(stack_view(served["spec"], target), _today(), _today() + dt.timedelta(days=1), with_cost=False)
    b = {d: t for (_, d), t in before.totals_by_deployment().items()}["fast"]
    a = {d: t for (_, d), t in after.totals_by_deployment().items()}["fast"]
    assert (a["throttled"] - b["throttled"], a["failed"] - b["failed"], a["requests"] - b["requests"]) == (2, 1, 3)


def _fault(status: int, count: int) -> Any:
    from claude_foundry_sandbox.faults import FaultSpec

    return FaultSpec(status=status, count=count)


def test_the_metrics_api_answers_in_azure_shapes(served: dict[str, Any]) -> None:
    from claude_foundry._azure.caller import ArmCaller

    target = served["target"]
    account_id = arm.account_id(target.subscription_id, served["spec"].resource_group, served["spec"].foundry.name)
    path = f"{account_id}/providers/Microsoft.Insights/metrics"
    day = _today().isoformat()
    span = f"{day}T00:00:00Z/{(_today() + dt.timedelta(days=1)).isoformat()}T00:00:00Z"
    with ArmCaller(target) as caller:
        status, body = caller.call("GET", f"{path}?timespan={span}&interval=P1D&metricnames=InputTokens"
                                   "&aggregation=Total&$filter=ModelDeploymentName eq '*'", arm.METRICS_API_VERSION)
        assert status == 200, body
        assert body["interval"] == "P1D"
        assert body["namespace"] == "microsoft.cognitiveservices/accounts"
        metric = body["value"][0]
        assert metric["name"]["value"] == "InputTokens"
        assert metric["unit"] == "Count"
        names = {ts["metadatavalues"][0]["value"] for ts in metric["timeseries"]}
        assert names == {"my-claude-deployment", "fast"}
        assert all(ts["data"][0]["timeStamp"] == f"{day}T00:00:00Z" and ts["data"][0]["total"] > 0
                   for ts in metric["timeseries"])
        for query, word in (("metricnames=NoSuchMetric", "NoSuchMetric"), ("metricnames=InputTokens&interval=PT1M",
                                                                          "interval"),
                            ("metricnames=InputTokens&interval=P1D&$filter=Nope eq '*'", "Nope"),
                            ("metricnames=InputTokens&interval=P1D&timespan=yesterday", "timespan")):
            status, body = caller.call("GET", f"{path}?{query}", arm.METRICS_API_VERSION)
            assert status == 400
            assert body["error"]["code"] == "BadRequest"
            assert word in body["error"]["message"]


def test_cost_pages_are_followed_through_next_link(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """One row per page: the cost the SDK's nextLink pages add up to is the cost of one page holding them all."""
    from claude_foundry_sandbox.providers import costmanagement

    conn = json.loads(Path(served["conn"]).read_text())
    window = (_today(), _today() + dt.timedelta(days=1))
    with sandbox_target(conn) as target:
        whole = collect(stack_view(served["spec"], target), *window)
    monkeypatch.setattr(costmanagement, "PAGE_SIZE", 1)
    with sandbox_target(conn) as target:
        paged = collect(stack_view(served["spec"], target), *window)
    assert len([r for r in whole.rows if r.cost]) >= 2  # more than one page's worth
    assert paged.total_cost == pytest.approx(whole.total_cost)
    assert {(r.deployment, r.day): r.cost for r in paged.rows} == {(r.deployment, r.day): r.cost for r in whole.rows}


def test_a_reader_without_monitoring_reader_gets_403_naming_the_role(served: dict[str, Any]) -> None:
    """No role: the metrics answer 403 and the error names Monitoring Reader. Cost Management Reader alone reads
    the cost but not the metrics (its actions are Microsoft.Consumption/CostManagement reads): still 403 naming
    Monitoring Reader. Monitoring Reader's ``*/read`` covers ``Microsoft.CostManagement/*/read`` too, as Reader's
    does (Microsoft Learn, "Assign access to Cost Management data": Reader can view cost data), so with it the
    report has metrics and cost."""
    sb = served["sandbox"]
    conn = json.loads(Path(served["conn"]).read_text())
    rg = arm.resource_group_id(conn["subscription_id"], served["spec"].resource_group)

    def signed_in_as(principal: dict[str, str]) -> dict[str, Any]:
        return {**conn, "client_id": principal["client_id"], "client_secret": principal["client_secret"]}

    stranger = sb.add_principal()
    with sandbox_target(signed_in_as(stranger)) as target, pytest.raises(OperationFailed) as err:
        collect(stack_view(served["spec"], target), _today(), _today() + dt.timedelta(days=1))
    assert "403" in str(err.value)
    assert arm.MONITORING_READER_ROLE_NAME in str(err.value)
    accountant = sb.add_principal()
    sb.state.add_role_assignment(rg, accountant["object_id"], "cost-management-reader")
    with sandbox_target(signed_in_as(accountant)) as target, pytest.raises(OperationFailed) as err:
        collect(stack_view(served["spec"], target), _today(), _today() + dt.timedelta(days=1))
    assert "403" in str(err.value)
    assert arm.MONITORING_READER_ROLE_NAME in str(err.value)
    sb.state.add_role_assignment(rg, stranger["object_id"], "monitoring-reader")
    with sandbox_target(signed_in_as(stranger)) as target:
        report = collect(stack_view(served["spec"], target), _today(), _today() + dt.timedelta(days=1))
    assert report.total_cost > 0
    assert sum(r.requests for r in report.rows) > 0


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<svg"), (".png", b"\x89PNG\r\n\x1a\n")])
def test_cli_usage_after_up_and_smoke(served: dict[str, Any], capsys: pytest.CaptureFixture[str], suffix: str,
                                      magic: bytes) -> None:
    """The demo-like flow from the command line: (up --local and smoke ran) then `usage --sandbox`."""
    chart = served["tmp"] / f"chart{suffix}"
    assert main(["usage", STACK, "--sandbox", str(served["conn"]), "--since", "1d", "--format", "json",
                 "--chart", str(chart)]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # the chart's note goes to stderr: stdout stays JSON
    assert f"chart: {chart}" in err
    assert {r["deployment"] for r in data["rows"]} == {"my-claude-deployment", "fast"}
    assert data["total_cost"] > 0
    assert data["currency"] == "USD"
    head = chart.read_bytes()[:4096]
    assert magic in head
    for fmt, needle in (("csv", "account,deployment,day,requests"), ("markdown", "| account | deployment |"),
                        ("table", "usage of dev")):
        assert main(["usage", STACK, "--sandbox", str(served["conn"]), "--format", fmt]) == 0
        assert needle in capsys.readouterr().out
    assert main(["usage", STACK, "--sandbox", str(served["conn"]), "--since", "nonsense"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["usage", STACK, "--sandbox", str(served["conn"]), "--chart", "x.gif"]) == 2


def _demo_tokens(report_json: Path) -> dict[str, dict[str, int]]:
    """deployment -> the tokens the demo's smoke report recorded (its answers' usage)."""
    data = json.loads(report_json.read_text(encoding="utf-8"))
    assert data["passed"] is True
    return {d["name"]: {"input_tokens": d["input_tokens"], "output_tokens": d["output_tokens"]}
            for d in data["deployments"]}


def test_demo_then_usage_local_reports_the_smokes_tokens_and_a_cost(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's done-when, from the command line: `demo` keeps its sandbox, its last line is the exact next
    command, and that `usage ... --local` reports per deployment the tokens the demo's smoke recorded, a cost and
    a chart. A second demo changes nothing deployed and passes; usage then counts both smokes."""
    import shlex

    state = tmp_path / "demo state"  # a space: the printed command quotes it
    runs = []
    for i in range(2):
        report = tmp_path / f"smoke{i}.json"
        assert main(["demo", STACK, "--stream", "--state-dir", str(state), "--report-json", str(report)]) == 0
        out = capsys.readouterr().out
        runs.append(_demo_tokens(report))
        last = out.strip().splitlines()[-1]
        assert last.startswith("next ")
        argv = shlex.split(last.removeprefix("next").strip())
        assert argv == ["claude-foundry", "usage", STACK, "--local", "--state-dir", str(state)]
        if i == 1:
            assert "~ updated" not in out  # deploying twice changes nothing
            assert "+ created" not in out
            assert "= unchanged" in out
        chart = tmp_path / f"chart{i}.png"
        assert main([*argv[1:], "--since", "1d", "--format", "json", "--chart", str(chart)]) == 0
        got = capsys.readouterr()
        data = json.loads(got.out)  # stdout is the report alone: the sandbox's notes go to stderr
        assert "embedded sandbox at" in got.err
        totals: dict[str, dict[str, int]] = {}
        for r in data["rows"]:
            t = totals.setdefault(r["deployment"], {"input_tokens": 0, "output_tokens": 0})
            t["input_tokens"] += r["input_tokens"] + r["cache_read_tokens"] + r["cache_write_tokens"]
            t["output_tokens"] += r["output_tokens"]
        expected = {dep: {k: sum(run[dep][k] for run in runs) for k in ("input_tokens", "output_tokens")}
                    for dep in runs[0]}
        assert totals == expected
        assert all(t["input_tokens"] > 0 and t["output_tokens"] > 0 for t in totals.values())
        assert data["currency"] == "USD"
        assert data["total_cost"] > 0
        assert all(r["cost"] > 0 for r in data["rows"] if r["requests"])
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_usage_local_without_a_rehearsal_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["usage", STACK, "--local", "--state-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert "no local rehearsal there" in err
    assert "demo" in err
    assert not (tmp_path / "nothing").exists()  # nothing started, nothing written
    damaged = tmp_path / "damaged"
    (damaged / "sandbox").mkdir(parents=True)
    (damaged / "sandbox" / "state.json").write_text("{not json", encoding="utf-8")
    for argv in (["usage", STACK, "--local"], ["demo", STACK]):
        assert main([*argv, "--state-dir", str(damaged)]) == 2
        captured = capsys.readouterr()
        assert f"cannot start from {damaged}" in captured.err
        assert "remove that directory" in captured.err
    from claude_foundry import cli

    with pytest.MonkeyPatch.context() as mp:  # as if the sandbox extra were missing: named before anything starts
        mp.setattr(cli, "missing_modules", lambda extras: ["starlette"] if "sandbox" in extras else [])
        assert main(["usage", STACK, "--local", "--state-dir", str(tmp_path / "nothing")]) == 2
        assert "pip install 'claude-foundry[ops,sandbox]'" in capsys.readouterr().err
    assert main(["usage", STACK, "--local", "--sandbox", "conn.json"]) == 2
    assert "exclusive" in capsys.readouterr().err
    assert main(["usage", STACK, "--sandbox", "conn.json", "--state-dir", str(tmp_path)]) == 2
    assert "--state-dir goes with --local" in capsys.readouterr().err


def test_a_budget_shows_the_share_spent_and_the_forecast(tmp_path: Path, connection: dict[str, Any],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A stack with `budget:` (a Forecasted notification by default), smoke-tested: the budget's currentSpend is
    the month's cost of its resource group's traffic (what Cost Management's query sums), its forecastSpend a
    projection of the month, and `usage` shows the share spent and the forecast."""
    from seeding import base_stack

    path = base_stack(tmp_path, "cf-usage-budget-", extra="budget:\n  amount: 2\n  emails: [finops@contoso.com]\n")
    spec = load_spec(path)
    assert spec.budget is not None
    assert spec.budget.forecast_thresholds  # the default: a forecast alert
    with sandbox_target(connection) as target:
        view = stack_view(spec, target)
        assert view.budget is not None
        deploy = up_local(spec, target, state_dir=tmp_path / "st")
        assert deploy.result.ok
        before = collect(view, _today().replace(day=1), _today() + dt.timedelta(days=1))
        assert before.budget is not None
        assert before.budget.current_spend == 0
        with FoundryRuntime.from_key_vault(deploy.vault_url, prefix=deploy.secret_prefix,
                                           credential=target.credential, ca_bundle=target.ca_bundle,
                                           use_cache=False) as runtime:
            assert run_smoke(runtime).passed
        report = collect(view, _today().replace(day=1), _today() + dt.timedelta(days=1))
    b = report.budget
    assert b is not None
    assert b.name == view.budget.name
    assert b.amount == 2
    assert b.currency == "USD"
    assert b.current_spend > 0
    assert b.current_spend == pytest.approx(report.total_cost, rel=1e-4)  # this month's traffic is all today's
    assert b.share_spent == pytest.approx(b.current_spend / 2)
    assert b.forecast_spend is not None
    assert b.forecast_spend >= b.current_spend
    month_days = (_today().replace(day=28) + dt.timedelta(days=4)).replace(day=1) - _today().replace(day=1)
    assert b.forecast_spend == pytest.approx(b.current_spend / _today().day * month_days.days, rel=1e-4)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["usage", str(path), "--sandbox", str(conn), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["budget"]["share_spent"] > 0
    assert data["budget"]["forecast_spend"] >= data["budget"]["current_spend"] > 0
    assert main(["usage", str(path), "--sandbox", str(conn)]) == 0
    out = capsys.readouterr().out
    assert f"budget {b.name}: " in out
    assert "spent this month" in out
    assert ", forecast " in out


def test_demo_without_the_ops_extra_says_what_usage_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An install with [infra,sandbox] runs `demo`; `usage --local` needs [ops,sandbox]: the demo says so before the
    next command (as if the ops extra's modules were missing)."""
    from claude_foundry import cli

    real = cli.missing_modules
    monkeypatch.setattr(cli, "missing_modules", lambda extras: ["matplotlib"] if "ops" in extras else real(extras))
    assert main(["demo", STACK, "--state-dir", str(tmp_path / "st")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2] == "usage needs  pip install 'claude-foundry[ops,sandbox]'"
    assert lines[-1].startswith("next         claude-foundry usage ")
    assert main(["usage", STACK, "--local", "--state-dir", str(tmp_path / "st")]) == 2
    assert "needs claude-foundry[ops]" in capsys.readouterr().err  # the command's own check comes first
