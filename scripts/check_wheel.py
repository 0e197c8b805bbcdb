#!/usr/bin/env python3
"""Prove that the built wheels alone are enough: no source tree, nothing but the wheels and the package index.

    python scripts/check_wheel.py dist/*.whl [--work DIR] [--summary FILE] [--skip-team-repo]

The repository builds two distributions released under one tag: ``claude-foundry`` and ``claude-foundry-sandbox``
(``sandbox/``, which the ``[sandbox]`` extra pulls in). Both wheels are given, at the same version.

1. A clean virtualenv gets both wheels with ``[infra,sandbox]``'s dependencies at the versions of
   ``requirements/infra-sandbox.txt`` (hash-checked, so the check tests the wheels and not next week's releases);
   ``claude-foundry --version`` must name the wheel's version, and ``claude_foundry`` and
   ``claude_foundry_sandbox`` must import from that virtualenv, not from a source tree.
2. ``claude-foundry demo`` runs from an empty folder: the packaged example stack is deployed to the embedded
   sandbox, read back from its Key Vault and smoke-tested.
3. ``claude-foundry init`` writes a team's repository; a deployment is added to its shared stack; the repository's
   own ``scripts/bootstrap test`` (with ``CLAUDE_FOUNDRY_SOURCE`` = the core wheel, as its README documents; the
   sandbox wheel is found next to it) and ``scripts/test`` pass.

The release workflow (.github/workflows/release.yml) runs it on the wheels it is about to publish, and the test suite
(tests/e2e/test_wheel_only.py) on wheels built from the checkout. Exit 0 when every step passed; the summary (JSON)
names each step's exit code and what was checked. Every step is bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "infra-sandbox.txt"
TEST_LOCK = ROOT / "requirements" / "test.txt"
STEP_TIMEOUT = 900  # seconds: an install on a cold cache downloads Pulumi's wheels (~300 MB)
ADDED = ("extra-haiku", "claude-haiku-4-5")  # the deployment added to the team's stack


class StepFailed(RuntimeError):
    pass


#: distribution -> the prefix of its wheel's file name and its import name.
DISTRIBUTIONS = {"claude-foundry": ("claude_foundry-", "claude_foundry"),
                 "claude-foundry-sandbox": ("claude_foundry_sandbox-", "claude_foundry_sandbox")}


def pick_wheels(paths: list[Path]) -> dict[str, Path]:
    """distribution -> its one wheel among ``paths``; both distributions must be there, at one version."""
    found: dict[str, list[Path]] = {name: [] for name in DISTRIBUTIONS}
    for path in paths:
        if not path.is_file() or path.suffix != ".whl":
            raise StepFailed(f"{path}: not a wheel file")
        name = next((n for n, (prefix, _) in DISTRIBUTIONS.items() if path.name.startswith(prefix)), None)
        if name is None:
            raise StepFailed(f"{path.name}: neither claude-foundry's nor claude-foundry-sandbox's wheel")
        found[name].append(path)
    for name, wheels in found.items():
        if len(wheels) != 1:
            raise StepFailed(f"expected one {name} wheel, got {len(wheels)}: {[w.name for w in wheels]}")
    picked = {name: wheels[0] for name, wheels in found.items()}
    versions = {name: wheel_version(w) for name, w in picked.items()}
    if len(set(versions.values())) != 1:
        raise StepFailed(f"the wheels disagree on the version (one tag releases both): {versions}")
    return picked


def wheel_version(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode("utf-8")
    match = re.search(r"^Version: (\S+)$", text, re.MULTILINE)
    if match is None:
        raise StepFailed(f"{wheel.name}: METADATA has no Version")
    return match.group(1)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no virtualenv, no PYTHONPATH pointing at this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env.update(extra)
    return env


def run(step: str, cmd: list[str], *, cwd: Path, log: Path, env: dict[str, str] | None = None,
        summary: dict[str, object]) -> str:
    start = time.monotonic()
    print(f"check_wheel: {step}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                              timeout=STEP_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        summary[step] = {"exit": None, "seconds": STEP_TIMEOUT}
        raise StepFailed(f"{step}: did not finish in {STEP_TIMEOUT} s") from None
    with log.open("a", encoding="utf-8") as fh:
        fh.write(f"=== {step}: {' '.join(cmd)} (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}\n")
    summary[step] = {"exit": proc.returncode, "seconds": round(time.monotonic() - start, 1)}
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        raise StepFailed(f"{step}: exit {proc.returncode} (full output in {log})\n{tail}")
    return proc.stdout


def constraints_from_lock(lock: Path, out: Path) -> Path:
    """The lock's pins without their hashes: a constraints file for an install that is not hash-checked
    (the team repository's own bootstrap installs from the index, as a team's would)."""
    pins = [line.rstrip(" \\") for line in lock.read_text(encoding="utf-8").splitlines()
            if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==", line)]
    out.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return out


def check(wheels: dict[str, Path], work: Path, *, team_repo: bool, summary: dict[str, object]) -> None:
    log = work / "check_wheel.log"
    # Both wheels side by side in one folder: the team repository's bootstrap finds the sandbox next to the core.
    dist = work / "dist"
    dist.mkdir(exist_ok=True)
    for path in wheels.values():
        shutil.copy2(path, dist / path.name)
    wheels = {name: dist / path.name for name, path in wheels.items()}
    wheel = wheels["claude-foundry"]
    version = wheel_version(wheel)
    summary["version"] = version
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    cli = env_dir / "bin" / "claude-foundry"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run("install-deps", [*pip, "--require-hashes", "--no-deps", "-r", str(LOCK)], cwd=work, log=log,
        summary=summary)
    run("install-wheel", [*pip, "--no-deps", *(str(w) for w in wheels.values())], cwd=work, log=log,
        summary=summary)
    run("install-check", [str(py), "-m", "pip", "check"], cwd=work, log=log, summary=summary)
    empty = work / "empty"
    empty.mkdir()
    shown = run("show-version", [str(cli), "--version"], cwd=empty, log=log, summary=summary).strip()
    if shown != f"claude-foundry {version}":
        raise StepFailed(f"--version printed {shown!r}, expected 'claude-foundry {version}'")
    probe = ("import claude_foundry, claude_foundry_sandbox; print(claude_foundry.__file__); "
             "print(claude_foundry_sandbox.__file__); print(claude_foundry_sandbox.__version__)")
    where, sandbox_where, sandbox_version = run("import-location", [str(py), "-c", probe], cwd=empty, log=log,
                                                summary=summary).strip().splitlines()
    summary["imported_from"] = where
    summary["sandbox_imported_from"] = sandbox_where
    for path in (where, sandbox_where):
        if not Path(path).resolve().is_relative_to(env_dir.resolve()):
            raise StepFailed(f"{path}: imported from outside the clean virtualenv {env_dir}")
    if sandbox_version != version:
        raise StepFailed(f"claude_foundry_sandbox reports {sandbox_version}, the wheels are {version}")
    # the demo keeps its sandbox in the per-user state directory ($XDG_STATE_HOME/claude-foundry/demo): here the
    # work folder's, not this machine's user's
    out = run("demo", [str(cli), "demo"], cwd=empty, log=log, summary=summary,
              env=clean_env(XDG_STATE_HOME=str(work / "state")))
    summary["demo_tail"] = out.strip().splitlines()[-5:]  # the verdict, the catalogue's age, the next command
    leftovers = sorted(p.name for p in empty.iterdir())
    summary["demo_left_in_cwd"] = leftovers
    if not team_repo:
        return
    repo = work / "team-repo"
    run("init", [str(cli), "init", str(repo), "--organization", "Contoso Ltd", "--country", "US",
                 "--industry", "technology", "--location", "eastus2", "--prefix", "wheelchk"],
        cwd=work, log=log, summary=summary)
    base = repo / "stacks" / "shared" / "base.yaml"
    text = base.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    base.write_text(text + f"  {ADDED[0]}: {{model: {ADDED[1]}}}\n", encoding="utf-8")
    summary["added_deployment"] = ADDED[0]
    team_env = clean_env(CLAUDE_FOUNDRY_SOURCE=str(wheel),
                         PIP_CONSTRAINT=str(constraints_from_lock(TEST_LOCK, work / "constraints.txt")))
    run("team-bootstrap", ["bash", "scripts/bootstrap", "test"], cwd=repo, env=team_env, log=log, summary=summary)
    out = run("team-test", ["bash", "scripts/test"], cwd=repo, env=team_env, log=log, summary=summary)
    summary["team_test_tail"] = out.strip().splitlines()[-1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheels", type=Path, nargs="+",
                        help="claude-foundry's and claude-foundry-sandbox's wheels (dist/*.whl)")
    parser.add_argument("--work", type=Path, help="a directory to work in (default: a temporary one, removed)")
    parser.add_argument("--summary", type=Path, help="write what was checked, as JSON, here")
    parser.add_argument("--skip-team-repo", action="store_true", help="only the install, --version and demo")
    args = parser.parse_args(argv)
    try:
        wheels = pick_wheels([w.resolve() for w in args.wheels])
    except StepFailed as exc:
        print(f"check_wheel: {exc}", file=sys.stderr)
        return 2
    wheel = wheels["claude-foundry"]
    summary: dict[str, object] = {"wheel": wheel.name, "wheels": sorted(w.name for w in wheels.values())}
    work = args.work.resolve() if args.work else Path(tempfile.mkdtemp(prefix="claude-foundry-wheel-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        check(wheels, work, team_repo=not args.skip_team_repo, summary=summary)
        summary["ok"] = True
    except StepFailed as exc:
        summary["ok"] = False
        summary["error"] = str(exc)
        print(f"check_wheel: FAILED: {exc}", file=sys.stderr)
    finally:
        if args.summary:
            args.summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if summary["ok"]:
        print(f"check_wheel: {', '.join(w.name for w in wheels.values())}: every step passed", file=sys.stderr)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
