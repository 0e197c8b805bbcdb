"""Microsoft.Consumption budgets (Cost Management) at a resource group's or the subscription's scope.

Shapes: azure-rest-api-specs ``specification/consumption/resource-manager/Microsoft.Consumption/stable/2024-08-01``
(example ``CreateOrUpdateBudget.json``): ``properties.category`` Cost or Usage, ``amount``, ``timeGrain``,
``timePeriod.startDate`` / ``endDate``, ``notifications`` (at most five, each ``enabled``, ``operator``,
``threshold`` 0-1000 percent, ``contactEmails``, optional ``contactGroups`` / ``contactRoles``,
``thresholdType`` Actual or Forecasted), and an ``eTag``; the reply adds ``currentSpend`` / ``forecastSpend``.

The start-date refusals quote the spec's description of ``timePeriod`` ("The start date must be first of the
month and should be less than the end date. Budget start date must be on or after June 1, 2017. Future start
date should not be more than twelve months. Past start date should be selected within the timegrain period.");
the service's literal error texts are not published, so the other messages are the sandbox's own.

Spend (read-only, computed at every read): ``currentSpend.amount`` is what the sandbox's Foundry endpoint charged
under the budget's scope (its traffic priced by ``traffic.py``, the same numbers its Cost Management query sums)
in the budget's current period (the month for Monthly; the quarter, the year for the others). ``forecastSpend`` is
there only when a notification has ``thresholdType: Forecasted`` -- the spec: "The forecasted cost for the total
time period which is being tracked by the budget. This value is only provided if the budget contains a forecast
alert type." (Microsoft.CostManagement budgets ``ForecastSpend.amount``; the 2024-08-01 ``Budget.json`` example,
with an Actual notification only, has no ``forecastSpend``). How Azure forecasts is not published in detail; the
sandbox's own forecast is a linear projection: the spend so far divided by the period's days elapsed (today
included), times the period's days. The budget's ``filter`` is not applied.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox import traffic
from claude_foundry_sandbox.providers.base import ArmError, Provider, Reply, ResourceType, Target, public

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

BUDGETS = "microsoft.consumption/budgets"

CATEGORIES = ("Cost", "Usage")
TIME_GRAINS = ("Monthly", "Quarterly", "Annually", "BillingMonth", "BillingQuarter", "BillingAnnual")
OPERATORS = ("EqualTo", "GreaterThan", "GreaterThanOrEqualTo")
THRESHOLD_TYPES = ("Actual", "Forecasted")
MAX_NOTIFICATIONS = 5
MAX_CONTACT_EMAILS = 50
EARLIEST_START = dt.date(2017, 6, 1)
CURRENCY = "USD"  # what the sandbox's billing account bills in

START_NOT_FIRST = "The start date must be first of the month and should be less than the end date."
START_TOO_EARLY = "Budget start date must be on or after June 1, 2017."
START_TOO_LATE = "Future start date should not be more than twelve months."
START_IN_PAST = "Past start date should be selected within the timegrain period."


def _bad(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def _date(value: Any, field: str) -> dt.date:
    if not isinstance(value, str) or not value:
        raise _bad(f"properties.timePeriod.{field} is required (YYYY-MM-DD or an ISO 8601 date-time).")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise _bad(f"properties.timePeriod.{field} '{value}' is not a date.") from None


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    return day.replace(year=day.year + index // 12, month=index % 12 + 1)


def _check_period(period: Any, creating: bool, today: dt.date) -> None:
    if not isinstance(period, dict):
        raise _bad("properties.timePeriod is required.")
    start = _date(period.get("startDate"), "startDate")
    if start.day != 1:
        raise _bad(START_NOT_FIRST)
    if period.get("endDate") and _date(period["endDate"], "endDate") <= start:
        raise _bad(START_NOT_FIRST)
    if start < EARLIEST_START:
        raise _bad(START_TOO_EARLY)
    this_month = today.replace(day=1)
    if start > _add_months(this_month, 12):
        raise _bad(START_TOO_LATE)
    if creating and start < this_month:
        # a new Monthly budget starts in the current month at the earliest (updates keep their start)
        raise _bad(START_IN_PAST)


def _check_notifications(notes: Any) -> None:
    if notes is None:
        return
    if not isinstance(notes, dict):
        raise _bad("properties.notifications must map names to notifications.")
    if len(notes) > MAX_NOTIFICATIONS:
        raise _bad(f"A budget can have up to {MAX_NOTIFICATIONS} notifications (got {len(notes)}).")
    for key, n in notes.items():
        if not isinstance(n, dict):
            raise _bad(f"Notification '{key}' must be an object.")
        if not isinstance(n.get("enabled"), bool):
            raise _bad(f"Notification '{key}': enabled is required (true or false).")
        if n.get("operator") not in OPERATORS:
            raise _bad(f"Notification '{key}': operator must be one of {', '.join(OPERATORS)}.")
        threshold = n.get("threshold")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold <= 1000:
            raise _bad(f"Notification '{key}': threshold is a percentage, more than 0 and at most 1000.")
        if n.get("thresholdType", "Actual") not in THRESHOLD_TYPES:
            raise _bad(f"Notification '{key}': thresholdType must be Actual or Forecasted.")
        emails = n.get("contactEmails")
        if not isinstance(emails, list) or len(emails) > MAX_CONTACT_EMAILS or \
                not all(isinstance(e, str) and "@" in e for e in emails):
            raise _bad(f"Notification '{key}': contactEmails must list at most {MAX_CONTACT_EMAILS} e-mail addresses.")
        if not (emails or n.get("contactGroups") or n.get("contactRoles")):
            raise _bad(f"Notification '{key}' notifies nobody: give contactEmails, contactGroups or contactRoles.")


def _put_budget(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, _with_spend(api, public(existing)))
    p = body.get("properties") or {}
    if p.get("category") not in CATEGORIES:
        raise _bad("properties.category must be Cost or Usage.")
    amount = p.get("amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise _bad("properties.amount must be a number above 0.")
    if p.get("timeGrain") not in TIME_GRAINS:
        raise _bad(f"properties.timeGrain must be one of {', '.join(TIME_GRAINS)}.")
    _check_period(p.get("timePeriod"), existing is None, dt.datetime.now(dt.timezone.utc).date())
    _check_notifications(p.get("notifications"))
    for n in (p.get("notifications") or {}).values():
        for gid in n.get("contactGroups") or []:
            if not isinstance(gid, str) or gid.lower() not in api.s.resources:
                raise _bad(f"The action group '{gid}' named in contactGroups was not found.")
    if existing is not None and body.get("eTag") and body["eTag"] != existing.get("eTag"):
        raise ArmError(412, "PreconditionFailed", "The eTag of the request does not match the budget's.")
    res = api.base(target, body, existing)
    res["type"] = "Microsoft.Consumption/budgets"
    res["eTag"] = f'"{uuid.uuid4().hex[:16]}"'
    props = res["properties"]
    # "If not provided, we default this to 10 years from the start date" (the spec's endDate)
    props.setdefault("timePeriod", {}).setdefault(
        "endDate", _add_months(_date(props["timePeriod"]["startDate"], "startDate"), 120).isoformat() + "T00:00:00Z")
    for n in (props.get("notifications") or {}).values():
        n.setdefault("thresholdType", "Actual")
        n.setdefault("locale", "en-us")
    props.pop("currentSpend", None)  # read-only: computed at every read (_with_spend)
    props.pop("forecastSpend", None)
    reply = api.store(target, res, existing)
    reply.body = _with_spend(api, reply.body)
    return reply


#: timeGrain -> months in one period
_GRAIN_MONTHS = {"Monthly": 1, "BillingMonth": 1, "Quarterly": 3, "BillingQuarter": 3, "Annually": 12,
                 "BillingAnnual": 12}


def current_period(grain: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the budget period ``today`` is in (calendar months, quarters or years)."""
    months = _GRAIN_MONTHS.get(grain, 1)
    first_month = (today.month - 1) // months * months + 1 if months < 12 else 1
    first = today.replace(month=first_month, day=1)
    return first, _add_months(first, months) - dt.timedelta(days=1)


def _with_spend(api: ArmApi, budget: dict[str, Any]) -> dict[str, Any]:
    """The budget with its ``currentSpend`` (and ``forecastSpend`` when it has a Forecasted notification)."""
    props = budget.get("properties") or {}
    today = traffic.today_utc()
    first, last = current_period(str(props.get("timeGrain", "Monthly")), today)
    scope = str(budget.get("id", "")).lower().split("/providers/microsoft.consumption/")[0]
    with api.s.lock:
        spent = traffic.cost_in(api.s.traffic, scope, first, today)
    props["currentSpend"] = {"amount": spent, "unit": CURRENCY}
    if any(isinstance(n, dict) and n.get("thresholdType") == "Forecasted"
           for n in (props.get("notifications") or {}).values()):
        elapsed, days = (today - first).days + 1, (last - first).days + 1
        props["forecastSpend"] = {"amount": spent / elapsed * days, "unit": CURRENCY}
    return budget


PROVIDER = Provider(types=(
    # an extension type at a resource group's (or the subscription's) scope: listed there only
    ResourceType(BUDGETS, put=_put_budget, subscription_rollup=False, view=_with_spend),
),)
