"""Pulumi test mocks for programs that use the claude-foundry components: one line in your unit tests.

Pulumi's own ``testing-unit-py`` mocks (``new_resource`` echoing the inputs, ``call`` answering ``{}``) leave
``getClientConfig``, ``listAccountKeys``, the vault's ``vaultUri`` and every ARM id unanswered, and the
components need them. :class:`FoundryMocks` answers them as :func:`claude_foundry.program._plan.plan` does
(it *is* the plan's mocks): each resource of a type the program uses gets its real ARM id and what Azure
computes (account ``properties.endpoint``, vault ``properties.vaultUri``, workspace ``customerId``), the
client config fixed GUIDs, account keys placeholders (:func:`key_placeholder`). On top, for your own
resources: a missing name falls back to the logical name (the provider's auto-naming, without the random
suffix), and a user-assigned identity gets its ARM id, ``principalId``, ``clientId`` and ``tenantId``.

Usage, as in Pulumi's testing guide (set the mocks *before* importing the program)::

    from claude_foundry import testing
    mocks = testing.set_mocks()          # FoundryMocks, installed with pulumi.runtime.set_mocks

    import program                       # your Pulumi program: builds ClaudeFoundryStack(...)

    @pulumi.runtime.test
    def test_endpoint():
        return program.claude.endpoint.apply(lambda url: ...)

Needs only ``pulumi`` (the ``infra`` extra), not the sandbox.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

import pulumi.runtime
from pulumi.runtime import MockResourceArgs

from claude_foundry._azure import arm
from claude_foundry.program import _plan

__all__ = ["CLIENT_CONFIG", "USER_ASSIGNED_IDENTITY", "FoundryMocks", "MockedResource", "key_placeholder",
           "set_mocks"]

#: What ``getClientConfig`` answers by default (clientId, objectId, subscriptionId, tenantId).
CLIENT_CONFIG: dict[str, str] = dict(_plan.DEFAULT_CLIENT_CONFIG)

#: The placeholder the mocks answer for ``listAccountKeys(...).key1`` / ``key2`` of an account (by ARM id).
key_placeholder = _plan.key_placeholder

USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"

#: The input holding the Azure name of a type, filled with the logical name when the program leaves it out.
_NAME_INPUTS = {
    arm.RESOURCE_GROUP: "resourceGroupName",
    arm.WORKSPACE: "workspaceName",
    arm.VAULT: "vaultName",
    arm.ACCOUNT: "accountName",
    USER_ASSIGNED_IDENTITY: "resourceName",
}

#: Namespace of the fake GUIDs of identities (derived from their ARM ids, so stable across runs).
_IDENTITY_NS = uuid.UUID("9d7e2c1a-5b4f-4e8a-8c3d-2f6a1b0e7d55")

_PlanMocks, _ = _plan._classes()


@dataclass(frozen=True)
class MockedResource:
    """One resource the program registered under the mocks."""

    type: str  # Pulumi type token
    name: str  # logical name
    id: str  # the id the mocks gave it (the ARM id for Azure types they know)
    inputs: dict[str, Any]  # as registered (camelCase, secrets unwrapped)


class FoundryMocks(_PlanMocks):  # type: ignore[misc,valid-type]  # the base class is built lazily (no Pulumi on import)
    """``pulumi.runtime.Mocks`` that answer what the claude-foundry components (and a program around them)
    need. ``client_config`` overrides (some of) :data:`CLIENT_CONFIG`. ``resources`` lists what was
    registered, in order."""

    def __init__(self, client_config: dict[str, str] | None = None) -> None:
        super().__init__({**CLIENT_CONFIG, **(client_config or {})})
        self.resources: list[MockedResource] = []
        self._lock = threading.Lock()

    def new_resource(self, args: MockResourceArgs):
        name_input = _NAME_INPUTS.get(args.typ)
        if name_input and not args.inputs.get(name_input):
            args.inputs = {**args.inputs, name_input: args.name}
        if args.typ == USER_ASSIGNED_IDENTITY:
            id_, state = self._identity(args)
        else:
            id_, state = super().new_resource(args)
        if args.custom:
            plain, _ = _plan.unwrap_secrets(args.inputs)
            with self._lock:
                self.resources.append(MockedResource(args.typ, args.name, id_, plain))
        return id_, state

    def _identity(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        rg = args.inputs.get("resourceGroupName") or "unknown"
        id_ = (f"{arm.resource_group_id(self.subscription_id, rg)}/providers/Microsoft.ManagedIdentity/"
               f"userAssignedIdentities/{args.inputs['resourceName']}")
        fake = {k: str(uuid.uuid5(_IDENTITY_NS, f"{id_.lower()}|{k}")) for k in ("principalId", "clientId")}
        return id_, {**args.inputs, **fake, "name": args.inputs["resourceName"],
                     "tenantId": self.client_config["tenantId"]}

    def of_type(self, type_token: str) -> list[MockedResource]:
        """The registered resources of one type (e.g. ``"azure-native:authorization:RoleAssignment"``)."""
        return [r for r in self.resources if r.type == type_token]

    def get(self, name: str) -> MockedResource:
        """The registered resource with this logical name."""
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)


def set_mocks(*, client_config: dict[str, str] | None = None, project: str = "project", stack: str = "stack",
              preview: bool = False) -> FoundryMocks:
    """Install :class:`FoundryMocks` with ``pulumi.runtime.set_mocks`` and return them; call it before
    importing the program under test."""
    mocks = FoundryMocks(client_config)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview)
    return mocks
