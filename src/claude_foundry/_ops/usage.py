"""Usage and cost of a stack: per account, deployment and UTC day, from Azure Monitor's metrics of each account
and Cost Management's actual cost of the stack's resource group, joined (``claude-foundry usage``).

Sources (cited in ``azure.arm`` where the names live):

* **Metrics** — ``Metrics_List`` (``GET {account id}/providers/Microsoft.Insights/metrics``, shapes of
  api-version 2023-10-01) through ``azure-mgmt-monitor``'s ``MonitorManagementClient.metrics.list``: ``interval=P1D``,
  ``aggregation=Total`` (``Average`` for the latency), ``$filter`` splitting by ``ModelDeploymentName`` (and
  ``StatusCode`` for ``ModelRequests``), ``top`` raised from its default of 10 series. Throttled = the requests
  whose ``StatusCode`` is ``429``; failed = every other status >= 400. That ``StatusCode`` holds the HTTP status
  as a number (``200``, ``429``) is what practitioners filter on (``StatusCode eq '429'``); Microsoft's metric
  table does not list the values, so a value that is not a number is counted as failed unless it reads as a
  success. **Unverified against a live account.**
* **Cost** — ``Query_Usage`` (``POST {resource group id}/providers/Microsoft.CostManagement/query``, api-version
  2023-11-01, example ``ResourceGroupQueryGrouping.json``: ``properties.columns`` + ``rows``, ``nextLink``) through
  ``azure-mgmt-costmanagement``'s ``CostManagementClient.query.usage``: ``type=ActualCost``, ``timeframe=Custom``,
  ``granularity=Daily``, grouped by ``ResourceId`` and ``Meter``. A row is joined to a deployment when its
  resource id is the deployment's, or the account's and its meter names the model of exactly one of that
  account's deployments; everything else is ``cost_unattributed``. How Claude's Marketplace charges (Claude
  Consumption Units) name their meter and resource is **not published**: on real Azure expect most of the cost
  to be unattributed but counted.
* **Budget** — with ``budget:`` in the stack, the Consumption budget itself (``Microsoft.Consumption/budgets``
  2024-08-01: ``properties.amount``, ``currentSpend``, ``forecastSpend``, which the Budgets spec documents as
  read-only properties of the budget) gives the month's share spent and its forecast.

Roles: Monitoring Reader on the accounts (metrics) and Cost Management Reader on the resource group (cost and
budget); a 403 says which is missing. Bounded: the SDK clients carry the target's timeouts and retries; at most
:data:`MAX_COST_PAGES` pages of cost, :data:`MAX_ROWS` rows, :data:`MAX_DAYS` days; a malformed answer is an
``OperationFailed`` naming the source.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from claude_foundry._azure import arm
from claude_foundry._errors import ArgumentProblem, InvalidArgument, OperationFailed

#: Days a report may span (Azure Monitor keeps platform metrics 93 days).
MAX_DAYS = 93
#: Pages of a Cost Management answer followed (``nextLink``) before giving up.
MAX_COST_PAGES = 20
#: Rows (metric data points or cost rows) read in all before giving up.
MAX_ROWS = 200_000
#: Time series asked of each metric (``top``; Azure's default is 10).
METRIC_TOP = 1000
FORMATS = ("table", "json", "csv", "markdown")

_TOKEN_METRICS = {
    arm.METRIC_INPUT_TOKENS: "input_tokens",
    arm.METRIC_OUTPUT_TOKENS: "output_tokens",
    arm.METRIC_CACHE_READ_TOKENS: "cache_read_tokens",
    arm.METRIC_CACHE_WRITE_5M_TOKENS: "cache_write_tokens",
    arm.METRIC_CACHE_WRITE_1H_TOKENS: "cache_write_tokens",
}
ROLE_ADVICE = {
    "metrics": f"reading metrics needs {arm.MONITORING_READER_ROLE_NAME} (role id {arm.MONITORING_READER_ROLE_ID}) "
               "on the accounts (or their resource group)",
    "cost": f"reading cost needs {arm.COST_MANAGEMENT_READER_ROLE_NAME} (role id "
            f"{arm.COST_MANAGEMENT_READER_ROLE_ID}) on the resource group or the subscription",
}


@dataclass(frozen=True)
class UsageRow:
    """One deployment of one account on one UTC day."""

    account: str  # the stack's key for the account (``primary`` for ``foundry:``)
    account_name: str
    deployment: str
    day: str  # YYYY-MM-DD (UTC)
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    throttled: int = 0
    failed: int = 0
    latency_ms: float | None = None  # average time to last byte
    cost: float | None = None
    currency: str | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def quiet(self) -> bool:
        """Nothing to show: no request, token or cost (Azure's metrics answer zeros for such a day)."""
        return not (self.requests or self.tokens or self.throttled or self.failed or self.cost)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BudgetStatus:
    name: str
    amount: float
    current_spend: float
    forecast_spend: float | None
    currency: str | None

    @property
    def share_spent(self) -> float:
        return self.current_spend / self.amount if self.amount else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "share_spent": self.share_spent}


