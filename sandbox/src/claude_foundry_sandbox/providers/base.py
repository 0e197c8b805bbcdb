"""What the ARM router and its resource providers share: the error and reply shapes, the parsed path, small
helpers, and the two records a provider module registers with (:class:`ResourceType`, :class:`Provider`).

A provider module exposes one ``PROVIDER``; ``sandbox/arm.py`` lists them. Adding a resource type means adding
a :class:`ResourceType` (with its hooks) to its provider's ``types``; a type without one is stored as sent.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Target:
    """A parsed ARM path."""

    path: str  # as requested (original casing)
    key: str  # lower-cased
    type: str  # lower-cased "namespace/type[/child]"
    display_type: str  # original casing
    name: str
    parent: str  # id of the parent (scope for top-level and extension types)
    is_collection: bool
    resource_group: str | None


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as ARM shows it: without the sandbox's internals."""
    return {k: copy.deepcopy(v) for k, v in resource.items() if k != "_sb"}


def system_data(principal: str, created: float, modified: float | None = None) -> dict[str, Any]:
    return {"createdBy": principal, "createdByType": "Application", "createdAt": iso(created),
            "lastModifiedBy": principal, "lastModifiedByType": "Application",
            "lastModifiedAt": iso(modified or created)}


def under(key: str, scope: str) -> bool:
    return key == scope or key.startswith(scope + "/")


def require_location(body: dict[str, Any]) -> None:
    """A tracked resource's PUT names its location: else ARM's 400 ``LocationRequired``."""
    if not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")


def route_scope(api: ArmApi, method: str, allowed: str, what: str, segs: list[str]) -> tuple[list[str], str]:
    """A :data:`ScopeRoute`'s scope (``{scope}/providers/{namespace}/{what}``): 405 for a method other than
    ``allowed``, 404 ``ResourceGroupNotFound`` under a resource group that does not exist; else the scope's
    segments as sent and its key (lower case)."""
    if method != allowed:
        raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on {what}.")
    scope_segs = segs[:-3]
    low = [p.lower() for p in scope_segs]
    if len(low) >= 4 and low[2] == "resourcegroups" and "/" + "/".join(low[:4]) not in api.s.resources:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{scope_segs[3]}' could not be found.")
    return scope_segs, "/" + "/".join(low)


#: PUT (and the merged body of a PATCH) of one resource: ``(api, target, body) -> Reply``.
PutHandler = Callable[["ArmApi", Target, dict[str, Any]], Reply]
#: GET of a collection of one type: ``(api, target) -> [resource, ...]`` as ARM shows them.
ListHandler = Callable[["ArmApi", Target], list[dict[str, Any]]]
#: Before a DELETE removes the resource and its children: a Reply ends the request there (e.g. 202).
DeleteHandler = Callable[["ArmApi", Target, dict[str, Any]], "Reply | None"]
#: Keeps a deleted resource (by key) recoverable, on its DELETE and on its resource group's.
SoftDeleteHandler = Callable[["ArmApi", str], None]
#: (api, the stored resource's public copy) -> what a read shows
ViewHandler = Callable[["ArmApi", dict[str, Any]], dict[str, Any]]
#: ``/subscriptions/{s}/providers/{namespace}/...``: ``(api, method, segs, low, body) -> Reply | None``.
SubscriptionRoute = Callable[["ArmApi", str, list[str], list[str], Any], "Reply | None"]
#: An action or collection below a resource (``.../accounts/{name}/listKeys``):
#: ``(api, method, target, segs, low, body) -> Reply | None``.
ActionRoute = Callable[["ArmApi", str, Target, list[str], list[str], Any], "Reply | None"]
#: ``{scope}/providers/{namespace}/{name}`` at any scope: ``(api, method, segs) -> Reply``.
ScopeRoute = Callable[["ArmApi", str, list[str]], Reply]


@dataclass(frozen=True)
class ResourceType:
    """The behaviour of one resource type beyond the generic store (every hook optional)."""

    type: str  # lower-cased "namespace/type[/child]"
    put: PutHandler | None = None
    lister: ListHandler | None = None
    delete: DeleteHandler | None = None
    soft_delete: SoftDeleteHandler | None = None
    #: which roles may PUT/DELETE it: "write" (Contributor and up) or "rbac" (role-assignment writers).
    access: Literal["write", "rbac"] = "write"
    #: whether management locks hold its PUT/DELETE (not for the locks themselves).
    lockable: bool = True
    #: a DELETE is refused while its parent has an operation in flight (not only itself).
    conflicts_on_parent: bool = False
    #: listing it at a subscription also lists those in the subscription's resource groups.
    subscription_rollup: bool = True
    #: what a read (GET, list) shows: the stored resource (a copy, without internals) with live values filled in,
    #: e.g. a budget's spend so far. None: the stored resource as it is.
    view: ViewHandler | None = None


@dataclass(frozen=True)
class Provider:
    """What one resource-provider module adds to the router."""

    types: tuple[ResourceType, ...] = ()
    #: lower-cased namespace -> its subscription-level routes (deleted resources, locations, agreements...).
    subscription_routes: Mapping[str, SubscriptionRoute] = field(default_factory=dict)
    #: lower-cased parent type -> actions and collections below one of its resources.
    actions: Mapping[str, ActionRoute] = field(default_factory=dict)
    #: (lower-cased namespace, name) -> a route at any scope.
    scope_routes: Mapping[tuple[str, str], ScopeRoute] = field(default_factory=dict)
