"""``claude-foundry smoke``: call every deployment of a stack once and say, per deployment, why it fails.

A stack with several accounts (``accounts:``, contract version 2) is smoked on every account at once, each its
own deployments (with ``--stack``: what the stack file says each serves); the reports then name each row's account.

Targets (one of):

* ``--vault-url URL [--prefix P]``: the contract the stack wrote to Key Vault (default target when
  ``CLAUDE_FOUNDRY_VAULT_URL`` is set);
* ``--base-url URL`` or ``--resource NAME`` with ``--deployments a,b,c``: key from ``ANTHROPIC_FOUNDRY_API_KEY``,
  or ``--entra`` for an Entra ID token;
* ``--stack STACK_FILE``: the stack file's Key Vault, secret prefix and deployments;
* ``--contract FILE``: an exported contract (``claude-foundry env --format json``).

Exit 0 when every deployment passed, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from typing import Any

from claude_foundry import _contract as c
from claude_foundry._errors import UserError

#: The largest value a seconds flag takes (a day): beyond that it is a typo, and asyncio refuses huge sleeps.
MAX_SECONDS = 86400.0


def add_target_arguments(p: argparse.ArgumentParser, *, full: bool = True) -> None:
    """The flags that say where a stack's contract comes from (shared with ``env``)."""
    g = p.add_argument_group("target")
    g.add_argument("--vault-url", metavar="URL",
                   help=f"Key Vault holding the stack's contract (default: ${c.ENV_VAULT_URL})")
    g.add_argument("--prefix", metavar="P",
                   help=f"secret name prefix (default: ${c.ENV_SECRET_PREFIX} or {c.DEFAULT_SECRET_PREFIX})")
    g.add_argument("--stack", metavar="STACK_FILE", help="stack file: its Key Vault, prefix and deployments")
    if full:
        g.add_argument("--base-url", metavar="URL", help="Foundry base URL (…/anthropic), with --deployments")
        g.add_argument("--resource", metavar="NAME", help="Foundry account name, instead of --base-url")
        g.add_argument("--deployments", metavar="A,B,C",
                       help="deployment names to call (with --vault-url/--stack: a subset of the stack's)")
        g.add_argument("--contract", metavar="FILE", help="exported contract JSON (claude-foundry env --format json)")
        g.add_argument("--entra", action="store_true", help="authenticate with an Entra ID token, not a key")
        g.add_argument("--token-scope", metavar="SCOPE",
                       help=f"Entra ID token scope (default: ${c.ENV_TOKEN_SCOPE} or {c.DEFAULT_TOKEN_SCOPE}; "
                            f"{c.TOKEN_SCOPE_AI_AZURE} works too)")
    g.add_argument("--ca-bundle", metavar="FILE",
                   help=f"extra CA bundle, for the local sandbox only (default: ${c.ENV_CA_BUNDLE})")
    g.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="use the local sandbox's identity and CA (its connection file)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "smoke", help="call every deployment once; diagnose each failure",
        description="Smoke-test a stack: one tiny Messages call per deployment (of every account of the stack, "
                    "each account its own deployments), concurrently; 404 retried while "
                    "a deployment propagates, 429 retried per retry-after, an Entra ID 401/403 'permission denied' "
                    "(and a Key Vault 403 ForbiddenByRbac) while a fresh role assignment propagates, nothing else. "
                    "Exit 0 when all passed (warnings included), 1 otherwise, 2 on usage errors.")
    add_target_arguments(p)
    g = p.add_argument_group("behaviour")
    g.add_argument("--concurrency", type=int, default=32, metavar="N", help="deployments called at once (32)")
    g.add_argument("--max-tokens", type=int, default=16, metavar="N", help="max_tokens of each call (16)")
    g.add_argument("--propagation-timeout", type=float, default=120.0, metavar="S",
                   help="how long a 404 is retried while a new deployment propagates (120 s)")
    g.add_argument("--rate-limit-timeout", type=float, default=60.0, metavar="S",
                   help="how long 429s are retried, honouring retry-after (60 s)")
    g.add_argument("--role-propagation-timeout", type=float, default=300.0, metavar="S",
                   help="how long an Entra ID 401/403 'permission denied' (and a Key Vault 403 ForbiddenByRbac) "
                        "is retried while role assignments made by the deploy propagate; Azure documents up to "
                        "10 minutes, usually 1-5 (300 s; 0: no wait)")
    g.add_argument("--poll-interval", type=float, default=2.0, metavar="S",
                   help="first wait between 404 and role-propagation polls, growing 1.5x (2 s)")
    g.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="per-request timeout of each Foundry call and Entra ID token request (60 s)")
    g.add_argument("--vault-timeout", type=float, default=None, metavar="S",
                   help="bound of each Key Vault secret read of the contract, retries included (default: --timeout)")
    g.add_argument("--stream", action="store_true", help="also make and check a streaming call")
    g = p.add_argument_group("reports")
    g.add_argument("--report-json", metavar="FILE",
                   help="write a JSON report (`-`: to stdout; the table goes to stderr)")
    g.add_argument("--report-junit", metavar="FILE",
                   help="write a JUnit XML report (`-`: to stdout; the table goes to stderr)")
    g.add_argument("-q", "--quiet", action="store_true", help="no table, only the summary line")
    g.add_argument("--format", choices=("text", "github"), default="text",
                   help="github: also a GitHub Actions annotation (::error / ::warning) per failed or warned "
                        "deployment")
    p.set_defaults(func=run)


