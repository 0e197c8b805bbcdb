"""``claude-foundry rotate-keys``: zero-downtime, resumable, never leaves a revoked key in the vault."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.target import Target, sandbox_target
from claude_foundry._errors import UserError
from claude_foundry._ops.rotate import COMPLETE, LAST_STEP, Journal, Rotator, journal_secret_name, rotate_keys
from claude_foundry._ops.verify import run_verify
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import exit_code, main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import write_stack

pytestmark = pytest.mark.e2e

@contextlib.contextmanager
def runner_dies_after_regenerating_key1(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Inside: a rotation raises ``Interrupted`` right after regenerating key1 (step 3), before its journal says so.
    After: journals are written again."""
    original = Rotator.write_journal

    def crash_after_regenerate(self: Rotator, journal: Journal) -> None:
        if journal.completed_step == 3:
            raise Interrupted("runner died")
        original(self, journal)

    monkeypatch.setattr(Rotator, "write_journal", crash_after_regenerate)
    try:
        with pytest.raises(Interrupted):
            yield
    finally:
        monkeypatch.setattr(Rotator, "write_journal", original)



class Interrupted(Exception):
    pass


class Stack:
    """A deployed stack plus probes: the account's keys (listKeys) and the vault's key secret."""

    def __init__(self, path: Path, target: Target) -> None:
        self.path = path
        self.spec = load_spec(path)
        self.target = target
        self.view = stack_view(self.spec, target)
        self.arm = ArmCaller(target)
        status, vault = self.arm.call("GET", self.view.vault.id, self.view.vault.api_version)
        assert status == 200
        self.secrets = target.secret_client(vault["properties"]["vaultUri"])
        self.seen: set[str] = set()  # every key value observed, to check the output never shows one

    def keys(self) -> tuple[str, str]:
        account = self.view.first.account
        status, data = self.arm.call("POST", account.id + "/listKeys", account.api_version)
        assert status == 200
        self.seen.update((data["key1"], data["key2"]))
        return data["key1"], data["key2"]

    def vault_key(self) -> str:
        value = self.secrets.get_secret(self.spec.secret_names.api_key).value
        self.seen.add(value)
        return value

    def assert_vault_key_current(self) -> str:
        """The invariant: the vault's key is one the account accepts now. Returns which."""
        key1, key2 = self.keys()
        value = self.vault_key()
        assert value in (key1, key2), "the vault holds a revoked key"
        return "key1" if value == key1 else "key2"

    def journal(self) -> Journal | None:
        status, data = self.arm.call(
            "GET", f"{self.view.vault.id}/secrets/{journal_secret_name(self.spec.key_vault.secret_prefix)}",
            self.view.vault.api_version)
        return Journal.from_tags(data.get("tags") or {}) if status == 200 else None

    def close(self) -> None:
        self.arm.close()
        self.secrets.close()


@pytest.fixture
def stack(tmp_path: Path, connection: dict[str, Any]) -> Any:
    target = sandbox_target(connection)
    path = write_stack(tmp_path, tag="rot")
    assert up_local(load_spec(path), target, state_dir=tmp_path).result.ok
    s = Stack(path, target)
    yield s
    s.close()


def checking_hook(stack: Stack, log: list[tuple[int, str]], fail_at: int | None = None) -> Any:
    def hook(number: int, step_id: str) -> None:
        log.append((number, stack.assert_vault_key_current()))
        if number == fail_at:
            raise Interrupted(f"stopped after step {number}")
    return hook


def test_full_rotation_keeps_a_current_key_in_the_vault(stack: Stack) -> None:
    old1, old2 = stack.keys()
    assert stack.assert_vault_key_current() == "key1"
    log: list[tuple[int, str]] = []
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=checking_hook(stack, log))
    assert result.steps_run == [1, 2, 3, 4, 5, 6]
    assert result.resumed_from == 0
    # where the vault pointed after each step
    assert log == [(1, "key2"), (2, "key2"), (3, "key2"), (4, "key1"), (5, "key1"), (6, "key1")]
    new1, new2 = stack.keys()
    assert new1 not in (old1, old2)
    assert new2 not in (old1, old2)
    assert stack.vault_key() == new1
    journal = stack.journal()
    assert journal is not None
    assert journal.status == COMPLETE
    assert journal.completed_step == LAST_STEP
    # the stack is in sync afterwards: the vault holds the current key1, as the program writes it
    assert run_verify(stack.view).in_sync


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4, 5])
def test_interrupted_rotation_resumes(stack: Stack, fail_at: int) -> None:
    old1, old2 = stack.keys()
    log: list[tuple[int, str]] = []
    with pytest.raises(Interrupted):
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=checking_hook(stack, log, fail_at))
    stack.assert_vault_key_current()
    journal = stack.journal()
    assert journal is not None
    assert journal.completed_step == fail_at
    assert journal.status != COMPLETE
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=checking_hook(stack, log))
    assert result.resumed_from == fail_at
    assert result.steps_run == list(range(fail_at + 1, LAST_STEP + 1))
    assert [n for n, _ in log] == list(range(1, LAST_STEP + 1))
    new1, new2 = stack.keys()
    assert {new1, new2}.isdisjoint({old1, old2})
    assert stack.vault_key() == new1
    assert stack.journal().status == COMPLETE  # type: ignore[union-attr]


