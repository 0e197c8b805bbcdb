"""``rotate-keys`` prints what it prints: the CLI's text (and JSON) of rotations on the sandbox, compared with the
output captured before the rotation's progress became data (``ops.rotate.RotationEvent``, rendered by
``cli/_rotate_keys.py``).

Each scenario runs the real command against the sandbox; what differs from one run to the next (ids, times, the
stack's names, the temporary path, the seconds left of a wait) is replaced by placeholders, then the text must equal
``golden/rotate_output/<scenario>.txt``. The waits are real waits of the rotation (grace 100 s, the runtime's key
re-read interval raised to 100 s) with the sleep itself replaced, so every kind of progress line appears.
Regenerate (only when the output is meant to change): ``CLAUDE_FOUNDRY_REGEN_GOLDEN=1 .venv/bin/python -m pytest
-q tests/e2e/test_rotate_output.py``.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack

from claude_foundry._azure.target import sandbox_target
from claude_foundry._ops.rotate import Lease, Rotator
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).parent / "golden" / "rotate_output"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
WAIT = re.compile(r"waiting \d+\.\ds")


@pytest.fixture(autouse=True)
def waits_without_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait of the rotation is taken (grace, the gap between two regenerations) but returns at once."""
    from claude_foundry._client import runtime

    slept: list[float] = []
    monkeypatch.setattr(runtime, "KEY_REREAD_MIN_INTERVAL", 100.0)
    defaults = dict(Rotator.__init__.__kwdefaults__ or {})
    monkeypatch.setattr(Rotator.__init__, "__kwdefaults__", {**defaults, "sleep": slept.append})
    return slept


class Scene:
    """A deployed stack, its connection file, and how to make its output comparable across runs."""

    def __init__(self, path: Path, conn_file: Path) -> None:
        self.path = path
        self.conn_file = conn_file
        self.spec = load_spec(path)
        self.names = {a.name: f"<account-{a.key}>" for a in self.spec.all_accounts()}
        self.texts: list[str] = []

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> int:
        code = main(["rotate-keys", str(self.path), "--sandbox", str(self.conn_file), *argv])
        out = capsys.readouterr()
        self.texts.append(f"$ rotate-keys STACK {' '.join(argv)}\nexit {code}\n--- stdout\n{out.out}--- stderr\n"
                          f"{out.err}")
        return code

    def plant_lease(self, account: str, holder: str, expires_in: float) -> None:
        target = sandbox_target(str(self.conn_file))
        rotator = Rotator(stack_view(self.spec, target), grace=0, min_regenerate_gap=0, account=account)
        try:
            now = time.time()
            rotator.write_lease(Lease(lease_id=str(uuid.uuid4()), holder=holder, acquired_at=now - 60,
                                      expires_at=now + expires_in, host="host-a", pid=1))
        finally:
            rotator.close()

    def normalized(self) -> str:
        text = "\n".join(self.texts)
        text = text.replace(str(self.path), "STACK")
        for name, placeholder in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(name, placeholder)
        text = UUID.sub("<uuid>", text)
        text = ISO.sub("<time>", text)
        return WAIT.sub("waiting <n>s", text)

    def check(self, scenario: str) -> None:
        got = self.normalized()
        golden = GOLDEN / f"{scenario}.txt"
        if os.environ.get("CLAUDE_FOUNDRY_REGEN_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert got == golden.read_text(encoding="utf-8")


def _deploy(tmp_path: Path, connection: dict[str, Any], path: Path) -> Scene:
    deployed = up_local(load_spec(path), sandbox_target(connection), state_dir=tmp_path)
    assert deployed.result.ok, deployed.result.summary()
    conn = tmp_path / "conn.json"
    conn.write_text(json.dumps(connection), encoding="utf-8")
    return Scene(path, conn)


@pytest.fixture
def single(tmp_path: Path, connection: dict[str, Any]) -> Scene:
    return _deploy(tmp_path, connection, base_stack(tmp_path, "cf-rout-"))


@pytest.fixture
def multi(tmp_path: Path, connection: dict[str, Any]) -> Scene:
    path = base_stack(tmp_path, "cf-rout-", extra=(
        "deployments:\n  my-claude-deployment: {capacity: 2}\n  fast: {capacity: 2}\n"
        f"accounts:\n  sweden:\n    name: {unique('cf-rout-sc-')}\n    location: swedencentral\n"))
    return _deploy(tmp_path, connection, path)


def test_one_account_stopped_resumed_held_and_broken(single: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    assert single.run(capsys, "--grace", "100", "--stop-after", "3") == 0
    assert single.run(capsys, "--grace", "100") == 0
    single.plant_lease("primary", "runner-A on host-a (pid 1)", expires_in=3600)
    assert single.run(capsys, "--grace", "0") == 1
    assert single.run(capsys, "--grace", "0", "--break-lease", "--json") == 0
    single.check("one_account")


def test_several_accounts_stopped_continued_asked_held_and_broken(multi: Scene,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert multi.run(capsys, "--grace", "100", "--stop-after", "2") == 0
    assert multi.run(capsys, "--grace", "100") == 0
    assert multi.run(capsys, "--grace", "0", "--account", "sweden", "--stop-after", "4") == 0
    assert multi.run(capsys, "--grace", "0", "--account", "sweden") == 0
    multi.plant_lease("primary", "runner-A on host-a (pid 1)", expires_in=3600)
    assert multi.run(capsys, "--grace", "0", "--account", "sweden") == 1
    assert multi.run(capsys, "--grace", "0") == 1
    assert multi.run(capsys, "--grace", "0", "--account", "sweden", "--break-lease") == 0
    assert multi.run(capsys, "--grace", "0", "--break-lease", "--json") == 0
    multi.check("several_accounts")
