"""Microsoft.Storage through ARM: storage accounts (name rules, names unique across the sandbox as they are
across Azure), their one blob service (``blobServices/default``, there as soon as the account is) and blob
containers. Management plane only: no blob data plane is served.

Shapes: azure-rest-api-specs ``specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01``
(examples ``StorageAccountCreate.json``, ``BlobServicesPut.json``, ``BlobContainersPut.json``).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry_sandbox.arm import ArmApi

ACCOUNTS = "microsoft.storage/storageaccounts"
BLOB_SERVICES = ACCOUNTS + "/blobservices"
CONTAINERS = BLOB_SERVICES + "/containers"

ACCOUNT_NAME_RE = re.compile(r"^[a-z0-9]{3,24}$")
#: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit.
CONTAINER_NAME_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
KINDS = ("StorageV2", "Storage", "BlobStorage", "BlockBlobStorage", "FileStorage")


def _endpoints(name: str) -> dict[str, str]:
    return {s: f"https://{name}.{s}.core.windows.net/" for s in ("blob", "queue", "table", "file", "dfs", "web")}


def _put_account(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    name = target.name
    if not ACCOUNT_NAME_RE.match(name):
        raise ArmError(400, "AccountNameInvalid",
                       f"{name} is not a valid storage account name. Storage account name must be between 3 and "
                       "24 characters in length and use numbers and lower-case letters only.")
    for res in api.s.resources.values():
        if res.get("type", "").lower() == ACCOUNTS and res["name"] == name and res["id"].lower() != target.key:
            raise ArmError(409, "StorageAccountAlreadyTaken", f"The storage account named {name} is already taken.")
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    require_location(body)
    sku = (body.get("sku") or {}).get("name")
    if not sku or not body.get("kind"):
        raise ArmError(400, "MissingRequiredProperty", "The sku.name and kind properties are required.")
    if body["kind"] not in KINDS:
        raise ArmError(400, "InvalidValuesForRequestParameters", f"Values for request parameters are invalid: kind "
                       f"'{body['kind']}'.")
    old = (existing or {}).get("properties", {})
    res = api.base(target, body, existing)
    p = res["properties"]
    res["sku"] = {"name": sku, "tier": "Premium" if sku.startswith("Premium") else "Standard"}
    p.setdefault("accessTier", "Hot")
    p.setdefault("allowBlobPublicAccess", False)
    p.setdefault("minimumTlsVersion", "TLS1_2")
    p.setdefault("supportsHttpsTrafficOnly", True)
    p.setdefault("allowSharedKeyAccess", True)  # Azure's default when the property is not sent
    p["creationTime"] = old.get("creationTime") or iso(time.time())
    p["primaryEndpoints"] = _endpoints(name)
    p["primaryLocation"] = res["location"]
    p["statusOfPrimary"] = "available"
    p["encryption"] = {"keySource": "Microsoft.Storage",
                       "services": {"blob": {"enabled": True, "keyType": "Account"},
                                    "file": {"enabled": True, "keyType": "Account"}}}
    p["provisioningState"] = "Succeeded"
    api.s.resources[target.key] = res
    service_key = target.key + "/blobservices/default"
    if service_key not in api.s.resources:
        api.s.resources[service_key] = {
            "id": f"{res['id']}/blobServices/default", "name": "default",
            "type": "Microsoft.Storage/storageAccounts/blobServices", "sku": dict(res["sku"]),
            "properties": {"cors": {"corsRules": []}, "deleteRetentionPolicy": {"enabled": False}}}
    api.s.save()
    return Reply(200 if existing else 201, public(res))


def _put_blob_service(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    if target.name != "default":
        raise ArmError(400, "InvalidResourceName", "The blob service of a storage account is named 'default'.")
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    res = api.base(target, body, existing)
    res.pop("location", None)
    account = api.s.resources.get(target.parent.lower(), {})
    res["sku"] = dict(account.get("sku") or {})
    res["properties"].setdefault("cors", {"corsRules": []})
    api.s.resources[target.key] = res
    api.s.save()
    return Reply(200, public(res))


def _put_container(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    if not CONTAINER_NAME_RE.match(target.name):
        raise ArmError(400, "ContainerOperationFailure",
                       f"The specified resource name '{target.name}' is invalid: 3-63 lower-case letters, digits "
                       "and single hyphens, starting and ending with a letter or digit.")
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    account_key = target.parent.lower().rsplit("/blobservices/", 1)[0]
    account = api.s.resources.get(account_key, {})
    access = (body.get("properties") or {}).get("publicAccess") or "None"
    if access != "None" and not account.get("properties", {}).get("allowBlobPublicAccess"):
        raise ArmError(409, "PublicAccessNotPermitted", "Public access is not permitted on this storage account.")
    res = api.base(target, body, existing)
    res.pop("location", None)
    now = iso(time.time())
    p = res["properties"]
    p["publicAccess"] = access
    p.setdefault("defaultEncryptionScope", "$account-encryption-key")
    p.setdefault("denyEncryptionScopeOverride", False)
    p.update({"leaseStatus": "Unlocked", "leaseState": "Available", "lastModifiedTime": now,
              "hasImmutabilityPolicy": False, "hasLegalHold": False, "deleted": False,
              "remainingRetentionDays": 0})
    res["etag"] = f'"0x{int(time.time() * 1e6):X}"'
    return api.store(target, res, existing)


PROVIDER = Provider(types=(
    ResourceType(ACCOUNTS, put=_put_account),
    ResourceType(BLOB_SERVICES, put=_put_blob_service),
    ResourceType(CONTAINERS, put=_put_container),
))
