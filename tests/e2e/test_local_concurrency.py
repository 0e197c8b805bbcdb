"""Issue 20, class 7: concurrent local deploys, with real processes. Two ``up --local`` of the same stack at once
both succeed (the second waits for the first, then changes nothing); two different stacks sharing a state
directory both exist afterwards; a run waiting too long stops with words naming who holds the state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from seeding import base_stack

from claude_foundry import _files as files

pytestmark = pytest.mark.e2e


def cli(*argv: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_FOUNDRY_"))}
    env["COLUMNS"] = "200"
    return subprocess.Popen([sys.executable, "-m", "claude_foundry.cli", *argv], stdout=subprocess.PIPE,  # noqa: S603
                            stderr=subprocess.STDOUT, text=True, env=env)


def both(*runs: subprocess.Popen[str]) -> list[tuple[int, str]]:
    out = []
    for run in runs:
        text, _ = run.communicate(timeout=300)
        out.append((run.returncode, text))
    return out


def test_two_ups_of_one_stack_at_once_both_succeed(tmp_path: Path) -> None:
    stack = base_stack(tmp_path, "cf-conc-")
    state = tmp_path / "state"
    results = both(cli("up", str(stack), "--local", "--state-dir", str(state)),
                   cli("up", str(stack), "--local", "--state-dir", str(state)))
    for code, text in results:
        assert code == 0, text[-3000:]
        assert "Traceback" not in text
    assert any("0 to change" in text for _, text in results), [t[-1500:] for _, t in results]
    assert not list(state.rglob("*.tmp"))


def test_two_stacks_sharing_a_state_directory_both_exist_afterwards(tmp_path: Path) -> None:
    one, two = base_stack(tmp_path, "cf-conc-a-"), base_stack(tmp_path, "cf-conc-b-")
    state = tmp_path / "state"
    results = both(cli("up", str(one), "--local", "--state-dir", str(state)),
                   cli("up", str(two), "--local", "--state-dir", str(state)))
    for code, text in results:
        assert code == 0, text[-3000:]
    persisted = (state / "sandbox" / "state.json").read_text(encoding="utf-8")
    for path in (one, two):
        assert f"/accounts/{path.stem}" in persisted.lower(), path.stem
    # and a third run of each finds its stack in place
    for code, text in both(cli("up", str(one), "--local", "--state-dir", str(state))) + \
            both(cli("up", str(two), "--local", "--state-dir", str(state))):
        assert code == 0, text[-3000:]
        assert "0 to change" in text, text[-3000:]


def test_two_ups_of_one_stack_against_a_running_sandbox_both_succeed(tmp_path: Path, conn_file: str) -> None:
    stack = base_stack(tmp_path, "cf-conc-s-")
    state = tmp_path / "state"
    args = ("--local", "--sandbox", conn_file, "--state-dir", str(state))
    for code, text in both(cli("up", str(stack), *args), cli("up", str(stack), *args)):
        assert code == 0, text[-3000:]
        assert "Traceback" not in text
    deploy_state = list(state.glob("deploy-*.json"))
    assert len(deploy_state) == 1
    assert json.loads(deploy_state[0].read_text(encoding="utf-8"))["applied"]


def test_a_held_lock_is_waited_for_then_refused_with_words(tmp_path: Path) -> None:
    lock = tmp_path / "state.lock"
    holder = subprocess.Popen([sys.executable, "-c", (  # noqa: S603
        "import sys, time; from claude_foundry import _files as files\n"
        f"with files.exclusive_lock({str(lock)!r}, wait=5, what='x'):\n"
        "    print('held', flush=True); time.sleep(30)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        told: list[str] = []
        with pytest.raises(files.LockBusy) as info, \
                files.exclusive_lock(lock, wait=0.5, what="the test state", on_wait=told.append):
            pass
        assert f"the test state is in use by another process (pid {holder.pid} on " in str(info.value)
        assert "gave up after waiting 0.5s" in str(info.value)
        assert len(told) == 1
        assert "waiting up to 0.5s" in told[0]
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # the kernel dropped the killed holder's lock: taken at once
    done = threading.Event()
    with files.exclusive_lock(lock, wait=0, what="the test state"):
        done.set()
    assert done.is_set()
