"""The sandbox's in-memory state, its seed and its optional JSON persistence.

One ``State`` holds everything the sandbox knows: principals, the ARM resource store (keyed by lower-cased
resource id), long-running operations, Key Vault secret stores, soft-deleted vaults and Cognitive Services
accounts, and settings. Every
handler works on it under ``State.lock`` (an ``RLock``) and never across an ``await``.

With ``persist_file`` the state is loaded at start and written (atomically) after each change. The file
holds keys and client secrets: it is a local sandbox file, never logged.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from claude_foundry._azure import arm
from claude_foundry._catalogue import Catalogue, load_catalogue
from claude_foundry._files import write_private
from claude_foundry_sandbox.roles import AZURE_CONTRIBUTOR_GUID

#: Built-in roles the sandbox knows beyond ``arm.ROLE_IDS`` (same GUIDs in every tenant).
EXTRA_ROLE_IDS = {
    "reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "user-access-administrator": "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    "key-vault-administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "key-vault-reader": "21090545-7ca7-4776-b22c-e363652d74d2",
    "cognitive-services-contributor": "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68",
    "cognitive-services-openai-user": "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    # the read-only roles `usage` needs (ci bootstrap grants them to the drift identity)
    "monitoring-reader": arm.MONITORING_READER_ROLE_ID,
    "cost-management-reader": arm.COST_MANAGEMENT_READER_ROLE_ID,
}
ALL_ROLE_IDS = {**arm.ROLE_IDS, **EXTRA_ROLE_IDS}
ROLE_BY_GUID = {guid: name for name, guid in ALL_ROLE_IDS.items()}
ROLE_BY_GUID.setdefault(AZURE_CONTRIBUTOR_GUID, "contributor")  # Azure's own Contributor GUID, too

#: Which roles grant what, by role key.
MANAGE_WRITE_ROLES = frozenset({"owner", "contributor", "cognitive-services-contributor"})
#: Monitoring Reader holds ``*/read`` (Microsoft Learn, "Azure built-in roles"); Cost Management Reader does not.
MANAGE_READ_ROLES = MANAGE_WRITE_ROLES | {"reader", "user-access-administrator", "monitoring-reader"}
ROLE_ASSIGNMENT_WRITE_ROLES = frozenset({"owner", "user-access-administrator"})
KV_SECRET_READ_ROLES = frozenset(arm.SECRET_READER_ROLES) | {"key-vault-administrator"}
KV_SECRET_WRITE_ROLES = frozenset({"key-vault-secrets-officer", "key-vault-administrator"})
KV_SECRET_LIST_ROLES = KV_SECRET_READ_ROLES | {"key-vault-reader"}
FOUNDRY_CALLER_ROLES = frozenset(arm.CLAUDE_CALLER_ROLES)

DEFAULT_QUOTA = 1000  # units of 1,000 tokens per minute, per subscription, location, SKU and model
ROLE_ASSIGNMENTS_TYPE = "microsoft.authorization/roleassignments"
LOCKS_TYPE = "microsoft.authorization/locks"

_KEY_ALPHABET = string.ascii_letters + string.digits


def new_account_key() -> str:
    """A key shaped like a new Azure AI Services key: 84 alphanumeric characters."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(84))


def new_client_secret() -> str:
    return "sbx~" + secrets.token_urlsafe(30)


