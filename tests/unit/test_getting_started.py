"""docs/getting-started.md (and the README `init` writes, which points to it): every `claude-foundry` command in
their shell blocks exists with the flags written, and the guide names the steps `doctor` checks."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from test_workflows import claude_foundry_invocations

from claude_foundry.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "getting-started.md"
SCAFFOLD_README = ROOT / "src" / "claude_foundry" / "scaffold" / "README.md.tmpl"
BLOCK_RE = re.compile(r"```bash\n(.*?)```", re.S)


def shell_blocks(path: Path) -> str:
    text = "\n".join(BLOCK_RE.findall(path.read_text(encoding="utf-8")))
    return "\n".join(line.split("  #")[0] for line in text.splitlines())  # drop trailing comments


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    return dict(sub.choices) if sub is not None else {}


@pytest.mark.parametrize("path", [GUIDE, SCAFFOLD_README], ids=lambda p: p.name)
def test_every_command_and_flag_exists(path: Path) -> None:
    invocations = claude_foundry_invocations(shell_blocks(path))
    assert invocations, path
    for args in invocations:
        parser = build_parser()
        words = [a for a in args if not a.startswith("-")]
        for word in words:  # walk down: `ci bootstrap`
            nested = _subparsers(parser)
            if not nested:
                break
            assert word in nested, f"{path.name}: claude-foundry {' '.join(args)}: no command {word}"
            parser = nested[word]
        options = parser._option_string_actions
        for tok in args:
            if tok.startswith("--"):
                assert tok.split("=", 1)[0] in options, f"{path.name}: claude-foundry {' '.join(args)}: {tok}"


def test_the_guide_walks_every_step_doctor_checks() -> None:
    from claude_foundry._ops.doctor import MIN_PULUMI

    guide = GUIDE.read_text(encoding="utf-8")
    blocks = shell_blocks(GUIDE)
    for command in ("pulumi version", "az login", "claude-foundry doctor", "claude-foundry init",
                    "pulumi login 'azblob://", "pulumi stack init dev --secrets-provider='azurekeyvault://",
                    "claude-foundry preflight", "pulumi up", "claude-foundry smoke", "claude-foundry env",
                    "claude-foundry ci bootstrap", "export AZURE_SUBSCRIPTION_ID"):
        assert command in blocks, command
    assert "v" + ".".join(map(str, MIN_PULUMI)) in guide  # the same minimum doctor checks


def test_the_generated_readme_points_to_the_guide() -> None:
    assert "getting-started.md" in SCAFFOLD_README.read_text(encoding="utf-8")
