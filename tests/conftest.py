"""Test tiers: unit/ (schema), program/ (Pulumi mocks), e2e/ (local sandbox over HTTPS), live/ (Azure)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

LIVE_ENV = "CLAUDE_FOUNDRY_LIVE"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(LIVE_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"live Azure test: set {LIVE_ENV}=1 and Azure credentials to run")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def clean_runtime_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ANTHROPIC_FOUNDRY_* / CLAUDE_FOUNDRY_* runtime variables (nor the response-size bound) from the
    caller's shell, and a fresh contract cache, around a runtime test. The one env-clearing fixture of every
    tier: a module takes it with ``pytestmark = pytest.mark.usefixtures("clean_runtime_env")``."""
    from claude_foundry import _contract as c
    from claude_foundry._client import runtime as rt

    for name in (*c.RUNTIME_ENV_VARS, c.ENV_MAX_RESPONSE_BYTES):
        monkeypatch.delenv(name, raising=False)
    rt.clear_contract_cache()
    yield
    rt.clear_contract_cache()
