"""What the sandbox's Foundry endpoint served, per account, deployment and UTC day: the data behind its Azure
Monitor metrics (``providers/monitor.py``, ``Metrics_List``) and its Cost Management answers
(``providers/costmanagement.py``).

Each answer the endpoint gives for a deployment adds to one bucket: requests by HTTP status (the ``StatusCode``
dimension of ``ModelRequests``), the ``usage`` numbers it put in the response (``input_tokens``, ``output_tokens``,
``cache_read_input_tokens``, ``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens``: the
fields Microsoft's metric reference says the ``InputTokens``, ``OutputTokens``, ``cacheReadInputTokens``,
``ephemeral5mInputTokens`` and ``ephemeral1hInputTokens`` metrics surface) and the time it took (the latency,
``TimeToLastByte``). Buckets live in the persisted state, bounded: at most :data:`MAX_DAYS` days and
:data:`MAX_BUCKETS` buckets (the oldest days go first).

Prices: :data:`PRICES` is the sandbox's own illustrative table, in US dollars per million tokens by model family;
it is not Azure's or Anthropic's price list. The cache multipliers are Anthropic's published ones (prompt
caching: a 5-minute cache write costs 1.25 times the base input price, a 1-hour write 2 times, a cache read 0.1
times; platform.claude.com/docs/en/build-with-claude/prompt-caching, "Pricing").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

#: Days of traffic the sandbox keeps (Azure Monitor keeps platform metrics 93 days).
MAX_DAYS = 93
#: Buckets (account x deployment x day) the sandbox keeps at most.
MAX_BUCKETS = 20_000
#: The counters of one bucket.
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_5m_tokens",
                "cache_write_1h_tokens")

#: The sandbox's ILLUSTRATIVE prices (USD per million tokens) by model family: input, output. Not a published
#: price list; a stand-in so the sandbox's Cost Management answers are non-zero and proportional to tokens.
PRICES: dict[str, tuple[float, float]] = {
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
    "fable": (3.0, 15.0),
}
DEFAULT_PRICE = (3.0, 15.0)
CACHE_WRITE_5M_MULTIPLIER = 1.25
CACHE_WRITE_1H_MULTIPLIER = 2.0
CACHE_READ_MULTIPLIER = 0.1
CURRENCY = "USD"


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def bucket_key(account_id: str, deployment: str, day: dt.date) -> str:
    return f"{account_id.lower()}|{deployment.lower()}|{day.isoformat()}"


def record(traffic: dict[str, dict[str, Any]], *, account_id: str, deployment: str, model: str, status: int,
           usage: dict[str, Any] | None, latency_ms: float, day: dt.date | None = None) -> None:
    """Add one answer to its bucket (the caller holds the state's lock)."""
    day = day or today_utc()
    key = bucket_key(account_id, deployment, day)
    b = traffic.get(key)
    if b is None:
        b = traffic[key] = {"account_id": account_id, "deployment": deployment, "model": model,
                            "day": day.isoformat(), "statuses": {}, "latency_ms_total": 0.0,
                            **dict.fromkeys(TOKEN_FIELDS, 0)}
        _trim(traffic)
    b["statuses"][str(status)] = int(b["statuses"].get(str(status), 0)) + 1
    b["latency_ms_total"] = float(b["latency_ms_total"]) + max(0.0, float(latency_ms))
    if usage:
        creation = usage.get("cache_creation") or {}
        b["input_tokens"] += int(usage.get("input_tokens") or 0)
        b["output_tokens"] += int(usage.get("output_tokens") or 0)
        b["cache_read_tokens"] += int(usage.get("cache_read_input_tokens") or 0)
        b["cache_write_5m_tokens"] += int(creation.get("ephemeral_5m_input_tokens") or 0)
        b["cache_write_1h_tokens"] += int(creation.get("ephemeral_1h_input_tokens") or 0)


def _trim(traffic: dict[str, dict[str, Any]]) -> None:
    oldest = (today_utc() - dt.timedelta(days=MAX_DAYS)).isoformat()
    for key in [k for k, b in traffic.items() if b["day"] < oldest]:
        del traffic[key]
    if len(traffic) > MAX_BUCKETS:
        for key in sorted(traffic, key=lambda k: traffic[k]["day"])[: len(traffic) - MAX_BUCKETS]:
            del traffic[key]


def requests_of(bucket: dict[str, Any]) -> int:
    return sum(int(n) for n in bucket["statuses"].values())


def price_of(model: str) -> tuple[float, float]:
    for family, price in PRICES.items():
        if f"-{family}-" in f"-{model.lower()}-":
            return price
    return DEFAULT_PRICE


def cost_lines(bucket: dict[str, Any]) -> list[tuple[str, float]]:
    """The bucket's charges: (meter, USD) per kind of token it used (the sandbox's own meter names)."""
    model = str(bucket.get("model") or "claude")
    price_in, price_out = price_of(model)
    per_token = {
        "input_tokens": ("Input Tokens", price_in),
        "output_tokens": ("Output Tokens", price_out),
        "cache_read_tokens": ("Cache Read Tokens", price_in * CACHE_READ_MULTIPLIER),
        "cache_write_5m_tokens": ("Cache Write 5m Tokens", price_in * CACHE_WRITE_5M_MULTIPLIER),
        "cache_write_1h_tokens": ("Cache Write 1h Tokens", price_in * CACHE_WRITE_1H_MULTIPLIER),
    }
    out = []
    for field, (meter, usd_per_million) in per_token.items():
        tokens = int(bucket.get(field) or 0)
        if tokens:
            out.append((f"{model} {meter}", tokens * usd_per_million / 1_000_000))
    return out


def in_scope(bucket: dict[str, Any], scope: str) -> bool:
    """Whether the bucket's account is ``scope`` or under it (a subscription or resource group id)."""
    rid, scope = str(bucket["account_id"]).lower(), scope.lower().rstrip("/")
    return rid == scope or rid.startswith(scope + "/")


def cost_in(traffic: dict[str, dict[str, Any]], scope: str, first: dt.date, last: dt.date) -> float:
    """USD charged under ``scope`` from ``first`` to ``last`` (inclusive): what the Cost Management query sums."""
    return sum(usd for b in traffic.values()
               if in_scope(b, scope) and first.isoformat() <= b["day"] <= last.isoformat()
               for _, usd in cost_lines(b))