def test_interrupted_inside_a_step_before_the_journal(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Crash after regenerating key1 but before the journal records it: the re-run repeats step 3 safely."""
    old1, _ = stack.keys()
    with runner_dies_after_regenerating_key1(monkeypatch):
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert stack.keys()[0] != old1  # key1 was regenerated...
    assert stack.assert_vault_key_current() == "key2"  # ...while the vault held key2
    assert stack.journal().completed_step == 2  # type: ignore[union-attr]
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert result.resumed_from == 2
    assert result.steps_run == [3, 4, 5, 6]
    assert stack.assert_vault_key_current() == "key1"


def test_vault_changed_between_runs_is_republished(stack: Stack) -> None:
    """Someone wrote key1 back (e.g. a deploy) after step 2: step 3 must not revoke the vault's key."""
    with pytest.raises(Interrupted):
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=checking_hook(stack, [], 2))
    key1, _ = stack.keys()
    body = {"properties": {"value": key1}}
    status, _ = stack.arm.call("PUT", f"{stack.view.vault.id}/secrets/{stack.spec.secret_names.api_key}",
                               stack.view.vault.api_version, body)
    assert status in (200, 201)
    log: list[tuple[int, str]] = []
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=checking_hook(stack, log))
    assert any("publishing key2 again" in w for w in result.warnings)
    assert log[0] == (3, "key2")
    stack.assert_vault_key_current()


def test_second_rotation_starts_fresh(stack: Stack) -> None:
    first = rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    second = rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert first.rotation_id != second.rotation_id
    assert second.resumed_from == 0
    assert stack.assert_vault_key_current() == "key1"


def test_refused_when_local_auth_disabled(tmp_path: Path, connection: dict[str, Any],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write_stack(tmp_path, tag="rot", foundry={"disable_local_auth": True})
    spec = load_spec(path)
    target = sandbox_target(connection)
    with pytest.raises(UserError) as err:
        Rotator(stack_view(spec, target), grace=0, min_regenerate_gap=0)
    assert exit_code(err.value) == 2
    assert "no key to rotate" in str(err.value)
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["rotate-keys", str(path), "--sandbox", str(conn), "--grace", "0"]) == 2
    assert "local auth" in capsys.readouterr().err


