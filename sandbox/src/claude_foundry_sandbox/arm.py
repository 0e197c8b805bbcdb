"""Azure Resource Manager stand-in: the router, the generic resource store (Microsoft.Resources: the
subscription, resource groups, GET/PUT/PATCH/DELETE of any resource, collections), authorization and
management locks on every request, long-running operations and ARM's errors.

What a resource type does beyond the store lives with its provider in ``sandbox/providers/``: Cognitive
Services accounts and deployments, Key Vault vaults and secrets, Log Analytics workspaces and diagnostic
settings, role assignments, locks and permissions (``Microsoft.Authorization/permissions``), Marketplace
agreements. Each provider module exposes a ``PROVIDER`` (:mod:`claude_foundry_sandbox.providers.base`) that
:data:`PROVIDERS` registers here.

``ArmApi.handle`` is synchronous and runs under ``State.lock``; the Starlette endpoint in ``app.py`` does
the HTTP side (token, api-version, JSON). Shapes follow the public azure-rest-api-specs examples.
"""

from __future__ import annotations

import copy
import time
from typing import Any, TypeGuard

from claude_foundry_sandbox import state as st
from claude_foundry_sandbox.providers import (
    authorization,
    cognitiveservices,
    consumption,
    costmanagement,
    keyvault,
    managedidentity,
    marketplace,
    monitor,
    network,
    storage,
)
from claude_foundry_sandbox.providers.base import (
    ActionRoute,
    ArmError,
    Provider,
    Reply,
    ResourceType,
    ScopeRoute,
    SubscriptionRoute,
    Target,
    iso,
    public,
    system_data,
    under,
)
from claude_foundry_sandbox.state import State, normalize_location

__all__ = ["PROVIDERS", "ArmApi", "ArmError", "Reply", "Target", "public"]

#: The resource providers the router knows, each from its module in ``sandbox/providers/``.
PROVIDERS: tuple[Provider, ...] = (
    authorization.PROVIDER,
    cognitiveservices.PROVIDER,
    keyvault.PROVIDER,
    monitor.PROVIDER,
    costmanagement.PROVIDER,
    marketplace.PROVIDER,
    managedidentity.PROVIDER, storage.PROVIDER,
    consumption.PROVIDER, network.PROVIDER,
)
#: A type no provider registers: stored as sent.
GENERIC = ResourceType("")

TYPES: dict[str, ResourceType] = {t.type: t for p in PROVIDERS for t in p.types}
SUBSCRIPTION_ROUTES: dict[str, SubscriptionRoute] = {
    ns: r for p in PROVIDERS for ns, r in p.subscription_routes.items()}
ACTIONS: dict[str, ActionRoute] = {owner: r for p in PROVIDERS for owner, r in p.actions.items()}
SCOPE_ROUTES: dict[tuple[str, str], ScopeRoute] = {k: r for p in PROVIDERS for k, r in p.scope_routes.items()}


SUBSCRIPTION_DISPLAY_NAME = "claude-foundry sandbox"
#: the tenant's domain (``.invalid``: reserved, never resolves)
TENANT_DOMAIN = "claude-foundry-sandbox.invalid"
#: ``name`` in the cloud metadata document (not ``AzureCloud``: az would fill gaps with public Azure's endpoints)
CLOUD_NAME = "ClaudeFoundrySandbox"
ARM_AUDIENCE_LIST = ["https://management.core.windows.net/", "https://management.azure.com/"]


def cloud_metadata(origin: str, api_version: str) -> Any:
    """``GET /metadata/endpoints`` (no token, as in Azure): the cloud's endpoints, pointing at the sandbox.

    ``api-version`` 2022-09-01 and later: one object for this cloud (what ``az cloud register
    --endpoint-resource-manager`` reads, ``azure.cli.core.cloud._arm_to_cli_mapper``); older (2019-05-01): a
    list of clouds (what ``ARM_CLOUD_METADATA_URL`` takes). Only endpoints the sandbox serves are named: Entra
    ID (``loginEndpoint``, the audiences ARM tokens carry) and ARM (``resourceManager``). Key Vault and Foundry
    live under paths of the origin, not DNS suffixes, so ``suffixes`` is empty.
    """
    login = origin + "/"
    cloud = {"name": CLOUD_NAME, "resourceManager": login,
             "authentication": {"loginEndpoint": login, "audiences": list(ARM_AUDIENCE_LIST), "tenant": "common",
                                "identityProvider": "AAD"},
             "suffixes": {}}
    return cloud if api_version >= "2022-09-01" else [cloud]


