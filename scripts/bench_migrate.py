#!/usr/bin/env python3
"""Benchmark of a move (``claude_foundry._ops.migrate.move_deployment``) under load, against the local sandbox
(localhost only).

Seeds a stack with one logical deployment (``chat`` on claude-sonnet-4-6) in an embedded sandbox. N concurrent
clients (threads sharing one ``FoundryRuntime`` from Key Vault, re-reading the deployment map every
``--refresh`` seconds) call ``chat`` in a loop: first for ``--before`` seconds, then while ``chat`` moves to
claude-sonnet-5-5 (deploy beside, smoke, switch the contract, drain ``--drain`` seconds, remove the old
deployment), then for ``--after`` seconds. Measured in this one run and printed: failed requests (target 0), p50 and
p99 latency before and during the move and their ratio (target p99 during <= 1.5x before), the time the move took
per step, and which physical deployment answered.

    .venv/bin/python scripts/bench_migrate.py [--clients 20] [--before 5] [--drain 4] [--after 2] [--refresh 1]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from benchlib import pct

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # seeding.py: a stack through the Azure SDKs

HI = [{"role": "user", "content": "hi"}]
P99_TARGET = 1.5


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--before", type=float, default=5.0, help="seconds of load before the move")
    ap.add_argument("--drain", type=float, default=4.0, help="the move's drain (seconds)")
    ap.add_argument("--after", type=float, default=2.0, help="seconds of load after the move")
    ap.add_argument("--refresh", type=float, default=1.0, help="the runtime's map re-read interval (seconds)")
    args = ap.parse_args()
    if args.drain <= args.refresh:
        ap.error("--drain must be longer than --refresh (the runtimes follow within one re-read interval)")

    import logging

    from azure.identity import ClientSecretCredential
    from seeding import seed_stack

    from claude_foundry import _contract as c
    from claude_foundry._azure.target import sandbox_target
    from claude_foundry._client import runtime as rt
    from claude_foundry._ops.migrate import move_deployment
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    logging.getLogger("claude_foundry").setLevel(logging.ERROR)
    with Sandbox(SandboxConfig(provisioning_delay=0.0)) as sandbox:
        conn = sandbox.connection
        cred = ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                      authority=conn["authority"], disable_instance_discovery=True,
                                      connection_verify=conn["ca_bundle"])
        stack = seed_stack(sandbox, cred, {"chat": "claude-sonnet-4-6"}, prefix="bench-mv")
        runtime = rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=cred,
                                                   ca_bundle=conn["ca_bundle"], use_cache=False,
                                                   map_refresh_interval=args.refresh)
        phase = ["before"]
        lat: dict[str, list[float]] = {"before": [], "move": [], "after": []}
        models: dict[str, dict[str, int]] = {"before": {}, "move": {}, "after": {}}
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def worker() -> None:
            client = runtime.client("chat", max_retries=0, timeout=30)
            with client:
                while not stop.is_set():
                    now = phase[0]
                    t0 = time.perf_counter()
                    try:
                        model = client.messages.create(model="chat", max_tokens=8, messages=HI).model
                    except Exception as exc:
                        with lock:
                            failures.append(f"{now}: {type(exc).__name__}: {str(exc)[:160]}")
                        continue
                    took = time.perf_counter() - t0
                    with lock:
                        lat[now].append(took)
                        models[now][model] = models[now].get(model, 0) + 1

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # warm-up: connections, the first token of each client
        with lock:
            lat["before"].clear()
            models["before"].clear()
        time.sleep(args.before)
        phase[0] = "move"
        report = move_deployment(sandbox_target(conn), resource_group=stack.resource_group, account=stack.account,
                                 vault_url=stack.vault_url, prefix=stack.prefix, logical="chat",
                                 to_model="claude-sonnet-5-5", drain=args.drain)
        phase[0] = "after"
        time.sleep(args.after)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        runtime.close()
        left = {d.name for d in stack.cs.deployments.list(stack.resource_group, stack.account)}

    print(f"{args.clients} clients calling the logical name 'chat' while it moves from claude-sonnet-4-6 to "
          f"claude-sonnet-5-5 (map re-read every {args.refresh:g} s, drain {args.drain:g} s)")
    print(f"{'phase':8} {'calls':>7} {'p50 ms':>8} {'p99 ms':>8}  models answering")
    for name in ("before", "move", "after"):
        xs = lat[name]
        print(f"{name:8} {len(xs):7d} {pct(xs, 0.5) * 1000:8.1f} {pct(xs, 0.99) * 1000:8.1f}  "
              + ", ".join(f"{m}: {n}" for m, n in sorted(models[name].items())))
    print("move steps: " + ", ".join(f"{s.name} {s.seconds:.2f} s" for s in report.steps)
          + f"; total {report.seconds:.2f} s ({report.seconds - args.drain:.2f} s without the drain)")
    print(f"deployments left: {sorted(left)} (expected ['{c.physical_name('chat', 'claude-sonnet-5-5')}'])")
    ratio = pct(lat["move"], 0.99) / pct(lat["before"], 0.99)
    ok = True
    print(f"failed requests: {len(failures)} (target 0)")
    for f in failures[:10]:
        print(f"  {f}")
    ok &= not failures
    print(f"p99 during the move / before: {ratio:.2f}x (target <= {P99_TARGET}x)")
    ok &= ratio <= P99_TARGET
    moved = models["after"].get("claude-sonnet-5-5", 0) == sum(models["after"].values()) > 0
    print(f"after the move every call answered by claude-sonnet-5-5: {moved}")
    ok &= moved and left == {c.physical_name("chat", "claude-sonnet-5-5")}
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
