"""``claude-foundry validate STACK_FILE...``: check stack files before any Pulumi or Azure call."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check stack files (schema, naming rules, models, regions)",
                       description="Validate stack files: every problem of every file, with file, line, "
                       "field and what is allowed. Exit 0 when all are valid, 2 otherwise.")
    p.add_argument("stack_files", nargs="+", metavar="STACK_FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    p.add_argument("--format", choices=("text", "github"), default="text",
                   help="github: also print each problem as a GitHub Actions annotation (::error file=,line=::) "
                        "on stdout, so it shows on the pull request's diff")
    p.set_defaults(func=run)


def _annotate(level: str, issue: object) -> None:
    from claude_foundry.cli._github import annotation

    mark = getattr(issue, "mark", None)
    path = getattr(issue, "path", "")
    text = getattr(issue, "message", issue)
    message = f"{path}: {text}" if path else str(text)
    print(annotation(level, message, file=mark.file if mark else None, line=mark.line if mark else None,
                     title="claude-foundry validate"))


def run(args: argparse.Namespace) -> int:
    from claude_foundry.program.spec import Issue, SpecError, load_spec

    github = args.format == "github"
    failed = 0
    for path in args.stack_files:
        warnings: list[Issue] = []
        try:
            spec = load_spec(path, warnings=warnings)
        except SpecError as exc:
            failed += 1
            for issue in exc.issues:
                print(issue, file=sys.stderr)
                if github:
                    _annotate("error", issue)
            continue
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
            if github:
                _annotate("warning", w)
        if not args.quiet:
            names = ", ".join(f"{n} ({d.model})" for n, d in spec.deployments.items())
            print(f"{path}: ok — {spec.environment}: {spec.foundry.name} in {spec.location}, "
                  f"{len(spec.deployments)} deployment(s): {names}")
            for acct in spec.all_accounts()[1:]:
                print(f"  and account {acct.key}: {acct.name} in {acct.location}, "
                      f"{len(acct.deployments)} deployment(s): {', '.join(acct.deployments)}")
    if failed:
        print(f"{failed} of {len(args.stack_files)} stack file(s) invalid", file=sys.stderr)
        return 2
    return 0
