"""Key Vault data plane stand-in (secrets only), for ``azure-keyvault-secrets``' ``SecretClient``.

Vaults live at ``https://127.0.0.1:PORT/kv/{vault}/``. Two quirks follow from serving them on one
loopback host, both needed by the unmodified SDK:

* The 401 challenge names the resource ``https://0.0.1:PORT``. The SDK requires the vault's host to end
  in ``.<resource host>`` (as ``myvault.vault.azure.net`` ends in ``.vault.azure.net``), and
  ``127.0.0.1:PORT`` ends in ``.0.0.1:PORT``. Tokens for Key Vault therefore carry that audience (the
  sandbox also accepts ``https://vault.azure.net``).
* Secret ids (``id``, ``recoveryId``) are written without the ``/kv/{vault}`` prefix
  (``https://127.0.0.1:PORT/secrets/{name}/{version}``) because the SDK parses ids as
  ``<host>/<collection>/<name>[/<version>]``. Requests still go to the vault URL the client was given.

Authorization follows the vault: with ``enableRbacAuthorization`` role assignments made through ARM decide
(Key Vault Secrets User/Officer/Administrator on the vault, its resource group or subscription); without it
the vault's ``accessPolicies`` do. Owner alone grants no data access: 403 ``ForbiddenByRbac`` like Azure.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from claude_foundry_sandbox import bodies, identity
from claude_foundry_sandbox import state as st
from claude_foundry_sandbox.state import State

SECRET_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")

#: action -> (data action named in errors, roles allowed, access-policy permission)
ACTIONS: dict[str, tuple[str, frozenset[str], str]] = {
    "get": ("Microsoft.KeyVault/vaults/secrets/getSecret/action", st.KV_SECRET_READ_ROLES, "get"),
    "list": ("Microsoft.KeyVault/vaults/secrets/readMetadata/action", st.KV_SECRET_LIST_ROLES, "list"),
    "set": ("Microsoft.KeyVault/vaults/secrets/setSecret/action", st.KV_SECRET_WRITE_ROLES, "set"),
    "update": ("Microsoft.KeyVault/vaults/secrets/update/action", st.KV_SECRET_WRITE_ROLES, "set"),
    "delete": ("Microsoft.KeyVault/vaults/secrets/delete", st.KV_SECRET_WRITE_ROLES, "delete"),
    "deleted": ("Microsoft.KeyVault/vaults/deletedSecrets/read", st.KV_SECRET_WRITE_ROLES, "list"),
    "recover": ("Microsoft.KeyVault/vaults/deletedSecrets/recover/action", st.KV_SECRET_WRITE_ROLES, "recover"),
    "purge": ("Microsoft.KeyVault/vaults/deletedSecrets/delete", st.KV_SECRET_WRITE_ROLES, "purge"),
}


def kv_audiences(state: State) -> set[str]:
    return {identity.norm_audience(a) for a in (identity.kv_resource(state), *identity.KEY_VAULT_AUDIENCES)}


def write_secret_version(state: State, vault: str, name: str, value: str, *, content_type: str | None = None,
                         enabled: bool = True, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Add a version to ``vault``'s secret ``name`` (used by the data plane and by ARM's vaults/secrets)."""
    store = state.secrets.setdefault(vault.lower(), {})
    record = store.get(name.lower())
    if record is None or record.get("deleted"):
        record = {"name": name, "versions": [], "deleted": None}
        store[name.lower()] = record
    now = time.time()
    version = {"version": uuid.uuid4().hex, "value": value, "contentType": content_type, "enabled": enabled,
               "tags": tags or {}, "created": now, "updated": now}
    record["versions"].append(version)
    return version


class KvError(Exception):
    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner

    def response(self) -> JSONResponse:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.inner:
            err["innererror"] = {"code": self.inner}
        return JSONResponse({"error": err}, status_code=self.status)


#: Key Vault's answers to a caller outside its network (403 ``Forbidden``; the inner code tells which rule).
#: ``publicNetworkAccess: Disabled``: ``ForbiddenByConnection`` (quoted e.g. by Azure lab guides running
#: ``az keyvault secret list`` from outside the VNet); firewall default Deny without a matching IP rule:
#: ``ForbiddenByFirewall`` (MicrosoftDocs/azure-docs#52649, terraform-provider-azurerm error reports).
PUBLIC_ACCESS_DISABLED = ("Public network access is disabled and request is not from a trusted service nor via an "
                          "approved private link.")