def load_seed(seed: dict[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """A seed from a dict, or a YAML/JSON file path; validated for shape, not content."""
    if seed is None:
        return {}
    if isinstance(seed, dict):
        data = seed
    else:
        path = Path(seed)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ValueError(f"cannot read seed file {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"seed file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("seed must be a mapping")
    known = {"quota", "default_quota", "models_by_location", "taken_subdomains", "marketplace_agreements",
             "marketplace_default_accepted", "marketplace_unknown_offers", "faults", "provisioning_delay",
             "subscription_quota_id", "deployment_get_omits", "role_propagation_delay", "today"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown seed key(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return data


def _assigned_at(assignment: dict[str, Any]) -> float:
    """When a role assignment was made (epoch seconds): the generic store's ``_sb.created``, else ARM's
    ``properties.createdOn``; 0 (long ago) for assignments seeded directly, without a time."""
    created = assignment.get("_sb", {}).get("created")
    if isinstance(created, int | float):
        return float(created)
    text = str(assignment.get("properties", {}).get("createdOn") or "")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else 0.0
    except ValueError:
        return 0.0


def marketplace_ids(model: str) -> tuple[str, str, str]:
    """The Azure Marketplace publisher, offer and plan of a Claude model's per-model offer (the catalogue's)."""
    for offer in load_catalogue().marketplace_offers:
        ids = offer.ids(model)
        if offer.per_model and ids is not None:
            return ids
    raise LookupError("the catalogue names no per-model Marketplace offer")


def parse_today(value: Any) -> date | None:
    """The sandbox's injected date: None (the real date), a ``date`` or ``YYYY-MM-DD``; ``ValueError`` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"today must be a date YYYY-MM-DD or null (got {str(value)[:40]!r})")


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


class State:
    def __init__(self, *, seed: dict[str, Any], persist_file: str | os.PathLike[str] | None,
                 provisioning_delay: float, tenant_id: str | None = None, subscription_id: str | None = None,
                 catalogue: Catalogue | None = None) -> None:
        self.lock = threading.RLock()
        self.catalogue = catalogue or load_catalogue()
        self.persist_file = Path(persist_file) if persist_file else None
        self.origin = ""  # set by the server once the port is known
        # Persistent part.
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.subscription_id = subscription_id or str(uuid.uuid4())
        self.token_key = secrets.token_bytes(32)
        self.principals: dict[str, dict[str, Any]] = {}  # client_id -> principal
        self.resources: dict[str, dict[str, Any]] = {}  # lower-cased id -> resource (with "_sb" internals)
        self.operations: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, dict[str, Any]]] = {}  # vault -> name -> secret record
        self.deleted_vaults: dict[str, dict[str, Any]] = {}
        #: soft-deleted Cognitive Services accounts, by lower-cased account id (Azure keeps them 48 h)
        self.deleted_accounts: dict[str, dict[str, Any]] = {}
        self.marketplace: dict[str, bool] = {}
        #: what the Foundry endpoint served, per account, deployment and UTC day (``traffic.py``; bounded)
        self.traffic: dict[str, dict[str, Any]] = {}
        #: virtual networks (lower-cased ids) the sandbox's callers are inside, as a self-hosted runner in the VNet
        #: would be: they reach a resource with public access disabled through its approved private endpoint in
        #: one of them. Empty (the default): every caller is outside every network. Not persisted.
        self.inside_networks: set[str] = set()
        self.main_client_id = ""
        # Settings and seed (not persisted: the seed is applied at every start).
        self.provisioning_delay = float(seed.get("provisioning_delay", provisioning_delay) or 0.0)
        self.quota: dict[str, int] = {}
        for k, v in (seed.get("quota") or {}).items():
            self.quota[self.usage_name_from_seed_key(str(k))] = int(v)
        self.default_quota = int(seed.get("default_quota", DEFAULT_QUOTA))
        #: subscriptionPolicies.quotaId of the sandbox's subscription (eligibility: CSP, trial, credit-only ...)
        self.subscription_quota_id = str(seed.get("subscription_quota_id") or "PayAsYouGo_2014-09-01")
        #: deployment properties GET leaves out (whether Azure echoes modelProviderData is unverified)
        self.deployment_get_omits = [str(x) for x in (seed.get("deployment_get_omits") or [])]
        #: seconds before a new role assignment takes effect on the data planes (Azure: minutes)
        self.role_propagation_delay = float(seed.get("role_propagation_delay") or 0.0)
        #: the sandbox's today for the model lifecycle (None: the real date); seed ``today`` or the admin settings
        self.today: date | None = parse_today(seed.get("today"))
        self.models_by_location: dict[str, list[str]] = {
            normalize_location(k): list(v) for k, v in (seed.get("models_by_location") or {}).items()}
        self.taken_subdomains = {s.lower() for s in (seed.get("taken_subdomains") or [])}
        self.marketplace_seed = {str(k).lower(): bool(v)
                                 for k, v in (seed.get("marketplace_agreements") or {}).items()}
        self.marketplace_default = bool(seed.get("marketplace_default_accepted", True))
        self.marketplace_unknown = {self._marketplace_key(str(k))
                                    for k in (seed.get("marketplace_unknown_offers") or [])}
        self.marketplace_offers = {*(self._marketplace_key("/".join(marketplace_ids(m)))
                                     for m in self.catalogue.models),
                                   *self.marketplace_seed} - self.marketplace_unknown
        self.loaded = False
        if self.persist_file and self.persist_file.is_file():
            self._load(tenant_id, subscription_id)
            self.loaded = True
        if not self.main_client_id:
            main = self.add_principal("claude-foundry sandbox deployer", save=False)
            self.main_client_id = main["client_id"]
            self.add_role_assignment(f"/subscriptions/{self.subscription_id}", main["object_id"], "owner")
        self.save()

    # --- persistence ------------------------------------------------------------------------------

    def _load(self, tenant_id: str | None, subscription_id: str | None) -> None:
        assert self.persist_file is not None
        try:
            data = json.loads(self.persist_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load sandbox persist file {self.persist_file}: {exc}") from None
        if tenant_id and tenant_id != data.get("tenant_id"):
            raise ValueError("persist file belongs to another tenant id")
        if subscription_id and subscription_id != data.get("subscription_id"):
            raise ValueError("persist file belongs to another subscription id")
        self.tenant_id = data["tenant_id"]
        self.subscription_id = data["subscription_id"]
        self.token_key = base64.b64decode(data["token_key"])
        self.principals = data.get("principals", {})
        self.main_client_id = data.get("main_client_id", "")
        self.resources = data.get("resources", {})
        self.operations = data.get("operations", {})
        self.secrets = data.get("secrets", {})
        self.deleted_vaults = data.get("deleted_vaults", {})
        self.deleted_accounts = data.get("deleted_accounts", {})
        self.marketplace = data.get("marketplace", {})
        self.traffic = data.get("traffic", {})
        self._persisted_origin = data.get("origin", "")

    def set_origin(self, origin: str) -> None:
        """Set where the sandbox answers; URLs stored under an earlier origin (vaultUri...) follow it."""
        with self.lock:
            old = getattr(self, "_persisted_origin", "") or self.origin
            self.origin = origin
            if old and old != origin:
                self.resources = json.loads(json.dumps(self.resources).replace(old, origin))
                self.deleted_vaults = json.loads(json.dumps(self.deleted_vaults).replace(old, origin))
                self.deleted_accounts = json.loads(json.dumps(self.deleted_accounts).replace(old, origin))
            self._persisted_origin = origin
            self.save()

    def save(self) -> None:
        if not self.persist_file:
            return
        with self.lock:
            data = {
                "format": "claude-foundry-sandbox-state/1",
                "tenant_id": self.tenant_id,
                "subscription_id": self.subscription_id,
                "token_key": base64.b64encode(self.token_key).decode(),
                "main_client_id": self.main_client_id,
                "principals": self.principals,
                "resources": self.resources,
                "operations": self.operations,
                "secrets": self.secrets,
                "deleted_vaults": self.deleted_vaults,
                "deleted_accounts": self.deleted_accounts,
                "marketplace": self.marketplace,
                "traffic": self.traffic,
                "origin": self.origin,
            }
            text = json.dumps(data, indent=1, sort_keys=True)
        self.persist_file.parent.mkdir(parents=True, exist_ok=True)
        # 0600 (it holds keys and client secrets), atomic; not synced: it is saved after every change
        write_private(self.persist_file, text, sync=False)

    # --- principals and roles ---------------------------------------------------------------------

    def add_principal(self, display_name: str | None = None, *, save: bool = True) -> dict[str, Any]:
        with self.lock:
            principal = {
                "client_id": str(uuid.uuid4()),
                "client_secret": new_client_secret(),
                "object_id": str(uuid.uuid4()),
                "display_name": display_name or "sandbox principal",
            }
            self.principals[principal["client_id"]] = principal
            if save:
                self.save()
            return dict(principal)

    def reached_privately(self, resource_id: str) -> bool:
        """True when the callers are inside a virtual network (:attr:`inside_networks`) holding an approved private
        endpoint to ``resource_id``: its traffic comes through Private Link, so public network rules do not apply."""
        if not self.inside_networks:
            return False
        target = resource_id.lower()
        with self.lock:
            for res in self.resources.values():
                if res.get("type", "").lower() != "microsoft.network/privateendpoints":
                    continue
                props = res.get("properties") or {}
                subnet = str((props.get("subnet") or {}).get("id") or "").lower()
                if subnet.rsplit("/subnets/", 1)[0] not in self.inside_networks:
                    continue
                for conn in props.get("privateLinkServiceConnections") or []:
                    cprops = conn.get("properties") or {}
                    state = (cprops.get("privateLinkServiceConnectionState") or {}).get("status")
                    if str(cprops.get("privateLinkServiceId") or "").lower() == target and state == "Approved":
                        return True
        return False

    def principal_by_object_id(self, object_id: str) -> dict[str, Any] | None:
        for p in self.principals.values():
            if p["object_id"] == object_id:
                return p
        return None

    @property
    def main_principal(self) -> dict[str, Any]:
        return self.principals[self.main_client_id]

    def add_role_assignment(self, scope: str, principal_id: str, role: str,
                            name: str | None = None) -> dict[str, Any]:
        """Grant ``role`` (a key of ``arm.ROLE_IDS``/``EXTRA_ROLE_IDS`` or a role GUID) directly."""
        guid = ALL_ROLE_IDS.get(role, role)
        scope = scope.rstrip("/")
        ra_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name or uuid.uuid4()}"
        body = {
            "id": ra_id,
            "name": ra_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {
                "roleDefinitionId": f"/subscriptions/{self.subscription_id}/providers/"
                                    f"Microsoft.Authorization/roleDefinitions/{guid}",
                "principalId": principal_id,
                "principalType": "ServicePrincipal",
                "scope": scope,
            },
        }
        with self.lock:
            self.resources[ra_id.lower()] = body
            self.save()
        return body

    def roles_of(self, object_id: str, resource_id: str, *, data_plane: bool = False) -> set[str]:
        """Role keys (or raw GUIDs) ``object_id`` holds on ``resource_id`` (assigned there or above).

        ``data_plane=True`` (the Foundry endpoint, Key Vault secrets) leaves out assignments younger than the
        seed's ``role_propagation_delay``: in Azure a fresh assignment takes minutes to reach the data planes."""
        target = resource_id.lower().rstrip("/")
        cutoff = time.time() - self.role_propagation_delay if data_plane and self.role_propagation_delay > 0 \
            else None
        out: set[str] = set()
        for res in self.resources.values():
            if res.get("type", "").lower() != ROLE_ASSIGNMENTS_TYPE:
                continue
            props = res.get("properties", {})
            if props.get("principalId") != object_id:
                continue
            if cutoff is not None and _assigned_at(res) > cutoff:
                continue
            scope = str(props.get("scope", "")).lower().rstrip("/")
            if scope and (target == scope or target.startswith(scope + "/")):
                guid = str(props.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower()
                out.add(ROLE_BY_GUID.get(guid, guid))
        return out

    # --- quota, catalogue -------------------------------------------------------------------------

    @staticmethod
    def usage_name(sku: str, model: str) -> str:
        return f"AIServices.{sku}.{model}"

    def usage_name_from_seed_key(self, key: str) -> str:
        if key.startswith("AIServices."):
            return key
        if "/" in key:
            sku, model = key.split("/", 1)
            return self.usage_name(sku, model)
        raise ValueError(f"quota key {key!r}: write 'SKU/model' or 'AIServices.SKU.model'")

    def quota_limit(self, sku: str, model: str) -> int:
        return self.quota.get(self.usage_name(sku, model), self.default_quota)

    def models_in(self, location: str) -> list[str]:
        loc = normalize_location(location)
        if loc in self.models_by_location:
            return list(self.models_by_location[loc])
        return [name for name, m in self.catalogue.models.items() if loc in m.locations]

    def versions_in(self, model: str, location: str) -> list[str]:
        """The versions of ``model`` offered in ``location`` (the catalogue's, or all when the seed's
        ``models_by_location`` lists the model there)."""
        info = self.catalogue.models.get(model)
        if info is None or model not in self.models_in(location):
            return []
        loc = normalize_location(location)
        if loc in self.models_by_location:
            return list(info.versions)
        return [v for v, vi in info.versions.items() if loc in (vi.locations or ())]

    def skus_in(self, location: str, model: str | None = None, version: str | None = None) -> list[str]:
        """SKUs offered in ``location`` (by geography), narrowed to a model version's when given."""
        loc = normalize_location(location)
        offered = [s for s in self.catalogue.skus if loc in self.catalogue.sku_locations(s)]
        info = self.catalogue.models.get(model) if model else None
        vinfo = info.version_info(version) if info and version else None
        return [s for s in offered if vinfo is None or s in vinfo.skus]

    @staticmethod
    def _marketplace_key(key: str) -> str:
        parts = [p.strip().lower() for p in key.split("/")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"marketplace offer {key!r}: write 'publisher/offer/plan'")
        return "/".join(parts)

    def marketplace_unknown_part(self, publisher: str, offer: str, plan: str) -> str | None:
        """``None`` when the Marketplace knows publisher/offer/plan, else ``"offer"`` or ``"plan"``."""
        key = f"{publisher}/{offer}/{plan}".lower()
        if key in self.marketplace_offers:
            return None
        prefix = f"{publisher}/{offer}/".lower()
        return "plan" if any(k.startswith(prefix) for k in self.marketplace_offers) else "offer"

    def marketplace_accepted(self, key: str) -> bool:
        key = key.lower()
        if key in self.marketplace:
            return self.marketplace[key]
        return self.marketplace_seed.get(key, self.marketplace_default)

    # --- operations -------------------------------------------------------------------------------

    def today_date(self) -> date:
        """Today for the model lifecycle: the injected date (seed or admin ``today``), else the real one."""
        return self.today or date.today()

    def tick(self) -> None:
        """Finish the long-running operations whose time has come."""
        now = time.time()
        changed = False
        with self.lock:
            for op in self.operations.values():
                if op["status"] != "InProgress" or op["ready_at"] > now:
                    continue
                changed = True
                op["status"] = "Succeeded"
                op["end_time"] = now
                res = self.resources.get(op["resource_key"])
                if op["kind"] == "delete":
                    if res is not None:
                        self.resources.pop(op["resource_key"], None)
                elif op["kind"] == "purge":
                    self.deleted_accounts.pop(op["resource_key"], None)
                elif res is not None:
                    res.setdefault("properties", {})["provisioningState"] = "Succeeded"
            # Forget finished operations after an hour.
            old = [k for k, op in self.operations.items()
                   if op["status"] != "InProgress" and op.get("end_time", now) < now - 3600]
            for k in old:
                del self.operations[k]
                changed = True
        if changed:
            self.save()

    def start_operation(self, resource_key: str, kind: str, location: str, namespace: str) -> dict[str, Any]:
        op_id = str(uuid.uuid4())
        now = time.time()
        op = {"id": op_id, "resource_key": resource_key, "kind": kind, "status": "InProgress",
              "start_time": now, "ready_at": now + self.provisioning_delay, "location": location,
              "namespace": namespace}
        self.operations[op_id] = op
        return op

    def busy(self, key_prefix: str) -> bool:
        """Is a write in flight on the resource ``key_prefix`` or one of its children?"""
        for op in self.operations.values():
            if op["status"] == "InProgress" and (
                    op["resource_key"] == key_prefix or op["resource_key"].startswith(key_prefix + "/")):
                return True
        return False

    # --- summaries --------------------------------------------------------------------------------

    def accounts(self) -> list[dict[str, Any]]:
        return [r for r in self.resources.values()
                if r.get("type", "").lower() == "microsoft.cognitiveservices/accounts"]

    def account_by_subdomain(self, subdomain: str) -> dict[str, Any] | None:
        sub = subdomain.lower()
        for acc in self.accounts():
            if str(acc.get("properties", {}).get("customSubDomainName", "")).lower() == sub:
                return acc
        return None

    def deployments_of(self, account_key: str) -> list[dict[str, Any]]:
        prefix = account_key + "/deployments/"
        return [r for k, r in self.resources.items() if k.startswith(prefix) and k.count("/") == prefix.count("/")]

    def summary(self) -> dict[str, Any]:
        """A view for humans and tests: no keys, tokens or secret values."""
        with self.lock:
            by_type: dict[str, list[str]] = {}
            for r in self.resources.values():
                by_type.setdefault(r.get("type", "?"), []).append(r.get("id", "?"))
            return {
                "tenant_id": self.tenant_id,
                "subscription_id": self.subscription_id,
                "principals": [{"client_id": p["client_id"], "object_id": p["object_id"],
                                "display_name": p["display_name"]} for p in self.principals.values()],
                "resources": {t: sorted(ids) for t, ids in sorted(by_type.items())},
                "operations_in_progress": sum(1 for o in self.operations.values()
                                              if o["status"] == "InProgress"),
                "vault_secrets": {v: sorted(s["name"] for s in store.values())
                                  for v, store in self.secrets.items()},
                "deleted_vaults": sorted(self.deleted_vaults),
                "deleted_accounts": sorted(r["resource"]["id"] for r in self.deleted_accounts.values()),
                "provisioning_delay": self.provisioning_delay,
            }
