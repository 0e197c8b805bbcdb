"""From an empty directory: `claude-foundry init` (stdin not a terminal: placeholders), then the commands of the
README it wrote ("Try it here, offline"): its stacks validate, plan (with the guardrails), pass the local
rehearsal (`up --local`, `demo`) and its own `scripts/test`; its workflows pass this repository's workflow
checks (tests/unit/test_workflows.py, reused) and actionlint."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from claude_foundry.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

ROOT = Path(__file__).resolve().parents[2]
#: README lines the test does not run: the install (the test runs in this virtualenv instead).
INSTALL_LINES = ("scripts/bootstrap test", "source .venv/bin/activate")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("team-repo")
    result = subprocess.run([sys.executable, "-m", "claude_foundry.cli", "init", str(directory)],  # noqa: S603
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "placeholders" in result.stderr
    return directory


def readme_commands(readme: str) -> list[str]:
    section = readme.split("## Try it here, offline", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block under 'Try it here, offline'"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.split("#", 1)[0].strip()]


def test_the_readme_commands_pass(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    commands = readme_commands((repo / "README.md").read_text(encoding="utf-8"))
    ran = []
    monkeypatch.chdir(repo)
    for command in commands:
        if command in INSTALL_LINES:
            continue
        argv = shlex.split(command)
        if argv[0] == "claude-foundry":
            code = main(argv[1:])
            out, err = capsys.readouterr()
            assert code == 0, f"{command}\n{out}\n{err}"
        else:  # the repository's own scripts, on this virtualenv
            env = {**os.environ, "CLAUDE_FOUNDRY_VENV": str(Path(sys.executable).parent.parent)}
            result = subprocess.run(["bash", *argv], cwd=repo, env=env, capture_output=True, text=True,  # noqa: S603, S607
                                    timeout=300, check=False)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        ran.append(argv[:2])
    assert ran == [["claude-foundry", "validate"], ["claude-foundry", "plan"], ["claude-foundry", "plan"],
                   ["claude-foundry", "up"], ["claude-foundry", "demo"], ["scripts/test"]]


def test_bootstrap_script_parses(repo: Path):
    result = subprocess.run(["bash", "-n", str(repo / "scripts" / "bootstrap")], capture_output=True,  # noqa: S603, S607
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


# --- the workflows: this repository's checks, pointed at the new repository --------------------------------


def _workflow_checks(monkeypatch: pytest.MonkeyPatch, repo: Path) -> ModuleType:
    """tests/unit/test_workflows.py as a private module whose ROOT/WORKFLOWS/FILES are the new repository's."""
    spec = importlib.util.spec_from_file_location("_init_workflow_checks",
                                                  ROOT / "tests" / "unit" / "test_workflows.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    workflows = repo / ".github" / "workflows"
    monkeypatch.setattr(module, "ROOT", repo)
    monkeypatch.setattr(module, "WORKFLOWS", workflows)
    monkeypatch.setattr(module, "FILES", sorted(workflows.glob("*.yml")))
    return module


def test_workflows_pass_the_structural_checks(repo: Path, monkeypatch: pytest.MonkeyPatch):
    checks = _workflow_checks(monkeypatch, repo)
    assert [p.name for p in checks.FILES] == ["deploy-stack.yml", "deploy.yml", "drift.yml", "lifecycle.yml",
                                              "pull-request.yml", "rotate.yml"]
    for path in checks.FILES:
        checks.test_workflow_shape(path)
        checks.test_actions_are_pinned(path)
        checks.test_every_claude_foundry_command_and_flag_exists(path)
        checks.test_referenced_repo_scripts_exist(path)  # scripts/bootstrap, scripts/test, policy/ exist there
    checks.test_azure_login_jobs_have_oidc_permission()
    checks.test_pull_request_validates_tests_preflights_and_previews()
    checks.test_deploy_goes_dev_then_prod_with_environments_and_smoke()
    checks.test_drift_runs_verify_on_a_schedule_and_fails_visibly()


def test_workflows_pass_actionlint(repo: Path, monkeypatch: pytest.MonkeyPatch):
    _workflow_checks(monkeypatch, repo).test_actionlint()  # skips when actionlint is not installed
