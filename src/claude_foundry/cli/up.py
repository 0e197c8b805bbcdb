"""``claude-foundry up --local STACK_FILE``: rehearse a deploy against the local sandbox.

The real deploy is ``pulumi up`` against Azure. This applies the same Pulumi program's resources to the
local sandbox through the Azure SDKs, so the whole chain can be tried (and tested) without a subscription.
"""

from __future__ import annotations

import argparse
from pathlib import Path

LOCAL_NOTE = ("This is a LOCAL REHEARSAL against the embedded sandbox (a stand-in for Azure on this machine); "
              "`pulumi up` against Azure is the real path.")
DEFAULT_STATE_DIR = Path(".claude-foundry")


def add_local_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack_file", metavar="STACK_FILE")
    p.add_argument("--local", action="store_true", required=True,
                   help="required: act on the local sandbox (for Azure use `pulumi up` / `pulumi destroy`)")
    p.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="a running sandbox's connection file; without it an embedded sandbox is started, "
                   "its state kept in --state-dir so a second run sees the same resources")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help=f"where local deploy state (and the embedded sandbox's state) lives (default "
                   f"{DEFAULT_STATE_DIR})")
    p.add_argument("--concurrency", type=int, default=16, help="independent resources applied at once")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="local rehearsal: apply a stack to the local sandbox",
                       description="Apply STACK_FILE's resources (the same Pulumi program, run under mocks) to "
                       "the local sandbox through the Azure SDKs, then write the Key Vault secrets. "
                       + LOCAL_NOTE)
    add_local_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry.cli._local import local_session, print_result
    from claude_foundry.program.spec import load_spec
    from claude_foundry.rehearse import up_local

    spec = load_spec(args.stack_file)
    with local_session(args) as (target, console, reporter):
        with reporter.live("applying to the sandbox"):
            deploy = up_local(spec, target, state_dir=args.state_dir, concurrency=args.concurrency,
                              report=reporter)
        print_result(console, deploy.result, "up")
        if deploy.result.ok:
            console.print(f"endpoint   {deploy.endpoint}")
            console.print(f"vault      {deploy.vault_url}")
            console.print(f"secrets    {deploy.secret_prefix}-*   deployments: {', '.join(deploy.deployments)}")
    return 0 if deploy.result.ok else 1
