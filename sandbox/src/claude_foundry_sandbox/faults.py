"""Fault injection for the Foundry endpoint, per (account, deployment).

A fault is matched on the account (its name or custom subdomain, case-insensitive, ``*`` for any, or
``region:<location>`` for every account in that Azure region: a regional outage) and the deployment name (``*``
for any). It fires for the next ``count`` calls, or on a ``fraction`` of calls, or
on every call when neither is set. What it does when it fires:

* ``latency``: wait that many seconds, then answer normally (or with ``status``/``malformed`` if set too);
* ``status``: answer with that HTTP status (401, 403, 404, 429, 500, 503, ...) in Anthropic's error shape,
  with ``retry-after`` when ``retry_after`` is set;
* ``malformed``: answer 200 with a body that is not valid JSON;
* ``hang``: hold the request for that many seconds (capped at ``MAX_HANG``) so the client times out;
* ``down``: the account is down: the server drops the connection without answering (a reset, as from an
  unreachable region). Account-wide only (deployment ``*``), alone (no other effect), applied by the server
  before the request is read (``FaultBook.draw_down``).

Account-wide faults of the other kinds are the same specs with deployment ``*`` (``status=429,
retry_after=...``, ``latency=...``/``hang=...``, ``status=500``).

The book also keeps the last ``ANSWER_LOG_SIZE`` answers of the Foundry endpoint (account, deployment, route,
status, error message; never a header, key or prompt), so a test can assert what a client was answered.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

MAX_HANG = 120.0
#: An account pattern ``region:<location>`` matches every account in that location.
REGION_PREFIX = "region:"
ANSWER_LOG_SIZE = 1000
ERROR_STATUSES = (400, 401, 403, 404, 408, 409, 413, 429, 500, 502, 503, 504, 529)


@dataclass
class FaultSpec:
    status: int | None = None
    retry_after: float | None = None
    count: int | None = None
    fraction: float | None = None
    latency: float = 0.0
    malformed: bool = False
    hang: float | None = None
    message: str | None = None
    down: bool = False

    def __post_init__(self) -> None:
        if self.down and (self.status is not None or self.latency or self.malformed or self.hang is not None):
            raise ValueError("a down fault has no other effect (status, latency, malformed, hang)")
        if self.status is not None and int(self.status) not in ERROR_STATUSES:
            raise ValueError(f"fault status must be one of {ERROR_STATUSES}")
        if self.count is not None and int(self.count) < 1:
            raise ValueError("fault count must be >= 1")
        if self.fraction is not None and not 0.0 <= float(self.fraction) <= 1.0:
            raise ValueError("fault fraction must be between 0 and 1")
        if self.latency < 0 or (self.hang is not None and self.hang < 0):
            raise ValueError("fault latency and hang must be >= 0")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None and v is not False and v != 0.0}


@dataclass
class _Entry:
    account: str
    deployment: str
    spec: FaultSpec
    remaining: int | None
    fired: int = 0


def fault_names(account: dict[str, Any] | None, subdomain: str = "") -> tuple[str, ...]:
    """What a fault's account pattern is matched against for a call to ``account`` (its name, custom subdomain and
    ``region:<location>``), or the bare subdomain of a call to no known account."""
    if account is None:
        return (subdomain,) if subdomain else ()
    sub = str(account.get("properties", {}).get("customSubDomainName", "") or subdomain)
    region = str(account.get("location", "")).replace(" ", "").lower()
    return (account["name"], sub, *((REGION_PREFIX + region,) if region else ()))


class FaultBook:
    """Thread-safe set of faults; ``draw`` decides whether a call is hit."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._rng = rng or random.Random()
        self._answers: deque[dict[str, Any]] = deque(maxlen=ANSWER_LOG_SIZE)

    def record_answer(self, account: str, deployment: str, route: str, status: int, message: str = "") -> None:
        with self._lock:
            self._answers.append({"account": account, "deployment": deployment, "route": route,
                                  "status": status, "message": message})

    def answers(self, account: str | None = None) -> list[dict[str, Any]]:
        """The Foundry endpoint's recent answers, oldest first (``account``: only that account's)."""
        with self._lock:
            return [dict(a) for a in self._answers if account is None or a["account"] == account]

    def set(self, account: str, deployment: str, spec: FaultSpec) -> None:
        if spec.down and deployment != "*":
            raise ValueError("a down fault is account-wide: deployment must be *")
        account, deployment = account.lower(), deployment.lower() if deployment != "*" else "*"
        with self._lock:
            self._entries = [e for e in self._entries
                             if not (e.account == account and e.deployment == deployment)]
            self._entries.append(_Entry(account, deployment, spec, spec.count))

    def clear(self, account: str | None = None, deployment: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._entries = []
                return
            self._entries = [e for e in self._entries if not (
                e.account == account.lower() and (deployment is None or e.deployment == deployment.lower()))]

    def draw(self, account_names: tuple[str, ...], deployment: str, *, down: bool = False) -> FaultSpec | None:
        """The fault hitting this call, if any (``down``: only down faults, else only the others)."""
        names = {n.lower() for n in account_names}
        dep = deployment.lower()
        with self._lock:
            for e in self._entries:
                if e.spec.down != down:
                    continue
                if e.account != "*" and e.account not in names:
                    continue
                if e.deployment not in ("*", dep):
                    continue
                if e.remaining is not None:
                    if e.remaining <= 0:
                        continue
                    e.remaining -= 1
                elif e.spec.fraction is not None and self._rng.random() >= e.spec.fraction:
                    continue
                e.fired += 1
                return e.spec
        return None

    def draw_down(self, account_names: tuple[str, ...]) -> bool:
        """Whether this call to the account meets a ``down`` fault (counted like any other fault)."""
        if not any(e.spec.down for e in self._entries):  # the hot path: no lock when no down fault is set
            return False
        return self.draw(account_names, "*", down=True) is not None

    def summary(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"account": e.account, "deployment": e.deployment, "spec": e.spec.to_json(),
                     "remaining": e.remaining, "fired": e.fired} for e in self._entries]
