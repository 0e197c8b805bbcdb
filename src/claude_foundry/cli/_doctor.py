"""``claude-foundry doctor``: is this machine ready for the real deploy? Each prerequisite ok or missing, with the
exact command that fixes it (the steps: :mod:`claude_foundry._ops.doctor`). Exit 0 when ready, 1 when a step is
missing, 2 on a usage error. Runs on the core install (it says which extras are missing)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, TextIO

from claude_foundry.cli._target import bounded, dumps

if TYPE_CHECKING:
    from claude_foundry._ops.doctor import DoctorReport, Step

#: The extras the real deploy needs: ``pulumi up`` runs the program ([infra]); preflight, verify and
#: rotate-keys need [ops], which includes [infra].
DEPLOY_EXTRAS = ("ops",)

TIMEOUT_RANGE = (1.0, 600.0)


def register(sub: argparse._SubParsersAction) -> None:
    from claude_foundry._ops.doctor import COMMAND_TIMEOUT, MIN_PULUMI

    p = sub.add_parser(
        "doctor", help="is this machine ready to deploy? Python, extras, Pulumi CLI, state backend, Azure login, "
                       "subscription",
        description="Check this machine for the real deploy (docs/getting-started.md), each step ok or missing "
                    "with the command that fixes it: Python >= 3.10 and the installed extras; the Pulumi CLI on "
                    f"PATH (`pulumi version`, {'.'.join(map(str, MIN_PULUMI))} or newer); the Pulumi state backend "
                    "(PULUMI_BACKEND_URL or `pulumi whoami`); an Azure login DefaultAzureCredential can use (a "
                    "token for ARM; never printed); the subscription (--subscription, AZURE_SUBSCRIPTION_ID, else "
                    "the Azure CLI's default) and whether its type may deploy Claude. Exit 0 when ready, 1 when a "
                    "step is missing, 2 on a usage error.")
    p.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="use the local sandbox's credential and subscription instead of Azure's (its connection "
                        "file)")
    p.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID, "
                                                        "else the Azure CLI's default)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--timeout", type=bounded(float, *TIMEOUT_RANGE, "seconds"), default=COMMAND_TIMEOUT,
                   metavar="SECONDS", help=f"give each probe (a command, the token, an ARM call) at most SECONDS "
                                           f"(default {COMMAND_TIMEOUT:g})")
    p.set_defaults(func=run)


def extras_step() -> Step:
    from claude_foundry._ops.doctor import check_extras
    from claude_foundry.cli import EXTRA_MODULES, install_hint, missing_modules

    missing = {extra: missing_modules([extra]) for extra in EXTRA_MODULES}
    return check_extras(missing, {e: install_hint([e]) for e in EXTRA_MODULES}, DEPLOY_EXTRAS)


def render(report: DoctorReport, out: TextIO | None = None) -> None:
    """Plain lines (no rich: doctor runs on the core install): the result, the step, the detail and, for a
    missing step, the fix on its own line; the skipped steps in one line at the end."""
    from claude_foundry._ops.doctor import MISSING, SKIP, WARN

    out = out or sys.stdout
    steps = [s for s in report.steps if s.status != SKIP]
    width = max((len(s.name) for s in steps), default=0)
    for s in steps:
        print(f"{s.status:<7} {s.name:<{width}}  {s.detail}", file=out)
        if s.fix and s.status in (MISSING, WARN):
            print(f"{'':<7} {'':<{width}}  fix: {s.fix}", file=out)
    skipped = [s for s in report.steps if s.status == SKIP]
    if skipped:
        print(f"{'skipped':<7} {', '.join(f'{s.name} ({s.detail})' for s in skipped)}", file=out)
    missing = [s.name for s in report.steps if s.status == MISSING]
    print("ready: this machine can deploy (next: claude-foundry preflight STACK_FILE)" if not missing else
          f"not ready: {len(missing)} step(s) missing ({', '.join(missing)})", file=out)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._errors import UserError
    from claude_foundry._ops.doctor import run_doctor
    from claude_foundry.cli import missing_modules

    if args.sandbox and args.subscription:
        raise UserError("--sandbox and --subscription are exclusive")
    report = run_doctor(extras_step(), connection=args.sandbox, subscription=args.subscription,
                        timeout=args.timeout, has_mgmt="azure.mgmt.resource" not in missing_modules(["ops"]))
    if args.format == "json":
        print(dumps(report.to_json()))
    else:
        render(report)
    return 0 if report.ready else 1
