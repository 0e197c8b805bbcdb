"""Microsoft.KeyVault through ARM: vaults (name rules, soft delete, recovery, purge protection), secrets
written through ARM (stored where the data plane in ``sandbox/keyvault.py`` reads them), deleted vaults and
their purge."""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING, Any

from claude_foundry_sandbox.keyvault import write_secret_version
from claude_foundry_sandbox.providers.base import (
    ArmError,
    Provider,
    Reply,
    ResourceType,
    Target,
    iso,
    public,
    require_location,
)
from claude_foundry_sandbox.state import normalize_location

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

VAULTS = "microsoft.keyvault/vaults"
VAULT_SECRETS = "microsoft.keyvault/vaults/secrets"

VAULT_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$")


def _subscription_routes(api: ArmApi, method: str, segs: list[str], low: list[str], body: Any) -> Reply | None:
    n = len(segs)
    if n == 5 and low[4] == "deletedvaults" and method == "GET":
        api.authorize(f"/subscriptions/{api.s.subscription_id}", "read")
        return Reply(200, {"value": [_deleted_vault_view(api, v) for v in api.s.deleted_vaults.values()]})
    if n in (8, 9) and low[4] == "locations" and low[6] == "deletedvaults":
        return _deleted_vault(api, method, segs[5], segs[7], purge=(n == 9 and low[8] == "purge"))
    return None


# --- vaults -----------------------------------------------------------------------------------------


def vault_uri(api: ArmApi, name: str) -> str:
    return f"{api.s.origin}/kv/{name.lower()}/"


