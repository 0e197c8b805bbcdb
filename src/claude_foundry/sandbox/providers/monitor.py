"""Azure Monitor: Log Analytics workspaces (Microsoft.OperationalInsights: retention, customer id) and
diagnostic settings (Microsoft.Insights, an extension type: stored as sent, listed at their own scope only)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry.sandbox.providers.base import ArmError, Provider, Reply, ResourceType, Target, public

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry.sandbox.arm import ArmApi

WORKSPACES = "microsoft.operationalinsights/workspaces"
DIAGNOSTIC_SETTINGS = "microsoft.insights/diagnosticsettings"


def _put_workspace(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))  # type: ignore[arg-type]
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    res = api.base(target, body, existing)
    p = res["properties"]
    retention = int(p.get("retentionInDays", 30))
    if not 30 <= retention <= 730 and retention != 7:
        raise ArmError(400, "InvalidParameter", "retentionInDays must be between 30 and 730.")
    p["retentionInDays"] = retention
    p.setdefault("sku", {"name": "PerGB2018"})
    p["customerId"] = (existing or {}).get("properties", {}).get("customerId") or str(uuid.uuid4())
    p["provisioningState"] = "Succeeded"
    api.s.resources[target.key] = res
    api.s.save()
    return Reply(200 if existing else 201, public(res))


PROVIDER = Provider(
    types=(
        ResourceType(WORKSPACES, put=_put_workspace),
        ResourceType(DIAGNOSTIC_SETTINGS, subscription_rollup=False),
    ),
)
