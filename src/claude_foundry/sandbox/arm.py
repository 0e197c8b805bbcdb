"""Azure Resource Manager stand-in: a generic resource store plus the behaviour of the types the
toolkit touches (Cognitive Services accounts and deployments, Key Vault vaults and secrets, Log
Analytics workspaces, role assignments, diagnostic settings, management locks), Marketplace agreements
and the caller's permissions at a scope (``Microsoft.Authorization/permissions``).

``ArmApi.handle`` is synchronous and runs under ``State.lock``; the Starlette endpoint in ``app.py`` does
the HTTP side (token, api-version, JSON). Shapes follow the public azure-rest-api-specs examples.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import provider_data
from claude_foundry.azure import arm as arm_facts
from claude_foundry.sandbox import roles as builtin_roles
from claude_foundry.sandbox import state as st
from claude_foundry.sandbox.state import State, normalize_location

CS_NS = arm_facts.COGNITIVE_SERVICES_NAMESPACE
ACCOUNTS = "microsoft.cognitiveservices/accounts"
DEPLOYMENTS = "microsoft.cognitiveservices/accounts/deployments"
VAULTS = "microsoft.keyvault/vaults"
VAULT_SECRETS = "microsoft.keyvault/vaults/secrets"
WORKSPACES = "microsoft.operationalinsights/workspaces"
ROLE_ASSIGNMENTS = st.ROLE_ASSIGNMENTS_TYPE
LOCKS = st.LOCKS_TYPE
DIAGNOSTIC_SETTINGS = "microsoft.insights/diagnosticsettings"

#: Industries Foundry accepts in ``modelProviderData.industry`` (lower case).
SUBDOMAIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9]$")
VAULT_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")
LOCK_LEVELS = ("CanNotDelete", "ReadOnly")
#: How long Azure keeps a deleted Cognitive Services account before purging it (48 hours).
ACCOUNT_RETENTION_SECONDS = 48 * 3600


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


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def public(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource as ARM shows it: without the sandbox's internals."""
    return {k: copy.deepcopy(v) for k, v in resource.items() if k != "_sb"}


def _system_data(principal: str, created: float, modified: float | None = None) -> dict[str, Any]:
    return {"createdBy": principal, "createdByType": "Application", "createdAt": _iso(created),
            "lastModifiedBy": principal, "lastModifiedByType": "Application",
            "lastModifiedAt": _iso(modified or created)}


def _under(key: str, scope: str) -> bool:
    return key == scope or key.startswith(scope + "/")


