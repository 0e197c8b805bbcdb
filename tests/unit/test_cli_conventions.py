"""CLI conventions: GitHub annotations from `validate --format github`, shell completion from the parser."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from stacktext import one_deployment_stack

from claude_foundry.cli import build_parser, main
from claude_foundry.cli._github import annotation

GOOD = one_deployment_stack("fast: {model: claude-haiku-4-5, capacity: 0}")


def test_annotation_escapes_as_the_runner_expects() -> None:
    assert annotation("error", "a: 100%\nnext", file="stacks/a,b.yaml", line=3, title="t: x") == \
        "::error file=stacks/a%2Cb.yaml,line=3,title=t%3A x::a: 100%25%0Anext"
    with pytest.raises(ValueError, match="not an annotation level"):
        annotation("fatal", "x")


def test_validate_format_github_annotates_each_problem_with_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["validate", "--format", "github", str(path)]) == 2
    out = capsys.readouterr()
    lines = [line for line in out.out.splitlines() if line.startswith("::")]
    assert lines == [f"::error file={path},line=8,title=claude-foundry validate::deployments.fast.capacity: must be "
                     "an integer >= 1 (got 0)"]
    assert "deployments.fast.capacity" in out.err  # the plain message still goes to stderr


def test_validate_format_github_annotates_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(GOOD.replace("claude-haiku-4-5, capacity: 0", "claude-opus-4-5"), encoding="utf-8")
    assert main(["validate", "--format", "github", str(path)]) == 0
    assert any(line.startswith("::warning file=") and "claude-opus-4-5 is deprecated" in line
               for line in capsys.readouterr().out.splitlines())


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_covers_every_command_and_flag(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, parser in sub.choices.items():  # type: ignore[attr-defined]
        assert name in script, name
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    assert flag in script, (name, flag)


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash here")
def test_the_bash_script_parses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "claude-foundry.bash"
    script.write_text(capsys.readouterr().out, encoding="utf-8")
    bash = shutil.which("bash")
    assert bash is not None
    proc = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True, check=False)  # noqa: S603
    assert proc.returncode == 0, proc.stderr
