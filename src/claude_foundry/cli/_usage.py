"""``claude-foundry usage STACK_FILE [--since 7d|DATE] [--until DATE] [--format table|json|csv|markdown]
[--chart FILE.svg|FILE.png] [--sandbox FILE | --subscription ID | --local [--state-dir DIR]]``: per account,
deployment and UTC day, the requests, tokens (input, output, cache reads and writes), throttled and failed
requests and latency from Azure Monitor's metrics of the accounts, joined
with the actual cost from Cost Management of the stack's resource group; with ``budget:`` the month's share spent
and forecast. Exit 0; 2 for bad arguments; 1 when Azure fails. Read-only: Monitoring Reader on the accounts and
Cost Management Reader on the resource group (docs/observability.md, "Usage and cost").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claude_foundry.cli._target import dumps

CHART_SUFFIXES = (".svg", ".png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "usage", help="usage and cost per account, deployment and day (Azure Monitor + Cost Management)",
        description="Requests, input/output/cache tokens, throttled (429) and failed requests and latency per "
                    "account, deployment and UTC day from Azure Monitor's metrics of the stack's accounts, joined "
                    "with the actual cost from Cost Management of its resource group; with budget: in the stack, "
                    "the share of the month's budget spent and its forecast. Needs Monitoring Reader on the "
                    "accounts and Cost Management Reader on the resource group. Exit 0; 2 on usage errors; 1 when "
                    "Azure fails.")
    p.add_argument("stack_file", metavar="STACK_FILE", help="the stack file (stacks/<env>.yaml)")
    g = p.add_argument_group("target (default: real Azure with DefaultAzureCredential)")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE", help="the local sandbox instead of Azure (its connection "
                                                                "file)")
    g.add_argument("--subscription", metavar="ID", help="Azure subscription id (default: $AZURE_SUBSCRIPTION_ID)")
    g.add_argument("--local", action="store_true",
                   help="a local rehearsal (`up --local`, `demo`): start the embedded sandbox on --state-dir's state "
                        "and read what it served")
    g.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                   help="with --local: the rehearsal's state directory (default .claude-foundry, as `up --local`; "
                        "`demo` prints its own)")
    p.add_argument("--since", default="7d", metavar="7d|YYYY-MM-DD",
                   help="first UTC day: N days back including today (default 7d), or a date")
    p.add_argument("--until", default=None, metavar="YYYY-MM-DD",
                   help="last UTC day, inclusive (default today)")
    p.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table",
                   help="how to print the report (default table)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--chart", metavar="FILE.svg|FILE.png",
                   help="also write a chart of tokens and cost per day per deployment (SVG or PNG by suffix)")
    p.add_argument("--no-cost", action="store_true",
                   help="metrics only: skip Cost Management (and the role it needs)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._errors import ArgumentProblem, InvalidArgument
    from claude_foundry._ops.usage import collect, parse_day
    from claude_foundry._ops.view import stack_view
    from claude_foundry.program.spec import load_spec

    today = dt.datetime.now(dt.timezone.utc).date()
    since = parse_day(args.since, "since", today)
    until = parse_day(args.until, "until", today) + dt.timedelta(days=1) if args.until else \
        today + dt.timedelta(days=1)
    if args.chart and not args.chart.lower().endswith(CHART_SUFFIXES):
        raise InvalidArgument(ArgumentProblem("chart", f" must end in .svg or .png, not {args.chart!r}"))
    spec = load_spec(args.stack_file)
    with _target(args) as target:
        report = collect(stack_view(spec, target), since, until, with_cost=not args.no_cost)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(dumps(report.to_json()))
    elif fmt == "csv":
        print(report.to_csv(), end="")
    elif fmt == "markdown":
        print(report.to_markdown(), end="")
    else:
        render(report)
    if args.chart:
        write_chart(report, args.chart)
        print(f"chart: {args.chart}", file=sys.stderr)  # stderr: stdout stays the report in its format
    return 0


@contextlib.contextmanager
def _target(args: argparse.Namespace) -> Iterator[Any]:
    """``--sandbox`` / ``--subscription`` (:func:`resolve_target`), or ``--local``: the embedded sandbox started
    on a local rehearsal's state directory, its notes on stderr (stdout is the report)."""
    from claude_foundry._errors import UserError
    from claude_foundry.cli._target import resolve_target

    if not args.local:
        if args.state_dir is not None:
            raise UserError("--state-dir goes with --local")
        with resolve_target(args) as target:
            yield target
        return
    # the extras --local needs are checked before the command runs (cli.OPTION_EXTRAS, require_extras)
    from claude_foundry.cli._local import DEFAULT_STATE_DIR, embedded_sandbox, sandbox_state_file
    from claude_foundry.cli._ui import make_console

    if args.sandbox or args.subscription:
        raise UserError("--local, --sandbox and --subscription are exclusive")
    state_dir = args.state_dir or DEFAULT_STATE_DIR
    if not sandbox_state_file(state_dir).is_file():
        raise UserError(f"{state_dir}: no local rehearsal there (no {sandbox_state_file(state_dir)}); run "
                        f"`claude-foundry up {args.stack_file} --local` or `claude-foundry demo` first, or pass "
                        "the --state-dir they used")
    from claude_foundry._azure.target import sandbox_target

    with embedded_sandbox(state_dir, make_console(stderr=True)) as connection, \
            sandbox_target(connection) as target:
        yield target


