"""``claude-foundry rotate-keys STACK_FILE``: rotate the Foundry account's keys with no downtime.

publish key2 → wait → regenerate key1 → publish key1 → wait → regenerate key2; the journal (secret
``<prefix>-rotation``) lets any runner resume an interrupted rotation; the lease (``<prefix>-rotation-lease``)
keeps a second runner out while one rotates (exit 1, naming the holder). Refused (exit 2) when the stack
disables local auth. No key is ever printed.
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
                    "Exit 2 when the stack disables local auth.")
    add_target_arguments(p)
    p.add_argument("--grace", type=bounded(float, 0.0, MAX_GRACE, "seconds"), default=60.0, metavar="SECONDS",
                   help=f"wait after each publish before revoking the old key (60; 0-{MAX_GRACE:g}); two "
                        "regenerations are also kept at least the runtime's key re-read interval (2 s) + 0.5 s apart")
    p.add_argument("--stop-after", type=bounded(int, 1, 5), metavar="N",
                   help="stop after step N (1-5); a later run resumes (for staged rotations and tests)")
    p.add_argument("--break-lease", action="store_true",
                   help="take the rotation lease even though another run holds a fresh one (only when that run "
                        "is gone: cancelled, runner lost); an expired lease is taken over without this")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry.cli._target import dumps, resolve_target
    from claude_foundry.cli.ui import make_console
    from claude_foundry.ops.rotate import rotate_keys
    from claude_foundry.ops.view import stack_view
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    if spec.foundry.disable_local_auth:
        from claude_foundry.errors import UserError

        raise UserError(f"{args.stack_file}: the stack disables local auth (Entra ID only): there is no key "
                        "to rotate")
    console = make_console(soft_wrap=False, stderr=bool(args.json))
    with resolve_target(args) as target:
        result = rotate_keys(stack_view(spec, target), grace=args.grace, console=console,
                             stop_after=args.stop_after, break_lease=args.break_lease, stack_file=args.stack_file)
    if args.json:
        print(dumps({"rotation_id": result.rotation_id, "resumed_from_step": result.resumed_from,
                     "steps_run": result.steps_run, "warnings": result.warnings}))
    return 0
