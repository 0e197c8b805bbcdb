"""The client tier: real clients, configured only by what ``claude-foundry env`` prints (plus HOME and PATH),
against a stack deployed to the sandbox with ``claude-foundry up --local``.

* ``client_sandbox``: an embedded sandbox for this tier (session).
* ``node_clients``: the pinned Node clients, installed into ``.clients/node`` once and cached
  (``node_clients.py``); skips with the reason when node/npm are missing or the install fails.
* ``alias_stack``: ``up --local`` of a stack whose deployments are aliases, not model ids, for two families
  (sonnet: ``team-chat`` = claude-sonnet-4-6; haiku: ``quick`` = claude-haiku-4-5).
* ``client_env``: the environment a client gets: ``claude-foundry env --with-key --write FILE`` parsed, plus
  HOME (an empty temporary one) and PATH. Nothing else from the test process leaks in.
* ``timed``: records how long each step took; the tier prints the table at the end (``-rA`` not needed).

The key is in ``client_env`` only: tests compare outputs against it (``assert_no_secret``), never print it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dotenv_file import parse_dotenv

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import node_clients

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry_sandbox import Sandbox, SandboxConfig
from claude_foundry_sandbox.testing import write_stack

ALIAS_DEPLOYMENTS = {"team-chat": {"model": "claude-sonnet-4-6", "capacity": 5},
                     "quick": {"model": "claude-haiku-4-5", "capacity": 5}}
TIMINGS: list[tuple[str, float]] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/clients/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.clients)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "client tier timings")
        for step, seconds in TIMINGS:
            terminalreporter.write_line(f"{seconds:7.1f}s  {step}")


class Timer:
    def __call__(self, step: str) -> Any:
        return _Step(step)


class _Step:
    def __init__(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> _Step:
        self.start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        TIMINGS.append((self.step, time.monotonic() - self.start))


@pytest.fixture(scope="session")
def timed() -> Timer:
    return Timer()


@pytest.fixture(scope="session")
def node_clients_dir(timed: Timer) -> Path:
    with timed("npm install of the pinned clients (0 when cached in .clients/node)"):
        try:
            node_clients.ensure_installed()
        except node_clients.Unavailable as exc:
            pytest.skip(str(exc))
    return node_clients.PREFIX


@pytest.fixture(scope="session")
def client_sandbox(tmp_path_factory: pytest.TempPathFactory, timed: Timer) -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(state_dir=tmp_path_factory.mktemp("client-sandbox"), provisioning_delay=0.0))
    with timed("sandbox start"):
        sandbox.start()
    with sandbox:
        yield sandbox


@dataclass
class DeployedStack:
    stack_file: Path
    connection_file: Path
    account: str
    deployments: dict[str, dict[str, Any]]
    env_file: Path
    env: dict[str, str] = field(repr=False)

    @property
    def key(self) -> str:
        return self.env[c.ENV_API_KEY]

    def assert_no_secret(self, *texts: str) -> None:
        for text in texts:
            assert self.key not in text, "the key appeared in a client's output"


@pytest.fixture(scope="session")
def alias_stack(client_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory, timed: Timer) -> DeployedStack:
    work = tmp_path_factory.mktemp("alias-stack")
    conn = client_sandbox.write_connection_file(work / "sandbox.json")
    stack = write_stack(work, ALIAS_DEPLOYMENTS, tag="cli")
    import yaml

    account = yaml.safe_load(stack.read_text())["foundry"]["name"]
    with timed("claude-foundry up --local (alias stack, 2 deployments)"):
        assert cli.main(["up", str(stack), "--local", "--sandbox", str(conn), "--state-dir", str(work / "st")]) == 0
    env_file = work / "foundry.env"
    with timed("claude-foundry env --with-key --write"):
        assert cli.main(["env", "--stack", str(stack), "--sandbox", str(conn), "--with-key",
                         "--write", str(env_file)]) == 0
    env = parse_dotenv(env_file.read_text(encoding="utf-8"))
    return DeployedStack(stack, conn, account, ALIAS_DEPLOYMENTS, env_file, env)


@pytest.fixture
def client_env(alias_stack: DeployedStack, tmp_path: Path) -> dict[str, str]:
    """Only what ``env`` printed, plus HOME (empty, so no login or settings of the developer) and PATH."""
    home = tmp_path / "home"
    home.mkdir()
    return {**alias_stack.env, "HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