def render(report: Any) -> None:
    """The table for people: the deployment-days that saw traffic or cost (csv and json list every day),
    the account column only when the stack has several accounts."""
    from rich.table import Table

    from claude_foundry.cli._ui import make_console

    console = make_console(soft_wrap=False)
    shown = [r for r in report.rows if not r.quiet]
    accounts = sorted({r.account_name for r in report.rows})
    if shown:
        several = len(accounts) > 1
        title = f"usage of {report.stack}" + ("" if several else f" ({accounts[0]})")
        quiet = len(report.rows) - len(shown)
        table = Table(title=title, caption=(f"{quiet} deployment-day(s) without traffic not shown "
                                            "(--format csv|json lists every day)") if quiet else None)
        columns = ("account",) * several + ("deployment", "day", "requests", "input", "output", "cache read",
                                            "cache write", "429", "failed", "latency ms", "cost")
        for col in columns:
            table.add_column(col, justify="left" if col in ("account", "deployment", "day") else "right")
        for r in shown:
            table.add_row(*(r.account_name,) * several, r.deployment, r.day, str(r.requests), str(r.input_tokens),
                          str(r.output_tokens), str(r.cache_read_tokens), str(r.cache_write_tokens),
                          str(r.throttled), str(r.failed),
                          "" if r.latency_ms is None else f"{r.latency_ms:.0f}",
                          "" if r.cost is None else f"{r.cost:.4f} {r.currency or ''}".strip())
        console.print(table)
    elif report.rows:
        console.print(f"no traffic and no cost on any deployment of {report.stack} in the window", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    console.print(report.summary(), highlight=False, soft_wrap=True)


def write_chart(report: Any, path: str) -> None:
    """One figure: tokens per day per deployment (stacked bars) above the cost per day per deployment."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    from claude_foundry._files import write_file

    days = sorted({r.day for r in report.rows}) or [report.since]
    series = sorted({f"{r.account_name}/{r.deployment}" for r in report.rows})
    tokens = {s: [0] * len(days) for s in series}
    cost = {s: [0.0] * len(days) for s in series}
    for r in report.rows:
        s, i = f"{r.account_name}/{r.deployment}", days.index(r.day)
        tokens[s][i] += r.tokens
        cost[s][i] += r.cost or 0.0
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    try:
        bottom = [0] * len(days)
        for s in series:
            ax1.bar(days, tokens[s], bottom=bottom, label=s)
            bottom = [b + t for b, t in zip(bottom, tokens[s], strict=True)]
        ax1.set_ylabel("tokens (input + output + cache)")
        ax1.set_title(f"{report.stack}: usage and cost per day per deployment")
        for s in series:
            ax2.plot(days, cost[s], marker="o", label=s)
        ax2.set_ylabel(f"cost ({report.currency or 'no cost data'})")
        ax2.set_xlabel("day (UTC)")
        if series:
            ax1.legend(fontsize="small")
        fig.autofmt_xdate()
        buf = io.BytesIO()
        fig.savefig(buf, format="svg" if path.lower().endswith(".svg") else "png")
    finally:
        plt.close(fig)
    write_file(path, buf.getvalue())
