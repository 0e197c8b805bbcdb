"""Fixtures for running the Pulumi program under mocks.

Every run goes through :func:`claude_foundry.program._plan.run_program`: a copied contextvars context, fresh Pulumi
settings (root resource, outputs, RPC manager) and a fresh event loop per run, closed afterwards.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claude_foundry.program import _plan as plan_mod
from claude_foundry.program.spec import Spec, load_spec
from claude_foundry_sandbox.testing import extends_line

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "stacks"


@pytest.fixture(scope="session")
def dev_spec() -> Spec:
    return load_spec(STACKS / "dev.yaml")


@pytest.fixture(scope="session")
def prod_spec() -> Spec:
    return load_spec(STACKS / "prod.yaml")


@pytest.fixture(scope="session")
def dev_plan(dev_spec: Spec) -> plan_mod.Plan:
    return plan_mod.plan(dev_spec)


@pytest.fixture(scope="session")
def prod_plan(prod_spec: Spec) -> plan_mod.Plan:
    return plan_mod.plan(prod_spec)


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., Spec]:
    """``make_spec("dev", "yaml overriding the repo's stacks/dev.yaml")`` -> Spec."""
    counter = iter(range(1000))

    def make(base: str, overrides: str) -> Spec:
        path = tmp_path / f"stack{next(counter)}.yaml"
        path.write_text(extends_line(STACKS / (base + '.yaml')) + textwrap.dedent(overrides), encoding="utf-8")
        return load_spec(path)

    return make


class ProgramRun:
    def __init__(self, monitor: Any) -> None:
        self.monitor = monitor
        self.resources: list[plan_mod.PlannedResource] = monitor.planned

    def by_name(self, name: str) -> plan_mod.PlannedResource:
        return next(r for r in self.resources if r.name == name)

    def of_type(self, type_token: str) -> list[plan_mod.PlannedResource]:
        return [r for r in self.resources if r.type == type_token]


@pytest.fixture
def run_program() -> Callable[..., ProgramRun]:
    """Run ``program`` (sync or async; an async one can await outputs and ``is_secret()`` inside the
    program's own event loop) under fresh mocks; return the recorded registrations."""

    def run(program: Callable[[], Any], *, stack: str = "test",
            client_config: dict[str, str] | None = None) -> ProgramRun:
        mocks_cls, monitor_cls = plan_mod._classes()
        mocks = mocks_cls({**plan_mod.DEFAULT_CLIENT_CONFIG, **(client_config or {})})
        monitor = monitor_cls(mocks)
        plan_mod.run_program(program, mocks=mocks, monitor=monitor, project="claude-foundry", stack=stack)
        return ProgramRun(monitor)

    return run
