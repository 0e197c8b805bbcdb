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
from typing import Any

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
    from claude_foundry._errors import OperationFailed
    from claude_foundry._ops.rotate import LeaseHeld, rotate_stack, select_accounts
    from claude_foundry._ops.view import stack_view
    from claude_foundry.cli import PARAMETER_FLAGS
    from claude_foundry.cli._target import dumps, resolve_target
    from claude_foundry.cli._ui import make_console
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    if spec.foundry.disable_local_auth:
        from claude_foundry._errors import UserError

        raise UserError(f"{args.stack_file}: the stack disables local auth (Entra ID only): there is no key "
                        "to rotate")
    wanted = args.account or None
    select_accounts(spec, wanted)  # a name the stack does not know: exit 2 before touching Azure
    console = make_console(soft_wrap=False, stderr=bool(args.json))
    flags = PARAMETER_FLAGS["rotate-keys"]
    with resolve_target(args) as target:
        view = stack_view(spec, target)
        several = len(view.accounts) > 1  # the one place the wording tells a one-account stack apart
        try:
            outcome = rotate_stack(view, accounts=wanted, grace=args.grace, stop_after=args.stop_after,
                                   break_lease=args.break_lease,
                                   on_event=lambda event: console.print(event_line(event, several), highlight=False))
        except LeaseHeld as exc:  # how to break it, as a command line (--account only where there is a choice)
            account = f" --account {exc.account}" if exc.account and several else ""
            raise OperationFailed(f"{exc.situation}: claude-foundry rotate-keys {args.stack_file}{account} "
                                  f"{flags['break_lease']}") from None
    if outcome.run_id:  # several accounts: the run as a whole
        for line in summary_lines(outcome, view, asked=bool(wanted)):
            console.print(line, highlight=False)
    if args.json:
        if spec.multi_account:
            data = outcome.to_json()
            data["warnings"] = [w.naming(flags) for w in outcome.warnings]
            for account, result in zip(data["accounts"], outcome.accounts, strict=True):
                account["warnings"] = [w.naming(flags) for w in result.warnings]
            print(dumps(data))
        else:  # one account: the shape it always had
            result = outcome.accounts[0]
            print(dumps({"rotation_id": result.rotation_id, "resumed_from_step": result.resumed_from,
                         "steps_run": result.steps_run, "warnings": [w.naming(flags) for w in result.warnings]}))
    return 0


def event_line(event: Any, several: bool = False) -> str:
    """One :class:`~claude_foundry._ops.rotate.RotationEvent` as a line of Rich markup; ``several``: the stack has
    several accounts (an account's lines then name it with its key and region)."""
    from rich.markup import escape

    from claude_foundry._ops import rotate as r
    from claude_foundry.cli import PARAMETER_FLAGS

    label = f"{event.name} ({event.account}, {event.location})" if several else event.name
    kind, of = event.kind, f" of {label}" if several else ""
    if kind == r.RUN_STALE:
        return (f"[yellow]the unfinished rotation run {event.rotation_id} was last updated {event.when or '?'}, "
                f"over {event.seconds / 86400:g} days ago: starting a new run[/]")
    if kind == r.RUN_CONTINUE:
        return (f"[bold]continuing rotation run {event.rotation_id}[/] (started {event.when}): accounts "
                f"{', '.join(event.accounts)}; already rotated in it: {', '.join(event.done) or 'none yet'}")
    if kind == r.RUN_START:
        several = len(event.accounts) > 1
        return (f"[bold]rotation run {event.rotation_id}[/]: account{'s' if several else ''} "
                f"{', '.join(event.accounts)}{', one after another' if several else ''}")
    if kind == r.RESUME:
        return f"[bold]resuming rotation {event.rotation_id}[/]{of} after step {event.step}/{event.total}"
    if kind == r.START:
        return f"[bold]rotation {event.rotation_id}[/] of {label} (grace {event.seconds:g}s)"
    if kind == r.STEP:
        return f"  [green]✓[/] {event.step}/{event.total} {event.text}"
    if kind == r.WAIT_GRACE:
        return f"  [dim]waiting {event.seconds:.1f}s (grace) …[/]"
    if kind == r.WAIT_REREAD:
        return f"  [dim]waiting {event.seconds:.1f}s (clients re-read the key at most every {event.interval:g}s) …[/]"
    if kind == r.STOPPED:
        return f"[yellow]stopped after step {event.step} as asked; run again to finish[/]"
    if kind == r.DONE:
        return (f"[green]rotation {event.rotation_id}{of} complete:[/] the vault holds the new key1, "
                "key2 is new and unused")
    if kind == r.WARNING and event.warning is not None:
        return f"[yellow]! {escape(event.warning.naming(PARAMETER_FLAGS['rotate-keys']))}[/]"
    return escape(f"{kind}: {event.text}")  # a kind this CLI does not know yet: said plainly


def summary_lines(outcome: Any, view: Any, *, asked: bool) -> list[str]:
    """A run over several accounts, account by account (Rich markup)."""
    lines = [f"[bold]rotation run {outcome.run_id}[/]:"]
    for result in outcome.accounts:
        what = (f"resumed after step {result.resumed_from}, " if result.resumed_from else "") + \
            (f"steps {result.steps_run[0]}-{result.steps_run[-1]}" if result.steps_run else "no step left")
        mark, state = ("[green]✓[/]", "rotated") if result.complete else ("[yellow]…[/]", "stopped")
        lines.append(f"  {mark} {view.accounts[result.account].words}: {state} ({what})")
    for key in outcome.skipped:
        lines.append(f"  [dim]- {view.accounts[key].words}: already rotated in this run[/]")
    if outcome.remaining:
        how = ("run `claude-foundry rotate-keys` without --account to finish the run" if asked and
               all(result.complete for result in outcome.accounts) else "run `claude-foundry rotate-keys` again "
               "to finish")
        lines.append(f"[yellow]still to rotate in this run: {', '.join(outcome.remaining)}: {how}[/]")
    else:
        lines.append("[green]every account of the run is rotated[/]")
    return lines