def _put_vault(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    lname = target.name.lower()
    if not VAULT_NAME_RE.match(target.name):
        raise ArmError(400, "VaultNameNotValid",
                       f"The vault name '{target.name}' is invalid: 3-24 letters, digits and hyphens, starting "
                       "with a letter and ending with a letter or digit.")
    props_in = body.get("properties") or {}
    existing = api.s.resources.get(target.key)
    recover = str(props_in.get("createMode", "")).lower() == "recover"
    if existing is None and lname in api.s.deleted_vaults:
        if not recover:
            # Azure's answer (e.g. alan-turing-institute/data-safe-haven#2523, through azure-native)
            raise ArmError(409, "ConflictError",
                           "A vault with the same name already exists in deleted state. You need to either "
                           "recover or purge existing key vault. Follow this link "
                           "https://go.microsoft.com/fwlink/?linkid=2149745 for more information on soft "
                           "delete.")
        deleted = api.s.deleted_vaults.pop(lname)
        res = deleted["resource"]
        res["id"] = target.path
        api.s.resources[target.key] = res
        api.s.secrets.setdefault(lname, {})
        api.s.save()
        return Reply(201, public(res))
    for res in api.s.resources.values():
        if res.get("type", "").lower() == VAULTS and res["name"].lower() == lname and \
                res["id"].lower() != target.key:
            raise ArmError(409, "VaultAlreadyExists", f"The vault name '{target.name}' is already in use.")
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    require_location(body)
    old = (existing or {}).get("properties", {})
    if old.get("enablePurgeProtection") and props_in.get("enablePurgeProtection") is False:
        raise ArmError(400, "BadRequest",
                       'The property "enablePurgeProtection" cannot be set to false. Enabling the purge '
                       "protection for a vault is an irreversible action.")
    if props_in.get("enableSoftDelete") is False:
        raise ArmError(400, "BadRequest", "Soft delete cannot be disabled: it is always on.")
    res = api.base(target, body, existing)
    p = res["properties"]
    p.pop("createMode", None)
    p.setdefault("tenantId", api.s.tenant_id)
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
    p["vaultUri"] = vault_uri(api, target.name)
    p["provisioningState"] = "Succeeded"
    api.s.secrets.setdefault(lname, {})
    return api.store(target, res, existing)


def _soft_delete_vault(api: ArmApi, key: str) -> None:
    res = api.s.resources.get(key)
    if res is None:
        return
    now = time.time()
    days = int(res["properties"].get("softDeleteRetentionInDays", 90))
    api.s.deleted_vaults[res["name"].lower()] = {
        "resource": dict(res), "deletionDate": now,
        "scheduledPurgeDate": now + days * 86400, "location": res.get("location", "")}
    api.remove_tree(key)


def _deleted_vault_view(api: ArmApi, dv: dict[str, Any]) -> dict[str, Any]:
    res = dv["resource"]
    loc = dv["location"]
    return {"id": f"/subscriptions/{api.s.subscription_id}/providers/Microsoft.KeyVault/locations/{loc}/"
                  f"deletedVaults/{res['name']}",
            "name": res["name"], "type": "Microsoft.KeyVault/deletedVaults",
            "properties": {"vaultId": res["id"], "location": loc, "deletionDate": iso(dv["deletionDate"]),
                           "scheduledPurgeDate": iso(dv["scheduledPurgeDate"]), "tags": res.get("tags", {}),
                           "purgeProtectionEnabled": bool(res["properties"].get("enablePurgeProtection"))}}


def _deleted_vault(api: ArmApi, method: str, location: str, name: str, purge: bool) -> Reply:
    sub_id = f"/subscriptions/{api.s.subscription_id}"
    dv = api.s.deleted_vaults.get(name.lower())
    if dv is None or normalize_location(str(dv.get("location", ""))) != normalize_location(location):
        raise ArmError(404, "DeletedVaultNotFound", f"Deleted vault '{name}' not found.")
    if not purge:
        api.authorize(sub_id, "read")
        return Reply(200, _deleted_vault_view(api, dv))
    if method != "POST":
        raise ArmError(405, "MethodNotAllowed", "purge takes POST.")
    api.authorize(sub_id, "write")
    if dv["resource"]["properties"].get("enablePurgeProtection"):
        raise ArmError(409, "ConflictError",
                       f"Vault '{name}' has purge protection enabled and cannot be purged until "
                       f"{iso(dv['scheduledPurgeDate'])}.")
    del api.s.deleted_vaults[name.lower()]
    api.s.secrets.pop(name.lower(), None)
    api.s.save()
    return Reply(200)


# --- secrets ----------------------------------------------------------------------------------------


def _put_vault_secret(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    vault = target.parent.rsplit("/", 1)[-1]
    props = body.get("properties") or {}
    value = props.get("value")
    if not isinstance(value, str):
        raise ArmError(400, "BadRequest", "properties.value is required (a string).")
    existing = api.s.resources.get(target.key)
    store = api.s.secrets.setdefault(vault.lower(), {})
    record = store.get(target.name.lower())
    latest = record["versions"][-1] if record and record["versions"] else None
    attrs = props.get("attributes") or {}
    if existing is not None and latest is not None and latest["value"] == value and \
            latest.get("contentType") == props.get("contentType"):
        return Reply(200, public(existing))
    version = write_secret_version(api.s, vault, target.name, value, content_type=props.get("contentType"),
                                   enabled=attrs.get("enabled", True), tags=body.get("tags"))
    stored_input = copy.deepcopy(body)
    stored_input.get("properties", {}).pop("value", None)
    res = api.base(target, stored_input, existing)
    p = res["properties"]
    uri = vault_uri(api, vault)
    p["secretUri"] = f"{uri}secrets/{target.name}"
    p["secretUriWithVersion"] = f"{uri}secrets/{target.name}/{version['version']}"
    p["attributes"] = {"enabled": version["enabled"], "created": int(version["created"]),
                       "updated": int(version["updated"])}
    return api.store(target, res, existing)


def _delete_vault_secret(api: ArmApi, target: Target, existing: dict[str, Any]) -> Reply | None:
    vault = target.parent.rsplit("/", 1)[-1].lower()
    api.s.secrets.get(vault, {}).pop(target.name.lower(), None)
    return None


PROVIDER = Provider(
    types=(
        ResourceType(VAULTS, put=_put_vault, soft_delete=_soft_delete_vault),
        ResourceType(VAULT_SECRETS, put=_put_vault_secret, delete=_delete_vault_secret),
    ),
    subscription_routes={"microsoft.keyvault": _subscription_routes},
)


# --- keys through ARM (``Keys_CreateIfNotExist``) ---------------------------------------------------
# Shapes: azure-rest-api-specs ``specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01``
# (``keys.json``, example ``createKey.json``). ARM creates a key's first version only: a PUT of an existing
# key returns it unchanged (no new version, whatever the body says); there is no DELETE through ARM. The key
# lives in ARM only: the sandbox serves no Key Vault keys data plane (no encrypt/decrypt).

VAULT_KEYS = "microsoft.keyvault/vaults/keys"
KEY_NAME_RE = re.compile(r"^[a-zA-Z0-9-]{1,127}$")
KEY_TYPES = ("RSA", "RSA-HSM", "EC", "EC-HSM")
RSA_KEY_SIZES = (2048, 3072, 4096)
KEY_OPS = ("encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey", "import", "release")


def _put_vault_key(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    import uuid

    if not KEY_NAME_RE.match(target.name):
        raise ArmError(400, "BadRequest", f"The key name '{target.name}' is invalid: 1-127 letters, digits and "
                       "hyphens.")
    existing = api.s.resources.get(target.key)
    if existing is not None:
        return Reply(200, public(existing))
    props = body.get("properties") or {}
    kty = props.get("kty")
    if kty not in KEY_TYPES:
        raise ArmError(400, "BadRequest", f"properties.kty must be one of {', '.join(KEY_TYPES)}.")
    vault = api.s.resources[target.parent.lower()]
    if kty.endswith("-HSM") and vault["properties"].get("sku", {}).get("name") != "premium":
        raise ArmError(400, "BadRequest", f"Key type {kty} needs a premium vault.")
    ops = props.get("keyOps") or ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
    if any(op not in KEY_OPS for op in ops):
        raise ArmError(400, "BadRequest", f"properties.keyOps must be among {', '.join(KEY_OPS)}.")
    res = api.base(target, body, None)
    res.pop("location", None)
    now = int(time.time())
    version = uuid.uuid4().hex
    uri = vault_uri(api, vault["name"])
    out: dict[str, Any] = {
        "attributes": {"enabled": (props.get("attributes") or {}).get("enabled", True), "created": now,
                       "updated": now, "exportable": False,
                       "recoveryLevel": "Recoverable" if vault["properties"].get("enablePurgeProtection")
                       else "Recoverable+Purgeable"},
        "kty": kty, "keyOps": list(ops),
        "keyUri": f"{uri}keys/{target.name}", "keyUriWithVersion": f"{uri}keys/{target.name}/{version}"}
    if kty.startswith("RSA"):
        size = props.get("keySize") or 2048
        if size not in RSA_KEY_SIZES:
            raise ArmError(400, "BadRequest", f"properties.keySize must be one of {RSA_KEY_SIZES} for RSA keys.")
        out["keySize"] = size
    else:
        out["curveName"] = props.get("curveName") or "P-256"
    res["properties"] = out
    api.s.resources[target.key] = res
    api.s.save()
    return Reply(201, public(res))


def _delete_vault_key(api: ArmApi, target: Target, existing: dict[str, Any]) -> Reply | None:
    return Reply(405, {"error": {"code": "MethodNotAllowed",
                                 "message": "Keys cannot be deleted through ARM: use the Key Vault data plane."}})


PROVIDER = Provider(
    types=(*PROVIDER.types, ResourceType(VAULT_KEYS, put=_put_vault_key, delete=_delete_vault_key)),
    subscription_routes=PROVIDER.subscription_routes,
)