class ArmApi:
    def __init__(self, state: State) -> None:
        self.s = state

    # --- entry ------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, api_version: str, body: Any, oid: str,
               query: dict[str, str]) -> Reply:
        self.api_version = api_version
        self.oid = oid
        self.query = query
        self.body = body  # the request body (scope routes such as a Cost Management query read it)
        try:
            return self._dispatch(method.upper(), path, body)
        except ArmError as exc:
            return Reply(exc.status, exc.body(), exc.headers)

    def _dispatch(self, method: str, path: str, body: Any) -> Reply:
        segs = [p for p in path.split("/") if p]
        low = [p.lower() for p in segs]
        n = len(segs)
        if low in (["subscriptions"], ["tenants"]):
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on /{segs[0]}.")
            return self._subscription_list() if low[0] == "subscriptions" else self._tenant_list()
        if n < 2 or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", "The resource type could not be found.")
        if low[1] != self.s.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{segs[1]}' could not be found.")
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        scope_route = SCOPE_ROUTES.get((low[-2], low[-1])) if n >= 5 and low[-3] == "providers" else None
        if scope_route is not None:
            return scope_route(self, method, segs)
        if n == 2:
            self.authorize(sub_id, "read")
            return Reply(200, self.subscription())
        if n >= 4 and low[2] == "providers":
            special = self._subscription_provider_routes(method, segs, low, body)
            if special is not None:
                return special
        if n == 3 and low[2] == "resourcegroups":
            self.authorize(sub_id, "read")
            groups = [public(r) for r in self.s.resources.values()
                      if r.get("type") == "Microsoft.Resources/resourceGroups"]
            return Reply(200, {"value": groups})
        if n >= 4 and low[2] == "resourcegroups":
            rg_key = "/".join(["", *low[:4]])
            if n == 4:
                return self._resource_group(method, segs, rg_key, body)
            if rg_key not in self.s.resources:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
            if n == 5 and low[4] == "resources":
                self.authorize(rg_key, "read")
                items = [public(r) for k, r in self.s.resources.items()
                         if k.startswith(rg_key + "/providers/") and k.count("/providers/") == 1
                         and len(k.split("/")) == 9]
                return Reply(200, {"value": items})
        target = self._parse(segs, low)
        action = self._action(method, target, segs, low, body)
        if action is not None:
            return action
        if target.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on a collection.")
            self.authorize(target.parent, "read")
            return Reply(200, {"value": self._list(target)})
        return self._resource(method, target, body)

    # --- the subscription and the tenant (Microsoft.Resources subscriptions, 2022-12-01) -------------

    def subscription(self) -> dict[str, Any]:
        """The ``Subscription`` shape (``Subscriptions_Get``; azure-rest-api-specs ``Microsoft.Resources/
        subscriptions/stable/2022-12-01/subscriptions.json``). ``quotaId`` comes from the seed."""
        return {"id": f"/subscriptions/{self.s.subscription_id}",
                "authorizationSource": "RoleBased",
                "managedByTenants": [],
                "subscriptionId": self.s.subscription_id,
                "tenantId": self.s.tenant_id,
                "displayName": SUBSCRIPTION_DISPLAY_NAME,
                "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": self.s.subscription_quota_id,
                                         "spendingLimit": "Off"}}

    def _subscription_list(self) -> Reply:
        """``GET /subscriptions`` (``Subscriptions_List``): the subscriptions the caller holds any role
        assignment in (at the subscription or below), as Azure lists them; ``count`` as the service adds it."""
        sub_key = f"/subscriptions/{self.s.subscription_id}".lower()
        visible = any(
            r.get("type", "").lower() == st.ROLE_ASSIGNMENTS_TYPE
            and r.get("properties", {}).get("principalId") == self.oid
            and under(str(r.get("properties", {}).get("scope", "")).lower().rstrip("/"), sub_key)
            for r in self.s.resources.values())
        value = [self.subscription()] if visible else []
        return Reply(200, {"value": value, "count": {"type": "Total", "value": len(value)}})

    def _tenant_list(self) -> Reply:
        """``GET /tenants`` (``Tenants_List``, ``TenantListResult``): the sandbox's one tenant, the caller's
        home tenant (every sandbox principal lives in it)."""
        return Reply(200, {"value": [{
            "id": f"/tenants/{self.s.tenant_id}",
            "tenantId": self.s.tenant_id,
            "tenantCategory": "Home",
            "countryCode": "US",
            "displayName": SUBSCRIPTION_DISPLAY_NAME,
            "domains": [TENANT_DOMAIN],
            "defaultDomain": TENANT_DOMAIN,
            "tenantType": "AAD",
        }]})

    # --- authorization ----------------------------------------------------------------------------

    def authorize(self, resource_id: str, kind: str, action: str | None = None) -> None:
        roles = self.s.roles_of(self.oid, resource_id)
        allowed = {"read": st.MANAGE_READ_ROLES, "write": st.MANAGE_WRITE_ROLES,
                   "rbac": st.ROLE_ASSIGNMENT_WRITE_ROLES}[kind]
        if roles & allowed:
            return
        verb = action or {"read": "read", "write": "write", "rbac": "write"}[kind]
        raise ArmError(403, "AuthorizationFailed",
                       f"The client '{self.oid}' with object id '{self.oid}' does not have authorization to "
                       f"perform action '{verb}' over scope '{resource_id}' or the scope is invalid. If access "
                       "was recently granted, please refresh your credentials.")

    # --- parsing ----------------------------------------------------------------------------------

    def _parse(self, segs: list[str], low: list[str]) -> Target:
        n = len(segs)
        idx = max((i for i in range(2, n - 1) if low[i] == "providers"), default=-1)
        if idx < 0:
            raise ArmError(404, "InvalidResourceType", f"The resource path '/{'/'.join(segs)}' is not valid.")
        rest = segs[idx + 2:]
        if not rest:
            raise ArmError(404, "InvalidResourceType", "No resource type in the path.")
        types = rest[0::2]
        display_type = segs[idx + 1] + "/" + "/".join(types)
        rg = segs[3] if n > 3 and low[2] == "resourcegroups" else None
        path = "/" + "/".join(segs)
        if len(rest) % 2 == 1:
            parent = "/" + "/".join(segs[: n - 1]) if len(rest) > 1 else "/" + "/".join(segs[:idx])
            return Target(path, path.lower(), display_type.lower(), display_type, "", parent, True, rg)
        parent = "/" + "/".join(segs[: n - 2]) if len(rest) > 2 else "/" + "/".join(segs[:idx])
        return Target(path, path.lower(), display_type.lower(), display_type, segs[-1], parent, False, rg)

    def require_parent(self, target: Target) -> dict[str, Any] | None:
        """The parent (or scope) resource, checking that it exists."""
        sub_key = f"/subscriptions/{self.s.subscription_id}".lower()
        pkey = target.parent.lower()
        if target.resource_group is not None:
            rg_key = f"{sub_key}/resourcegroups/{target.resource_group.lower()}"
            if rg_key not in self.s.resources:
                raise ArmError(404, "ResourceGroupNotFound",
                               f"Resource group '{target.resource_group}' could not be found.")
            if pkey == rg_key:
                return self.s.resources[rg_key]
        if pkey == sub_key:
            return None
        parent = self.s.resources.get(pkey)
        if parent is None:
            raise ArmError(404, "ParentResourceNotFound",
                           f"Can not perform requested operation on nested resource. Parent resource "
                           f"'{target.parent.rsplit('/', 1)[-1]}' not found.")
        return parent

    # --- actions below a resource -----------------------------------------------------------------

    def _action(self, method: str, target: Target, segs: list[str], low: list[str], body: Any) -> Reply | None:
        """An action or collection below a resource whose type registers actions (``.../listKeys``)."""
        if not target.is_collection:
            return None
        for owner, route in ACTIONS.items():
            if target.type.startswith(owner + "/"):
                return route(self, method, target, segs, low, body)
        return None

    # --- subscription-level provider routes -------------------------------------------------------

    def _subscription_provider_routes(self, method: str, segs: list[str], low: list[str],
                                      body: Any) -> Reply | None:
        n = len(segs)
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        if n == 4:
            self.authorize(sub_id, "read")
            return Reply(200, {"id": f"{sub_id}/providers/{segs[3]}", "namespace": segs[3],
                               "registrationState": "Registered", "resourceTypes": []})
        if n == 5 and low[4] == "register" and method == "POST":
            self.authorize(sub_id, "write")
            return Reply(200, {"id": f"{sub_id}/providers/{segs[3]}", "namespace": segs[3],
                               "registrationState": "Registered"})
        if n == 8 and low[4] == "locations" and low[6] in ("operationstatuses", "operationresults"):
            return self._operation(low[6], segs[7])
        route = SUBSCRIPTION_ROUTES.get(low[3])
        return route(self, method, segs, low, body) if route is not None else None

    # --- long-running operations ------------------------------------------------------------------

    def _retry_headers(self, op: dict[str, Any]) -> dict[str, str]:
        remaining = max(0.0, op["ready_at"] - time.time())
        if remaining >= 1.0:
            return {"Retry-After": str(int(min(remaining, 10)))}
        return {"retry-after-ms": str(max(5, int(remaining * 1000) + 5))}

    def lro_headers(self, op: dict[str, Any]) -> dict[str, str]:
        base = (f"{self.s.origin}/subscriptions/{self.s.subscription_id}/providers/{op['namespace']}/"
                f"locations/{op['location']}")
        return {"Azure-AsyncOperation": f"{base}/operationStatuses/{op['id']}?api-version={self.api_version}",
                "Location": f"{base}/operationResults/{op['id']}?api-version={self.api_version}",
                **self._retry_headers(op)}

    def _operation(self, kind: str, op_id: str) -> Reply:
        op = self.s.operations.get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found.")
        if kind == "operationstatuses":
            out = {"id": f"/subscriptions/{self.s.subscription_id}/providers/{op['namespace']}/locations/"
                         f"{op['location']}/operationStatuses/{op_id}",
                   "name": op_id, "status": op["status"], "startTime": iso(op["start_time"])}
            if op["status"] != "InProgress":
                out["endTime"] = iso(op.get("end_time", op["ready_at"]))
                return Reply(200, out)
            return Reply(200, out, self._retry_headers(op))
        if op["status"] == "InProgress":
            return Reply(202, None, {"Location": f"{self.s.origin}/subscriptions/{self.s.subscription_id}/"
                                     f"providers/{op['namespace']}/locations/{op['location']}/"
                                     f"operationResults/{op_id}?api-version={self.api_version}",
                                     **self._retry_headers(op)})
        if op["kind"] in ("delete", "purge"):
            return Reply(204)
        res = self.s.resources.get(op["resource_key"])
        return Reply(200, public(res)) if res else Reply(204)

    def accepted(self, status: int, key: str, location: str, namespace: str) -> Reply:
        """The reply to a write that runs as a long-running operation of ``namespace``."""
        op = self.s.start_operation(key, "write", normalize_location(location), namespace)
        if op["ready_at"] <= time.time():
            self.s.tick()
        return Reply(status, public(self.s.resources[key]), self.lro_headers(op))

    # --- resource groups --------------------------------------------------------------------------

    def _resource_group(self, method: str, segs: list[str], key: str, body: Any) -> Reply:
        existing = self.s.resources.get(key)
        if method in ("GET", "HEAD"):
            self.authorize(key, "read")
            if existing is None:
                if method == "HEAD":
                    return Reply(404)
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
            return Reply(204) if method == "HEAD" else Reply(200, public(existing))
        if method == "PUT":
            self.authorize(key, "write")
            body = body or {}
            location = body.get("location")
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            location = normalize_location(str(location))
            if existing is not None:
                if existing["location"] != location:
                    raise ArmError(409, "InvalidResourceGroupLocation",
                                   f"Invalid resource group location '{location}'. The Resource group already "
                                   f"exists in location '{existing['location']}'.")
                self.check_locks(key, "write")
                if body.get("tags") is not None:
                    existing["tags"] = body["tags"]
                self.s.save()
                return Reply(200, public(existing))
            rg = {"id": f"/subscriptions/{self.s.subscription_id}/resourceGroups/{segs[3]}", "name": segs[3],
                  "type": "Microsoft.Resources/resourceGroups", "location": location,
                  "properties": {"provisioningState": "Succeeded"}}
            if body.get("tags") is not None:
                rg["tags"] = body["tags"]
            self.s.resources[key] = rg
            self.s.save()
            return Reply(201, public(rg))
        if method == "DELETE":
            self.authorize(key, "write")
            if existing is None:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
            self.check_locks(key, "delete")
            if self.s.busy(key):
                raise self.conflict(existing["id"])
            for rtype in TYPES.values():
                if rtype.soft_delete is None:
                    continue
                for k in [k for k, r in self.s.resources.items() if r.get("type", "").lower() == rtype.type]:
                    if under(k, key):
                        rtype.soft_delete(self, k)
            self.remove_tree(key)
            self.s.save()
            return Reply(200)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on resource groups.")

    # --- generic resources ------------------------------------------------------------------------

    def _list(self, target: Target) -> list[dict[str, Any]]:
        rtype = TYPES.get(target.type, GENERIC)
        if rtype.lister is not None:
            return rtype.lister(self, target)
        parent = target.parent.lower()
        out = []
        child_type = target.type.count("/") >= 2
        sub_scope = parent.count("/") == 2
        for key, res in self.s.resources.items():
            if res.get("type", "").lower() != target.type:
                continue
            if child_type:
                if key.rsplit("/", 2)[0] != parent:
                    continue
            else:
                rscope = key.rsplit("/providers/", 1)[0]
                if rscope != parent and not (sub_scope and rtype.subscription_rollup and under(rscope, parent)):
                    continue
            out.append(rtype.view(self, public(res)) if rtype.view else public(res))
        return out

    def _resource(self, method: str, target: Target, body: Any) -> Reply:
        rtype = TYPES.get(target.type, GENERIC)
        put = rtype.put or ArmApi.put_generic
        existing = self.s.resources.get(target.key)
        if method in ("GET", "HEAD"):
            self.authorize(target.key, "read")
            self.require_parent(target)
            if existing is None:
                if method == "HEAD":
                    return Reply(404)
                raise self._not_found(target)
            if method == "HEAD":
                return Reply(204)
            return Reply(200, rtype.view(self, public(existing)) if rtype.view else public(existing))
        if method == "PUT":
            self.authorize(target.key, rtype.access)
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                               "deserialized: a JSON object is required.")
            self.require_parent(target)
            if rtype.lockable:
                self.check_locks(target.key, "write")
            return put(self, target, body)
        if method == "DELETE":
            self.authorize(target.key, rtype.access)
            self.require_parent(target)
            if existing is None:
                return Reply(204)
            if rtype.lockable:
                self.check_locks(target.key, "delete")
            return self._delete(target, existing, rtype)
        if method == "PATCH" and existing is not None:
            self.authorize(target.key, "write")
            merged = copy.deepcopy(existing.get("_sb", {}).get("input") or public(existing))
            for k, v in (body or {}).items():
                if isinstance(v, dict) and isinstance(merged.get(k), dict):
                    merged[k] = {**merged[k], **v}
                else:
                    merged[k] = v
            reply = put(self, target, merged)
            return Reply(200 if reply.status in (200, 201) else reply.status, reply.body, reply.headers)
        if method == "PATCH":
            raise self._not_found(target)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported here.")

    def _not_found(self, target: Target) -> ArmError:
        where = f" under resource group '{target.resource_group}'" if target.resource_group else ""
        return ArmError(404, "ResourceNotFound",
                        f"The Resource '{target.display_type}/{target.name}'{where} was not found. For more "
                        "details please go to https://aka.ms/ARMResourceNotFoundFix")

    def conflict(self, parent_id: str) -> ArmError:
        return ArmError(409, "RequestConflict",
                        f"Another operation is being performed on the parent resource '{parent_id}'. Please try "
                        "again later.")

    def same_input(self, existing: dict[str, Any] | None, body: dict[str, Any]) -> TypeGuard[dict[str, Any]]:
        """Whether ``existing`` was created from this very ``body`` (then it is not None)."""
        return existing is not None and existing.get("_sb", {}).get("input") == body

    def base(self, target: Target, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        now = time.time()
        created = existing.get("_sb", {}).get("created", now) if existing else now
        res: dict[str, Any] = {"id": existing["id"] if existing else target.path, "name": target.name,
                               "type": target.display_type}
        for k in ("kind", "location", "sku", "tags", "identity", "plan", "zones"):
            if k in body:
                res[k] = copy.deepcopy(body[k])
        if "location" in res and isinstance(res["location"], str):
            res["location"] = normalize_location(res["location"])
        res["properties"] = copy.deepcopy(body.get("properties") or {})
        res["systemData"] = system_data(self.oid, created, now)
        res["_sb"] = {"input": copy.deepcopy(body), "created": created,
                      "api_version": self.api_version}
        return res

    def store(self, target: Target, res: dict[str, Any], existing: dict[str, Any] | None) -> Reply:
        """Keep ``res`` at ``target`` and answer the PUT: 201 Created, or 200 OK when it replaced ``existing``."""
        self.s.resources[target.key] = res
        self.s.save()
        return Reply(200 if existing else 201, public(res))

    def put_generic(self, target: Target, body: dict[str, Any]) -> Reply:
        existing = self.s.resources.get(target.key)
        if self.same_input(existing, body):
            return Reply(200, public(existing))
        res = self.base(target, body, existing)
        res["properties"].setdefault("provisioningState", "Succeeded")
        return self.store(target, res, existing)

    def remove_tree(self, key: str) -> None:
        for k in [k for k in self.s.resources if under(k, key)]:
            del self.s.resources[k]

    def _delete(self, target: Target, existing: dict[str, Any], rtype: ResourceType) -> Reply:
        if rtype.conflicts_on_parent:
            parent_key = target.parent.lower()
            if self.s.busy(parent_key):
                raise self.conflict(self.s.resources[parent_key]["id"])
        elif self.s.busy(target.key):
            raise self.conflict(existing["id"])
        if rtype.delete is not None:
            reply = rtype.delete(self, target, existing)
            if reply is not None:
                return reply
        if rtype.soft_delete is not None:
            rtype.soft_delete(self, target.key)
        self.remove_tree(target.key)
        self.s.save()
        return Reply(200)

    # --- locks ------------------------------------------------------------------------------------

    def check_locks(self, key: str, kind: str) -> None:
        for lock_key, lock in self.s.resources.items():
            if lock.get("type", "").lower() != st.LOCKS_TYPE:
                continue
            scope = lock_key.rsplit("/providers/microsoft.authorization/locks/", 1)[0]
            level = lock.get("properties", {}).get("level")
            applies = under(key, scope) or (kind == "delete" and under(scope, key))
            if not applies:
                continue
            if kind == "delete" or level == "ReadOnly":
                scope_id = lock["id"].rsplit("/providers/", 1)[0]
                raise ArmError(409, "ScopeLocked",
                               f"The scope '{key}' cannot perform {kind} operation because following scope(s) "
                               f"are locked: '{scope_id}'. Please remove the lock and try again.")
