"""The target flags of ``preflight``, ``verify`` and ``rotate-keys`` (real Azure or the sandbox), and the body
of the report commands."""

from __future__ import annotations

import argparse
import json
from typing import Any

from claude_foundry.errors import UserError


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack_file", metavar="STACK_FILE", help="the stack file (stacks/<env>.yaml)")
    g = p.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="the local sandbox instead of Azure (its connection file)")
    g.add_argument("--subscription", metavar="ID",
                   help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def resolve_target(args: argparse.Namespace) -> Any:
    """A :class:`claude_foundry.azure.target.Target` from ``--sandbox`` / ``--subscription``."""
    from claude_foundry.azure.target import azure_target, sandbox_target

    if getattr(args, "sandbox", None):
        if getattr(args, "subscription", None):
            raise UserError("--sandbox and --subscription are exclusive")
        return sandbox_target(args.sandbox)
    return azure_target(getattr(args, "subscription", None))


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def run_report_command(args: argparse.Namespace, runner: Any, passed: Any) -> int:
    """The body of ``preflight`` and ``verify``: plan the stack for the target, run the checks, print a
    table (or ``--json``); exit 0 when ``passed(report)``, else 1."""
    from claude_foundry.cli.ui import make_console
    from claude_foundry.ops.view import stack_view
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    with resolve_target(args) as target:
        report = runner(stack_view(spec, target))
    if args.json:
        print(dumps(report.to_json()))
    else:
        report.render(make_console(soft_wrap=False))
    return 0 if passed(report) else 1