# --- target resolution (also used by ``env``) -----------------------------------------------------


def _format_template(template: str, name: str) -> str:
    return template.format(name=name, vault=name, key_vault=name, resource=name, account=name)


def _sandbox(args: argparse.Namespace) -> tuple[Any, str | None, dict[str, Any] | None]:
    """(credential or None, CA bundle or None, connection or None)."""
    from claude_foundry._azure.target import read_connection_file, sandbox_credential

    ca = getattr(args, "ca_bundle", None) or os.environ.get(c.ENV_CA_BUNDLE) or None
    if getattr(args, "sandbox", None):
        conn = read_connection_file(args.sandbox)
        return sandbox_credential(conn), ca or conn["ca_bundle"], conn
    if ca and not os.path.isfile(ca):
        raise UserError(f"--ca-bundle {ca}: no such file")
    return None, ca, None


def _stack_target(path: str, conn: dict[str, Any] | None) -> tuple[str, str, list[str]]:
    """(vault URL, secret prefix, deployment names) from a stack file."""
    from claude_foundry.program.spec import load_spec

    spec = load_spec(path)
    vault = spec.key_vault.name
    template = (conn or {}).get("key_vault_url_template") or "https://{name}.vault.azure.net"
    return _format_template(template, vault), spec.key_vault.secret_prefix, list(spec.deployments)


def runtime_target(args: argparse.Namespace, *, auth: str | None = None) -> Any:
    """The flags of :func:`add_target_arguments` as a library :class:`~claude_foundry._client.targets.RuntimeTarget`."""
    from claude_foundry._client.targets import RuntimeTarget, split_names
    from claude_foundry.cli import PARAMETER_FLAGS

    credential, ca, conn = _sandbox(args)
    names = split_names(getattr(args, "deployments", None))
    fields: dict[str, Any] = {
        "vault_url": getattr(args, "vault_url", None), "prefix": getattr(args, "prefix", None),
        "base_url": getattr(args, "base_url", None), "resource": getattr(args, "resource", None),
        "contract_file": getattr(args, "contract", None), "deployments": names,
        "auth": auth or ("entra" if getattr(args, "entra", False) else "auto"),
        "token_scope": getattr(args, "token_scope", None), "ca_bundle": ca, "credential": credential,
    }
    stack = getattr(args, "stack", None)
    flags = PARAMETER_FLAGS["smoke"]
    if not stack and not any(fields[attr] for attr in RuntimeTarget.TARGETS) \
            and not any(os.environ.get(name) for name in (c.ENV_VAULT_URL, c.ENV_RESOURCE, c.ENV_BASE_URL)):
        raise UserError(f"no target: pass --vault-url, --base-url/--resource with --deployments, --stack or "
                        f"--contract (or set {c.ENV_VAULT_URL})")
    if stack:
        others = [flags[attr] for attr in RuntimeTarget.TARGETS if fields[attr]]
        if others:
            raise UserError(f"--stack and {' and '.join(others)} are exclusive: choose one target")
        vault_url, prefix, stack_names = _stack_target(stack, conn)
        fields.update(vault_url=vault_url, prefix=fields["prefix"] or prefix, deployments=names or stack_names,
                      names_from_stack=True)
    return RuntimeTarget(**fields)