@dataclass(frozen=True)
class UsageReport:
    stack: str
    since: str
    until: str  # exclusive
    rows: tuple[UsageRow, ...]
    cost_unattributed: float = 0.0
    currency: str | None = None
    budget: BudgetStatus | None = None
    sources: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def total_cost(self) -> float:
        return sum(r.cost or 0.0 for r in self.rows) + self.cost_unattributed

    def totals_by_deployment(self) -> dict[tuple[str, str], dict[str, int]]:
        """(account key, deployment) -> summed token and request counts over the days."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        for r in self.rows:
            t = out.setdefault((r.account, r.deployment), dict.fromkeys(
                ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                 "throttled", "failed"), 0))
            for k in t:
                t[k] += getattr(r, k)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "since": self.since, "until": self.until,
                "rows": [r.to_json() for r in self.rows], "cost_unattributed": self.cost_unattributed,
                "total_cost": self.total_cost, "currency": self.currency,
                "budget": self.budget.to_json() if self.budget else None, "sources": list(self.sources),
                "warnings": list(self.warnings)}

    def summary(self) -> str:
        tokens = sum(r.tokens for r in self.rows)
        requests = sum(r.requests for r in self.rows)
        deployments = len({(r.account, r.deployment) for r in self.rows})
        text = (f"{self.stack}: {requests} requests, {tokens} tokens over {deployments} deployment(s) from "
                f"{self.since} to {self.until} (exclusive)")
        if self.currency:
            text += f"; cost {self.total_cost:.4f} {self.currency}"
            if self.cost_unattributed:
                text += f" ({self.cost_unattributed:.4f} not attributed to a deployment)"
        if self.budget:
            b = self.budget
            unit = f" {b.currency}" if b.currency else ""
            text += (f"; budget {b.name}: {b.share_spent:.2%} of {b.amount:g}{unit} spent this month "
                     f"({b.current_spend:.4f}{unit})")
            if b.forecast_spend is not None:
                text += f", forecast {b.forecast_spend:.4f}{unit} ({b.forecast_spend / b.amount:.2%})" \
                    if b.amount else f", forecast {b.forecast_spend:.4f}{unit}"
        return text

    # --- renderings (plain text: the CLI prints them) -------------------------------------------------

    COLUMNS = ("account", "deployment", "day", "requests", "input_tokens", "output_tokens", "cache_read_tokens",
               "cache_write_tokens", "throttled", "failed", "latency_ms", "cost", "currency")

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.COLUMNS)
        for r in self.rows:
            w.writerow(["" if getattr(r, c) is None else getattr(r, c) for c in self.COLUMNS])
        return buf.getvalue()

    def to_markdown(self) -> str:
        def cell(v: Any) -> str:
            if v is None:
                return ""
            if isinstance(v, float):
                return f"{v:.4f}" if v < 100 else f"{v:.1f}"
            return str(v).replace("|", "\\|")

        lines = [f"**{self.summary()}**", "", "| " + " | ".join(self.COLUMNS) + " |",
                 "|" + "---|" * len(self.COLUMNS)]
        shown = [r for r in self.rows if not r.quiet]  # for people; csv and json list every day
        lines += ["| " + " | ".join(cell(getattr(r, c)) for c in self.COLUMNS) + " |" for r in shown]
        if len(shown) < len(self.rows):
            lines += ["", f"{len(self.rows) - len(shown)} deployment-day(s) without traffic or cost not shown."]
        for w in self.warnings:
            lines += ["", f"> {w}"]
        return "\n".join(lines) + "\n"


# --- arguments --------------------------------------------------------------------------------------------


def parse_day(text: str, parameter: str, today: dt.date) -> dt.date:
    """``7d`` (seven days back from today, UTC) or ``YYYY-MM-DD``."""
    m = re.fullmatch(r"\s*(\d{1,3})d\s*", text)
    if m:
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise InvalidArgument(ArgumentProblem(parameter, f" must be 1d to {MAX_DAYS}d, not {text!r}"))
        return today - dt.timedelta(days=days - 1)
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(ArgumentProblem(parameter, f" must be Nd (days back) or YYYY-MM-DD, not {text!r}")) \
            from None


def check_period(since: dt.date, until: dt.date) -> None:
    if until <= since:
        raise InvalidArgument(ArgumentProblem("until", f" ({until}) must be after since ({since})"))
    if (until - since).days > MAX_DAYS:
        raise InvalidArgument(ArgumentProblem("since", f" is more than {MAX_DAYS} days before until (Azure Monitor "
                                                       "keeps platform metrics 93 days)"))


# --- parsing what Azure answered (dicts: the JSON bodies) -----------------------------------------------


def _bad(source: str, what: str) -> OperationFailed:
    return OperationFailed(f"{source} answered something claude-foundry cannot read: {what}")


def _number(value: Any, source: str, where: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(source, f"{where} is {value!r}, not a finite number")
    return float(value)


#: The measures of a row (every field but where and when): what one account, deployment and day accumulate.
_KEYS = ("account", "account_name", "deployment", "day")


def _measures() -> dict[str, Any]:
    return {f.name: f.default for f in fields(UsageRow) if f.name not in _KEYS}


def _failed_status(status: str) -> tuple[bool, bool]:
    """(throttled, failed) of a ``StatusCode`` value."""
    s = status.strip()
    if s.isdigit():
        code = int(s)
        return code == 429, code >= 400 and code != 429
    low = s.lower()
    return False, not (low in ("", "success", "successful", "ok") or low.startswith("2"))


def parse_metrics(body: Any, source: str, counted: int = 0) -> dict[tuple[str, str], dict[str, float]]:
    """A ``Metrics_List`` answer -> (deployment, day) -> field -> value. ``counted``: rows read so far."""
    if not isinstance(body, Mapping) or not isinstance(body.get("value"), list):
        raise _bad(source, "no 'value' list")
    out: dict[tuple[str, str], dict[str, float]] = {}
    rows = counted
    for metric in body["value"]:
        if not isinstance(metric, Mapping):
            raise _bad(source, "a metric is not an object")
        name_obj = metric.get("name")
        name = name_obj.get("value") if isinstance(name_obj, Mapping) else None
        if not isinstance(name, str):
            raise _bad(source, "a metric has no name.value")
        code = metric.get("errorCode")
        if code not in (None, "Success"):
            raise _bad(source, f"metric {name}: {code} {metric.get('errorMessage', '')}".strip())
        series = metric.get("timeseries")
        if not isinstance(series, list):
            raise _bad(source, f"metric {name} has no 'timeseries' list")
        for ts in series:
            if not isinstance(ts, Mapping) or not isinstance(ts.get("data", []), list) \
                    or not isinstance(ts.get("metadatavalues", []), list):
                raise _bad(source, f"metric {name}: a time series is not an object with 'data' and "
                                   "'metadatavalues' lists")
            dims: dict[str, str] = {}
            for md in ts.get("metadatavalues", []):
                n = md.get("name") if isinstance(md, Mapping) else None
                n = n.get("value") if isinstance(n, Mapping) else n
                if not isinstance(n, str) or not isinstance(md.get("value"), str):
                    raise _bad(source, f"metric {name}: a metadata value is not {{name: {{value}}, value}}")
                dims[n.lower()] = md["value"]
            deployment = dims.get(arm.METRIC_DIMENSION_DEPLOYMENT.lower())
            if deployment is None:
                raise _bad(source, f"metric {name}: a time series is not split by {arm.METRIC_DIMENSION_DEPLOYMENT}")
            for point in ts.get("data", []):
                rows += 1
                if rows > MAX_ROWS:
                    raise _bad(source, f"more than {MAX_ROWS} data points")
                if not isinstance(point, Mapping) or not isinstance(point.get("timeStamp"), str):
                    raise _bad(source, f"metric {name}: a data point has no timeStamp")
                try:
                    day = dt.datetime.fromisoformat(point["timeStamp"].replace("Z", "+00:00")).date().isoformat()
                except ValueError:
                    raise _bad(source, f"metric {name}: timeStamp {point['timeStamp']!r} is not a date-time") \
                        from None
                acc = out.setdefault((deployment, day), {})
                where = f"metric {name} at {point['timeStamp']}"
                if name == arm.METRIC_TIME_TO_LAST_BYTE:
                    if point.get("average") is not None:
                        acc["latency_ms"] = _number(point["average"], source, where + " average")
                    continue
                total = _number(point.get("total"), source, where + " total")
                if total < 0:
                    raise _bad(source, f"{where} total is negative")
                if name == arm.METRIC_MODEL_REQUESTS:
                    acc["requests"] = acc.get("requests", 0) + total
                    throttled, failed = _failed_status(dims.get(arm.METRIC_DIMENSION_STATUS.lower(), "200"))
                    if throttled:
                        acc["throttled"] = acc.get("throttled", 0) + total
                    if failed:
                        acc["failed"] = acc.get("failed", 0) + total
                elif name in _TOKEN_METRICS:
                    key = _TOKEN_METRICS[name]
                    acc[key] = acc.get(key, 0) + total
    return out


@dataclass(frozen=True)
class CostLine:
    resource_id: str
    meter: str
    day: str
    cost: float
    currency: str


def parse_cost(body: Any, source: str) -> tuple[list[CostLine], str | None]:
    """A ``Query_Usage`` answer (its JSON) -> its lines and ``nextLink``."""
    props = body.get("properties") if isinstance(body, Mapping) else None
    if not isinstance(props, Mapping):
        raise _bad(source, "no 'properties' object")
    columns, rows = props.get("columns"), props.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise _bad(source, "no 'columns' and 'rows' lists")
    names = [c.get("name") if isinstance(c, Mapping) else None for c in columns]
    low = [n.lower() if isinstance(n, str) else "" for n in names]
    cost_col = next((i for i, n in enumerate(low) if n in ("cost", "pretaxcost", "costusd", "totalcost")), None)
    need: dict[str, int | None] = {k: low.index(k) if k in low else None
                                   for k in ("usagedate", "resourceid", "currency")}
    if cost_col is None or need["usagedate"] is None or need["resourceid"] is None:
        raise _bad(source, f"columns {names} lack a cost, UsageDate or ResourceId column")
    meter_col = low.index("meter") if "meter" in low else None
    out = []
    for row in rows:
        if not isinstance(row, list) or len(row) != len(columns):
            raise _bad(source, "a row does not have one value per column")
        cost = _number(row[cost_col], source, "a row's cost")
        date_value = row[need["usagedate"]]
        text = str(int(date_value)) if isinstance(date_value, int | float) and not isinstance(date_value, bool) \
            else str(date_value)
        try:
            day = (dt.datetime.strptime(text, "%Y%m%d").date() if re.fullmatch(r"\d{8}", text)
                   else dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date())
        except ValueError:
            raise _bad(source, f"UsageDate {date_value!r} is not a date") from None
        rid = row[need["resourceid"]]
        currency = row[need["currency"]] if need["currency"] is not None else None
        out.append(CostLine(str(rid or "").lower(), str(row[meter_col] or "") if meter_col is not None else "",
                            day.isoformat(), cost, str(currency or "")))
    next_link = props.get("nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise _bad(source, "nextLink is not a string")
    return out, next_link or None


def parse_budget(body: Any, source: str, name: str) -> BudgetStatus:
    props = body.get("properties") if isinstance(body, Mapping) else None
    if not isinstance(props, Mapping):
        raise _bad(source, "no 'properties' object")
    amount = _number(props.get("amount"), source, "properties.amount")
    spend = props.get("currentSpend")
    forecast = props.get("forecastSpend")
    current = _number(spend.get("amount") if isinstance(spend, Mapping) else None, source,
                      "properties.currentSpend.amount")
    fc = _number(forecast.get("amount"), source, "properties.forecastSpend.amount") \
        if isinstance(forecast, Mapping) else None
    unit = spend.get("unit") if isinstance(spend, Mapping) else None
    return BudgetStatus(name, amount, current, fc, str(unit) if unit else None)


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class Sources:
    """Where the answers come from: each returns the JSON body (dict) of one call. ``metrics(account_id,
    metricnames, aggregation, timespan, filter)``; ``cost(scope, body)`` and ``cost_next(link, body)``;
    ``budget(budget_id)``."""

    metrics: Callable[[str, str, str, str, str], Any]
    cost: Callable[[str, dict[str, Any]], Any]
    cost_next: Callable[[str, dict[str, Any]], Any]
    budget: Callable[[str], Any]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for c in self.closers:
            c()


def cost_query_body(since: dt.date, until: dt.date) -> dict[str, Any]:
    """The ``QueryDefinition`` (``ResourceGroupQueryGrouping.json``'s shape, ``timeframe: Custom``)."""
    return {"type": "ActualCost", "timeframe": "Custom",
            "timePeriod": {"from": f"{since.isoformat()}T00:00:00+00:00",
                           "to": f"{(until - dt.timedelta(days=1)).isoformat()}T23:59:59+00:00"},
            "dataset": {"granularity": "Daily",
                        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
                        "grouping": [{"type": "Dimension", "name": "ResourceId"},
                                     {"type": "Dimension", "name": "Meter"}]}}


def _with_role_advice(exc: BaseException, kind: str, where: str) -> OperationFailed:
    from claude_foundry._azure.errors import describe, status_of

    text = f"{where}: {describe(exc)}"
    if status_of(exc) == 403:
        text += f" — {ROLE_ADVICE[kind]}"
    return OperationFailed(text)


def collect(view: Any, since: dt.date, until: dt.date, sources: Sources | None = None,
            *, with_cost: bool = True) -> UsageReport:
    """The report of ``view`` (an :class:`ops.view.StackView`) for the UTC days ``since`` .. ``until``
    (exclusive). ``sources``: where to read (default: the view's target through the Azure SDKs)."""
    check_period(since, until)
    own = sources is None
    src = sources or sdk_sources(view.target)
    try:
        return _collect(view, since, until, src, with_cost)
    finally:
        if own:
            src.close()


def _collect(view: Any, since: dt.date, until: dt.date, src: Sources, with_cost: bool) -> UsageReport:
    timespan = f"{since.isoformat()}T00:00:00Z/{until.isoformat()}T00:00:00Z"
    accs: dict[tuple[str, str, str], dict[str, Any]] = {}
    models: dict[tuple[str, str], str] = {}  # (account key, deployment) -> model
    names: dict[str, str] = {}
    warnings: list[str] = []
    account_ids: dict[str, str] = {}
    for key, acct in view.accounts.items():
        names[key] = acct.name
        account_ids[acct.account.id.lower()] = key
        for dep_name, dep in acct.deployments.items():
            model = ((dep.body or {}).get("properties") or {}).get("model") or {}
            models[(key, dep_name)] = str(model.get("name") or "")
        dep_filter = f"{arm.METRIC_DIMENSION_DEPLOYMENT} eq '*'"
        calls = [
            (arm.METRIC_MODEL_REQUESTS, "Total", f"{dep_filter} and {arm.METRIC_DIMENSION_STATUS} eq '*'"),
            (",".join(_TOKEN_METRICS), "Total", dep_filter),
            (arm.METRIC_TIME_TO_LAST_BYTE, "Average", dep_filter),
        ]
        counted = 0
        for metricnames, aggregation, flt in calls:
            where = f"Azure Monitor metrics of {acct.label}"
            try:
                body = src.metrics(acct.account.id, metricnames, aggregation, timespan, flt)
            except OperationFailed:
                raise
            except Exception as exc:  # an Azure SDK error: words, with the role it may lack
                raise _with_role_advice(exc, "metrics", where) from None
            parsed = parse_metrics(body, where, counted)
            counted += sum(len(v) for v in parsed.values())
            for (dep, day), values in parsed.items():
                if not since.isoformat() <= day < until.isoformat():
                    continue
                a = accs.setdefault((key, dep, day), _measures())
                for k, v in values.items():
                    a[k] = v if k == "latency_ms" else a[k] + round(v)
    unattributed = 0.0
    currency: str | None = None
    sources_used = [f"Azure Monitor Metrics_List {arm.METRICS_API_VERSION} ({', '.join(_all_metric_names())})"]
    if with_cost:
        lines = _cost_lines(src, view.rg_id, since, until)
        sources_used.append(f"Cost Management Query_Usage {arm.COST_MANAGEMENT_API_VERSION} (ActualCost, Daily, "
                            f"{view.rg_id})")
        currencies = {ln.currency for ln in lines if ln.currency}
        if len(currencies) > 1:
            warnings.append(f"the cost comes in several currencies ({', '.join(sorted(currencies))}): summed as is")
        currency = sorted(currencies)[0] if currencies else None
        for ln in lines:
            target = _attribute(ln, account_ids, models)
            if target is None:
                unattributed += ln.cost
                continue
            a = accs.setdefault((target[0], target[1], ln.day), _measures())
            a["cost"] = (a["cost"] or 0.0) + ln.cost
            a["currency"] = ln.currency or currency
        for a in accs.values():
            if a["cost"] is None:
                a["cost"], a["currency"] = 0.0, currency
    budget = None
    if view.budget is not None:
        budget_name = view.budget.name
        try:
            body = src.budget(view.budget.id)
        except OperationFailed:
            raise
        except Exception as exc:
            raise _with_role_advice(exc, "cost", f"the budget {budget_name}") from None
        budget = parse_budget(body, f"the budget {budget_name}", budget_name)
        sources_used.append(f"Consumption budget {budget_name} {arm.API_VERSIONS[arm.BUDGET]} (currentSpend, "
                            "forecastSpend)")
    rows = tuple(UsageRow(account=k, account_name=names.get(k, k), deployment=d, day=day, **a)
                 for (k, d, day), a in sorted(accs.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])))
    return UsageReport(stack=str(view.spec.environment),
                       since=since.isoformat(), until=until.isoformat(), rows=rows,
                       cost_unattributed=unattributed, currency=currency, budget=budget,
                       sources=tuple(sources_used), warnings=tuple(warnings))


