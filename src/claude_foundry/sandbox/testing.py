"""Small helpers for tests that drive the sandbox (shared by ``tests/e2e``)."""

from __future__ import annotations

import uuid
from typing import Any

from claude_foundry import arm

CLAUDE_MODEL = "claude-sonnet-4-5"
PROVIDER_DATA = {"organizationName": "Contoso Test", "countryCode": "US", "industry": "technology"}


def deployment_body(model: str = CLAUDE_MODEL, capacity: int = 1, sku: str = "GlobalStandard",
                    provider_data: dict[str, Any] | None = None, version: str = "1") -> dict[str, Any]:
    """The raw deployment body a Claude deployment needs (with ``properties.modelProviderData``)."""
    return {"sku": {"name": sku, "capacity": capacity},
            "properties": {"model": {"format": "Anthropic", "name": model, "version": version},
                           "modelProviderData": dict(PROVIDER_DATA if provider_data is None else provider_data),
                           "versionUpgradeOption": arm.VERSION_UPGRADE_DEFAULT,
                           "raiPolicyName": arm.RAI_POLICY_DEFAULT}}


def unique(prefix: str) -> str:
    """``prefix`` plus ten random hex digits: names that do not collide between tests."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"
