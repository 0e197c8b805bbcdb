"""``claude-foundry rotate-keys STACK_FILE``: rotate the Foundry account's keys with no downtime.

publish key2 → wait → regenerate key1 → publish key1 → wait → regenerate key2; the journal (secret
``<prefix>-rotation``) lets any runner resume an interrupted rotation; the lease (``<prefix>-rotation-lease``)
keeps a second runner out while one rotates (exit 1, naming the holder). Refused (exit 2) when the stack
disables local auth. No key is ever printed.

A stack with several accounts rotates each (or those given with ``--account``), one after another, each with its
own key secret, journal and lease; the run is recorded so that a run after an interruption finishes it. An
unknown ``--account`` is a usage error (exit 2) listing the stack's accounts.
"""

from __future__ import annotations

import argparse

from claude_foundry.cli._target import add_target_arguments, bounded

#: The largest --grace accepted (a day): longer would hold the rotation lease for days.
MAX_GRACE = 86400.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rotate-keys", help="rotate the account keys without downtime (resumable)",
        description="Zero-downtime key rotation: publish key2 to the vault, wait, regenerate key1, publish the "
                    "new key1, wait, regenerate key2. State is kept in the vault (secret <prefix>-rotation): "
                    "running the command again after an interruption finishes the rotation. A run holds a lease "
                    "(secret <prefix>-rotation-lease): a second run while it is fresh exits 1 naming the holder. "
                    "A stack with several accounts (accounts:) rotates every account, one after another (the "
                    "others keep serving), each publishing to its own key secret, with its own journal and lease "
                    "(<prefix>-rotation-journal-<account>, <prefix>-rotation-lease-<account>); running again after "
                    "an interruption resumes the interrupted account and goes on with those not rotated yet. "
                    "Exit 2 when the stack disables local auth or --account names no account of the stack.")
    add_target_arguments(p)
    p.add_argument("--grace", type=bounded(float, 0.0, MAX_GRACE, "seconds"), default=60.0, metavar="SECONDS",
                   help=f"wait after each publish before revoking the old key (60; 0-{MAX_GRACE:g}); two "
                        "regenerations are also kept at least the runtime's key re-read interval (2 s) + 0.5 s apart")
    p.add_argument("--stop-after", type=bounded(int, 1, 5), metavar="N",
                   help="stop after step N (1-5) of the account being rotated; a later run resumes (for staged "
                        "rotations and tests)")
    p.add_argument("--break-lease", action="store_true",
                   help="take the rotation lease even though another run holds a fresh one (only when that run "
                        "is gone: cancelled, runner lost); an expired lease is taken over without this")
    p.add_argument("--account", action="append", metavar="NAME",
                   help="rotate only this account: its key under accounts: (primary for foundry:) or its account "
                        "name; repeat it or give a comma-separated list (default: every account, one after another)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry.cli._target import dumps, resolve_target
    from claude_foundry.cli.ui import make_console
    from claude_foundry.ops.rotate import rotate_stack, select_accounts
    from claude_foundry.ops.view import stack_view
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    if spec.foundry.disable_local_auth:
        from claude_foundry.errors import UserError

        raise UserError(f"{args.stack_file}: the stack disables local auth (Entra ID only): there is no key "
                        "to rotate")
    wanted = args.account or None
    select_accounts(spec, wanted)  # a name the stack does not know: exit 2 before touching Azure
    console = make_console(soft_wrap=False, stderr=bool(args.json))
    with resolve_target(args) as target:
        outcome = rotate_stack(stack_view(spec, target), accounts=wanted, grace=args.grace, console=console,
                               stop_after=args.stop_after, break_lease=args.break_lease, stack_file=args.stack_file)
    if args.json:
        if spec.multi_account:
            print(dumps(outcome.to_json()))
        else:  # one account: the shape it always had
            result = outcome.accounts[0]
            print(dumps({"rotation_id": result.rotation_id, "resumed_from_step": result.resumed_from,
                         "steps_run": result.steps_run, "warnings": result.warnings}))
    return 0
