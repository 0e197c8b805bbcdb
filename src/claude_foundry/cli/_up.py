"""``claude-foundry up --local STACK_FILE``: rehearse a deploy against the local sandbox.

The real deploy is ``pulumi up`` against Azure. This applies the same Pulumi program's resources to the
local sandbox through the Azure SDKs, so the whole chain can be tried (and tested) without a subscription.
"""

from __future__ import annotations

import argparse

from claude_foundry.cli._local import LOCAL_NOTE, add_local_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="local rehearsal: apply a stack to the local sandbox",
                       description="Apply STACK_FILE's resources (the same Pulumi program, run under mocks) to "
                       "the local sandbox through the Azure SDKs, then write the Key Vault secrets. "
                       + LOCAL_NOTE)
    add_local_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._rehearse import up_local
    from claude_foundry.cli._local import local_session, print_result
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    with local_session(args) as (target, console, reporter):
        with reporter.live("applying to the sandbox"):
            deploy = up_local(spec, target, state_dir=args.state_dir, concurrency=args.concurrency,
                              report=reporter, operation_timeout=args.operation_timeout)
        print_result(console, deploy.result, "up")
        if deploy.result.ok:
            console.print(f"endpoint   {deploy.endpoint}")
            console.print(f"vault      {deploy.vault_url}")
            console.print(f"secrets    {deploy.secret_prefix}-*   deployments: {', '.join(deploy.deployments)}")
    return 0 if deploy.result.ok else 1
