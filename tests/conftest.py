"""Test tiers: unit/ (schema), program/ (Pulumi mocks), e2e/ (local sandbox over HTTPS), live/ (Azure)."""

from __future__ import annotations

import os

import pytest

LIVE_ENV = "CLAUDE_FOUNDRY_LIVE"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(LIVE_ENV) == "1":
        return
    skip = pytest.mark.skip(reason=f"live Azure test: set {LIVE_ENV}=1 and Azure credentials to run")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)