def test_cli_rotation_prints_steps_and_no_key(stack: Stack, connection: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    stack.keys()
    stack.vault_key()
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    assert main(["rotate-keys", str(stack.path), "--sandbox", str(conn), "--grace", "0", "--stop-after", "3"]) == 0
    assert stack.journal().completed_step == 3  # type: ignore[union-attr]
    stack.assert_vault_key_current()
    first = capsys.readouterr()
    assert main(["rotate-keys", str(stack.path), "--sandbox", str(conn), "--grace", "0", "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["resumed_from_step"] == 3
    assert data["steps_run"] == [4, 5, 6]
    stack.assert_vault_key_current()
    text = first.out + first.err + out.out + out.err
    assert "3/6 regenerated key1" in text
    assert "resuming rotation" in text
    for key in stack.seen:
        assert key not in text


# --- the lease: two runners never interleave ------------------------------------------------------------------


def _lease(stack: Stack) -> Any:
    from claude_foundry._ops.rotate import Lease, lease_secret_name

    status, data = stack.arm.call(
        "GET", f"{stack.view.vault.id}/secrets/{lease_secret_name(stack.spec.key_vault.secret_prefix)}",
        stack.view.vault.api_version)
    return Lease.from_tags(data.get("tags") or {}) if status == 200 else None


def _plant_lease(stack: Stack, holder: str, expires_in: float, **where: Any) -> None:
    """Another runner's lease, written as a runner writes it."""
    import time
    import uuid

    from claude_foundry._ops.rotate import Lease

    rotator = Rotator(stack.view, grace=0, min_regenerate_gap=0)
    try:
        now = time.time()
        rotator.write_lease(Lease(lease_id=str(uuid.uuid4()), holder=holder, acquired_at=now - 60,
                                  expires_at=now + expires_in, **where))
    finally:
        rotator.close()


def test_a_second_rotation_while_one_holds_the_lease_exits_1(stack: Stack, conn_file: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    in_grace = threading.Event()
    go_on = threading.Event()
    outcome: dict[str, Any] = {}

    def held_sleep(seconds: float) -> None:  # the first runner, inside its grace wait
        in_grace.set()
        assert go_on.wait(60)

    def first() -> None:
        try:
            outcome["result"] = rotate_keys(stack.view, grace=5, min_regenerate_gap=0, sleep=held_sleep,
                                            holder="runner-A on host-a (pid 1)")
        except BaseException as exc:
            outcome["error"] = exc

    runner = threading.Thread(target=first, daemon=True)
    runner.start()
    try:
        assert in_grace.wait(60), "the first rotation never reached its grace wait"
        lease = _lease(stack)
        assert lease is not None
        assert lease.fresh()
        assert lease.holder == "runner-A on host-a (pid 1)"
        journal_before = stack.journal()
        code = main(["rotate-keys", str(stack.path), "--sandbox", conn_file, "--grace", "0"])
        err = capsys.readouterr().err
        assert code == 1
        assert "runner-A on host-a (pid 1)" in err  # the holder
        assert "started " in err
        assert "lease expires " in err
        assert "--break-lease" in err  # how to break a stale one
        assert "expired lease is taken over automatically" in err
        assert stack.journal() == journal_before  # the second run changed nothing
    finally:
        go_on.set()
        runner.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].steps_run == [1, 2, 3, 4, 5, 6]
    released = _lease(stack)
    assert released is not None
    assert not released.fresh()
    assert main(["rotate-keys", str(stack.path), "--sandbox", conn_file, "--grace", "0"]) == 0
    stack.assert_vault_key_current()


def test_an_expired_lease_is_taken_over(stack: Stack) -> None:
    _plant_lease(stack, "runner-gone on host-x (pid 9)", expires_in=-1)
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert result.steps_run == [1, 2, 3, 4, 5, 6]
    assert any("took over the expired rotation lease of runner-gone" in w for w in result.warnings)
    stack.assert_vault_key_current()


def test_a_lease_whose_process_is_gone_from_this_host_is_taken_over_at_once(stack: Stack) -> None:
    """Issue 20, class 7: a runner killed on this host leaves a fresh lease (15 minutes and more); its pid no longer
    exists, so the next run takes it over at once instead of waiting it out. Another host's lease is still held."""
    import socket
    import subprocess
    import sys
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _plant_lease(stack, f"runner-killed on this host (pid {gone.pid})", expires_in=3600,
                 host=socket.gethostname(), pid=gone.pid)
    started = time.monotonic()
    result = rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert time.monotonic() - started < 60
    assert result.steps_run == [1, 2, 3, 4, 5, 6]
    assert any(f"its process (pid {gone.pid}) is gone from this host" in w for w in result.warnings)
    stack.assert_vault_key_current()

    _plant_lease(stack, "runner-elsewhere", expires_in=3600, host="another-host", pid=gone.pid)
    with pytest.raises(UserError) as err:
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert exit_code(err.value) == 1
    assert "runner-elsewhere" in str(err.value)


def test_a_fresh_lease_is_broken_only_when_asked(stack: Stack, conn_file: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _plant_lease(stack, "runner-lost on host-y (pid 7)", expires_in=3600)
    with pytest.raises(UserError) as err:
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0)
    assert exit_code(err.value) == 1
    assert "runner-lost on host-y (pid 7)" in str(err.value)
    assert stack.journal() is None  # nothing was written
    assert main(["rotate-keys", str(stack.path), "--sandbox", conn_file, "--grace", "0", "--break-lease"]) == 0
    assert "broke the rotation lease of runner-lost" in " ".join(capsys.readouterr().out.split())
    stack.assert_vault_key_current()


def test_a_run_whose_lease_was_broken_stops_before_its_next_step(stack: Stack) -> None:
    def hook(number: int, step_id: str) -> None:
        if number == 1:
            _plant_lease(stack, "runner-B on host-b (pid 2)", expires_in=3600)

    with pytest.raises(UserError, match="taken over by runner-B on host-b"):
        rotate_keys(stack.view, grace=0, min_regenerate_gap=0, on_step=hook)
    assert stack.journal().completed_step == 1  # type: ignore[union-attr]
    lease = _lease(stack)
    assert lease is not None
    assert lease.holder.startswith("runner-B")
    assert lease.fresh()
    stack.assert_vault_key_current()


@pytest.mark.parametrize("grace", [float("nan"), float("inf"), -1.0])
def test_the_library_refuses_a_grace_that_is_not_a_finite_wait(stack: Stack, grace: float) -> None:
    with pytest.raises(UserError, match="finite"):
        Rotator(stack.view, grace=grace)


def test_a_one_account_stack_keeps_its_output_and_state(stack: Stack, conn_file: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`--account primary` is the whole stack; the JSON keeps its shape and no run record is written."""
    from claude_foundry._ops.rotate import run_secret_name

    assert main(["rotate-keys", str(stack.path), "--sandbox", conn_file, "--grace", "0", "--account", "primary",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"rotation_id", "resumed_from_step", "steps_run", "warnings"}
    assert data["steps_run"] == [1, 2, 3, 4, 5, 6]
    assert stack.journal().rotation_id == data["rotation_id"]  # type: ignore[union-attr]
    assert stack.assert_vault_key_current() == "key1"
    record = f"{stack.view.vault.id}/secrets/{run_secret_name(stack.spec.secret_names.prefix)}"
    status, _ = stack.arm.call("GET", record, stack.view.vault.api_version)
    assert status == 404
