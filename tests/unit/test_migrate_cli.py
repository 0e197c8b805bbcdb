"""``claude-foundry migrate``: its flags follow the other ops commands (bounded numbers, exclusive account
choices, the library's parameters named by their flags)."""

from __future__ import annotations

import pytest

from claude_foundry._errors import InvalidArgument
from claude_foundry._ops.migrate import move_deployment
from claude_foundry.cli import COMMAND_EXTRAS, build_parser, error_text, exit_code


@pytest.mark.parametrize("argv", [
    ["--drain", "-1"], ["--drain", "nan"], ["--drain", "90000"],
    ["--account", "sweden", "--all-accounts"],
    ["--format", "xml"],
])
def test_bad_flags_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["migrate", "stack.yaml", "chat", "--to", "claude-sonnet-5-5", *argv])
    assert info.value.code == 2
    assert "migrate" in capsys.readouterr().err


def test_the_flags_parse_and_the_command_needs_ops() -> None:
    args = build_parser().parse_args(["migrate", "s.yaml", "chat", "--to", "claude-sonnet-5-5", "--account",
                                      "primary", "--account", "sweden", "--drain", "0", "--format", "json"])
    assert (args.deployment, args.to_model, args.account, args.drain, args.format) == \
        ("chat", "claude-sonnet-5-5", ["primary", "sweden"], 0.0, "json")
    assert args.to_version is None
    assert not args.write_stack
    assert COMMAND_EXTRAS["migrate"] == ("ops",)


def test_the_library_names_drain_and_the_cli_says_the_flag() -> None:
    with pytest.raises(InvalidArgument) as info:
        move_deployment(None, resource_group="rg", account="a", vault_url="https://v", logical="chat",  # type: ignore[arg-type]
                        to_model="claude-sonnet-5-5", drain=-5)
    assert str(info.value).startswith("drain must be 0-86400 seconds")
    assert error_text(info.value, "migrate").startswith("--drain must be 0-86400 seconds")
    assert exit_code(info.value) == 2
