"""The one shape of an ARM resource, from ``plan`` to ``rehearse`` to ``ops``.

``program.plan`` builds one per custom resource of the Pulumi program (via ``program.armmap``); the local
rehearsal PUTs it, policy reads its body, preflight/verify/rotate compare it with what Azure holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArmResource:
    """What ``PUT {id}?api-version={api_version}`` with ``body`` would send to Azure Resource Manager, and
    which resource of the Pulumi program declares it."""

    id: str
    api_version: str
    body: dict[str, Any] = field(default_factory=dict)
    #: ARM resource type, e.g. ``Microsoft.CognitiveServices/accounts``.
    type: str = ""
    #: Pulumi type token of the declaring resource, e.g. ``azure-native:cognitiveservices:Account``.
    token: str = ""
    #: Pulumi logical name of the declaring resource (``""`` until the plan names it).
    logical_name: str = ""

    @property
    def name(self) -> str:
        """The ARM name (last segment of the id)."""
        return self.id.rsplit("/", 1)[-1]

    def is_under(self, other_id: str) -> bool:
        """True when this resource is nested in (or scoped to) ``other_id``."""
        return self.id.lower().startswith(other_id.lower().rstrip("/") + "/")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "api_version": self.api_version, "type": self.type, "body": self.body}