def _all_metric_names() -> list[str]:
    return [arm.METRIC_MODEL_REQUESTS, *_TOKEN_METRICS, arm.METRIC_TIME_TO_LAST_BYTE]


def _attribute(line: CostLine, account_ids: Mapping[str, str],
               models: Mapping[tuple[str, str], str]) -> tuple[str, str] | None:
    rid = line.resource_id.rstrip("/")
    m = re.fullmatch(r"(.*)/deployments/([^/]+)", rid)
    if m and m.group(1) in account_ids:
        owner = account_ids[m.group(1)]
        dep = next((d for (k, d) in models if k == owner and d.lower() == m.group(2)), None)
        return (owner, dep) if dep else None
    key = account_ids.get(rid)
    if key is None:
        return None
    meter = line.meter.lower()
    matches = [d for (k, d), model in models.items() if k == key and model and model.lower() in meter]
    return (key, matches[0]) if len(matches) == 1 else None


def _cost_lines(src: Sources, scope: str, since: dt.date, until: dt.date) -> list[CostLine]:
    body = cost_query_body(since, until)
    where = f"Cost Management for {scope}"
    try:
        answer = src.cost(scope, body)
        lines, next_link = parse_cost(answer, where)
        pages = 1
        while next_link:
            if pages >= MAX_COST_PAGES:
                raise _bad(where, f"more than {MAX_COST_PAGES} pages (nextLink)")
            more, next_link = parse_cost(src.cost_next(next_link, body), where)
            lines += more
            pages += 1
            if len(lines) > MAX_ROWS:
                raise _bad(where, f"more than {MAX_ROWS} rows")
    except OperationFailed:
        raise
    except Exception as exc:
        raise _with_role_advice(exc, "cost", where) from None
    return lines


