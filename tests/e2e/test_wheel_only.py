"""The wheels alone are enough (issue: a release people can install): claude-foundry's and claude-foundry-sandbox's
wheels built from this checkout, installed into a clean virtualenv with no source tree, run `claude-foundry demo`
from an empty folder, and a repository written by its `init`, with a deployment added to its stack, passes its own
`scripts/bootstrap test` and `scripts/test` (the sandbox wheel found next to the core one). The same script runs in
the release workflow on the wheels it publishes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(claude-foundry's wheel, claude-foundry-sandbox's wheel), built from this checkout."""
    out = tmp_path_factory.mktemp("dist")
    # From the tracked files only (a copy): a developer's stale build/ of an older layout can't leak into the wheel,
    # and nothing is written into the checkout. The version is what setuptools-scm reads from this checkout's git.
    version = subprocess.run([sys.executable, "-m", "setuptools_scm"], cwd=ROOT, capture_output=True,
                             text=True, check=True, timeout=60).stdout.strip().splitlines()[-1]
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,  # noqa: S607
                             timeout=60).stdout.decode().split("\0")
    src = tmp_path_factory.mktemp("src")
    for rel in filter(None, tracked):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    # The locked setuptools and setuptools-scm of this venv (requirements/build.txt): no isolation, no download.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",  # noqa: S603
                    "--disable-pip-version-check", "-w", str(out), str(src), str(src / "sandbox")],
                   check=True, capture_output=True, timeout=300,
                   env={**os.environ, "SETUPTOOLS_SCM_PRETEND_VERSION": version})
    (core,) = out.glob("claude_foundry-*.whl")
    (sandbox,) = out.glob("claude_foundry_sandbox-*.whl")
    return core, sandbox


def test_the_core_wheel_carries_no_sandbox(wheels: tuple[Path, Path]):
    """`pip install claude-foundry` has no sandbox code; the sandbox wheel has it all, at the same version, and
    names claude-foundry as a dependency (it serves from the core's vocabulary)."""
    core, sandbox = wheels
    with zipfile.ZipFile(core) as zf:
        names = zf.namelist()
        core_meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert not [n for n in names if n.startswith(("claude_foundry/sandbox/", "claude_foundry_sandbox/"))]
    assert "claude_foundry/cli/_sandbox.py" in names  # the command stays in the core (it needs the extra)
    assert re.search(r"^Requires-Dist: claude-foundry-sandbox>=\S+; extra == \"sandbox\"$", core_meta, re.MULTILINE)
    with zipfile.ZipFile(sandbox) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "claude_foundry_sandbox/server.py" in names
    assert "claude_foundry_sandbox/providers/cognitiveservices.py" in names
    assert not [n for n in names if n.startswith("claude_foundry/")]
    assert re.search(r"^Requires-Dist: claude-foundry>=", meta, re.MULTILINE)
    version = re.search(r"^Version: (\S+)$", core_meta, re.MULTILINE).group(1)
    assert re.search(r"^Version: (\S+)$", meta, re.MULTILINE).group(1) == version


def test_the_wheel_alone_runs_the_demo_and_a_generated_repository(wheels: tuple[Path, Path], tmp_path: Path):
    wheel, sandbox = wheels
    summary_file = tmp_path / "summary.json"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_wheel.py"), str(wheel),  # noqa: S603
                             str(sandbox), "--work", str(tmp_path / "work"), "--summary", str(summary_file)],
                            capture_output=True, text=True, timeout=3000, check=False)
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    assert result.returncode == 0, summary.get("error") or result.stderr[-3000:]
    assert summary["ok"] is True
    version = summary["version"]
    assert wheel.name.startswith(f"claude_foundry-{version}-")
    # imported from the clean virtualenv, not from this checkout
    for key in ("imported_from", "sandbox_imported_from"):
        assert Path(summary[key]).is_relative_to(tmp_path / "work" / "venv")
        assert not Path(summary[key]).is_relative_to(ROOT)
    assert summary["install-check"]["exit"] == 0  # pip check: the two wheels' requirements are met
    assert summary["demo"]["exit"] == 0
    assert any("deployments passed" in line for line in summary["demo_tail"])
    assert summary["demo_left_in_cwd"] == []  # the demo from an empty folder leaves nothing there
    for step in ("init", "team-bootstrap", "team-test"):
        assert summary[step]["exit"] == 0, step
    assert summary["added_deployment"] == "extra-haiku"
    assert "passed" in summary["team_test_tail"][0]


def test_a_generated_repository_of_a_development_build_asks_for_its_source(tmp_path: Path):
    """requirements.txt pins the version that wrote it; a development build is on no package index, so the
    generated bootstrap stops with the way round (CLAUDE_FOUNDRY_SOURCE) instead of a pip resolution error."""
    from claude_foundry import __version__
    from claude_foundry.cli import main
    from claude_foundry.cli._init import development_build

    repo = tmp_path / "repo"
    assert main(["init", str(repo), "--organization", "Contoso", "--country", "US", "--industry", "technology",
                 "--location", "eastus2", "--prefix", "devbuild"]) == 0
    pin = (repo / "requirements.txt").read_text(encoding="utf-8")
    assert f"claude-foundry[infra]=={__version__}" in pin
    (repo / "requirements.txt").write_text(pin.replace(__version__, "0.3.1.dev4+gabcdef0"), encoding="utf-8")
    assert development_build("0.3.1.dev4+gabcdef0")
    assert not development_build("0.3.0")
    result = subprocess.run(["bash", "scripts/bootstrap", "test"], cwd=repo, capture_output=True, text=True,  # noqa: S607
                            timeout=60, check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "CLAUDE_FOUNDRY_SOURCE" in result.stderr
    assert "0.3.1.dev4+gabcdef0" in result.stderr
    assert not (repo / ".venv").exists()  # refused before creating anything
    missing = subprocess.run(["bash", "scripts/bootstrap", "test"], cwd=repo, capture_output=True, text=True,  # noqa: S607
                             timeout=60, check=False,
                             env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                  "CLAUDE_FOUNDRY_SOURCE": str(tmp_path / "nowhere.whl")})
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr
