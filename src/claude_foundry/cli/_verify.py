"""``claude-foundry verify STACK_FILE``: after deploying, on a schedule: is what is live still the stack?

Compares the account, its deployments (extra ones too), role assignments, diagnostic settings, the Key
Vault and its secrets (the API key against the account's current keys) with the plan of the stack; a stack with
several accounts (``accounts:``) has each account checked the same way, and its ``<prefix>-accounts`` secret and
each account's key secret too. Prints the differences (never a secret value), naming the account. Exit 0 in sync,
1 on drift, 2 on a usage error.
"""

from __future__ import annotations

import argparse
from typing import Any

from claude_foundry.cli._target import add_target_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify", help="after deploying: compare what is live with the stack (drift)",
        description="Compare the live account, deployments, role assignments, diagnostic settings, Key Vault "
                    "settings and secrets with the stack's plan; with several accounts (accounts:), every "
                    "account, the accounts secret and each account's key secret. Exit 0 when in sync, 1 on drift, "
                    "2 on usage errors. Reading the secrets needs Key Vault Secrets User on the vault; comparing "
                    "an API key needs listKeys on its account.")
    add_target_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._ops.verify import run_verify
    from claude_foundry.cli._target import run_report_command

    return run_report_command(args, run_verify, lambda report: report.in_sync, render)


def render(report: Any, console: Any) -> None:
    """The drift table (when there is drift), then the summary."""
    from rich.table import Table

    if report.drifts:
        table = Table(title="drift")
        for col in ("resource", "field", "expected", "actual"):
            table.add_column(col, overflow="fold")
        for d in report.drifts:
            table.add_row(d.resource, d.field, d.expected, d.actual)
        console.print(table)
    console.print(f"[{'green' if report.in_sync else 'red'}]{report.summary()}[/]", highlight=False)
