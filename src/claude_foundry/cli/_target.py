"""The target flags of ``preflight``, ``verify`` and ``rotate-keys`` (real Azure or the sandbox), the body
of the report commands, and the bounded number types every numeric flag of the ops and local commands uses."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from typing import Any

from claude_foundry._errors import UserError


def bounded(kind: type, low: float, high: float, unit: str = "") -> Callable[[str], Any]:
    """An argparse ``type`` for a number of ``kind`` (int or float) between ``low`` and ``high``: NaN,
    infinity and anything outside the range are refused (argparse: exit 2 with the message)."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number{' of' + suffix if unit else ''}, not {text!r}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}{suffix}, not {text!r}")
        return value

    parse.__name__ = kind.__name__
    parse.kind = kind  # type: ignore[attr-defined]  # read back by tests/unit/test_cli_flags.py
    parse.bounds = (low, high)  # type: ignore[attr-defined]  # as above
    return parse


#: ``--operation-timeout`` of ``up``/``down``/``demo``: seconds an ARM long-running operation may take.
OPERATION_TIMEOUT_RANGE = (1.0, 86400.0)


def add_operation_timeout(p: argparse.ArgumentParser) -> None:
    from claude_foundry._azure.target import OPERATION_TIMEOUT

    p.add_argument("--operation-timeout", type=bounded(float, *OPERATION_TIMEOUT_RANGE, "seconds"),
                   default=OPERATION_TIMEOUT, metavar="SECONDS",
                   help=f"give up on an ARM long-running operation (a create, update, delete or purge) that has "
                        f"not finished after SECONDS (default {OPERATION_TIMEOUT:g}, ARM's own guidance; "
                        f"{OPERATION_TIMEOUT_RANGE[0]:g}-{OPERATION_TIMEOUT_RANGE[1]:g}); the step fails, a re-run "
                        "resumes")


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack_file", metavar="STACK_FILE", help="the stack file (stacks/<env>.yaml)")
    g = p.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="the local sandbox instead of Azure (its connection file)")
    g.add_argument("--subscription", metavar="ID",
                   help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def resolve_target(args: argparse.Namespace) -> Any:
    """A :class:`claude_foundry._azure.target.Target` from ``--sandbox`` / ``--subscription``."""
    from claude_foundry._azure.target import azure_target, sandbox_target

    if getattr(args, "sandbox", None):
        if getattr(args, "subscription", None):
            raise UserError("--sandbox and --subscription are exclusive")
        return sandbox_target(args.sandbox)
    return azure_target(getattr(args, "subscription", None))


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def run_report_command(args: argparse.Namespace, runner: Any, passed: Any, render: Any) -> int:
    """The body of ``preflight`` and ``verify``: plan the stack for the target, run the checks, print the report
    with ``render(report, console)`` (or ``--json``); exit 0 when ``passed(report)``, else 1."""
    from claude_foundry._ops.view import stack_view
    from claude_foundry.cli._ui import make_console
    from claude_foundry.program.spec import load_spec

    spec = load_spec(args.stack_file)
    with resolve_target(args) as target:
        report = runner(stack_view(spec, target))
    if args.json:
        print(dumps(report.to_json()))
    else:
        render(report, make_console(soft_wrap=False))
    return 0 if passed(report) else 1
