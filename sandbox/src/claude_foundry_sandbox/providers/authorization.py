"""Microsoft.Authorization: role assignments (GUID names, no updates, no duplicates, ``$filter`` on
listing), management locks (their levels; the router enforces them on every write) and the caller's
permissions at a scope (``Permissions_List*``)."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox import roles as builtin_roles
from claude_foundry_sandbox import state as st
from claude_foundry_sandbox.providers.base import (
    ArmError,
    Provider,
    Reply,
    ResourceType,
    Target,
    iso,
    public,
    route_scope,
    under,
)

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

ROLE_ASSIGNMENTS = st.ROLE_ASSIGNMENTS_TYPE
LOCKS = st.LOCKS_TYPE
LOCK_LEVELS = ("CanNotDelete", "ReadOnly")


# --- locks ----------------------------------------------------------------------------------------


def _put_lock(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    level = (body.get("properties") or {}).get("level")
    if level not in LOCK_LEVELS:
        raise ArmError(400, "LockLevelRequired" if not level else "InvalidLockLevel",
                       f"The lock level must be one of {', '.join(LOCK_LEVELS)}.")
    return api.put_generic(target, body)


# --- role assignments -----------------------------------------------------------------------------


def _list_role_assignments(api: ArmApi, target: Target) -> list[dict[str, Any]]:
    """Those at the scope, above it and (without ``atScope()`` in ``$filter``) below it; ``principalId eq``."""
    parent = target.parent.lower()
    out = []
    flt = api.query.get("$filter", "")
    at_scope = "atscope()" in flt.lower()
    m = re.search(r"principalId\s+eq\s+'([^']+)'", flt, re.IGNORECASE)
    for res in api.s.resources.values():
        if res.get("type", "").lower() != ROLE_ASSIGNMENTS:
            continue
        scope = str(res["properties"].get("scope", "")).lower()
        if not (under(parent, scope) or (not at_scope and under(scope, parent))):
            continue
        if m and res["properties"].get("principalId") != m.group(1):
            continue
        out.append(public(res))
    return out


def _put_role_assignment(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
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
    existing = api.s.resources.get(target.key)
    if existing is not None:
        ep = existing["properties"]
        if ep["principalId"] == principal_id and ep["roleDefinitionId"].rsplit("/", 1)[-1].lower() == guid:
            return Reply(201, public(existing))
        raise ArmError(409, "RoleAssignmentUpdateNotPermitted",
                       "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
    for res in api.s.resources.values():
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
                          "scope": scope, "createdOn": iso(now), "updatedOn": iso(now),
                          "createdBy": api.oid, "updatedBy": api.oid,
                          "description": props.get("description")}}
    api.s.resources[target.key] = res
    api.s.save()
    return Reply(201, public(res))


# --- permissions --------------------------------------------------------------------------------


def _permissions(api: ArmApi, method: str, segs: list[str]) -> Reply:
    """``Permissions_List*``: what the caller may do at a scope, one entry per role it holds there or above."""
    scope_segs, scope_key = route_scope(api, method, "GET", "permissions", segs)
    if len(scope_segs) not in (2, 4) and scope_key not in api.s.resources:
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource '{'/'.join(scope_segs[-2:])}' was not found. For more details please "
                       "go to https://aka.ms/ARMResourceNotFoundFix")
    return Reply(200, {"value": builtin_roles.permissions_of(api.s.roles_of(api.oid, scope_key))})


PROVIDER = Provider(
    types=(
        ResourceType(ROLE_ASSIGNMENTS, put=_put_role_assignment, lister=_list_role_assignments, access="rbac"),
        ResourceType(LOCKS, put=_put_lock, access="rbac", lockable=False),
    ),
    scope_routes={("microsoft.authorization", "permissions"): _permissions},
)
