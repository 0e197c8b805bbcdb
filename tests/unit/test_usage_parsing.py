"""ops.usage reading Azure's answers: well-formed metric and cost answers are read as the specs' examples shape
them; malformed ones (wrong types, missing lists, errors per metric, non-finite numbers, too many pages) end in a
clear OperationFailed naming the source, never a traceback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from claude_foundry._errors import InvalidArgument, OperationFailed
from claude_foundry._ops import usage

SRC = "Azure Monitor metrics of account x"


def _metric(name: str, series: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": {"value": name, "localizedValue": name}, "unit": "Count", "timeseries": series,
            "errorCode": "Success", **extra}


def _series(deployment: str, status: str | None, total: float, stamp: str = "2026-12-01T00:00:00Z") -> dict[str, Any]:
    md = [{"name": {"value": "modeldeploymentname"}, "value": deployment}]
    if status is not None:
        md.append({"name": {"value": "statuscode"}, "value": status})
    return {"metadatavalues": md, "data": [{"timeStamp": stamp, "total": total}]}


def test_requests_split_by_status_into_throttled_and_failed() -> None:
    body = {"value": [_metric("ModelRequests", [_series("a", "200", 5), _series("a", "429", 2),
                                                  _series("a", "503", 1), _series("a", "400", 1)])]}
    out = usage.parse_metrics(body, SRC)
    assert out[("a", "2026-12-01")] == {"requests": 9, "throttled": 2, "failed": 2}


def test_token_metrics_add_up_and_cache_writes_sum_both_ttls() -> None:
    body = {"value": [_metric("InputTokens", [_series("a", None, 10)]),
                      _metric("ephemeral5mInputTokens", [_series("a", None, 3)]),
                      _metric("ephemeral1hInputTokens", [_series("a", None, 4)])]}
    assert usage.parse_metrics(body, SRC)[("a", "2026-12-01")] == {"input_tokens": 10, "cache_write_tokens": 7}


@pytest.mark.parametrize(("body", "words"), [
    ([], "no 'value' list"),
    ({"value": "x"}, "no 'value' list"),
    ({"value": [{"name": "InputTokens"}]}, "no name.value"),
    ({"value": [_metric("InputTokens", "nope")]}, "no 'timeseries' list"),  # type: ignore[arg-type]  # malformed
    ({"value": [_metric("InputTokens", [], errorCode="InvalidSamplingType", errorMessage="bad")]},
     "InvalidSamplingType"),
    ({"value": [_metric("InputTokens", [{"metadatavalues": [], "data": []}])]}, "not split by"),
    ({"value": [_metric("InputTokens", [_series("a", None, float("nan"))])]}, "not a finite number"),
    ({"value": [_metric("InputTokens", [_series("a", None, -1)])]}, "negative"),
    ({"value": [_metric("InputTokens", [_series("a", None, 1, stamp="yesterday")])]}, "not a date-time"),
    ({"value": [_metric("InputTokens", [{"metadatavalues": [{"name": 3, "value": "a"}], "data": []}])]},
     "metadata value"),
])
def test_malformed_metric_answers_fail_clearly(body: Any, words: str) -> None:
    with pytest.raises(OperationFailed, match=words) as err:
        usage.parse_metrics(body, SRC)
    assert SRC in str(err.value)


def _cost(rows: list[list[Any]], next_link: Any = None) -> dict[str, Any]:
    cols = [{"name": n, "type": t} for n, t in (("Cost", "Number"), ("ResourceId", "String"), ("Meter", "String"),
                                                 ("UsageDate", "Number"), ("Currency", "String"))]
    return {"properties": {"nextLink": next_link, "columns": cols, "rows": rows}}


def test_cost_rows_read_with_their_day_and_currency() -> None:
    lines, nxt = usage.parse_cost(_cost([[1.5, "/SUBS/X/ACCT", "m Input Tokens", 20261201, "USD"]]), "cost")
    assert nxt is None
    assert lines == [usage.CostLine("/subs/x/acct", "m Input Tokens", "2026-12-01", 1.5, "USD")]


@pytest.mark.parametrize(("body", "words"), [
    ({}, "no 'properties'"),
    ({"properties": {"columns": [], "rows": "x"}}, "no 'columns' and 'rows'"),
    ({"properties": {"columns": [{"name": "Cost"}], "rows": []}}, "lack a cost, UsageDate or ResourceId"),
    (_cost([[1.0, "r", "m", 20261201]]), "one value per column"),
    (_cost([["one", "r", "m", 20261201, "USD"]]), "not a finite number"),
    (_cost([[1.0, "r", "m", 2026, "USD"]]), "not a date"),
    (_cost([], next_link=5), "nextLink"),
])
def test_malformed_cost_answers_fail_clearly(body: Any, words: str) -> None:
    with pytest.raises(OperationFailed, match=words):
        usage.parse_cost(body, "cost")


def test_cost_paging_is_bounded() -> None:
    page = _cost([], next_link="https://127.0.0.1/next")
    src = usage.Sources(metrics=lambda *a: {}, cost=lambda scope, body: page, cost_next=lambda link, body: page,
                        budget=lambda i: {})
    with pytest.raises(OperationFailed, match="more than 20 pages"):
        usage._cost_lines(src, "/subscriptions/s/resourceGroups/rg", dt.date(2026, 12, 1), dt.date(2026, 12, 2))


def test_budget_share_and_forecast() -> None:
    b = usage.parse_budget({"properties": {"amount": 200, "currentSpend": {"amount": 50, "unit": "USD"},
                                           "forecastSpend": {"amount": 180, "unit": "USD"}}}, "budget", "b")
    assert (b.share_spent, b.forecast_spend, b.currency) == (0.25, 180.0, "USD")
    with pytest.raises(OperationFailed, match="currentSpend"):
        usage.parse_budget({"properties": {"amount": 1, "currentSpend": {"amount": "lots"}}}, "budget", "b")


def test_since_and_until_arguments() -> None:
    today = dt.date(2026, 12, 7)
    assert usage.parse_day("7d", "since", today) == dt.date(2026, 12, 1)
    assert usage.parse_day("2026-11-02", "since", today) == dt.date(2026, 11, 2)
    for bad in ("0d", "1000d", "last week"):
        with pytest.raises(InvalidArgument) as err:
            usage.parse_day(bad, "since", today)
        assert err.value.problems[0].parameter == "since"
    with pytest.raises(InvalidArgument):
        usage.check_period(dt.date(2026, 12, 2), dt.date(2026, 12, 1))


def _row(account: str, deployment: str, day: str, **counts: Any) -> usage.UsageRow:
    return usage.UsageRow(account=account, account_name=f"contoso-claude-{account}", deployment=deployment, day=day,
                          **counts)


@pytest.mark.parametrize("several", [False, True])
def test_the_table_shows_the_days_with_traffic_and_the_account_only_when_there_are_several(
        several: bool, capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry.cli import _usage

    second = "west" if several else "primary"
    rows = (_row("primary", "opus", "2026-12-06"),  # quiet: Azure answers zeros for it
            _row("primary", "opus", "2026-12-07", requests=3, input_tokens=30, output_tokens=12, cost=0.01,
                 currency="USD"),
            _row(second, "haiku", "2026-12-07", throttled=2),  # no tokens, but throttled: shown
            _row(second, "haiku", "2026-12-06"))
    _usage.render(usage.UsageReport(stack="prod", since="2026-12-06", until="2026-12-08", rows=rows, currency="USD"))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("│")]  # the table's rows
    assert len(lines) == 2, out
    assert all("2026-12-07" in line for line in lines), out
    assert "2 deployment-day(s) without traffic not shown" in out
    markdown = usage.UsageReport(stack="prod", since="2026-12-06", until="2026-12-08", rows=rows).to_markdown()
    assert markdown.count("| 2026-12-07 |") == 2
    assert "2026-12-06 |" not in markdown
    assert "2 deployment-day(s) without traffic or cost not shown." in markdown
    assert ("┃ account" in out) is several  # the column (its names may be cut to fit the width)
    assert ("usage of prod (contoso-claude-primary)" in out) is not several


def test_a_window_without_traffic_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry.cli import _usage

    _usage.render(usage.UsageReport(stack="dev", since="2026-12-06", until="2026-12-08",
                                    rows=(_row("primary", "opus", "2026-12-06"),)))
    assert "no traffic and no cost on any deployment of dev" in capsys.readouterr().out


@pytest.mark.parametrize(("status", "named"), [(403, True), (500, False)])
def test_a_refused_cost_query_names_the_role_it_needs(status: int, named: bool) -> None:
    """An ARM 403 on the cost query names Cost Management Reader (and its id); any other failure does not."""
    from azure.core.exceptions import HttpResponseError

    from claude_foundry._azure import arm

    def refuse(scope: str, body: dict[str, Any]) -> Any:
        err = HttpResponseError(message="(AuthorizationFailed) The client does not have authorization")
        err.status_code = status
        raise err

    src = usage.Sources(metrics=lambda *a: {}, cost=refuse, cost_next=lambda link, body: {}, budget=lambda i: {})
    with pytest.raises(OperationFailed) as err:
        usage._cost_lines(src, "/subscriptions/s/resourceGroups/rg", dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    text = str(err.value)
    assert text.startswith("Cost Management for /subscriptions/s/resourceGroups/rg: ")
    assert (arm.COST_MANAGEMENT_READER_ROLE_NAME in text) is named
    assert (arm.COST_MANAGEMENT_READER_ROLE_ID in text) is named