# --- the Azure SDK sources ----------------------------------------------------------------------------------


def _json_of(http_response: Any) -> Any:
    """An answer's JSON as sent (parsed within bounds), not the SDK's model."""
    from claude_foundry import _jsontext as jsontext

    try:
        return jsontext.loads(http_response.text())
    except ValueError as exc:
        raise OperationFailed(f"the answer is not JSON: {exc}") from None


def _raw_json(pipeline_response: Any, _deserialized: Any, _headers: Any) -> Any:
    """``cls=`` of an SDK call: :func:`_json_of` its answer."""
    return _json_of(pipeline_response.http_response)


def sdk_sources(target: Any) -> Sources:
    """Metrics through ``azure-mgmt-monitor``, cost through ``azure-mgmt-costmanagement``, the budget through
    the generic resources client, each with the target's endpoint, credential and bounds."""
    from azure.core.rest import HttpRequest
    from azure.mgmt.costmanagement import CostManagementClient
    from azure.mgmt.monitor import MonitorManagementClient

    monitor = MonitorManagementClient(target.credential, target.subscription_id, **target.mgmt_kwargs())
    cost = CostManagementClient(target.credential, **target.mgmt_kwargs())
    resources = target.resource_client()

    def metrics(resource_id: str, names: str, aggregation: str, timespan: str, flt: str) -> Any:
        return monitor.metrics.list(resource_id, timespan=timespan, interval="P1D", metricnames=names,
                                    aggregation=aggregation, filter=flt, top=METRIC_TOP,
                                    metricnamespace=arm.ACCOUNT_METRIC_NAMESPACE, cls=_raw_json)

    def query(scope: str, body: dict[str, Any]) -> Any:
        # the SDK takes the QueryDefinition's JSON shape as a mapping too (its models are MutableMappings)
        return cost.query.usage(scope.lstrip("/"), body, cls=_raw_json)  # type: ignore[call-overload]  # as said

    def query_next(link: str, body: dict[str, Any]) -> Any:
        if not link.startswith(target.arm_endpoint.rstrip("/") + "/"):
            raise OperationFailed(f"Cost Management's nextLink points elsewhere than {target.arm_endpoint}")
        response = cost.send_request(HttpRequest("POST", link, json=body))
        response.raise_for_status()
        return _json_of(response)

    def budget(budget_id: str) -> Any:
        res = resources.resources.get_by_id(budget_id, api_version=arm.API_VERSIONS[arm.BUDGET])
        return {"properties": res.properties}

    return Sources(metrics=metrics, cost=query, cost_next=query_next, budget=budget,
                   closers=[monitor.close, cost.close, resources.close])


def tokens_by_deployment(report: UsageReport) -> dict[str, int]:
    """deployment -> all its tokens (input, output, cache reads and writes) in the report."""
    out: dict[str, int] = {}
    for r in report.rows:
        out[r.deployment] = out.get(r.deployment, 0) + r.tokens
    return out


def rows_json(rows: Iterable[UsageRow]) -> str:
    return json.dumps([r.to_json() for r in rows], indent=2, sort_keys=True)