CLIENT_NOT_AUTHORIZED = "Client address is not authorized and caller is not a trusted service."


class KeyVaultApi:
    def __init__(self, state: State, vault: str, oid: str, appid: str, client_ip: str = "") -> None:
        self.s = state
        self.vault = vault.lower()
        self.oid = oid
        self.appid = appid
        self.client_ip = client_ip
        found = next((r for r in state.resources.values()
                      if r.get("type", "").lower() == "microsoft.keyvault/vaults"
                      and r["name"].lower() == self.vault), None)
        if found is None:
            raise KvError(404, "VaultNotFound", f"Vault '{vault}' does not exist (or is soft-deleted).")
        self.vault_res: dict[str, Any] = found
        self.store = state.secrets.setdefault(self.vault, {})
        self.id_base = state.origin  # ids are written at the host root, see the module docstring

    # --- authorization ----------------------------------------------------------------------------

    def check_network(self) -> None:
        """Public network access Disabled: a sandbox caller is outside the network unless it is inside a virtual
        network holding the vault's approved private endpoint (``State.inside_networks``). Enabled with network ACLs
        default Deny: only the addresses of ``ipRules`` pass."""
        props = self.vault_res["properties"]
        if self.s.reached_privately(self.vault_res["id"]):
            return  # through its private endpoint: public network rules do not apply
        where = (f"Caller: appid={self.appid};oid={self.oid}\r\nVault: {self.vault_res['name']};"
                 f"location={self.vault_res.get('location', '')}")
        if str(props.get("publicNetworkAccess", "")).lower() == "disabled":
            raise KvError(403, "Forbidden", f"{PUBLIC_ACCESS_DISABLED}\r\n{where}", inner="ForbiddenByConnection")
        acls = props.get("networkAcls") or {}
        if str(acls.get("defaultAction", "")).lower() != "deny":
            return
        try:
            client = ipaddress.ip_address(self.client_ip)
        except ValueError:
            client = None
        for rule in acls.get("ipRules") or []:
            try:
                if client is not None and client in ipaddress.ip_network(str(rule.get("value", "")), strict=False):
                    return
            except ValueError:
                continue
        raise KvError(403, "Forbidden", f"{CLIENT_NOT_AUTHORIZED}\r\nClient address: {self.client_ip}\r\n{where}",
                      inner="ForbiddenByFirewall")

    def authorize(self, action: str) -> None:
        data_action, roles, permission = ACTIONS[action]
        props = self.vault_res["properties"]
        if props.get("enableRbacAuthorization"):
            if self.s.roles_of(self.oid, self.vault_res["id"], data_plane=True) & roles:
                return
            raise KvError(403, "Forbidden",
                          "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny "
                          "assignments or role definitions were changed recently, please observe propagation "
                          f"time.\r\nCaller: appid={self.appid};oid={self.oid}\r\nAction: '{data_action}'\r\n"
                          f"Resource: '{self.vault_res['id'].lower()}'\r\nAssignment: (not found)\r\n"
                          f"Vault: {self.vault_res['name']};location={self.vault_res.get('location', '')}\r\n",
                          inner="ForbiddenByRbac")
        for policy in props.get("accessPolicies") or []:
            if policy.get("objectId") != self.oid:
                continue
            perms = {p.lower() for p in (policy.get("permissions") or {}).get("secrets") or []}
            if permission in perms or "all" in perms:
                return
        raise KvError(403, "Forbidden",
                      f"The user, group or application 'appid={self.appid};oid={self.oid}' does not have secrets "
                      f"{permission} permission on key vault '{self.vault_res['name']};location="
                      f"{self.vault_res.get('location', '')}'. For help resolving this issue, please see "
                      "https://go.microsoft.com/fwlink/?linkid=2125287", inner="AccessDenied")

    # --- shapes -----------------------------------------------------------------------------------

    def _recovery_level(self) -> str:
        if self.vault_res["properties"].get("enablePurgeProtection"):
            return "Recoverable"
        return "Recoverable+Purgeable"

    def _attributes(self, v: dict[str, Any]) -> dict[str, Any]:
        days = int(self.vault_res["properties"].get("softDeleteRetentionInDays", 90))
        return {"enabled": v["enabled"], "created": int(v["created"]), "updated": int(v["updated"]),
                "recoveryLevel": self._recovery_level(), "recoverableDays": days}

    def bundle(self, record: dict[str, Any], v: dict[str, Any], *, value: bool = True,
               versioned: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"id": f"{self.id_base}/secrets/{record['name']}"
                                     + (f"/{v['version']}" if versioned else ""),
                               "attributes": self._attributes(v), "tags": v.get("tags") or {}}
        if value:
            out["value"] = v["value"]
        if v.get("contentType"):
            out["contentType"] = v["contentType"]
        return out

    def deleted_bundle(self, record: dict[str, Any], *, value: bool = False) -> dict[str, Any]:
        out = self.bundle(record, record["versions"][-1], value=value)
        out["recoveryId"] = f"{self.id_base}/deletedsecrets/{record['name']}"
        out["deletedDate"] = int(record["deleted"]["deletedDate"])
        out["scheduledPurgeDate"] = int(record["deleted"]["scheduledPurgeDate"])
        return out

    def _live(self, name: str) -> dict[str, Any]:
        record = self.store.get(name.lower())
        if record is None or record.get("deleted") or not record["versions"]:
            raise KvError(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault. "
                          "If you recently deleted this secret you may be able to recover it using the correct "
                          "recovery command. For help resolving this issue, please see "
                          "https://go.microsoft.com/fwlink/?linkid=2125182")
        return record

    def _deleted(self, name: str) -> dict[str, Any]:
        record = self.store.get(name.lower())
        if record is None or not record.get("deleted"):
            raise KvError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
        return record

    # --- routes -----------------------------------------------------------------------------------

    def handle(self, method: str, segs: list[str], body: Any) -> tuple[int, Any]:
        n = len(segs)
        if n >= 1 and segs[0] == "secrets":
            if n == 1 and method == "GET":
                self.authorize("list")
                items = [self.bundle(r, r["versions"][-1], value=False, versioned=False)
                         for r in self.store.values() if not r.get("deleted") and r["versions"]]
                return 200, {"value": items, "nextLink": None}
            name = segs[1] if n >= 2 else ""
            if n == 2 and method == "PUT":
                return self.set_secret(name, body)
            if n == 2 and method == "DELETE":
                return self.delete_secret(name)
            if n in (2, 3) and method == "GET" and not (n == 3 and segs[2] == "versions"):
                self.authorize("get")
                record = self._live(name)
                version = segs[2] if n == 3 else ""
                if not version:
                    return 200, self.bundle(record, record["versions"][-1])
                for v in record["versions"]:
                    if v["version"] == version:
                        return 200, self.bundle(record, v)
                raise KvError(404, "SecretNotFound", f"A secret with (name/id) {name}/{version} was not found in "
                              "this key vault.")
            if n == 3 and segs[2] == "versions" and method == "GET":
                self.authorize("list")
                record = self._live(name)
                return 200, {"value": [self.bundle(record, v, value=False) for v in record["versions"]],
                             "nextLink": None}
            if n == 3 and method == "PATCH":
                self.authorize("update")
                record = self._live(name)
                for v in record["versions"]:
                    if v["version"] == segs[2] or not segs[2]:
                        body = body or {}
                        if "contentType" in body:
                            v["contentType"] = body["contentType"]
                        if "tags" in body:
                            v["tags"] = body["tags"] or {}
                        if "enabled" in (body.get("attributes") or {}):
                            v["enabled"] = bool(body["attributes"]["enabled"])
                        v["updated"] = time.time()
                        self.s.save()
                        return 200, self.bundle(record, v, value=False)
                raise KvError(404, "SecretNotFound", f"A secret with (name/id) {name}/{segs[2]} was not found.")
        if n >= 1 and segs[0] == "deletedsecrets":
            if n == 1 and method == "GET":
                self.authorize("deleted")
                return 200, {"value": [self.deleted_bundle(r) for r in self.store.values() if r.get("deleted")],
                             "nextLink": None}
            name = segs[1] if n >= 2 else ""
            if n == 2 and method == "GET":
                self.authorize("deleted")
                return 200, self.deleted_bundle(self._deleted(name))
            if n == 2 and method == "DELETE":
                self.authorize("purge")
                record = self._deleted(name)
                if self.vault_res["properties"].get("enablePurgeProtection"):
                    raise KvError(403, "Forbidden", "Operation \"purge\" is not allowed because purge protection "
                                  "is enabled for this vault. Key Vault service will automatically purge it after "
                                  "the retention period has passed.")
                del self.store[record["name"].lower()]
                self.s.save()
                return 204, None
            if n == 3 and segs[2] == "recover" and method == "POST":
                self.authorize("recover")
                record = self._deleted(name)
                record["deleted"] = None
                self.s.save()
                return 200, self.bundle(record, record["versions"][-1], value=False)
        raise KvError(400, "BadParameter", f"The request URI '/{'/'.join(segs)}' is not supported by the sandbox.")

    def set_secret(self, name: str, body: Any) -> tuple[int, Any]:
        self.authorize("set")
        if not name or not set(name) <= SECRET_NAME_CHARS or len(name) > 127:
            raise KvError(400, "BadParameter", "The request URI contains an invalid name: " + name)
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise KvError(400, "BadParameter", "Property 'value' is required and must be a string.")
        record = self.store.get(name.lower())
        if record is not None and record.get("deleted"):
            raise KvError(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, and its "
                          "name cannot be reused; in this state, the secret can only be recovered or purged.")
        attrs = body.get("attributes") or {}
        v = write_secret_version(self.s, self.vault, name, body["value"], content_type=body.get("contentType"),
                                 enabled=attrs.get("enabled", True), tags=body.get("tags"))
        self.s.save()
        return 200, self.bundle(self.store[name.lower()], v)

    def delete_secret(self, name: str) -> tuple[int, Any]:
        self.authorize("delete")
        record = self._live(name)
        now = time.time()
        days = int(self.vault_res["properties"].get("softDeleteRetentionInDays", 90))
        record["deleted"] = {"deletedDate": now, "scheduledPurgeDate": now + days * 86400}
        self.s.save()
        return 200, self.deleted_bundle(record)


