"""Microsoft.CostManagement: the query (``Query_Usage``) at a subscription's or resource group's scope, priced
from the Foundry endpoint's traffic (``traffic.py``: the sandbox's ILLUSTRATIVE prices, not a published list).

Shapes: azure-rest-api-specs ``specification/cost-management/resource-manager/Microsoft.CostManagement/stable/
2023-11-01`` (examples ``ResourceGroupQueryGrouping.json``: the ``QueryDefinition`` body with ``type``,
``timeframe``, ``timePeriod{from, to}``, ``dataset{granularity, aggregation{<alias>: {name, function: Sum}},
grouping[{type: Dimension, name}]}``; the answer ``{id, name, type, properties{nextLink, columns[{name, type}],
rows}}`` with ``UsageDate`` as a Number ``YYYYMMDD`` and a ``Currency`` column). The sandbox bills each account
(``ResourceId``, lower-cased as Cost Management shows ids) per kind of token, with meters named
``<model> Input Tokens`` etc.: how Azure names the meters of Claude's Marketplace charges is not published.
Refusals (400 ``BadRequest``) use the sandbox's own words; the spec carries no error texts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox import traffic
from claude_foundry_sandbox.providers.base import ArmError, Provider, Reply, route_scope

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

TYPES = ("ActualCost", "AmortizedCost", "Usage")
GRANULARITIES = ("Daily", "None")
GROUP_DIMENSIONS = ("ResourceId", "Meter", "ResourceGroupName", "ResourceType", "MeterCategory",
                    "MeterSubCategory", "PublisherType")
MAX_GROUPINGS = 2
MAX_DAYS = 366
#: rows per page (nextLink carries the rest)
PAGE_SIZE = 1000
COST_READ_ROLES = frozenset({"cost-management-reader"})


def _bad(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def _day(text: Any, field: str) -> dt.date:
    if not isinstance(text, str):
        raise _bad(f"timePeriod.{field} is required for a Custom timeframe.")
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise _bad(f"timePeriod.{field} '{text}' is not a date-time.") from None


def _period(body: dict[str, Any], today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (inclusive)."""
    frame = body.get("timeframe")
    if frame == "Custom":
        period = body.get("timePeriod") or {}
        start, end = _day(period.get("from"), "from"), _day(period.get("to"), "to")
    elif frame == "MonthToDate":
        start, end = today.replace(day=1), today
    elif frame == "WeekToDate":
        start, end = today - dt.timedelta(days=today.weekday()), today
    elif frame == "TheLastMonth":
        end = today.replace(day=1) - dt.timedelta(days=1)
        start = end.replace(day=1)
    else:
        raise _bad(f"timeframe '{frame}' is not supported: Custom, MonthToDate, WeekToDate or TheLastMonth.")
    if end < start:
        raise _bad("timePeriod.to must not be before timePeriod.from.")
    if (end - start).days >= MAX_DAYS:
        raise _bad(f"The time period is limited to {MAX_DAYS} days.")
    return start, end


def _query(api: ArmApi, method: str, segs: list[str]) -> Reply:
    scope_segs, scope_key = route_scope(api, method, "POST", "query", segs)
    if len(scope_segs) not in (2, 4) or (len(scope_segs) == 4 and scope_segs[2].lower() != "resourcegroups"):
        raise _bad("The sandbox answers Cost Management queries at a subscription or resource group scope.")
    if not api.s.roles_of(api.oid, scope_key) & (COST_READ_ROLES | {"owner", "contributor", "reader"}):
        api.authorize(scope_key, "read", "Microsoft.CostManagement/query/action")
    body = api.body if isinstance(api.body, dict) else {}
    if body.get("type") not in TYPES:
        raise _bad(f"type must be one of {', '.join(TYPES)}.")
    dataset = body.get("dataset")
    if not isinstance(dataset, dict):
        raise _bad("dataset is required.")
    granularity = dataset.get("granularity", "None")
    if granularity not in GRANULARITIES:
        raise _bad(f"dataset.granularity must be one of {', '.join(GRANULARITIES)}.")
    aggregation = dataset.get("aggregation") or {}
    if not isinstance(aggregation, dict) or not aggregation or any(
            not isinstance(a, dict) or a.get("function") != "Sum" or a.get("name") not in (
                "Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD") for a in aggregation.values()):
        raise _bad("dataset.aggregation must name Cost, PreTaxCost, CostUSD or PreTaxCostUSD with function Sum.")
    grouping = dataset.get("grouping") or []
    if not isinstance(grouping, list) or len(grouping) > MAX_GROUPINGS:
        raise _bad(f"dataset.grouping takes at most {MAX_GROUPINGS} groupings.")
    groups = []
    for g in grouping:
        if not isinstance(g, dict) or g.get("type") != "Dimension" or g.get("name") not in GROUP_DIMENSIONS:
            raise _bad(f"Grouping {g!r}: type Dimension with a name of {', '.join(GROUP_DIMENSIONS)}.")
        groups.append(g["name"])
    start, end = _period(body, traffic.today_utc())
    totals: dict[tuple[Any, ...], float] = {}
    for b in api.s.traffic.values():
        rid = b["account_id"].lower()
        if not traffic.in_scope(b, scope_key):
            continue
        if not start.isoformat() <= b["day"] <= end.isoformat():
            continue
        rg = rid.split("/")[4] if len(rid.split("/")) > 4 else ""
        for meter, usd in traffic.cost_lines(b):
            values = {"ResourceId": rid, "Meter": meter, "ResourceGroupName": rg,
                      "ResourceType": "microsoft.cognitiveservices/accounts", "MeterCategory": "Foundry Models",
                      "MeterSubCategory": str(b.get("model", "")), "PublisherType": "Marketplace"}
            key = (*(values[g] for g in groups),
                   int(b["day"].replace("-", "")) if granularity == "Daily" else None)
            totals[key] = totals.get(key, 0.0) + usd
    aliases = list(aggregation.values())
    columns = [{"name": a["name"], "type": "Number"} for a in aliases]
    columns += [{"name": g, "type": "String"} for g in groups]
    if granularity == "Daily":
        columns.append({"name": "UsageDate", "type": "Number"})
    columns.append({"name": "Currency", "type": "String"})
    rows = []
    for key, usd in sorted(totals.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        row: list[Any] = [usd for _ in aliases] + list(key[:len(groups)])
        if granularity == "Daily":
            row.append(key[-1])
        rows.append([*row, traffic.CURRENCY])
    skip = int(api.query.get("$skiptoken") or 0) if str(api.query.get("$skiptoken") or "0").isdigit() else 0
    page, rest = rows[skip:skip + PAGE_SIZE], rows[skip + PAGE_SIZE:]
    next_link = (f"{api.s.origin}{'/'.join(['', *scope_segs])}/providers/Microsoft.CostManagement/query?"
                 f"api-version={api.api_version}&$skiptoken={skip + PAGE_SIZE}") if rest else None
    query_id = str(uuid.uuid4())
    return Reply(200, {"id": f"{'/'.join(scope_segs)}/providers/Microsoft.CostManagement/query/{query_id}",
                       "name": query_id, "type": "Microsoft.CostManagement/query",
                       "properties": {"nextLink": next_link, "columns": columns, "rows": page}})


PROVIDER = Provider(scope_routes={("microsoft.costmanagement", "query"): _query})
