"""Shared by ``up``/``down``/``demo``: reach (or start) the sandbox and show progress with rich."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claude_foundry import _files as files
from claude_foundry._errors import UserError
from claude_foundry.cli._target import add_operation_timeout, bounded
from claude_foundry.cli._ui import make_console

LOCAL_NOTE = ("This is a LOCAL REHEARSAL against the embedded sandbox (a stand-in for Azure on this machine); "
              "`pulumi up` against Azure is the real path.")
DEFAULT_STATE_DIR = Path(".claude-foundry")


def demo_state_dir() -> Path:
    """Where ``demo`` keeps its embedded sandbox and local deploy state between runs, so ``usage --local`` can read
    what its smoke test used: a per-user state directory, never the current one (a demo run from an empty folder
    leaves nothing there). ``$XDG_STATE_HOME/claude-foundry/demo`` (the XDG Base Directory default is
    ``~/.local/state``; on Windows ``%LOCALAPPDATA%``)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):  # the spec: a relative path is invalid and ignored
        base = (os.environ.get("LOCALAPPDATA", "") if os.name == "nt" else "") or str(Path.home() / ".local" / "state")
    return Path(base) / "claude-foundry" / "demo"


def sandbox_state_file(state_dir: Path) -> Path:
    """The embedded sandbox's persisted state in a local state directory (see :func:`embedded_sandbox`)."""
    return state_dir / "sandbox" / "state.json"


def add_local_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("stack_file", metavar="STACK_FILE")
    p.add_argument("--local", action="store_true", required=True,
                   help="required: act on the local sandbox (for Azure use `pulumi up` / `pulumi destroy`)")
    p.add_argument("--sandbox", metavar="CONNECTION_FILE",
                   help="a running sandbox's connection file; without it an embedded sandbox is started, "
                   "its state kept in --state-dir so a second run sees the same resources")
    p.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR,
                   help=f"where local deploy state (and the embedded sandbox's state) lives (default "
                   f"{DEFAULT_STATE_DIR})")
    p.add_argument("--concurrency", type=bounded(int, 1, 256), default=16, metavar="N",
                   help="independent resources applied at once (16; 1-256)")
    add_operation_timeout(p)


SYMBOLS = {"create": "[green]+ created[/]", "update": "[yellow]~ updated[/]", "unchanged": "[dim]= unchanged[/]",
           "failed": "[red]✗ failed[/]", "skipped": "[red]- skipped[/]", "deleted": "[red]- deleted[/]",
           "absent": "[dim]= absent[/]", "kept": "[yellow]! kept[/]"}


class Reporter:
    """Progress of a local deploy: one line per finished resource (readable in CI logs) and, on a terminal,
    a live spinner line saying how many are done while the rest are in flight."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.done = 0
        self._status: Any = None

    def __call__(self, res: Any) -> None:
        step = res.step
        kind = step.type.split(":")[-1]
        line = f"  {SYMBOLS.get(res.action, res.action):<24} {kind:<22} {step.name}  [dim]{res.seconds:.1f}s[/]"
        if res.error:
            line += f"\n      [red]{res.error}[/]"
        self.console.print(line, highlight=False, soft_wrap=True)
        self.done += 1
        if self._status is not None:
            self._status.update(f"{self._what}: {self.done} resource(s) done, the rest in flight …")

    @contextlib.contextmanager
    def live(self, what: str) -> Iterator[None]:
        self._what = what
        if not self.console.is_terminal:
            yield
            return
        with self.console.status(f"{what} …") as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None


def make_reporter(console: Any) -> Reporter:
    return Reporter(console)


def print_result(console: Any, result: Any, verb: str) -> None:
    style = "green" if result.ok else "red"
    console.print(f"[{style}]{verb}: {result.summary()}[/]", highlight=False)
    if not result.ok:
        console.print("[red]fix the cause above and run the same command again: what succeeded stays in "
                      "place and the run resumes[/]", highlight=False)


def _last_port(port_file: Path) -> int:
    """The port an embedded sandbox with this state used last time, so its URLs (and the endpoint secret
    holding one) stay the same from run to run; 0 (any free port) the first time."""
    try:
        return int(port_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def embedded_sandbox(state_dir: Path | None, console: Any) -> Iterator[dict[str, Any]]:
    try:
        from claude_foundry_sandbox import Sandbox, SandboxConfig  # noqa: F401 - the extra is installed
    except ImportError as exc:
        raise UserError("the local sandbox needs the `sandbox` extra: pip install 'claude-foundry[sandbox]' "
                        f"({exc.name} missing)") from None
    if state_dir is None:
        with _embedded(None, console) as connection:
            yield connection
        return
    from claude_foundry._rehearse.state import held

    # One embedded sandbox per state directory at a time: two would each load the persisted state, and the last
    # to save would drop what the other created. A second run waits for the first, then starts from its state.
    def waiting(words: str) -> None:
        from rich.markup import escape

        console.print(f"[yellow]{escape(words)}[/]", highlight=False)

    with held(state_dir / "sandbox.lock", f"the embedded sandbox's state directory {state_dir}", on_wait=waiting), \
            _embedded(state_dir, console) as connection:
        yield connection


@contextlib.contextmanager
def _embedded(state_dir: Path | None, console: Any) -> Iterator[dict[str, Any]]:
    from claude_foundry_sandbox import Sandbox, SandboxConfig

    port_file = None
    if state_dir is not None:
        persist = sandbox_state_file(state_dir)
        sandbox_dir = persist.parent
        sandbox_dir.mkdir(parents=True, exist_ok=True)
        port_file = sandbox_dir / "port"
        config = SandboxConfig(state_dir=sandbox_dir, persist_file=persist, port=_last_port(port_file))
    else:
        config = SandboxConfig()
    try:
        try:
            sandbox = Sandbox(config).start()
        except OSError:  # the last port is taken now: any free one (endpoint secrets then change)
            config = dataclasses.replace(config, port=0)
            sandbox = Sandbox(config).start()
    except ValueError as exc:  # a persisted state it cannot read (damaged, or another sandbox's)
        raise UserError(f"the embedded sandbox cannot start from {state_dir}: {exc}; remove that directory (or "
                        "pass another --state-dir) to start afresh") from None
    with sandbox:
        if port_file is not None:
            files.write_file(port_file, str(sandbox.port))
        console.print(f"[dim]embedded sandbox at {sandbox.connection['arm_endpoint']}[/]", highlight=False)
        yield sandbox.connection


@contextlib.contextmanager
def local_session(args: argparse.Namespace) -> Iterator[tuple[Any, Any, Any]]:

    from claude_foundry._azure.target import sandbox_target

    console = make_console()
    console.print(f"[bold]{LOCAL_NOTE}[/]")
    if args.sandbox:
        with sandbox_target(args.sandbox) as target:
            yield target, console, make_reporter(console)
        return
    with embedded_sandbox(args.state_dir, console) as connection, sandbox_target(connection) as target:
        yield target, console, make_reporter(console)

