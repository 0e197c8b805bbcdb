"""Benchmark ``up --local``: overhead beyond the sandbox's own provisioning time, and two accounts vs one (two stacks
at once, and one stack naming two accounts with ``accounts:``).

The sandbox holds every account and deployment write "in flight" for ``--delay`` seconds (as ARM's long
running operations do). Deployments of one account are chained (ARM refuses concurrent changes), so the
least a deploy of N deployments can take is the account plus N deployments: (N + 1) x delay. Everything
above that is our overhead: planning (the Pulumi program under mocks), HTTP, polling, scheduling.

Targets: overhead <= 10 %; two accounts deployed at once <= 1.2 x one account.

    .venv/bin/python scripts/bench_up.py [--delay 0.5] [--sizes 1,10,30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

from claude_foundry._azure.target import sandbox_target
from claude_foundry._rehearse import up_local
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox import Sandbox, SandboxConfig

MODELS = ("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-6")


def write_stack(directory: Path, name: str, deployments: int, second_account: bool = False) -> Path:
    lines = [
        "environment: bench", "location: eastus2", f"resource_group: rg-{name}",
        "foundry:", f"  name: {name}",
        "  model_provider: {organization_name: Bench, country_code: US, industry: technology}",
        "deployments:",
    ]
    lines += [f"  d{i:03d}: {{model: {MODELS[i % len(MODELS)]}, capacity: 1}}" for i in range(deployments)]
    lines += [f"key_vault: {{name: kv-{name[-20:]}}}"]
    if second_account:  # the same deployments in a second account of the same stack, in another region
        lines += ["accounts:", f"  second: {{name: {name}-2, location: swedencentral}}"]
    path = directory / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed_up(target, spec, state_dir: Path) -> float:
    started = time.perf_counter()
    deploy = up_local(spec, target, state_dir=state_dir)
    wall = time.perf_counter() - started
    if not deploy.result.ok:
        failed = [(r.step.name, r.error) for r in deploy.result.results if r.error]
        raise SystemExit(f"deploy failed: {failed[:3]}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=1.0, help="sandbox provisioning delay per write (s)")
    parser.add_argument("--sizes", default="1,10,30")
    parser.add_argument("--pair-size", type=int, default=10, help="deployments per account in the 2-vs-1 run")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seed = {"default_quota": 100000}
        with Sandbox(SandboxConfig(state_dir=tmp / "sb", provisioning_delay=args.delay, seed=seed)) as sb, \
                sandbox_target(sb.connection) as target:
            # warm-up, not counted: the first deploy of a process imports Pulumi and pulumi-azure-native
            timed_up(target, load_spec(write_stack(tmp, "warmup", 1)), tmp / "state-warmup")
            print(f"sandbox provisioning delay {args.delay:.2f}s per account/deployment write")
            print(f"{'deployments':>11} {'floor (s)':>10} {'wall (s)':>9} {'overhead':>9}")
            worst = 0.0
            for n in sizes:
                spec = load_spec(write_stack(tmp, f"bench-{n}", n))
                floor = (n + 1) * args.delay
                wall = timed_up(target, spec, tmp / f"state-{n}")
                overhead = wall / floor - 1
                worst = max(worst, overhead)
                print(f"{n:>11} {floor:>10.2f} {wall:>9.2f} {overhead:>8.1%}")

            a = load_spec(write_stack(tmp, "pair-a", args.pair_size))
            b = load_spec(write_stack(tmp, "pair-b", args.pair_size))
            c = load_spec(write_stack(tmp, "solo-c", args.pair_size))
            one = timed_up(target, c, tmp / "state-c")
            walls: dict[str, float] = {}
            started = time.perf_counter()
            threads = [threading.Thread(target=lambda k=k, s=s: walls.__setitem__(k, timed_up(target, s, tmp / k)))
                       for k, s in (("a", a), ("b", b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            two = time.perf_counter() - started
            ratio = two / one
            print(f"\none account of {args.pair_size}: {one:.2f}s; two stacks at once: {two:.2f}s; "
                  f"ratio {ratio:.2f} (target <= 1.2)")
            # one stack naming two accounts (accounts:): each account's deployments chained, the accounts in parallel
            both = timed_up(target, load_spec(write_stack(tmp, "multi-d", args.pair_size, second_account=True)),
                            tmp / "state-d")
            in_stack = both / one
            print(f"one stack with two accounts of {args.pair_size}: {both:.2f}s; ratio {in_stack:.2f} "
                  "(target <= 1.2)")
            print(f"worst overhead {worst:.1%} (target <= 10%)")
            return 0 if worst <= 0.10 and ratio <= 1.2 and in_stack <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
