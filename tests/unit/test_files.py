"""Issue 20, class 8: every file claude-foundry writes is written atomically and never through a symlink (a link at
the path is replaced, its target untouched); ``init`` never writes outside DIR through a symlinked subfolder."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from claude_foundry import _files as files
from claude_foundry._client import smoke
from claude_foundry.cli import main

PRECIOUS = "precious: not to be overwritten\n"


def planted_link(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """``tmp_path/out/<name>`` a symlink to ``tmp_path/victim/precious``."""
    victim = tmp_path / "victim" / "precious"
    victim.parent.mkdir()
    victim.write_text(PRECIOUS, encoding="utf-8")
    link = tmp_path / "out" / name
    link.parent.mkdir()
    link.symlink_to(victim)
    return link, victim


def assert_replaced(link: Path, victim: Path) -> str:
    assert victim.read_text(encoding="utf-8") == PRECIOUS
    assert not link.is_symlink()
    assert link.is_file()
    assert not [p for p in link.parent.iterdir() if p.name.endswith(".tmp")]
    return link.read_text(encoding="utf-8")


@pytest.mark.parametrize("writer", [files.write_file, files.write_private])
def test_the_writers_replace_a_symlink(tmp_path: Path, writer) -> None:
    link, victim = planted_link(tmp_path, "f.txt")
    writer(link, "new\n")
    assert assert_replaced(link, victim) == "new\n"


def test_write_file_keeps_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        path = files.write_file(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def report() -> smoke.SmokeReport:
    return smoke.SmokeReport(resource="acct", base_url="https://acct.services.ai.azure.com/anthropic", auth="key",
                             results=[smoke.DeploymentResult(name="fast", model="claude-haiku-4-5", passed=True)])


def test_smoke_reports_never_write_through_a_symlink(tmp_path: Path) -> None:
    link, victim = planted_link(tmp_path, "report.json")
    report().write_json(link)
    assert json.loads(assert_replaced(link, victim))["resource"] == "acct"
    junit = link.with_name("report.xml")
    junit.symlink_to(victim)
    report().write_junit(junit)
    root = ET.fromstring(assert_replaced(junit, victim))  # noqa: S314 - our own report
    assert root.tag == "testsuite"
    assert root.get("tests") == "1"


def test_schema_output_never_writes_through_a_symlink(tmp_path: Path, capsys) -> None:
    link, victim = planted_link(tmp_path, "schema.json")
    assert main(["schema", "-o", str(link)]) == 0
    assert json.loads(assert_replaced(link, victim))["title"]


@pytest.fixture
def not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from claude_foundry.cli import _init as init

    monkeypatch.setattr(init, "stdin_is_terminal", lambda: False)


def test_init_refuses_a_symlinked_subfolder_that_leads_outside(tmp_path: Path, not_a_terminal, capsys) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "stacks").symlink_to(elsewhere, target_is_directory=True)
    code = main(["init", str(project)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"cannot write outside {project}" in err
    assert f"{project / 'stacks' / 'dev.yaml'} -> {elsewhere}" in err
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in project.iterdir()] == ["stacks"]  # nothing written at all


def test_init_follows_a_symlinked_subfolder_that_stays_inside(tmp_path: Path, not_a_terminal, capsys) -> None:
    project = tmp_path / "project"
    (project / "real-stacks").mkdir(parents=True)
    (project / "stacks").symlink_to(project / "real-stacks", target_is_directory=True)
    assert main(["init", str(project)]) == 0, capsys.readouterr().err
    assert (project / "real-stacks" / "dev.yaml").is_file()