class ArmApi:
    def __init__(self, state: State) -> None:
        self.s = state

    # --- entry ------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, api_version: str, body: Any, oid: str,
               query: dict[str, str]) -> Reply:
        self.api_version = api_version
        self.oid = oid
        self.query = query
        try:
            return self._dispatch(method.upper(), path, body)
        except ArmError as exc:
            return Reply(exc.status, exc.body(), exc.headers)

    def _dispatch(self, method: str, path: str, body: Any) -> Reply:
        segs = [p for p in path.split("/") if p]
        low = [p.lower() for p in segs]
        n = len(segs)
        if n < 2 or low[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", "The resource type could not be found.")
        if low[1] != self.s.subscription_id.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{segs[1]}' could not be found.")
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        if n >= 5 and low[-3:] == ["providers", "microsoft.authorization", "permissions"]:
            return self._permissions(method, segs)
        if n == 2:
            self._authorize(sub_id, "read")
            return Reply(200, {"id": sub_id, "subscriptionId": self.s.subscription_id,
                               "tenantId": self.s.tenant_id, "displayName": "claude-foundry sandbox",
                               "state": "Enabled"})
        if n >= 4 and low[2] == "providers":
            special = self._subscription_provider_routes(method, segs, low, body)
            if special is not None:
                return special
        if n == 3 and low[2] == "resourcegroups":
            self._authorize(sub_id, "read")
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
                self._authorize(rg_key, "read")
                items = [public(r) for k, r in self.s.resources.items()
                         if k.startswith(rg_key + "/providers/") and k.count("/providers/") == 1
                         and len(k.split("/")) == 9]
                return Reply(200, {"value": items})
        target = self._parse(segs, low)
        action = self._account_action(method, target, segs, low, body)
        if action is not None:
            return action
        if target.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on a collection.")
            self._authorize(target.parent, "read")
            return Reply(200, {"value": self._list(target)})
        return self._resource(method, target, body)

    # --- authorization ----------------------------------------------------------------------------

    def _authorize(self, resource_id: str, kind: str, action: str | None = None) -> None:
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

    def _require_parent(self, target: Target) -> dict[str, Any] | None:
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

    # --- subscription-level provider routes -------------------------------------------------------

    def _subscription_provider_routes(self, method: str, segs: list[str], low: list[str],
                                      body: Any) -> Reply | None:
        n = len(segs)
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        ns = low[3]
        if n == 4:
            self._authorize(sub_id, "read")
            return Reply(200, {"id": f"{sub_id}/providers/{segs[3]}", "namespace": segs[3],
                               "registrationState": "Registered", "resourceTypes": []})
        if n == 5 and low[4] == "register" and method == "POST":
            self._authorize(sub_id, "write")
            return Reply(200, {"id": f"{sub_id}/providers/{segs[3]}", "namespace": segs[3],
                               "registrationState": "Registered"})
        if n == 8 and low[4] == "locations" and low[6] in ("operationstatuses", "operationresults"):
            return self._operation(low[6], segs[7])
        if ns == CS_NS.lower():
            if n == 7 and low[4] == "locations" and low[6] in ("usages", "models") and method == "GET":
                self._authorize(sub_id, "read")
                if low[6] == "usages":
                    return Reply(200, {"value": self._usages(segs[5]), "nextLink": None})
                return Reply(200, {"value": self._location_models(segs[5]), "nextLink": None})
            if n == 5 and low[4] == "deletedaccounts" and method == "GET":
                self._authorize(sub_id, "read")
                return Reply(200, {"value": [self._deleted_account_view(r)
                                             for r in self.s.deleted_accounts.values()]})
            if n == 10 and low[4] == "locations" and low[6] == "resourcegroups" and low[8] == "deletedaccounts":
                return self._deleted_account(method, segs[5], segs[7], segs[9])
            if n == 5 and low[4] == "checkdomainavailability" and method == "POST":
                self._authorize(sub_id, "read")
                name = str((body or {}).get("subdomainName", ""))
                taken = self._subdomain_taken(name, None)
                return Reply(200, {"isSubdomainAvailable": not taken, "subdomainName": name,
                                   "type": (body or {}).get("type", "Microsoft.CognitiveServices/accounts"),
                                   "reason": "Sub domain name is already in use." if taken else None})
        if ns == "microsoft.keyvault":
            if n == 5 and low[4] == "deletedvaults" and method == "GET":
                self._authorize(sub_id, "read")
                return Reply(200, {"value": [self._deleted_vault_view(v) for v in self.s.deleted_vaults.values()]})
            if n in (8, 9) and low[4] == "locations" and low[6] == "deletedvaults":
                return self._deleted_vault(method, segs[5], segs[7], purge=(n == 9 and low[8] == "purge"))
        if ns == "microsoft.marketplaceordering":
            return self._marketplace(method, segs, low, body)
        return None

    # --- long-running operations ------------------------------------------------------------------

    def _retry_headers(self, op: dict[str, Any]) -> dict[str, str]:
        remaining = max(0.0, op["ready_at"] - time.time())
        if remaining >= 1.0:
            return {"Retry-After": str(int(min(remaining, 10)))}
        return {"retry-after-ms": str(max(5, int(remaining * 1000) + 5))}

    def _lro_headers(self, op: dict[str, Any]) -> dict[str, str]:
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
                   "name": op_id, "status": op["status"], "startTime": _iso(op["start_time"])}
            if op["status"] != "InProgress":
                out["endTime"] = _iso(op.get("end_time", op["ready_at"]))
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

    def _accepted(self, status: int, resource: dict[str, Any], key: str, location: str) -> Reply:
        op = self.s.start_operation(key, "write", normalize_location(location), CS_NS)
        if op["ready_at"] <= time.time():
            self.s.tick()
        return Reply(status, public(self.s.resources[key]), self._lro_headers(op))

    # --- resource groups --------------------------------------------------------------------------

    def _resource_group(self, method: str, segs: list[str], key: str, body: Any) -> Reply:
        existing = self.s.resources.get(key)
        if method in ("GET", "HEAD"):
            self._authorize(key, "read")
            if existing is None:
                if method == "HEAD":
                    return Reply(404)
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
            return Reply(204) if method == "HEAD" else Reply(200, public(existing))
        if method == "PUT":
            self._authorize(key, "write")
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
                self._check_locks(key, "write")
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
            self._authorize(key, "write")
            if existing is None:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{segs[3]}' could not be found.")
            self._check_locks(key, "delete")
            if self.s.busy(key):
                raise self._conflict(existing["id"])
            for k in [k for k, r in self.s.resources.items() if r.get("type", "").lower() == VAULTS]:
                if _under(k, key):
                    self._soft_delete_vault(k)
            for k in [k for k, r in self.s.resources.items() if r.get("type", "").lower() == ACCOUNTS]:
                if _under(k, key):
                    self._soft_delete_account(k)
            self._remove_tree(key)
            self.s.save()
            return Reply(200)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on resource groups.")

    # --- generic resources ------------------------------------------------------------------------

    def _list(self, target: Target) -> list[dict[str, Any]]:
        parent = target.parent.lower()
        out = []
        if target.type == ROLE_ASSIGNMENTS:
            flt = self.query.get("$filter", "")
            at_scope = "atscope()" in flt.lower()
            m = re.search(r"principalId\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
            for res in self.s.resources.values():
                if res.get("type", "").lower() != ROLE_ASSIGNMENTS:
                    continue
                scope = str(res["properties"].get("scope", "")).lower()
                if not (_under(parent, scope) or (not at_scope and _under(scope, parent))):
                    continue
                if m and res["properties"].get("principalId") != m.group(1):
                    continue
                out.append(public(res))
            return out
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
                if rscope != parent and not (sub_scope and target.type != DIAGNOSTIC_SETTINGS
                                             and _under(rscope, parent)):
                    continue
            out.append(public(res))
        return out

    def _resource(self, method: str, target: Target, body: Any) -> Reply:
        handlers: dict[str, Callable[[Target, dict[str, Any]], Reply]] = {
            ACCOUNTS: self._put_account,
            DEPLOYMENTS: self._put_deployment,
            VAULTS: self._put_vault,
            VAULT_SECRETS: self._put_vault_secret,
            WORKSPACES: self._put_workspace,
            ROLE_ASSIGNMENTS: self._put_role_assignment,
            LOCKS: self._put_lock,
        }
        existing = self.s.resources.get(target.key)
        if method in ("GET", "HEAD"):
            self._authorize(target.key, "read")
            self._require_parent(target)
            if existing is None:
                if method == "HEAD":
                    return Reply(404)
                raise self._not_found(target)
            return Reply(204) if method == "HEAD" else Reply(200, public(existing))
        if method == "PUT":
            self._authorize(target.key, "rbac" if target.type in (ROLE_ASSIGNMENTS, LOCKS) else "write")
            if not isinstance(body, dict):
                raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                               "deserialized: a JSON object is required.")
            self._require_parent(target)
            if target.type != LOCKS:
                self._check_locks(target.key, "write")
            handler = handlers.get(target.type, self._put_generic)
            return handler(target, body)
        if method == "DELETE":
            self._authorize(target.key, "rbac" if target.type in (ROLE_ASSIGNMENTS, LOCKS) else "write")
            self._require_parent(target)
            if existing is None:
                return Reply(204)
            if target.type != LOCKS:
                self._check_locks(target.key, "delete")
            return self._delete(target, existing)
        if method == "PATCH" and existing is not None:
            self._authorize(target.key, "write")
            merged = copy.deepcopy(existing.get("_sb", {}).get("input") or public(existing))
            for k, v in (body or {}).items():
                if isinstance(v, dict) and isinstance(merged.get(k), dict):
                    merged[k] = {**merged[k], **v}
                else:
                    merged[k] = v
            reply = handlers.get(target.type, self._put_generic)(target, merged)
            return Reply(200 if reply.status in (200, 201) else reply.status, reply.body, reply.headers)
        if method == "PATCH":
            raise self._not_found(target)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported here.")

    def _not_found(self, target: Target) -> ArmError:
        where = f" under resource group '{target.resource_group}'" if target.resource_group else ""
        return ArmError(404, "ResourceNotFound",
                        f"The Resource '{target.display_type}/{target.name}'{where} was not found. For more "
                        "details please go to https://aka.ms/ARMResourceNotFoundFix")

    def _conflict(self, parent_id: str) -> ArmError:
        return ArmError(409, "RequestConflict",
                        f"Another operation is being performed on the parent resource '{parent_id}'. Please try "
                        "again later.")

    def _same_input(self, existing: dict[str, Any] | None, body: dict[str, Any]) -> bool:
        return existing is not None and existing.get("_sb", {}).get("input") == body

    def _base(self, target: Target, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
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
        res["systemData"] = _system_data(self.oid, created, now)
        res["_sb"] = {"input": copy.deepcopy(body), "created": created,
                      "api_version": self.api_version}
        return res

    def _put_generic(self, target: Target, body: dict[str, Any]) -> Reply:
        existing = self.s.resources.get(target.key)
        if self._same_input(existing, body):
            return Reply(200, public(existing))  # type: ignore[arg-type]
        res = self._base(target, body, existing)
        res["properties"].setdefault("provisioningState", "Succeeded")
        self.s.resources[target.key] = res
        self.s.save()
        return Reply(200 if existing else 201, public(res))

    def _remove_tree(self, key: str) -> None:
        for k in [k for k in self.s.resources if _under(k, key)]:
            del self.s.resources[k]

    def _delete(self, target: Target, existing: dict[str, Any]) -> Reply:
        if target.type == DEPLOYMENTS:
            account_key = target.parent.lower()
            if self.s.busy(account_key):
                raise self._conflict(self.s.resources[account_key]["id"])
            if self.s.provisioning_delay > 0:
                existing.setdefault("properties", {})["provisioningState"] = "Deleting"
                loc = self.s.resources[account_key].get("location", "global")
                op = self.s.start_operation(target.key, "delete", loc, CS_NS)
                self.s.save()
                return Reply(202, None, self._lro_headers(op))
        elif self.s.busy(target.key):
            raise self._conflict(existing["id"])
        if target.type == VAULTS:
            self._soft_delete_vault(target.key)
        elif target.type == ACCOUNTS:
            self._soft_delete_account(target.key)
        elif target.type == VAULT_SECRETS:
            vault = target.parent.rsplit("/", 1)[-1].lower()
            self.s.secrets.get(vault, {}).pop(target.name.lower(), None)
        self._remove_tree(target.key)
        self.s.save()
        return Reply(200)

    # --- locks ------------------------------------------------------------------------------------

    def _check_locks(self, key: str, kind: str) -> None:
        for lock_key, lock in self.s.resources.items():
            if lock.get("type", "").lower() != LOCKS:
                continue
            scope = lock_key.rsplit("/providers/microsoft.authorization/locks/", 1)[0]
            level = lock.get("properties", {}).get("level")
            applies = _under(key, scope) or (kind == "delete" and _under(scope, key))
            if not applies:
                continue
            if kind == "delete" or level == "ReadOnly":
                scope_id = lock["id"].rsplit("/providers/", 1)[0]
                raise ArmError(409, "ScopeLocked",
                               f"The scope '{key}' cannot perform {kind} operation because following scope(s) "
                               f"are locked: '{scope_id}'. Please remove the lock and try again.")

    def _put_lock(self, target: Target, body: dict[str, Any]) -> Reply:
        level = (body.get("properties") or {}).get("level")
        if level not in LOCK_LEVELS:
            raise ArmError(400, "LockLevelRequired" if not level else "InvalidLockLevel",
                           f"The lock level must be one of {', '.join(LOCK_LEVELS)}.")
        return self._put_generic(target, body)

    # --- role assignments -------------------------------------------------------------------------

    def _put_role_assignment(self, target: Target, body: dict[str, Any]) -> Reply:
        props = body.get("properties") or {}
        role_def = str(props.get("roleDefinitionId", ""))
        principal_id = str(props.get("principalId", ""))
        if not role_def or not principal_id:
            raise ArmError(400, "InvalidRoleAssignmentRequest",
                           "properties.roleDefinitionId and properties.principalId are required.")
        try:
            uuid.UUID(target.name)
        except ValueError:
            raise ArmError(400, "InvalidRoleAssignmentId",
                           f"The role assignment ID '{target.name}' is not valid. The role assignment ID must "
                           "be a GUID.") from None
        guid = role_def.rsplit("/", 1)[-1].lower()
        scope = target.parent
        existing = self.s.resources.get(target.key)
        if existing is not None:
            ep = existing["properties"]
            if ep["principalId"] == principal_id and ep["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid:
                return Reply(201, public(existing))
            raise ArmError(409, "RoleAssignmentUpdateNotPermitted",
                           "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
        for res in self.s.resources.values():
            if res.get("type", "").lower() != ROLE_ASSIGNMENTS:
                continue
            p = res["properties"]
            if (p["principalId"] == principal_id and p["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid
                    and str(p.get("scope", "")).lower() == scope.lower()):
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists.")
        now = time.time()
        res = {"id": target.path, "name": target.name, "type": "Microsoft.Authorization/roleAssignments",
               "properties": {"roleDefinitionId": role_def, "principalId": principal_id,
                              "principalType": props.get("principalType", "ServicePrincipal"),
                              "scope": scope, "createdOn": _iso(now), "updatedOn": _iso(now),
                              "createdBy": self.oid, "updatedBy": self.oid,
                              "description": props.get("description")}}
        self.s.resources[target.key] = res
        self.s.save()
        return Reply(201, public(res))

    # --- Cognitive Services accounts --------------------------------------------------------------

    def _subdomain_taken(self, subdomain: str, own_key: str | None) -> bool:
        sub = subdomain.lower()
        if sub in self.s.taken_subdomains:
            return True
        held = [*self.s.accounts(), *(r["resource"] for r in self.s.deleted_accounts.values())]
        for acc in held:
            if acc["id"].lower() != own_key and \
                    str(acc.get("properties", {}).get("customSubDomainName", "")).lower() == sub:
                return True
        return False

    def _put_account(self, target: Target, body: dict[str, Any]) -> Reply:
        existing = self.s.resources.get(target.key)
        if existing is not None and self.s.busy(target.key):
            raise self._conflict(existing["id"])
        if existing is None and target.key in self.s.deleted_accounts:
            if (body.get("properties") or {}).get("restore") is not True:
                # Azure's answer (azure-cli#18146, terraform-provider-azurerm#12258): 409 FlagMustBeSetForRestore
                raise ArmError(409, "FlagMustBeSetForRestore",
                               f"An existing resource with ID '{target.path}' has been soft-deleted. To restore "
                               "the resource, you must specify 'restore' to be 'true' in the property. If you "
                               "don't want to restore existing resource, please purge it first.")
            existing = self._restore_account(target.key)
        if self._same_input(existing, body):
            return Reply(200, public(existing))  # type: ignore[arg-type]
        props = body.get("properties") or {}
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        subdomain = props.get("customSubDomainName")
        old_sub = existing["properties"].get("customSubDomainName") if existing else None
        if not subdomain:
            if old_sub:
                subdomain = old_sub
            else:
                raise ArmError(400, "CustomSubDomainNameRequired",
                               "A custom subdomain name (properties.customSubDomainName) is required for "
                               f"kind '{body.get('kind', arm_facts.ACCOUNT_KIND)}'.")
        if not SUBDOMAIN_RE.match(str(subdomain)):
            raise ArmError(400, "InvalidCustomSubDomainName",
                           f"The custom subdomain name '{subdomain}' is invalid: 2-64 letters, digits and "
                           "hyphens, starting and ending with a letter or digit.")
        if old_sub and old_sub.lower() != str(subdomain).lower():
            raise ArmError(400, "CustomSubDomainNameUpdateNotAllowed",
                           "The custom subdomain name of an account cannot be changed once set.")
        if self._subdomain_taken(str(subdomain), target.key):
            raise ArmError(409, "CustomDomainInUse",
                           f"Custom domain name '{subdomain}' is already in use by another account. Please use a "
                           "different name.")
        if existing and normalize_location(str(body["location"])) != existing["location"]:
            raise ArmError(400, "LocationNotChangeable", "The location of an account cannot be changed.")
        res = self._base(target, body, existing)
        p = res["properties"]
        sub = str(subdomain)
        p["customSubDomainName"] = sub
        p["endpoint"] = f"https://{sub.lower()}.cognitiveservices.azure.com/"
        p["endpoints"] = {
            "AI Foundry API": f"https://{sub.lower()}.services.ai.azure.com/",
            "Anthropic API": f"https://{sub.lower()}.services.ai.azure.com/anthropic",
            "OpenAI Language Model Instance API": f"https://{sub.lower()}.openai.azure.com/",
            "Cognitive Services": f"https://{sub.lower()}.cognitiveservices.azure.com/",
        }
        p.setdefault("publicNetworkAccess", "Enabled")
        p.setdefault("disableLocalAuth", False)
        p["internalId"] = existing["properties"]["internalId"] if existing else uuid.uuid4().hex
        p["dateCreated"] = existing["properties"]["dateCreated"] if existing else _iso(time.time())
        p["provisioningState"] = "Updating" if existing else "Creating"
        p.pop("restore", None)
        res.setdefault("sku", {"name": arm_facts.ACCOUNT_SKU})
        res.setdefault("kind", arm_facts.ACCOUNT_KIND)
        res["etag"] = f'"{uuid.uuid4()}"'
        identity = res.get("identity")
        if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
            old_ident = (existing or {}).get("identity") or {}
            identity["principalId"] = old_ident.get("principalId") or str(uuid.uuid4())
            identity["tenantId"] = self.s.tenant_id
        res["_sb"]["keys"] = (existing or {}).get("_sb", {}).get("keys") or {
            "key1": st.new_account_key(), "key2": st.new_account_key()}
        self.s.resources[target.key] = res
        return self._accepted(200 if existing else 201, res, target.key, res["location"])

    # --- soft-deleted accounts (kept 48 h; the name and the subdomain stay held until purged) --------

    def _soft_delete_account(self, key: str) -> None:
        res = self.s.resources.get(key)
        if res is None:
            return
        now = time.time()
        self.s.deleted_accounts[key] = {
            "resource": copy.deepcopy(res),
            "deployments": [copy.deepcopy(d) for d in self.s.deployments_of(key)],
            "deletionDate": now, "scheduledPurgeDate": now + ACCOUNT_RETENTION_SECONDS,
            "location": res.get("location", "")}
        self._remove_tree(key)

    def _restore_account(self, key: str) -> dict[str, Any]:
        """Bring a soft-deleted account (and its deployments) back, as ``properties.restore: true`` does."""
        record = self.s.deleted_accounts.pop(key)
        res = record["resource"]
        self.s.resources[key] = res
        for dep in record.get("deployments") or []:
            self.s.resources[dep["id"].lower()] = dep
        return res

    def _deleted_account_view(self, record: dict[str, Any]) -> dict[str, Any]:
        """``DeletedAccounts_Get``/``_List``: the account, with the deleted-account id and the dates
        (azure-rest-api-specs, GetDeletedAccount.json; ``deletionDate``/``scheduledPurgeDate`` in AccountProperties)."""
        res = public(record["resource"])
        rg = res["id"].split("/")[4]
        res["id"] = (f"/subscriptions/{self.s.subscription_id}/providers/{CS_NS}/locations/{record['location']}/"
                     f"resourceGroups/{rg}/deletedAccounts/{res['name']}")
        props = res.setdefault("properties", {})
        props["provisioningState"] = "Succeeded"
        props["deletionDate"] = _iso(record["deletionDate"])
        props["scheduledPurgeDate"] = _iso(record["scheduledPurgeDate"])
        return res

    def _deleted_account(self, method: str, location: str, rg: str, name: str) -> Reply:
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        key = f"{sub_id}/resourceGroups/{rg}/providers/{CS_NS}/accounts/{name}".lower()
        self._authorize(sub_id, "read" if method == "GET" else "write")
        record = self.s.deleted_accounts.get(key)
        if record is None or record["location"] != normalize_location(location):
            raise ArmError(404, "ResourceNotFound",
                           f"The deleted account '{name}' in resource group '{rg}' and location '{location}' was "
                           "not found.")
        if method == "GET":
            return Reply(200, self._deleted_account_view(record))
        if method != "DELETE":
            raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on deleted accounts (GET, DELETE).")
        if self.s.busy(key):
            raise self._conflict(record["resource"]["id"])
        if self.s.provisioning_delay <= 0:
            del self.s.deleted_accounts[key]
            self.s.save()
            return Reply(200)
        op = self.s.start_operation(key, "purge", record["location"], CS_NS)
        self.s.save()
        return Reply(202, None, self._lro_headers(op))

    def _account_action(self, method: str, target: Target, segs: list[str], low: list[str],
                        body: Any) -> Reply | None:
        """POST listKeys/regenerateKey, GET models/usages below an account."""
        if not (len(segs) == 9 and target.is_collection and target.type.startswith(ACCOUNTS + "/")):
            return None
        action = low[-1]
        account_key = "/".join(["", *low[:-1]])
        if action not in ("listkeys", "regeneratekey", "models", "usages"):
            return None
        account = self.s.resources.get(account_key)
        if account is None:
            self._require_parent(Target(target.path, account_key, ACCOUNTS, "", segs[-2],
                                        "/" + "/".join(segs[:4]), False, segs[3]))
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource 'Microsoft.CognitiveServices/accounts/{segs[-2]}' under resource group "
                           f"'{segs[3]}' was not found.")
        if action in ("listkeys", "regeneratekey"):
            if method != "POST":
                raise ArmError(405, "MethodNotAllowed", f"{segs[-1]} takes POST.")
            self._authorize(account_key, "write", f"Microsoft.CognitiveServices/accounts/{segs[-1]}/action")
            keys = account["_sb"]["keys"]
            if action == "regeneratekey":
                key_name = str((body or {}).get("keyName", ""))
                if key_name.lower() not in ("key1", "key2"):
                    raise ArmError(400, "InvalidKeyName", "keyName must be Key1 or Key2.")
                keys[key_name.lower()] = st.new_account_key()
                self.s.save()
            return Reply(200, {"key1": keys["key1"], "key2": keys["key2"]})
        if method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"{segs[-1]} takes GET.")
        self._authorize(account_key, "read")
        if action == "usages":
            return Reply(200, {"value": self._usages(account["location"]), "nextLink": None})
        return Reply(200, {"value": self._account_models(account["location"]), "nextLink": None})

    # --- models and quota -------------------------------------------------------------------------

    def _model_skus(self, model: str, location: str) -> list[dict[str, Any]]:
        info = self.s.catalogue.models[model]
        out = []
        for sku in self.s.skus_in(location):
            out.append({"name": sku, "usageName": self.s.usage_name(sku, model),
                        "capacity": {"minimum": 1, "maximum": max(self.s.quota_limit(sku, model), 1), "step": 1,
                                     "default": info.default_capacity},
                        "rateLimits": [{"key": "request", "renewalPeriod": 60, "count": 1}]})
        return out

    def _account_models(self, location: str) -> list[dict[str, Any]]:
        out = []
        for name in self.s.models_in(location):
            info = self.s.catalogue.models.get(name)
            if info is None:
                continue
            for version in info.versions:
                entry: dict[str, Any] = {
                    "format": self.s.catalogue.format, "name": name, "version": version,
                    "isDefaultVersion": version == info.default_version,
                    "lifecycleStatus": "GenerallyAvailable",
                    "capabilities": {"chatCompletion": "true", "messages": "true", "responses": "false"},
                    "maxCapacity": max((self.s.quota_limit(s, name) for s in self.s.skus_in(location)), default=0),
                    "skus": self._model_skus(name, location),
                    "systemData": {"createdBy": "Microsoft", "createdByType": "Application"},
                }
                dep: dict[str, str] = {}
                if info.retirement:
                    dep["inference"] = f"{info.retirement.isoformat()}T00:00:00Z"
                if info.deprecation:
                    dep["deprecationStatus"] = "Planned"
                if dep:
                    entry["deprecation"] = dep
                out.append(entry)
        return out

    def _location_models(self, location: str) -> list[dict[str, Any]]:
        return [{"kind": arm_facts.ACCOUNT_KIND, "skuName": arm_facts.ACCOUNT_SKU, "model": m,
                 "description": f"{m['name']} on Microsoft Foundry (sandbox)"}
                for m in self._account_models(location)]

    def _used_capacity(self, location: str, sku: str, model: str, exclude_key: str | None = None) -> int:
        loc = normalize_location(location)
        total = 0
        for key, res in self.s.resources.items():
            if res.get("type", "").lower() != DEPLOYMENTS or key == exclude_key:
                continue
            account = self.s.resources.get(key.rsplit("/deployments/", 1)[0])
            if account is None or account.get("location") != loc:
                continue
            if res.get("sku", {}).get("name") == sku and \
                    res.get("properties", {}).get("model", {}).get("name") == model:
                total += int(res["sku"].get("capacity") or 0)
        return total

    def _usages(self, location: str) -> list[dict[str, Any]]:
        out = []
        for model in self.s.models_in(location):
            for sku in self.s.skus_in(location):
                name = self.s.usage_name(sku, model)
                out.append({"name": {"value": name, "localizedValue": f"Tokens Per Minute (thousands) - {model} - "
                                     f"{sku}"},
                            "currentValue": self._used_capacity(location, sku, model),
                            "limit": self.s.quota_limit(sku, model), "unit": "Count", "status": "Included",
                            "quotaPeriod": "00:01:00"})
        return out

    # --- deployments ------------------------------------------------------------------------------

    def _validate_provider_data(self, data: Any) -> dict[str, Any]:
        def bad(msg: str) -> ArmError:
            return ArmError(400, "InvalidModelProviderData", msg)

        if not isinstance(data, dict):
            raise bad("Deploying an Anthropic model requires properties.modelProviderData with organizationName, "
                      "countryCode and industry.")
        azure_wording = {
            "organizationName": "modelProviderData.organizationName must be a non-empty string.",
            "countryCode": "modelProviderData.countryCode must be an ISO 3166-1 alpha-2 code in upper case, e.g. 'US'.",
            "industry": f"modelProviderData.industry must be one of: {', '.join(provider_data.INDUSTRIES)}.",
        }
        for field_name, _problem in provider_data.problems(data):
            raise bad(azure_wording[field_name])
        return data

    def _put_deployment(self, target: Target, body: dict[str, Any]) -> Reply:
        account_key = target.parent.lower()
        account = self.s.resources[account_key]
        if self.s.busy(account_key):
            raise self._conflict(account["id"])
        existing = self.s.resources.get(target.key)
        if self._same_input(existing, body):
            return Reply(200, public(existing))  # type: ignore[arg-type]
        location = account["location"]
        props = body.get("properties") or {}
        model = props.get("model") or {}
        fmt = model.get("format")
        cat = self.s.catalogue
        if fmt != cat.format:
            raise ArmError(400, "DeploymentModelNotSupported",
                           f"The sandbox only knows models of format '{cat.format}'; got format '{fmt}'.")
        name = model.get("name")
        info = cat.models.get(str(name))
        if info is None or name not in self.s.models_in(location):
            raise ArmError(400, "DeploymentModelNotSupported",
                           f"The model '{fmt}/{name}' is not supported in location '{location}'. Models offered "
                           f"there: {', '.join(self.s.models_in(location)) or 'none'}.")
        version = str(model.get("version") or info.default_version)
        if version not in info.versions:
            raise ArmError(400, "DeploymentModelNotSupported",
                           f"The model '{fmt}/{name}' has no version '{version}'. Versions: "
                           f"{', '.join(info.versions)}.")
        sku = body.get("sku") or {}
        sku_name = sku.get("name")
        if sku_name not in self.s.skus_in(location):
            raise ArmError(400, "InvalidResourceProperties",
                           f"The specified SKU '{sku_name}' for model '{name} {version}' is not supported in "
                           f"location '{location}'. SKUs: {', '.join(self.s.skus_in(location))}.")
        try:
            capacity = int(sku.get("capacity", 1))
        except (TypeError, ValueError):
            raise ArmError(400, "InvalidResourceProperties", "sku.capacity must be an integer.") from None
        if capacity < 1:
            raise ArmError(400, "InvalidResourceProperties", "sku.capacity must be at least 1.")
        if "modelProviderData" in model and "modelProviderData" not in props:
            # Azure takes it next to "model" only; nested inside "model" it is not seen (reported as refused).
            raise ArmError(400, "InvalidModelProviderData",
                           "ModelProviderData is required for Anthropic model deployments but was not provided: "
                           "send it at properties.modelProviderData (next to properties.model, not inside it).")
        self._validate_provider_data(props.get("modelProviderData"))
        limit = self.s.quota_limit(sku_name, name)
        used = self._used_capacity(location, sku_name, name, exclude_key=target.key)
        if used + capacity > limit:
            raise ArmError(400, "InsufficientQuota",
                           f"This operation require {capacity} new capacity in quota Tokens Per Minute "
                           f"(thousands) - {name} - {sku_name}, which is bigger than the current available "
                           f"capacity {max(limit - used, 0)}. The current quota usage is {used} and the quota "
                           f"limit is {limit} for quota {self.s.usage_name(sku_name, name)}.")
        res = self._base(target, body, existing)
        p = res["properties"]
        p["model"] = {"format": fmt, "name": name, "version": version}
        res["sku"] = {"name": sku_name, "capacity": capacity}
        p.setdefault("versionUpgradeOption", arm_facts.VERSION_UPGRADE_DEFAULT)
        p.setdefault("raiPolicyName", arm_facts.RAI_POLICY_DEFAULT)
        p["capabilities"] = {"chatCompletion": "true", "messages": "true"}
        p["rateLimits"] = [{"key": "request", "renewalPeriod": 60, "count": capacity},
                           {"key": "token", "renewalPeriod": 60, "count": capacity * 1000}]
        p["provisioningState"] = "Updating" if existing else "Creating"
        self.s.resources[target.key] = res
        return self._accepted(200 if existing else 201, res, target.key, location)

    # --- Key Vault --------------------------------------------------------------------------------

    def vault_uri(self, name: str) -> str:
        return f"{self.s.origin}/kv/{name.lower()}/"

    def _put_vault(self, target: Target, body: dict[str, Any]) -> Reply:
        lname = target.name.lower()
        if not VAULT_NAME_RE.match(target.name):
            raise ArmError(400, "VaultNameNotValid",
                           f"The vault name '{target.name}' is invalid: 3-24 letters, digits and hyphens, starting "
                           "with a letter and ending with a letter or digit.")
        props_in = body.get("properties") or {}
        existing = self.s.resources.get(target.key)
        recover = str(props_in.get("createMode", "")).lower() == "recover"
        if existing is None and lname in self.s.deleted_vaults:
            if not recover:
                # Azure's answer (e.g. alan-turing-institute/data-safe-haven#2523, through azure-native)
                raise ArmError(409, "ConflictError",
                               "A vault with the same name already exists in deleted state. You need to either "
                               "recover or purge existing key vault. Follow this link "
                               "https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft "
                               "delete.")
            deleted = self.s.deleted_vaults.pop(lname)
            res = deleted["resource"]
            res["id"] = target.path
            self.s.resources[target.key] = res
            self.s.secrets.setdefault(lname, {})
            self.s.save()
            return Reply(201, public(res))
        for res in self.s.resources.values():
            if res.get("type", "").lower() == VAULTS and res["name"].lower() == lname and \
                    res["id"].lower() != target.key:
                raise ArmError(409, "VaultAlreadyExists", f"The vault name '{target.name}' is already in use.")
        if self._same_input(existing, body):
            return Reply(200, public(existing))  # type: ignore[arg-type]
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        old = (existing or {}).get("properties", {})
        if old.get("enablePurgeProtection") and props_in.get("enablePurgeProtection") is False:
            raise ArmError(400, "BadRequest",
                           'The property "enablePurgeProtection" cannot be set to false. Enabling the purge '
                           "protection for a vault is an irreversible action.")
        if props_in.get("enableSoftDelete") is False:
            raise ArmError(400, "BadRequest", "Soft delete cannot be disabled: it is always on.")
        res = self._base(target, body, existing)
        p = res["properties"]
        p.pop("createMode", None)
        p.setdefault("tenantId", self.s.tenant_id)
        p.setdefault("sku", {"family": "A", "name": "standard"})
        p.setdefault("accessPolicies", [])
        p.setdefault("enableRbacAuthorization", old.get("enableRbacAuthorization", False))
        p["enableSoftDelete"] = True
        p.setdefault("softDeleteRetentionInDays", old.get("softDeleteRetentionInDays", 90))
        if old.get("enablePurgeProtection") or p.get("enablePurgeProtection"):
            p["enablePurgeProtection"] = True
        else:
            p.pop("enablePurgeProtection", None)
        p.setdefault("publicNetworkAccess", "Enabled")
        p["vaultUri"] = self.vault_uri(target.name)
        p["provisioningState"] = "Succeeded"
        self.s.resources[target.key] = res
        self.s.secrets.setdefault(lname, {})
        self.s.save()
        return Reply(200 if existing else 201, public(res))

    def _soft_delete_vault(self, key: str) -> None:
        res = self.s.resources.get(key)
        if res is None:
            return
        now = time.time()
        days = int(res["properties"].get("softDeleteRetentionInDays", 90))
        self.s.deleted_vaults[res["name"].lower()] = {
            "resource": dict(res), "deletionDate": now,
            "scheduledPurgeDate": now + days * 86400, "location": res.get("location", "")}
        self._remove_tree(key)

    def _deleted_vault_view(self, dv: dict[str, Any]) -> dict[str, Any]:
        res = dv["resource"]
        loc = dv["location"]
        return {"id": f"/subscriptions/{self.s.subscription_id}/providers/Microsoft.KeyVault/locations/{loc}/"
                      f"deletedVaults/{res['name']}",
                "name": res["name"], "type": "Microsoft.KeyVault/deletedVaults",
                "properties": {"vaultId": res["id"], "location": loc, "deletionDate": _iso(dv["deletionDate"]),
                               "scheduledPurgeDate": _iso(dv["scheduledPurgeDate"]), "tags": res.get("tags", {}),
                               "purgeProtectionEnabled": bool(res["properties"].get("enablePurgeProtection"))}}

    def _deleted_vault(self, method: str, location: str, name: str, purge: bool) -> Reply:
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        dv = self.s.deleted_vaults.get(name.lower())
        if dv is None or normalize_location(str(dv.get("location", ""))) != normalize_location(location):
            raise ArmError(404, "DeletedVaultNotFound", f"Deleted vault '{name}' not found.")
        if not purge:
            self._authorize(sub_id, "read")
            return Reply(200, self._deleted_vault_view(dv))
        if method != "POST":
            raise ArmError(405, "MethodNotAllowed", "purge takes POST.")
        self._authorize(sub_id, "write")
        if dv["resource"]["properties"].get("enablePurgeProtection"):
            raise ArmError(409, "ConflictError",
                           f"Vault '{name}' has purge protection enabled and cannot be purged until "
                           f"{_iso(dv['scheduledPurgeDate'])}.")
        del self.s.deleted_vaults[name.lower()]
        self.s.secrets.pop(name.lower(), None)
        self.s.save()
        return Reply(200)

    def _put_vault_secret(self, target: Target, body: dict[str, Any]) -> Reply:
        from claude_foundry.sandbox.keyvault import write_secret_version

        vault = target.parent.rsplit("/", 1)[-1]
        props = body.get("properties") or {}
        value = props.get("value")
        if not isinstance(value, str):
            raise ArmError(400, "BadRequest", "properties.value is required (a string).")
        existing = self.s.resources.get(target.key)
        store = self.s.secrets.setdefault(vault.lower(), {})
        record = store.get(target.name.lower())
        latest = record["versions"][-1] if record and record["versions"] else None
        attrs = props.get("attributes") or {}
        if existing is not None and latest is not None and latest["value"] == value and \
                latest.get("contentType") == props.get("contentType"):
            return Reply(200, public(existing))
        version = write_secret_version(self.s, vault, target.name, value, content_type=props.get("contentType"),
                                       enabled=attrs.get("enabled", True), tags=body.get("tags"))
        stored_input = copy.deepcopy(body)
        stored_input.get("properties", {}).pop("value", None)
        res = self._base(target, stored_input, existing)
        p = res["properties"]
        uri = self.vault_uri(vault)
        p["secretUri"] = f"{uri}secrets/{target.name}"
        p["secretUriWithVersion"] = f"{uri}secrets/{target.name}/{version['version']}"
        p["attributes"] = {"enabled": version["enabled"], "created": int(version["created"]),
                           "updated": int(version["updated"])}
        self.s.resources[target.key] = res
        self.s.save()
        return Reply(200 if existing else 201, public(res))

    # --- Log Analytics ----------------------------------------------------------------------------

    def _put_workspace(self, target: Target, body: dict[str, Any]) -> Reply:
        existing = self.s.resources.get(target.key)
        if self._same_input(existing, body):
            return Reply(200, public(existing))  # type: ignore[arg-type]
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        res = self._base(target, body, existing)
        p = res["properties"]
        retention = int(p.get("retentionInDays", 30))
        if not 30 <= retention <= 730 and retention != 7:
            raise ArmError(400, "InvalidParameter", "retentionInDays must be between 30 and 730.")
        p["retentionInDays"] = retention
        p.setdefault("sku", {"name": "PerGB2018"})
        p["customerId"] = (existing or {}).get("properties", {}).get("customerId") or str(uuid.uuid4())
        p["provisioningState"] = "Succeeded"
        self.s.resources[target.key] = res
        self.s.save()
        return Reply(200 if existing else 201, public(res))

    # --- Marketplace agreements ---------------------------------------------------------------------

    def _marketplace(self, method: str, segs: list[str], low: list[str], body: Any) -> Reply | None:
        """``MarketplaceAgreements_Get``/``_Create`` (``offerTypes/.../agreements/current``) answer the
        AgreementTerms shape; ``_GetAgreement``/``_Sign``/``_Cancel`` (``agreements/{publisher}/...``) the
        agreement shape (publisher, offer, signDate/cancelDate, state), as the 2021-01-01 examples show."""
        n = len(segs)
        # /subscriptions/{s}/providers/Microsoft.MarketplaceOrdering/offerTypes/{type}/publishers/{publisher}/
        #   offers/{offer}/plans/{plan}/agreements/current: 14 segments
        if n == 14 and low[4] == "offertypes" and low[6] == "publishers" and low[8] == "offers" and \
                low[10] == "plans" and low[12] == "agreements" and low[13] == "current":
            publisher, offer, plan = segs[7], segs[9], segs[11]
            terms, allowed = True, ("GET", "PUT")
        # /subscriptions/{s}/providers/Microsoft.MarketplaceOrdering/agreements/{publisher}/offers/{offer}/
        #   plans/{plan}[/sign|/cancel]: 10 or 11 segments
        elif n in (10, 11) and low[4] == "agreements" and low[6] == "offers" and low[8] == "plans" and \
                (n == 10 or low[10] in ("sign", "cancel")):
            publisher, offer, plan = segs[5], segs[7], segs[9]
            terms, allowed = False, ("GET",) if n == 10 else ("POST",)
        else:
            return None
        if method not in allowed:
            raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed here; use "
                           f"{' or '.join(allowed)}.")
        sub_id = f"/subscriptions/{self.s.subscription_id}"
        self._authorize(sub_id, "read" if method == "GET" else "write")
        if terms and low[5] != "virtualmachine":
            raise ArmError(400, "BadRequest", f"The offer type '{segs[5]}' is not supported: only "
                           "'virtualmachine' is.")
        unknown = self.s.marketplace_unknown_part(publisher, offer, plan)
        if unknown == "offer":
            raise ArmError(400, "BadRequest",
                           f"The offer with Offer ID '{offer}' was not found. Try one of these: 1- Make sure the "
                           "offer name is written correctly. 2- If this offer was recently created, allow up to "
                           "30 minutes for it to be available for purchase. 3- The offer may have been removed "
                           f"from the marketplace. Publisher ID: '{publisher}', Offer ID: '{offer}'.")
        if unknown == "plan":
            raise ArmError(400, "BadRequest",
                           f"The plan with Plan ID '{plan}' was not found in the offer with Offer ID '{offer}'. "
                           f"Publisher ID: '{publisher}', Offer ID: '{offer}', Plan ID: '{plan}'.")
        key = f"{publisher}/{offer}/{plan}".lower()
        if method == "PUT":
            if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
                raise ArmError(400, "BadRequest", "The request body must be AgreementTerms: "
                               '{"properties": {"accepted": true, ...}}.')
            # What az vm image terms accept sends: the terms it just read, with accepted set to true.
            self.s.marketplace[key] = body["properties"].get("accepted") is True
            self.s.save()
        elif method == "POST":
            self.s.marketplace[key] = low[10] == "sign"
            self.s.save()
        accepted = self.s.marketplace_accepted(key)
        now = _iso(time.time())
        if not terms:
            props: dict[str, Any] = {"publisher": publisher, "offer": offer,
                                     "state": "Active" if accepted else "Canceled"}
            props["signDate" if accepted else "cancelDate"] = now
            return Reply(200, {"id": "/" + "/".join(segs[:10]), "name": plan,
                               "type": "Microsoft.MarketplaceOrdering/agreements", "properties": props})
        return Reply(200, {
            "id": f"{sub_id}/providers/Microsoft.MarketplaceOrdering/offerTypes/VirtualMachine/publishers/"
                  f"{publisher}/offers/{offer}/plans/{plan}/agreements/current",
            "name": plan, "type": "Microsoft.MarketplaceOrdering/offertypes",
            "properties": {"publisher": publisher, "product": offer, "plan": plan,
                           "licenseTextLink": "https://example.invalid/sandbox-terms",
                           "privacyPolicyLink": "https://example.invalid/sandbox-privacy",
                           "marketplaceTermsLink": "https://example.invalid/sandbox-marketplace-terms",
                           "retrieveDatetime": now,
                           "signature": hashlib.sha256(key.encode()).hexdigest()[:52].upper(),
                           "accepted": accepted}})

    # --- permissions --------------------------------------------------------------------------------

    def _permissions(self, method: str, segs: list[str]) -> Reply:
        """``Permissions_List*``: what the caller may do at a scope, one entry per role it holds there or above."""
        if method != "GET":
            raise ArmError(405, "MethodNotAllowed", f"The {method} method is not allowed on permissions.")
        scope_segs = segs[:-3]
        low = [p.lower() for p in scope_segs]
        scope_key = "/" + "/".join(low)
        if len(scope_segs) >= 4 and low[2] == "resourcegroups":
            rg_key = "/" + "/".join(low[:4])
            if rg_key not in self.s.resources:
                raise ArmError(404, "ResourceGroupNotFound",
                               f"Resource group '{scope_segs[3]}' could not be found.")
        if len(scope_segs) not in (2, 4) and scope_key not in self.s.resources:
            raise ArmError(404, "ResourceNotFound",
                           f"The Resource '{'/'.join(scope_segs[-2:])}' was not found. For more details please "
                           "go to https://aka.ms/ARMResourceNotFoundFix")
        return Reply(200, {"value": builtin_roles.permissions_of(self.s.roles_of(self.oid, scope_key))})