def build_runtime(args: argparse.Namespace, *, auth: str | None = None, **wait: Any) -> tuple[Any, list[str] | None]:
    """(FoundryRuntime, deployment names to use or None for all) from the target flags; ``wait``: the
    role-propagation keywords of :func:`~claude_foundry._client.targets.resolve_runtime`, which checks a subset
    (``--deployments``) against every account of the stack."""
    from claude_foundry._client.targets import resolve_runtime

    return resolve_runtime(runtime_target(args, auth=auth), **wait)


def stack_expectations(path: str, names: list[str] | None) -> dict[str, list[str]]:
    """Account (the stack's name for it) -> the deployment names the stack file says it serves (``names``: only
    those of them; a name no account serves stays with the first account, where it fails)."""
    from claude_foundry.program.spec import load_spec

    accounts = load_spec(path).all_accounts()
    if not names:
        return {a.key: list(a.deployments) for a in accounts}
    out = {a.key: [n for n in names if n in a.deployments] for a in accounts}
    out[accounts[0].key] = [n for n in names if n in accounts[0].deployments
                            or not any(n in a.deployments for a in accounts)]
    return {k: v for k, v in out.items() if v}


def run(args: argparse.Namespace) -> int:
    from claude_foundry._client import smoke

    for flag in ("concurrency", "max_tokens"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.vault_timeout is None:
        args.vault_timeout = args.timeout
    for flag in ("propagation_timeout", "rate_limit_timeout", "poll_interval", "role_propagation_timeout",
                 "timeout", "vault_timeout"):
        value = getattr(args, flag)
        if not math.isfinite(value):  # nan, inf: every wait is bounded, and nan compares false to everything
            raise UserError(f"--{flag.replace('_', '-')} must be a finite number of seconds (got {value})")
        if value < 0:
            raise UserError(f"--{flag.replace('_', '-')} must not be negative")
        if value > MAX_SECONDS:
            raise UserError(f"--{flag.replace('_', '-')} must be at most {MAX_SECONDS:.0f} s (got {value:g})")
    for flag in ("timeout", "vault_timeout"):
        if getattr(args, flag) <= 0:
            raise UserError(f"--{flag.replace('_', '-')} must be positive")
    wait = {"role_propagation_timeout": args.role_propagation_timeout, "poll_interval": args.poll_interval,
            "progress": _progress}
    names: list[str] | dict[str, list[str]] | None
    runtime, names = build_runtime(args, vault_timeout=args.vault_timeout, **wait)
    if getattr(args, "stack", None):  # each account is expected to serve what the stack file says it serves
        names = stack_expectations(args.stack, names)
    report = smoke.run_smoke(
        runtime, names, concurrency=args.concurrency, max_tokens=args.max_tokens,
        propagation_timeout=args.propagation_timeout, rate_limit_timeout=args.rate_limit_timeout,
        timeout=args.timeout, stream=args.stream, **wait,
    )
    if args.report_json == "-" and args.report_junit == "-":
        raise UserError("--report-json - and --report-junit - cannot both go to stdout: write one to a file")
    to_stdout = "-" in (args.report_json, args.report_junit)
    try:
        _show(report, args, to_stdout)
    finally:  # the reports are written even when printing fails
        _write_reports(report, args)
    return 0 if report.passed else 1


def _show(report: Any, args: argparse.Namespace, to_stdout: bool) -> None:
    """The table (or plain lines) and the annotations."""
    from claude_foundry.cli._ui import make_console

    try:
        console = make_console(soft_wrap=False, stderr=to_stdout)
    except ModuleNotFoundError as exc:  # rich is the [cli] extra's nicety; the core install prints plain lines
        if (exc.name or "").split(".")[0] != "rich":
            raise
        console = None
    if console is None:
        _print_plain(report, quiet=args.quiet, stream=sys.stderr if to_stdout else sys.stdout)
    elif args.quiet:
        console.print(report.summary(), markup=False, highlight=False)
    else:
        render_report(report, console)
    if args.format == "github":
        _annotate(report)


def render_report(report: Any, console: Any) -> None:
    """A :class:`~claude_foundry._client.smoke.SmokeReport` as a ``rich`` table, then the count that passed."""
    from rich.table import Table
    from rich.text import Text

    from claude_foundry._client._redact import printable

    def data(value: str) -> Text:  # names and service words are data: never markup, never raw controls
        return Text(printable(value))

    multi = report.multi_account
    table = Table(title=data(f"claude-foundry smoke: {report.where()} ({report.auth} auth)"))
    for col in (("account",) if multi else ()) + ("deployment", "model", "result", "HTTP", "tries", "seconds",
                                                    "request-id", "diagnosis"):
        table.add_column(col, overflow="fold")
    for r in report.results:
        table.add_row(
            *((data(f"{r.account} ({r.region})" if r.region else r.account),) if multi else ()),
            data(r.name), data(r.model or "?"),
            ("[yellow]PASS[/]" if r.warnings else "[green]PASS[/]") if r.passed else "[red]FAIL[/]",
            str(r.status or "-"), str(r.attempts), f"{r.duration_s:.2f}",
            data(r.request_id or r.apim_request_id or "-"), data(r.note),
            end_section=False,
        )
    console.print(table)
    ok = sum(r.passed for r in report.results)
    colour = "green" if report.passed else "red"
    where = f" on {len(report.account_names)} accounts" if multi else ""
    console.print(f"[{colour}]{ok}/{len(report.results)} deployments passed{where}[/] in {report.duration_s:.2f}s")


def _write_reports(report: Any, args: argparse.Namespace) -> None:
    try:
        if args.report_json:
            if args.report_json == "-":
                sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
            else:
                report.write_json(args.report_json)
        if args.report_junit:
            if args.report_junit == "-":
                tree = ET.ElementTree(report.to_junit())
                ET.indent(tree)
                tree.write(sys.stdout, encoding="unicode", xml_declaration=True)
                sys.stdout.write("\n")
            else:
                report.write_junit(args.report_junit)
    except OSError as exc:
        raise UserError(f"cannot write report: {exc}") from None


def _annotate(report: Any) -> None:
    """GitHub Actions annotations: ::error per failed deployment, ::warning per warning (stderr keeps the
    table when a report goes to stdout; annotations are read from either)."""
    from claude_foundry._client._redact import printable
    from claude_foundry.cli._github import annotation

    multi = report.multi_account
    for r in report.results:
        what = f"deployment {r.name}" + (f" ({r.model})" if r.model else "")
        if multi:
            what += f" on account {r.account}" + (f" ({r.resource}, {r.region})" if r.region else
                                                  f" ({r.resource})" if r.resource else "")
        if not r.passed:  # printable: a name or a service's words never carry a raw escape into the CI log
            print(annotation("error", printable(f"{what}: {r.diagnosis or r.category}"), title="claude-foundry smoke"),
                  file=sys.stderr)
        for w in r.warnings:
            print(annotation("warning", printable(f"{what}: {w}"), title="claude-foundry smoke"), file=sys.stderr)


def _progress(line: str) -> None:
    """A role-propagation wait's progress: one line each, on stderr (stdout keeps the report), flushed for CI logs."""
    print(f"smoke: {line}", file=sys.stderr, flush=True)


def _print_plain(report: Any, *, quiet: bool, stream: Any = None) -> None:
    """The report without rich (the core install): one line per deployment, then the summary."""
    from claude_foundry._client._redact import printable

    out = stream or sys.stdout
    multi = report.multi_account
    if not quiet:
        where = (f"{len(report.account_names)} accounts ({', '.join(report.account_names)})" if multi
                 else report.resource or report.base_url)
        print(printable(f"claude-foundry smoke: {where} ({report.auth} auth)"), file=out)
        for r in report.results:
            rid = r.request_id or r.apim_request_id or "-"
            account = f"account={r.account}  " if multi else ""
            print(printable(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}  {account}model={r.model or '?'}  "
                            f"HTTP {r.status or '-'}  tries={r.attempts}  {r.duration_s:.2f}s  request-id={rid}")
                  + (f"\n        {printable(r.note)}" if r.note else ""), file=out)
    summary = report.summary()
    print(summary if quiet else summary.splitlines()[0], file=out)  # the failures' diagnoses are printed above already
