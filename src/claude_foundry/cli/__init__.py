"""``claude-foundry``: thin commands over the library.

Each command lives in ``claude_foundry.cli.<name>`` with ``register(subparsers)``; a command's heavy
imports (Pulumi, the sandbox) happen inside its ``run`` so that ``claude-foundry validate`` stays fast and
the runtime-only install can run the commands that do not need Pulumi.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from claude_foundry import __version__
from claude_foundry.errors import UserError

#: Command modules, in the order ``--help`` lists them.
COMMANDS = (
    "validate",
    "plan",
    "sandbox",
    "up",
    "down",
    "smoke",
    "env",
    "demo",
    "preflight",
    "verify",
    "rotate_keys",
    "schema",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claude-foundry",
        description="Claude on Microsoft Foundry as infrastructure as code: validate, plan, deploy "
        "(pulumi up, or a local rehearsal against the embedded sandbox), smoke-test and operate.",
    )
    parser.add_argument("--version", action="version", version=f"claude-foundry {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"claude_foundry.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("claude_foundry.cli"):
                continue  # command not built yet / not shipped in this install
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # Azure SDK errors reach here as words, not tracebacks
        from claude_foundry.azure.errors import describe_azure

        message = describe_azure(exc)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
