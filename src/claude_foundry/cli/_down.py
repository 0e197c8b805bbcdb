"""``claude-foundry down --local STACK_FILE``: remove a local rehearsal from the sandbox."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from claude_foundry.cli._local import LOCAL_NOTE, add_local_args

    p = sub.add_parser("down", help="local rehearsal: remove a stack from the local sandbox",
                       description="Delete STACK_FILE's resources from the local sandbox, dependants first. "
                       + LOCAL_NOTE.replace("pulumi up", "pulumi destroy"))
    add_local_args(p)
    p.add_argument("--purge", action="store_true",
                   help="then purge the soft-deleted account and vault, so the same names can be deployed "
                        "again (Azure keeps them soft-deleted for days; a purge-protected vault cannot be purged)")
    p.add_argument("--unprotect", action="store_true",
                   help="also remove a stack with `protect: true` (its CanNotDelete locks go first)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._errors import UserError
    from claude_foundry._rehearse import down_local, purge_soft_deleted
    from claude_foundry.cli._local import local_session, print_result
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    if spec.protect and not args.unprotect:
        raise UserError(f"{args.stack_file}: the stack is protected (protect: true): its resources carry "
                        "CanNotDelete locks and Pulumi `protect`. Pass --unprotect to remove the local "
                        "rehearsal anyway; against Azure, set protect: false and `pulumi up` first.")
    with local_session(args) as (target, console, reporter):
        with reporter.live("removing from the sandbox"):
            result = down_local(spec, target, state_dir=args.state_dir, concurrency=args.concurrency,
                                report=reporter, operation_timeout=args.operation_timeout)
        print_result(console, result, "down")
        if result.ok and args.purge:
            for line in purge_soft_deleted(spec, target, operation_timeout=args.operation_timeout):
                console.print(f"  {line}")
        elif result.ok:
            console.print("[dim]the account and the vault are now soft-deleted, as in Azure: deploying the same "
                          "names again needs `down --local --purge` first (or a restore)[/]")
    return 0 if result.ok else 1