def challenge_response(state: State, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": "Unauthorized", "message": message}}, status_code=401,
        headers={"WWW-Authenticate": f'Bearer authorization="{state.origin}/{state.tenant_id}", '
                                     f'resource="{identity.kv_resource(state)}"',
                 "x-ms-keyvault-service-version": "1.9.0.0 (sandbox)", "x-ms-request-id": str(uuid.uuid4()),
                 "x-sandbox-error": code})


async def endpoint(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    if not request.query_params.get("api-version"):
        return KvError(400, "BadParameter", "The api-version query parameter is required.").response()
    token = identity.bearer_from(request)
    if token is None:
        return challenge_response(state, "MissingToken", "AKV10000: Request is missing a Bearer or PoP token.")
    try:
        claims = identity.verify_token(state, token, kv_audiences(state))
    except identity.TokenError as exc:
        msg = "AKV10022: Invalid audience." if exc.code.endswith("Audience") else f"AKV10032: {exc}"
        return challenge_response(state, exc.code, msg)
    raw = await request.body()
    try:
        body: Any = bodies.parse_json(raw)
    except bodies.JsonError as exc:
        return KvError(400, "BadParameter", f"The request body is not valid JSON: {exc}.").response()
    segs = [p for p in request.path_params["rest"].split("/") if p != ""]
    if request.path_params["rest"].endswith("/") and len(segs) == 2 and segs[0] == "secrets":
        segs.append("")  # GET secrets/{name}/ (latest version, as the SDK asks)
    with state.lock:
        state.tick()
        try:
            api = KeyVaultApi(state, request.path_params["vault"], str(claims["oid"]), str(claims.get("appid", "")),
                              request.client.host if request.client else "")
            api.check_network()
            status, out = api.handle(request.method, segs, body)
        except KvError as exc:
            return exc.response()
    headers = {"x-ms-keyvault-service-version": "1.9.0.0 (sandbox)", "x-ms-request-id": str(uuid.uuid4())}
    if out is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(out, status_code=status, headers=headers)
