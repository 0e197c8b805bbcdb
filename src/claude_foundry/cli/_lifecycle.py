"""``claude-foundry lifecycle STACK_FILE...``: when must each deployment move to another model?

Per account and deployment: model, version, Anthropic's stage, deprecation and retirement dates, days left, the
named replacement, and where each fact came from (the bundled catalogue and its date, a refreshed one named by
``CLAUDE_FOUNDRY_CATALOGUE``, or Azure's live models list with ``--subscription`` / ``--sandbox``). Exit 1 when a
deployment is retired or retires within ``--within`` days (default 60), 0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from claude_foundry import _contract as contract
from claude_foundry._errors import UserError
from claude_foundry.cli._target import bounded

FORMATS = ("table", "json", "github", "markdown")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lifecycle", help="each deployment's model stage, retirement date, days left, replacement",
                       description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("stack_files", nargs="+", metavar="STACK_FILE")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (default), json, github (annotations on stdout, for a workflow's log and summary) "
                        "or markdown (the body of an issue)")
    p.add_argument("--within", type=bounded(int, 0, 3650, "days"), default=60, metavar="DAYS",
                   help="a deployment retiring within DAYS is due (default 60: Anthropic's minimum notice)")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help="the date to judge on (default: today)")
    g = p.add_argument_group("live source (default: the catalogue alone)")
    g.add_argument("--subscription", metavar="ID",
                   help="also read Azure's live models list of each account's location (needs claude-foundry[ops])")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE", help="read the local sandbox's models list instead")
    p.set_defaults(func=run)


def _read_live(args: argparse.Namespace, locations: list[str]) -> tuple[Any, str]:
    from claude_foundry._ops import refresh
    from claude_foundry.cli._target import resolve_target

    # [ops] for --subscription / --sandbox is checked before the command runs (cli.OPTION_EXTRAS)
    with resolve_target(args) as target:
        live = refresh.fetch_live(target, locations)
        via = "sandbox" if target.is_sandbox else f"subscription {target.subscription_id}"
    return live, via


def run(args: argparse.Namespace) -> int:
    from claude_foundry._catalogue import load_catalogue
    from claude_foundry._ops.lifecycle import lifecycle_report, locations_of, read_stack
    from claude_foundry.program.spec import SpecError

    if args.sandbox and args.subscription:
        raise UserError("--sandbox and --subscription are exclusive")
    cat = load_catalogue()
    stacks = []
    bad = 0
    for path in args.stack_files:
        try:
            stacks.append((path, read_stack(path, cat)))
        except SpecError as exc:
            bad += 1
            for issue in exc.issues:
                print(issue, file=sys.stderr)
    if bad:
        print(f"{bad} of {len(args.stack_files)} stack file(s) invalid: `claude-foundry validate` them",
              file=sys.stderr)
        return 2
    live, via = (None, None)
    if args.sandbox or args.subscription:
        live, via = _read_live(args, locations_of(s for _, s in stacks))
    report = lifecycle_report(stacks, catalogue=cat, today=args.today, within_days=args.within, live=live,
                              live_via=via)
    render = {"table": render_table, "json": render_json, "github": render_github, "markdown": render_markdown}
    print(render[args.format](report), end="")
    return 0 if report.ok else 1


# --- rendering (plain text: the core install has no rich) ---------------------------------------------


def _when(entry: Any) -> str:
    if entry.retirement is None:
        return "-"
    return entry.retirement.isoformat() + (" (tentative)" if entry.retirement_tentative else "")


def _days(entry: Any) -> str:
    if entry.days_left is None:
        return "-"
    return f"{entry.days_left}" if entry.days_left >= 0 else f"retired {-entry.days_left}d ago"


def _row(e: Any) -> list[str]:
    # the first account by its key alone (``primary``), another with its account name
    where = f"{e.account} ({e.account_name})" if contract.account_label(e.account) else e.account
    return [e.stack, where, e.deployment, e.model, e.version, e.stage,
            e.deprecation.isoformat() if e.deprecation else "-", _when(e), _days(e), e.replacement or "-",
            e.action.upper() if e.due else e.action]


HEADERS = ["stack", "account", "deployment", "model", "version", "stage", "deprecated", "retires", "days left",
           "replacement", "action"]


def _footer(report: Any) -> list[str]:
    lines = [f"catalogue: {report.catalogue}, {report.catalogue_age}"]
    if report.live:
        lines.append(f"live: Azure's models list ({report.live}), read {report.today.isoformat()}")
    due = report.due
    lines.append(f"{len(due)} of {len(report.entries)} deployment(s) due (retired, or retiring within "
                 f"{report.within_days} days of {report.today.isoformat()})" if due else
                 f"nothing due within {report.within_days} days of {report.today.isoformat()} "
                 f"({len(report.entries)} deployment(s))")
    return lines


def render_table(report: Any) -> str:
    rows = [HEADERS] + [_row(e) for e in report.entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for e in report.entries:
        if e.note:
            out.append(f"note: {e.stack} {e.deployment}: {e.note}")
    for e in report.entries:
        for fact, source in e.sources.items():
            if e.due or e.action in ("deprecated", "legacy"):
                out.append(f"source: {e.deployment} {fact}: {source}")
    return "\n".join(out + _footer(report)) + "\n"


def render_json(report: Any) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def _advice(e: Any) -> str:
    move = f"move it to {e.replacement}" if e.replacement else "move it to a current model"
    if e.action == "retired":
        return f"{e.model} retired on {_when(e)}: requests to {e.deployment} fail; {move}"
    if e.action == "retiring":
        return f"{e.model} retires on {_when(e)} ({e.days_left} days left); {move}"
    return f"{e.model} is {e.stage}" + (f"; it retires on {_when(e)}" if e.retirement else "") + f"; plan to {move}"


def render_github(report: Any) -> str:
    from claude_foundry.cli._github import annotation

    out = []
    for e in report.entries:
        if e.action == "ok":
            continue
        level = "error" if e.due else "warning" if e.action in ("deprecated", "legacy") else "notice"
        out.append(annotation(level, f"{e.account}/{e.deployment}: {_advice(e)}", file=e.stack,
                              title="claude-foundry lifecycle"))
    return "\n".join(out + _footer(report)) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Any) -> str:
    due = report.due
    title = (f"{len(due)} Claude deployment(s) retired or retiring within {report.within_days} days"
             if due else f"No Claude deployment retires within {report.within_days} days")
    out = [f"## {title}", ""]
    out.append("| " + " | ".join(HEADERS) + " |")
    out.append("|" + "---|" * len(HEADERS))
    out += ["| " + " | ".join(_md(c) for c in _row(e)) + " |" for e in report.entries]
    out.append("")
    if due or any(e.action in ("deprecated", "legacy") for e in report.entries):
        out.append("### What to do")
        out.append("")
        out += [f"- `{e.stack}` `{e.deployment}`: {_md(_advice(e))}" for e in report.entries
                if e.action in ("retired", "retiring", "deprecated", "legacy")]
        out.append("")
        out.append("Change the deployment's `model:` in the stack file to the replacement, open a pull request "
                   "(its checks validate, plan and apply the policy), and deploy; see docs/lifecycle.md.")
        out.append("")
    notes = [f"- `{e.deployment}`: {_md(e.note)}" for e in report.entries if e.note]
    if notes:
        out += ["### Notes", "", *notes, ""]
    out += ["### Sources (of the deployments to act on)", ""]
    seen = set()
    for e in report.entries:
        if e.action == "ok":
            continue
        for fact, source in e.sources.items():
            line = f"- {e.model} {fact}: {_md(source)}"
            if line not in seen:
                seen.add(line)
                out.append(line)
    out += ["", *[f"_{line}_" for line in _footer(report)], ""]
    return "\n".join(out)
