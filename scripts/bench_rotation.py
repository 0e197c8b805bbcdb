#!/usr/bin/env python3
"""Reliability benchmark: key rotation under load, against the local sandbox (localhost only).

Deploys stacks/dev.yaml into an embedded sandbox, starts N concurrent clients built by the runtime
(``FoundryRuntime.from_key_vault``: key from Key Vault, one re-read on 401), each calling the stack's
deployments in a loop, and meanwhile runs ``rotate-keys`` R times with a short grace. Prints requests sent,
failed, and retried (key re-reads after a 401). Target: 0 failed.

A stack with several accounts (``--stack`` with ``accounts:``) spreads the clients over its accounts (client i
calls account i mod n, with that account's key) and every rotation rotates each account, one after another.

    .venv/bin/python scripts/bench_rotation.py [--clients 20] [--rotations 2] [--grace 0.5]
                                               [--max-seconds 60] [--max-requests-per-client 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stack", default=str(ROOT / "stacks" / "dev.yaml"))
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--rotations", type=int, default=2)
    ap.add_argument("--grace", type=float, default=0.5, help="rotate-keys --grace (seconds)")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="hard time bound for the whole run")
    ap.add_argument("--max-requests-per-client", type=int, default=2000)
    ap.add_argument("--tail", type=float, default=1.0, help="keep calling this long after the last rotation")
    args = ap.parse_args()

    from rich.console import Console

    from claude_foundry._azure.target import sandbox_target
    from claude_foundry._client import runtime as rt
    from claude_foundry._ops.rotate import rotate_stack
    from claude_foundry._ops.view import stack_view
    from claude_foundry._rehearse import up_local
    from claude_foundry.program.spec import load_spec
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    console = Console(stderr=True)
    spec = load_spec(args.stack)
    with tempfile.TemporaryDirectory() as tmp, Sandbox(SandboxConfig(provisioning_delay=0.0)) as sandbox:
        conn = sandbox.connection
        target = sandbox_target(conn)
        deployed = up_local(spec, target, state_dir=Path(tmp))
        if not deployed.result.ok or not deployed.vault_url:
            console.print(f"[red]deploy failed: {deployed.result.summary()}[/]")
            return 1
        credential = target.credential
        loaded = [rt.FoundryRuntime.from_key_vault(deployed.vault_url, prefix=spec.key_vault.secret_prefix,
                                                   credential=credential, ca_bundle=conn["ca_bundle"],
                                                   use_cache=False)
                  for _ in range(args.clients)]
        # client i calls account i mod n (each account's runtime re-reads that account's own key secret)
        per_client = [r.accounts() for r in loaded]
        runtimes = [accounts[i % len(accounts)] for i, accounts in enumerate(per_client)]
        accounts_used = sorted({r.account for r in runtimes})
        stop = threading.Event()
        lock = threading.Lock()
        counts = {"sent": 0, "failed": 0}
        errors: dict[str, int] = {}
        deadline = time.monotonic() + args.max_seconds

        def client(i: int) -> None:
            runtime = runtimes[i]
            names = sorted(runtime.deployments)
            try:
                anthropic_client = runtime.client(max_retries=0)
            except Exception as exc:  # a client that cannot even start counts as a failure
                with lock:
                    label = f"client setup: {type(exc).__name__}: {str(exc)[:200]}"
                    errors[label] = errors.get(label, 0) + 1
                    counts["failed"] += 1
                return
            n = 0
            while not stop.is_set() and n < args.max_requests_per_client and time.monotonic() < deadline:
                name = names[(i + n) % len(names)]
                n += 1
                try:
                    anthropic_client.messages.create(model=name, max_tokens=8,
                                                     messages=[{"role": "user", "content": "ping"}])
                    ok = True
                except Exception as exc:  # counted, summarised by type and status
                    ok = False
                    label = f"{type(exc).__name__} {getattr(exc, 'status_code', '')}".strip()
                    with lock:
                        errors[label] = errors.get(label, 0) + 1
                with lock:
                    counts["sent"] += 1
                    counts["failed"] += 0 if ok else 1

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(0.5)  # clients warm up on the original key1
        view = stack_view(spec, target)
        for r in range(args.rotations):
            console.print(f"[bold]rotation {r + 1}/{args.rotations}[/]")
            rotate_stack(view, grace=args.grace, console=console)
        time.sleep(args.tail)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        elapsed = time.monotonic() - started
        retried = sum(r.key_rereads for r in runtimes)
        for accounts in per_client:
            for r in accounts:
                r.close()
        credential.close()

    print(f"clients={args.clients} rotations={args.rotations} grace={args.grace}s "
          f"re-read-interval={rt.KEY_REREAD_MIN_INTERVAL}s elapsed={elapsed:.1f}s "
          f"accounts={','.join(accounts_used)}")
    print(f"requests sent:    {counts['sent']}")
    print(f"requests failed:  {counts['failed']}")
    print(f"retried (key re-reads after 401): {retried}")
    if errors:
        print("failures by type: " + ", ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    return 0 if counts["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
