"""``claude-foundry doctor --sandbox``: end to end against the local sandbox (its credential gets a real token from
the sandbox's token endpoint; its ARM answers the subscription's type) with a fake ``pulumi`` on PATH."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from claude_foundry import cli
from fakepulumi import fake_pulumi


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(bin_dir))
    for name in list(os.environ):
        if name.startswith("PULUMI_"):
            monkeypatch.delenv(name)
    return bin_dir


def test_ready_against_the_sandbox(conn_file: str, fake_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_pulumi(fake_path)
    assert cli.main(["doctor", "--sandbox", conn_file, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ready"] is True
    assert data["sandbox"] is True
    by_name = {s["name"]: s for s in data["steps"]}
    assert {n: s["status"] for n, s in by_name.items()} == {
        "python": "ok", "extras": "ok", "pulumi": "ok", "backend": "ok", "login": "ok", "subscription": "ok",
        "eligibility": "ok"}
    conn = json.loads(Path(conn_file).read_text(encoding="utf-8"))
    assert data["subscription_id"] == conn["subscription_id"]
    assert "PayAsYouGo_2014-09-01" in by_name["eligibility"]["detail"]  # the sandbox's quotaId, read over ARM
    assert conn["client_secret"] not in json.dumps(data)


def test_not_ready_without_pulumi_against_the_sandbox(conn_file: str, fake_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--sandbox", conn_file]) == 1
    out = capsys.readouterr().out
    assert "missing pulumi" in out
    assert "get.pulumi.com" in out
    assert "not ready: 1 step(s) missing (pulumi)" in out


def test_an_ineligible_subscription_is_a_missing_step(fake_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    fake_pulumi(fake_path)
    with Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("csp"),
                               seed={"subscription_quota_id": "CSP_2015-05-01"})) as sb:
        conn = sb.write_connection_file(tmp_path_factory.mktemp("cspconn") / "conn.json")
        assert cli.main(["doctor", "--sandbox", str(conn), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    eligibility = next(s for s in data["steps"] if s["name"] == "eligibility")
    assert eligibility["status"] == "missing"
    assert "CSP_2015-05-01" in eligibility["detail"]
    assert "pay-as-you-go" in eligibility["fix"]
