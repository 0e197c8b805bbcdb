#!/usr/bin/env python3
"""Reliability and overhead benchmark of ``FailoverRuntime``, against the local sandbox (localhost only).

Seeds two stacks (two accounts, same deployment) in an embedded sandbox, then:

1. **Under fault**: N concurrent clients (threads sharing one ``FailoverRuntime``) call in a loop; after a
   healthy phase the first account goes ``down`` (connections dropped), then answers 429 with
   ``retry-after``, then recovers. Prints failed requests (target 0), p50/p99 latency healthy vs during each
   fault, requests served per endpoint, failovers, breaker state.
2. **Healthy hot path**: the same sequential calls through a failover client, the first runtime's own client
   and a bare ``anthropic.AnthropicFoundry`` (same account, key, TLS, ``max_retries=0``), interleaved: each
   round calls every client once, in a fresh random order. Two more clients made like the bare one calibrate
   the numbers: a second bare client (A/A control: what is left of the noise) and one with a pass-through
   middleware (the SDK's own cost of running any middleware, the floor of the runtime's clients). Prints the
   median call times and, per client, the median over rounds of its call time / the bare client's in the same
   round (target <= 1.02x; the load drift of a shared machine cancels out there), with the plain ratio of
   medians next to it.

    .venv/bin/python scripts/bench_failover.py [--clients 20] [--phase-seconds 3] [--hot-calls 400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # seeding.py: a stack through the Azure SDKs

HI = [{"role": "user", "content": "hi"}]
WARM_UP = 20  # rounds not timed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--phase-seconds", type=float, default=3.0)
    ap.add_argument("--hot-calls", type=int, default=400)
    ap.add_argument("--timeout", type=float, default=2.0, help="each attempt's timeout")
    ap.add_argument("--cool-down", type=float, default=1.0, help="breaker cool-down (seconds)")
    args = ap.parse_args()

    import logging

    import anthropic
    from azure.identity import ClientSecretCredential
    from seeding import seed_stack

    from claude_foundry._client import runtime as rt
    from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime
    from claude_foundry._client.runtime import ssl_context
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    logging.getLogger("claude_foundry._client.failover").setLevel(logging.ERROR)
    with Sandbox(SandboxConfig(provisioning_delay=0.0)) as sandbox:
        conn = sandbox.connection
        cred = ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                      authority=conn["authority"], disable_instance_discovery=True,
                                      connection_verify=conn["ca_bundle"])
        deps = {"sonnet": "claude-sonnet-4-6"}
        a = seed_stack(sandbox, cred, deps, prefix="bench-a")
        b = seed_stack(sandbox, cred, deps, prefix="bench-b")

        def runtime(stack: object) -> rt.FoundryRuntime:
            return rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix,  # type: ignore[attr-defined]
                                                    credential=cred, ca_bundle=conn["ca_bundle"])

        fo = FailoverRuntime([runtime(a), runtime(b)], timeout=args.timeout,
                             breaker=CircuitBreaker(failures=3, cool_down=args.cool_down))

        # -- 1. under fault --
        phases = [("healthy", None), ("down", {"down": True}),
                  ("429", {"status": 429, "retry_after": 2}), ("recovered", None)]
        phase = ["healthy"]
        lock = threading.Lock()
        lat: dict[str, list[float]] = {p: [] for p, _ in phases}
        failed: dict[str, int] = {}
        stop = threading.Event()

        def worker() -> None:
            client = fo.client("sonnet")
            while not stop.is_set():
                label = phase[0]
                t0 = time.perf_counter()
                try:
                    client.messages.create(model="sonnet", max_tokens=8, messages=HI)
                except Exception as exc:
                    with lock:
                        key = f"{label}: {type(exc).__name__}"
                        failed[key] = failed.get(key, 0) + 1
                    continue
                with lock:
                    lat[label].append(time.perf_counter() - t0)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for name, fault in phases:
            sandbox.clear_faults()
            if fault is not None:
                sandbox.set_fault(a.account, "*", fault)
            phase[0] = name
            time.sleep(args.phase_seconds)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        sandbox.clear_faults()
        stats = fo.stats()
        total = sum(len(v) for v in lat.values()) + sum(failed.values())
        print(f"under fault: {args.clients} clients, {total} requests, "
              f"failed {sum(failed.values())} (target 0) {failed or ''}")
        for name, _ in phases:
            v = lat[name]
            print(f"  {name:9s}: {len(v):5d} ok  p50 {pct(v, .5) * 1000:7.1f} ms  p99 {pct(v, .99) * 1000:7.1f} ms")
        h99 = pct(lat["healthy"], .99)
        for name in ("down", "429"):
            print(f"  p99 {name} / healthy: {pct(lat[name], .99) / h99:.2f}x")
        for ep, s in stats.items():
            role = "first" if ep == a.account else "second"
            print(f"  endpoint {role:6s} {ep}: served {s['served']}, failed attempts {s['failed']}, "
                  f"failovers {s['failovers']}, breaker {s['breaker']}")

        # -- 2. healthy hot path --
        fo_hot = FailoverRuntime([runtime(a), runtime(b)], timeout=args.timeout)
        fclient = fo_hot.client("sonnet")
        key = fo_hot._endpoints[0].runtime.contract.api_key
        http = anthropic.DefaultHttpxClient(verify=ssl_context(conn["ca_bundle"]))
        bare = anthropic.AnthropicFoundry(api_key=key, base_url=a.base_url + "/", http_client=http,
                                          max_retries=0, timeout=args.timeout)
        rclient = fo_hot._endpoints[0].runtime.client("sonnet", max_retries=0, timeout=args.timeout)
        # A/A control: a second bare client made exactly like the first; its ratio to the first is the noise
        # floor of the estimate (on 2 shared cores the per-call times spread widely and the load drifts)
        http2 = anthropic.DefaultHttpxClient(verify=ssl_context(conn["ca_bundle"]))
        control = anthropic.AnthropicFoundry(api_key=key, base_url=a.base_url + "/", http_client=http2,
                                             max_retries=0, timeout=args.timeout)
        # the floor of any client with a middleware: the SDK's own cost of running a chain (the request view and
        # the copy of its options, the raw-response header it adds and sends, turning the response back), here
        # with a middleware that only passes the request on
        class PassThrough(anthropic.Middleware):
            def handle(self, request: Any, call_next: Any) -> Any:
                return call_next(request)

        http3 = anthropic.DefaultHttpxClient(verify=ssl_context(conn["ca_bundle"]))
        passthrough = anthropic.AnthropicFoundry(api_key=key, base_url=a.base_url + "/", http_client=http3,
                                                 max_retries=0, timeout=args.timeout, middleware=[PassThrough()])
        times: dict[str, list[float]] = {"bare": [], "runtime": [], "failover": [], "control": [], "passthrough": []}
        clients = [("bare", bare), ("runtime", rclient), ("failover", fclient), ("control", control),
                   ("passthrough", passthrough)]
        order = random.Random(0)  # noqa: S311 - the order of the calls, nothing secret
        for i in range(args.hot_calls + WARM_UP):
            # one round: each client once, back to back, in a fresh random order (no client keeps a position)
            order.shuffle(clients)
            for name, client in clients:
                t0 = time.perf_counter()
                client.messages.create(model="sonnet", max_tokens=8, messages=HI)
                if i >= WARM_UP:
                    times[name].append(time.perf_counter() - t0)
        tb, tr, tf, tc = times["bare"], times["runtime"], times["failover"], times["control"]
        mb, mr, mf = statistics.median(tb), statistics.median(tr), statistics.median(tf)

        def paired(t: list[float], ref: list[float] = tb) -> float:
            """Median over rounds of (this client's call / the reference's call in the same round): the load
            drift between rounds cancels out."""
            return statistics.median(x / y for x, y in zip(t, ref, strict=True))

        print(f"  A/A control (a second bare client): {paired(tc):.3f}x per call (median of per-round ratios), "
              f"{statistics.median(tc) / mb:.3f}x (ratio of medians)")
        tp = times["passthrough"]
        print(f"  SDK middleware floor (a bare client plus a pass-through middleware): {paired(tp):.3f}x "
              f"(ratio of medians {statistics.median(tp) / mb:.3f}x)")
        mean = statistics.mean(tf) / statistics.mean(tb)
        print(f"hot path ({args.hot_calls} calls each, interleaved): bare {mb * 1000:.2f} ms, "
              f"failover {mf * 1000:.2f} ms per call (median) -> {paired(tf):.3f}x (target <= 1.02x; median of "
              f"per-round ratios; ratio of medians {mf / mb:.3f}x, mean {mean:.3f}x)")
        print(f"  the first runtime's own client (FoundryRuntime.client: 401 re-read middleware, no failover): "
              f"{mr * 1000:.2f} ms -> {paired(tr):.3f}x bare (ratio of medians {mr / mb:.3f}x); "
              f"failover / runtime client {paired(tf, tr):.3f}x")
        control.close()
        passthrough.close()
        rclient.close()
        bare.close()
        fo_hot.close()
        fo.close()
        cred.close()
        return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
