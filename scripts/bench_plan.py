#!/usr/bin/env python
"""Benchmark ``claude_foundry.program._plan.plan`` against raw Pulumi mocks.

For N deployments (1, 10, 50, 200) time, in one process:
  plan  — ``plan(spec)`` for a stack with N deployments (plus the ~17 other resources and 6 components);
  raw   — ``pulumi.runtime.set_mocks`` with the stock MockMonitor, registering N bare generic
          ``azure_native.resources.Resource`` in a fresh event loop (the floor any mock run pays).
Prints both (best of --repeat runs) and the ratio plan/raw. Target: ratio <= 1.5 at 50, cost linear in N.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from claude_foundry.program._plan import plan  # noqa: E402
from claude_foundry.program.spec import load_spec  # noqa: E402


def spec_with(n: int, tmp: Path):
    lines = [f"extends: {{path: '{ROOT / 'stacks' / 'dev.yaml'}', outside_project: true}}", "deployments:"]
    lines += [f"  d{i:03d}: {{model: claude-sonnet-4-6}}" for i in range(n)]
    path = tmp / f"bench-{n}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_spec(path)


def raw_pulumi(n: int) -> None:
    """N bare generic resources under the stock mocks, fresh loop and settings (like pulumi's own tests)."""
    import pulumi
    import pulumi.runtime.settings as psettings
    import pulumi_azure_native as azure_native
    from pulumi.runtime import mocks
    from pulumi.runtime.stack import run_pulumi_func

    class Mocks(mocks.Mocks):
        def new_resource(self, args):
            return f"{args.name}_id", args.inputs

        def call(self, args):
            return {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            psettings.ROOT.set(None)
            psettings.SETTINGS.outputs = set()
            mocks.set_mocks(Mocks(), project="bench", stack="bench", preview=False)

            def program():
                for i in range(n):
                    azure_native.resources.Resource(
                        f"r{i}", resource_group_name="rg", resource_provider_namespace="Microsoft.Foo",
                        resource_type="bars", parent_resource_path="", resource_name_=f"r{i}", api_version="2020-01-01",
                        properties={"x": i}, opts=pulumi.ResourceOptions())

            loop.run_until_complete(run_pulumi_func(program))
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    contextvars.copy_context().run(run)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1,10,50,200")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sizes = [int(s) for s in args.sizes.split(",")]
        specs = {n: spec_with(n, Path(tmp)) for n in sizes}
        # warm-up: imports of the azure-native modules, the catalogue, first-run caches
        plan(specs[sizes[0]])
        raw_pulumi(1)
        print(f"{'deployments':>11} {'resources':>9} {'plan (s)':>9} {'raw (s)':>9} {'ratio':>6} "
              f"{'plan ms/dep':>11}")
        for n in sizes:
            p = plan(specs[n])
            t_plan = best(lambda n=n: plan(specs[n]), args.repeat)
            t_raw = best(lambda n=n: raw_pulumi(n), args.repeat)
            print(f"{n:>11} {len(p.resources):>9} {t_plan:>9.3f} {t_raw:>9.3f} {t_plan / t_raw:>6.2f} "
                  f"{1000 * t_plan / n:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
