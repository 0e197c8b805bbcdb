"""``claude-foundry preflight STACK_FILE``: before ``pulumi up``, will the deploy succeed?

Checks subdomain, models and SKUs in the location, quota, modelProviderData, Marketplace terms, the
resource group and the caller's permissions; one line per check. Exit 0 when nothing failed (warnings
allowed), 1 when a check failed, 2 on a usage error or when no Azure credential can get a token (one message).

A stack with several accounts: subdomain, soft-deleted account and models are checked per account, against the
models list of that account's own location (``model:<account>/<deployment>`` for any but the first, each finding
naming the account and its region); quota per pool (Global Standard adds up across every account); subscription
eligibility and Marketplace terms once.
"""

from __future__ import annotations

import argparse
from typing import Any

from claude_foundry.cli._target import add_target_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "preflight", help="before deploying: subdomain, models, quota, provider data, terms, permissions",
        description="Check a stack against the subscription before `pulumi up`: is the subdomain free (or ours), "
                    "is every model+version offered in the location with its SKU, does the capacity fit the "
                    "quota, is modelProviderData complete, are the Marketplace terms accepted, may the caller "
                    "write to the resource group. A stack with several accounts (accounts:) is checked account by "
                    "account against each account's own location (checks model:<account>/<deployment>, "
                    "subdomain:<account>, ...; the primary's keep their names), quota per pool (Global Standard "
                    "capacity adds up across the accounts). Exit 1 on any failure, 2 on usage errors or when no Azure "
                    "credential can get a token (said once, with how to log in).")
    add_target_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._ops.preflight import run_preflight
    from claude_foundry.cli._target import run_report_command

    return run_report_command(args, run_preflight, lambda report: report.ok, render)


def render(report: Any, console: Any) -> None:
    """One line per check: result, name, reason and (unless it passed) the fix; then the summary."""
    from rich.markup import escape

    from claude_foundry._ops.preflight import FAIL, PASS, WARN

    style = {PASS: "green", FAIL: "red", WARN: "yellow"}
    width = max((len(c.name) for c in report.checks), default=0)
    for c in report.checks:
        line = f"[{style[c.status]}]{c.status:<4}[/] {escape(c.name):<{width}}  {escape(c.reason)}"
        if c.fix and c.status != PASS:
            line += f" [dim]— fix: {escape(c.fix)}[/]"
        console.print(line, highlight=False, soft_wrap=True)
    console.print(f"[{'green' if report.ok else 'red'}]{report.summary()}[/]", highlight=False)
