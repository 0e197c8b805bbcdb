"""``claude-foundry migrate STACK_FILE DEPLOYMENT --to MODEL``: move a deployment name to another model with no
failed request.

Per account serving the name, one after another: deploy the replacement beside the old deployment (under
``<name>--<model>``), smoke-test it, switch the contract in Key Vault (runtimes follow without a restart), drain,
remove the old deployment. Then it prints the change the stack file needs (``--write-stack`` applies it) so that
the next ``pulumi up`` keeps what the move made. Exit 0 when moved, 1 when a step failed against Azure (a re-run
resumes), 2 on bad input.
"""

from __future__ import annotations

import argparse
from typing import Any

from claude_foundry.cli._target import add_operation_timeout, bounded

FORMATS = ("table", "json")
#: The longest --drain accepted (a day).
MAX_DRAIN = 86400.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate", help="move a deployment name to another model without a failed request",
        description="Move the deployment DEPLOYMENT (the name applications call) to the model --to, on every "
                    "account of the stack that serves it, one after another: deploy the replacement beside the "
                    "old deployment as <DEPLOYMENT>--<model>, smoke-test it, switch the contract in Key Vault "
                    "(runtimes that read it follow within 30 s, no restart), wait --drain seconds, remove the old "
                    "deployment. A failed step exits 1 naming it; running the same command again resumes. Then "
                    "it prints the change the stack file needs (model and deployment: of the entry), which "
                    "--write-stack applies, so that the next `pulumi up` keeps the new deployment.")
    p.add_argument("stack_file", metavar="STACK_FILE", help="the stack file (stacks/<env>.yaml)")
    p.add_argument("deployment", metavar="DEPLOYMENT", help="the deployment name to move (as clients call it)")
    p.add_argument("--to", dest="to_model", required=True, metavar="MODEL", help="the model to move it to")
    p.add_argument("--version", dest="to_version", metavar="V",
                   help="the model version (default: the one of the old deployment's hosting, else the default)")
    p.add_argument("--drain", type=bounded(float, 0.0, MAX_DRAIN, "seconds"), default=None, metavar="SECONDS",
                   help="wait between the switch and the removal of the old deployment (default 300: the "
                        "runtime's 30 s re-read plus a five-minute call; 0-86400)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--account", action="append", metavar="NAME",
                       help="move it on this account only: its key under accounts: (primary for foundry:) or its "
                            "account name; repeat it or give a comma-separated list")
    which.add_argument("--all-accounts", action="store_true",
                       help="move it on every account that serves it (the default), one after another")
    g = p.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE", help="the local sandbox instead of Azure")
    g.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    p.add_argument("--write-stack", action="store_true",
                   help="rewrite the stack file with the change (PyYAML: its comments and layout are not kept)")
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default) or json")
    add_operation_timeout(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from claude_foundry._azure import arm
    from claude_foundry._catalogue import load_catalogue
    from claude_foundry._errors import UserError
    from claude_foundry._files import write_file
    from claude_foundry._ops import migrate as m
    from claude_foundry._ops.rotate import select_accounts
    from claude_foundry.cli._target import dumps, resolve_target
    from claude_foundry.cli._ui import make_console
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    cat = load_catalogue()
    if cat.model(args.to_model) is None:
        raise UserError(f"--to {args.to_model!r}: the catalogue does not know this model (refresh it with "
                        "`claude-foundry catalogue refresh`, or check the name)")
    serving = [a.key for a in spec.all_accounts() if args.deployment in a.deployments]
    if not serving:
        raise UserError(f"{args.stack_file}: no account of the stack serves a deployment {args.deployment!r} "
                        f"(its deployments: {', '.join(spec.deployments)})")
    only = select_accounts(spec, args.account) if args.account else None
    console = make_console(soft_wrap=False, stderr=args.format == "json")
    provider = spec.foundry.model_provider
    move: dict[str, Any] = {
        "to_version": args.to_version, "operation_timeout": args.operation_timeout,
        "model_provider_data": {"organizationName": provider.organization_name,
                                "countryCode": provider.country_code, "industry": provider.industry},
        "progress": lambda line: console.print(f"  [dim]{escape(line)}[/]", highlight=False),
    }
    if args.drain is not None:
        move["drain"] = args.drain

    def moved(key: str, report: Any) -> None:
        console.print(f"[green]✓[/] {escape(key)} ({escape(report.account)}): {escape(report.logical)} → "
                      f"{escape(report.to_deployment)} ({escape(report.to_model)} version {report.to_version}) in "
                      f"{report.seconds:.1f} s", highlight=False)

    with resolve_target(args) as target:
        vault_url = m.stack_vault_url(target, spec.resource_group, spec.key_vault.name)
        move["vault_id"] = arm.vault_id(target.subscription_id, spec.resource_group, spec.key_vault.name)
        try:
            report = m.move_stack_deployment(
                target, resource_group=spec.resource_group, accounts=spec.all_accounts(), vault_url=vault_url,
                logical=args.deployment, to_model=args.to_model, only=only, prefix=spec.key_vault.secret_prefix,
                on_account=moved, **move)
        except m.MoveError as exc:
            done = exc.moved
            raise m.MoveError(exc.step, f"account {exc.account or '?'}: {exc.message}"
                              + (f" (already moved: {', '.join(done)})" if done else "")
                              + "; run the same command again to resume") from None
    change = m.stack_file_change(args.stack_file, spec, report, cat)
    if args.write_stack and change.text is not None:
        write_file(args.stack_file, change.text)
    if args.format == "json":
        data = report.to_json()
        data["stack_file"] = {**change.to_json(), "written": bool(args.write_stack and change.text is not None)}
        print(dumps(data))
    else:
        for key, why in report.skipped.items():
            console.print(f"[dim]- {escape(key)}: {escape(why)}[/]", highlight=False)
        for line in change_lines(change, written=bool(args.write_stack and change.text is not None)):
            console.print(line, highlight=False)
    if args.write_stack and change.text is None:
        raise UserError("; ".join(change.problems) + " (the move itself is done)")
    return 0


def change_lines(change: Any, *, written: bool) -> list[str]:
    """The stack file's change as lines of Rich markup."""
    from rich.markup import escape

    if not change.edits:
        return ["the stack file needs no change"]
    head = (f"[green]{escape(change.path)} rewritten[/] (comments and layout are not kept):" if written else
            f"[bold]change {escape(change.path)}[/] so the next `pulumi up` keeps the new deployment "
            "(or run again with --write-stack):")
    lines = [head]
    for edit in change.edits:
        what = ", ".join(f"{k}: {v}" for k, v in edit.values.items())
        drop = f"; remove {', '.join(edit.remove)}" if edit.remove else ""
        lines.append(f"  {escape('.'.join(edit.where))}: {escape(what)}{escape(drop)}"
                     + (" (a new entry)" if edit.create else ""))
    for problem in change.problems:
        lines.append(f"[yellow]! {escape(problem)}[/]")
    return lines
