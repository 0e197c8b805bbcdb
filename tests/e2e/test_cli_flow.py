"""The documented command-line flow against a sandbox started by hand: up --local, smoke --stack,
env --stack, verify, preflight, each from another working directory than the sandbox's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claude_foundry.cli import main
from claude_foundry_sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

ROOT = Path(__file__).resolve().parents[2]


def test_flow_from_a_connection_file_made_with_a_relative_state_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    with Sandbox(SandboxConfig(state_dir="sbx")) as sb:
        conn = sb.write_connection_file(tmp_path / "conn.json")
        assert Path(json.loads(conn.read_text())["ca_bundle"]).is_absolute()
        monkeypatch.chdir(ROOT)  # clients run elsewhere than the sandbox did
        stack = "stacks/dev.yaml"
        target = ["--sandbox", str(conn)]
        assert main(["up", stack, "--local", *target, "--state-dir", str(tmp_path / "st")]) == 0
        assert main(["smoke", "--stack", stack, *target]) == 0
        assert "2/2 deployments passed" in capsys.readouterr().out
        assert main(["env", "--stack", stack, *target]) == 0
        env = capsys.readouterr().out
        assert "ANTHROPIC_DEFAULT_SONNET_MODEL=my-claude-deployment" in env
        assert "ANTHROPIC_DEFAULT_HAIKU_MODEL=fast" in env
        assert "ANTHROPIC_FOUNDRY_API_KEY" not in env
        assert main(["verify", stack, *target]) == 0
        assert "in sync" in capsys.readouterr().out
        assert main(["preflight", stack, *target]) == 0
        assert "0 failed" in capsys.readouterr().out
