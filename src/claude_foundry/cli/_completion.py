"""``claude-foundry completion bash|zsh``: the shell completion script, generated from the parser itself
(`shtab`, so every command and flag is always covered)."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print the shell completion script (bash or zsh)",
                       description="Print a completion script for claude-foundry's commands and flags. bash: "
                       "`claude-foundry completion bash > ~/.local/share/bash-completion/completions/claude-foundry`; "
                       "zsh: `claude-foundry completion zsh > \"${fpath[1]}/_claude-foundry\"`.")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shtab

    from claude_foundry.cli import build_parser

    print(shtab.complete(build_parser(), shell=args.shell), end="")
    return 0
