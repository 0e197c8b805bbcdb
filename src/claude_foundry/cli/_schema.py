"""``claude-foundry schema``: the JSON Schema of stack files (for editors) and the field reference."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from claude_foundry import _files as files


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="write the stack file JSON Schema (or the field reference)",
                       description="Print or write the JSON Schema of stack files, generated from the pydantic "
                       "model; with --reference, the Markdown field reference instead.")
    p.add_argument("--reference", action="store_true", help="the Markdown field reference instead")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    p.add_argument("--check", action="store_true", help="exit 1 when --output differs from what would be written")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from claude_foundry._errors import OperationFailed, UserError
    from claude_foundry.program._reference import reference_markdown, schema_json

    text = reference_markdown() if args.reference else schema_json()
    if args.output is None:
        if args.check:
            raise UserError("--check needs --output FILE")
        sys.stdout.write(text)
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        if current != text:
            raise OperationFailed(f"{args.output} is stale; regenerate it with `claude-foundry schema"
                                  f"{' --reference' if args.reference else ''} -o {args.output}`")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    files.write_file(args.output, text)
    print(f"wrote {args.output}")
    return 0
