"""``ci bootstrap``: the Azure side of a repository's CI, made through ARM (what teams otherwise click together).

What it makes, in one platform resource group:

* a user-assigned managed identity per GitHub environment (``<identity>-<env>``) trusting only
  ``repo:OWNER/REPO:environment:<env>``: the deploy identity of that environment, with Contributor and Role Based
  Access Control Administrator (User Access Administrator when the stack has ``protect: true``: locks) on that
  environment's stack resource group only;
* a preview identity (``<identity>-preview``) trusting ``repo:OWNER/REPO:pull_request``, with Reader and
  Cognitive Services User (``listKeys``) on the stack resource groups;
* a drift identity (``<identity>-drift``) trusting ``repo:OWNER/REPO:ref:refs/heads/main`` (the scheduled
  ``verify`` and the weekly ``usage`` summary), with Reader, Cognitive Services User, Key Vault Secrets User,
  Monitoring Reader and Cost Management Reader on the stack resource groups;
* a storage account (no public blob access, no shared keys, TLS 1.2, blob versioning and soft delete) and a blob
  container for the Pulumi state (Storage Blob Data Contributor for the deploy and preview identities, on the
  container only);
* a Key Vault (RBAC, purge protection) and an RSA key for Pulumi's secrets provider (Key Vault Crypto User for
  the deploy and preview identities, on the key only);
* the stack resource groups themselves, so that the roles are scoped to them, not the subscription.

Managed identities need no Microsoft Graph permission (an app registration would): whoever runs this needs
Owner, or Contributor plus Role Based Access Control Administrator, on the subscription.

Everything is looked up first: :func:`inspect` says for each resource and role assignment whether it exists, will
be created or updated (``--dry-run`` stops there); :func:`apply` then writes only what is missing or differs, so a
second run changes nothing. Role assignment names are deterministic (``arm.ci_role_assignment_name``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from claude_foundry._azure import arm
from claude_foundry._errors import ArgumentProblem, InvalidArgument, UserError

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
#: Azure's limit of federated identity credentials per identity.
MAX_FEDERATED_CREDENTIALS = 20
PREVIEW = "preview"
DRIFT = "drift"
DEFAULT_ENVIRONMENTS = ("dev", "prod")
DEFAULT_CONTAINER = "pulumi-state"
DEFAULT_KEY_NAME = "pulumi-secrets"
TAGS_KEY = "managed-by"

EXISTS, CREATE, UPDATE = "exists", "create", "update"

# --- names, as Azure (and GitHub) allow them, by the field of BootstrapConfig they go in -------------

_RULES: dict[str, tuple[str, str]] = {
    "repo": (r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$",
               "OWNER/REPO, as GitHub spells them"),
    "resource_group": (r"^[-\w._()]{0,89}[-\w_()]$", "1-90 letters, digits, '-', '_', '.', '(', ')', not "
                         "ending in '.'"),
    "location": (r"^[a-z][a-z0-9]{1,39}$", "an Azure region name such as eastus2"),
    "identity_name": (r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$", "3-120 letters, digits, '-' and '_', starting with "
                        "a letter or digit (an environment or 'preview' is appended)"),
    "storage_account": (r"^[a-z0-9]{3,24}$", "3-24 lower-case letters and digits"),
    "container": (r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$", "3-63 lower-case letters, digits and single "
                    "hyphens, starting and ending with a letter or digit"),
    "key_vault": (r"^(?=.{3,24}$)[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$", "3-24 letters, digits and "
                    "single hyphens, starting with a letter and ending with a letter or digit"),
    "key_name": (r"^[a-zA-Z0-9-]{1,127}$", "1-127 letters, digits and hyphens"),
    "environments": (r"^[A-Za-z0-9_.-]{1,255}$", "GitHub environment names: letters, digits, '-', '_', '.'"),
}


def name_problem(field: str, value: str) -> ArgumentProblem | None:
    """Why ``value`` is not allowed in the :class:`BootstrapConfig` field ``field`` (``None`` when it is)."""
    pattern, words = _RULES[field]
    if re.match(pattern, value):
        return None
    return ArgumentProblem(field, f": '{value}' is not allowed ({words})")


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _digest(repo: str) -> str:
    return hashlib.sha256(repo.lower().encode()).hexdigest()[:8]


@dataclass(frozen=True)
class BootstrapConfig:
    """What to make. ``deploy_resource_groups`` maps each environment to its stack's resource group;
    ``protected`` names the environments whose stack has ``protect: true`` (their deploy identity places locks).
    Unset names default from the repository (storage account and vault names are global: a digest of the
    repository keeps them unique and stable)."""

    repo: str
    resource_group: str
    location: str
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    deploy_resource_groups: dict[str, str] = field(default_factory=dict)
    protected: frozenset[str] = frozenset()
    identity_name: str | None = None
    storage_account: str | None = None
    container: str = DEFAULT_CONTAINER
    key_vault: str | None = None
    key_name: str = DEFAULT_KEY_NAME

    @property
    def identity(self) -> str:
        return self.identity_name or f"id-{_slug(self.repo.split('/')[-1])[:80]}-ci"

    @property
    def account(self) -> str:
        return self.storage_account or f"stpulumi{_digest(self.repo)}"

    @property
    def vault(self) -> str:
        return self.key_vault or f"kv-pulumi-{_digest(self.repo)}"

    def identity_of(self, environment: str) -> str:
        return f"{self.identity}-{_slug(environment)}"

    def problems(self) -> list[ArgumentProblem]:
        """Every field that breaks Azure's (or GitHub's) rules, each naming the field (``storage_account``)."""
        out = []
        for name, value in (("repo", self.repo), ("resource_group", self.resource_group),
                            ("location", normalize_location(self.location)), ("identity_name", self.identity),
                            ("storage_account", self.account), ("container", self.container),
                            ("key_vault", self.vault), ("key_name", self.key_name)):
            problem = name_problem(name, value)
            if problem:
                out.append(problem)
        if not self.environments:
            out.append(ArgumentProblem("environments", ": name at least one GitHub environment"))
        if len(set(self.environments)) != len(self.environments):
            out.append(ArgumentProblem("environments", ": an environment is named twice"))
        for env in self.environments:
            problem = name_problem("environments", env)
            if problem:
                out.append(problem)
            elif env in (PREVIEW, DRIFT):
                out.append(ArgumentProblem("environments", f": '{env}' names an identity of its own; pick another "
                                                           "environment name"))
            rg = self.deploy_resource_groups.get(env)
            if rg is None:
                out.append(ArgumentProblem("deploy_resource_groups", f": no resource group for environment '{env}' "
                                                                     f"(pass {env}=RG, or keep stacks/{env}.yaml)"))
            elif name_problem("resource_group", rg):
                out.append(ArgumentProblem("deploy_resource_groups", f": '{rg}' of environment '{env}' is not "
                                                                     f"allowed ({_RULES['resource_group'][1]})"))
        for env in (*self.environments, PREVIEW, DRIFT):
            if len(self.identity_of(env)) > 128:
                out.append(ArgumentProblem("identity_name", f": '{self.identity_of(env)}' is longer than 128 "
                                                            "characters"))
        return out


def stack_facts(stacks_dir: str | Path, environments: tuple[str, ...]) -> tuple[dict[str, str], set[str]]:
    """The resource group (and whether ``protect`` is set) of each ``<stacks_dir>/<env>.yaml`` that exists."""
    from claude_foundry.program.spec import load_spec

    groups: dict[str, str] = {}
    protected: set[str] = set()
    for env in environments:
        path = Path(stacks_dir) / f"{env}.yaml"
        if path.is_file():
            spec = load_spec(path)
            groups[env] = spec.resource_group
            if spec.protect:
                protected.add(env)
    return groups, protected


# --- the plan: resources and role assignments ------------------------------------------------------


@dataclass
class Item:
    """One ARM resource to exist. ``checks``: dotted paths whose live value must equal the body's."""

    kind: str
    name: str
    arm_id: str
    api_version: str
    body: dict[str, Any]
    why: str
    checks: tuple[str, ...] = ()
    action: str | None = None
    differs: list[str] = field(default_factory=list)
    live: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.arm_id, "action": self.action,
                "differs": self.differs, "why": self.why}


@dataclass
class Grant:
    """One role assignment: ``role`` (a key of ``arm.CI_ROLE_IDS``) for the identity named ``identity``."""

    identity: str
    role: str
    scope: str
    scope_label: str
    why: str
    principal_id: str | None = None
    action: str | None = None

    @property
    def role_guid(self) -> str:
        return arm.CI_ROLE_IDS[self.role]

    @property
    def name(self) -> str | None:
        if self.principal_id is None:
            return None
        return arm.ci_role_assignment_name(self.scope, self.role_guid, self.principal_id)

    def to_json(self) -> dict[str, Any]:
        return {"identity": self.identity, "role": arm.CI_ROLE_NAMES[self.role], "role_id": self.role_guid,
                "scope": self.scope, "principal_id": self.principal_id, "name": self.name,
                "action": self.action, "why": self.why}


@dataclass
class Bootstrap:
    config: BootstrapConfig
    subscription_id: str
    items: list[Item]
    grants: list[Grant]
    tenant_id: str | None = None
    dry_run: bool = True

    def item(self, arm_id: str) -> Item:
        return next(i for i in self.items if i.arm_id == arm_id)

    def identities(self) -> dict[str, Item]:
        return {i.name: i for i in self.items if i.kind == "managed identity"}

    def client_id(self, identity: str) -> str | None:
        live = self.identities()[identity].live
        return (live or {}).get("properties", {}).get("clientId")

    def changes(self) -> int:
        everything: list[Item | Grant] = [*self.items, *self.grants]
        return sum(1 for x in everything if x.action != EXISTS)

    def github(self) -> list[dict[str, str]]:
        """The GitHub secrets (or variables) the workflows read, with where to set them."""
        c = self.config
        pending = "(known once created)"
        preview, drift = c.identity_of(PREVIEW), c.identity_of(DRIFT)
        rows = [{"name": "AZURE_CLIENT_ID", "where": f"environment {env}",
                 "value": self.client_id(c.identity_of(env)) or pending,
                 "what": f"client id of {c.identity_of(env)}"} for env in c.environments]
        rows += [
            {"name": "AZURE_CLIENT_ID", "where": "repository", "value": self.client_id(preview) or pending,
             "what": f"client id of {preview} (pull-request previews)"},
            {"name": "AZURE_DRIFT_CLIENT_ID", "where": "repository", "value": self.client_id(drift) or pending,
             "what": f"client id of {drift} (drift.yml, on main)"},
            {"name": "AZURE_TENANT_ID", "where": "repository", "value": self.tenant_id or pending,
             "what": "Entra tenant of the subscription"},
            {"name": "AZURE_SUBSCRIPTION_ID", "where": "repository", "value": self.subscription_id,
             "what": "subscription to deploy into"},
            {"name": "PULUMI_STATE_STORAGE_ACCOUNT", "where": "repository", "value": c.account,
             "what": "storage account of the state (AZURE_STORAGE_ACCOUNT)"},
            {"name": "PULUMI_STATE_CONTAINER", "where": "repository", "value": c.container,
             "what": "blob container of the state"},
            {"name": "PULUMI_BACKEND_URL", "where": "repository (variable)",
             "value": f"azblob://{c.container}?storage_account={c.account}",
             "what": "the state backend, read by the Pulumi CLI instead of `pulumi login`"},
            {"name": "PULUMI_SECRETS_PROVIDER", "where": "repository (variable)",
             "value": f"azurekeyvault://{c.vault}.vault.azure.net/keys/{c.key_name}",
             "what": "`pulumi stack init <env> --secrets-provider=...`"},
        ]
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "subscription_id": self.subscription_id, "tenant_id": self.tenant_id,
                "changes": self.changes(), "resources": [i.to_json() for i in self.items],
                "role_assignments": [g.to_json() for g in self.grants], "github": self.github(),
                "notes": self.notes()}

    def notes(self) -> list[str]:
        groups = ", ".join(sorted({self.config.deploy_resource_groups[e] for e in self.config.environments}))
        return [f"stacks/<env>.yaml: set `create_resource_group: false` ({groups} are made here; the deploy "
                "identities may not create resource groups)",
                "the vault has purge protection: after a delete the secrets-provider key stays recoverable, "
                "and cannot be purged, for 90 days (losing it would lose every stack secret)",
                "set AZURE_CLIENT_ID per GitHub environment: the environment's value overrides the repository's "
                "in the deploy jobs"]


def plan_bootstrap(config: BootstrapConfig, subscription_id: str) -> Bootstrap:
    """Every resource and role assignment ``config`` asks for (nothing read yet: actions unknown)."""
    problems = config.problems()
    if problems:
        raise InvalidArgument(*problems)
    c, sub = config, subscription_id
    loc = normalize_location(c.location)
    tags = {TAGS_KEY: "claude-foundry ci bootstrap", "repository": c.repo}
    rg_version = arm.API_VERSIONS[arm.RESOURCE_GROUP]
    mi, st, kv = arm.MANAGED_IDENTITY_API_VERSION, arm.STORAGE_API_VERSION, arm.KEY_VAULT_API_VERSION
    items: list[Item] = []
    groups = dict.fromkeys([c.resource_group, *(c.deploy_resource_groups[e] for e in c.environments)])
    for rg in groups:
        why = "holds the CI identities, the state storage and the secrets key" if rg == c.resource_group else \
            "a stack's resource group, so its deploy roles are scoped to it"
        items.append(Item("resource group", rg, arm.resource_group_id(sub, rg), rg_version,
                          {"location": loc, "tags": tags}, why))
    subjects: dict[str, list[tuple[str, str]]] = {
        c.identity_of(env): [(f"github-env-{_slug(env)}", f"repo:{c.repo}:environment:{env}")]
        for env in c.environments}
    subjects[c.identity_of(PREVIEW)] = [("github-pull-request", f"repo:{c.repo}:pull_request")]
    subjects[c.identity_of(DRIFT)] = [("github-main", f"repo:{c.repo}:ref:refs/heads/main")]
    for identity, creds in subjects.items():
        iid = arm.identity_id(sub, c.resource_group, identity)
        env = identity[len(c.identity) + 1:]
        why = {PREVIEW: "pull-request previews (pulumi preview, preflight): reads",
               DRIFT: "the scheduled drift check (verify) and usage summary on main: reads"}.get(
                   env, f"deploys environment {env}")
        items.append(Item("managed identity", identity, iid, mi, {"location": loc, "tags": tags}, why,
                          ("location",)))
        if len(creds) > MAX_FEDERATED_CREDENTIALS:  # pragma: no cover - two at most today
            raise UserError(f"{identity}: more than {MAX_FEDERATED_CREDENTIALS} federated credentials")
        for cred, subject in creds:
            items.append(Item(
                "federated credential", f"{identity}/{cred}", f"{iid}/federatedIdentityCredentials/{cred}", mi,
                {"properties": {"issuer": GITHUB_ISSUER, "subject": subject, "audiences": [GITHUB_AUDIENCE]}},
                f"trusts GitHub's OIDC token for {subject}",
                ("properties.issuer", "properties.subject", "properties.audiences")))
    account_id = arm.storage_account_id(sub, c.resource_group, c.account)
    account_props = {"allowBlobPublicAccess": False, "allowSharedKeyAccess": False, "minimumTlsVersion": "TLS1_2",
                     "supportsHttpsTrafficOnly": True}
    items.append(Item("storage account", c.account, account_id, st,
                      {"location": loc, "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "tags": tags,
                       "properties": account_props},
                      "Pulumi state; Entra ID only (no shared keys), no public blobs",
                      ("kind", "sku.name", *(f"properties.{k}" for k in account_props))))
    service = {"isVersioningEnabled": True, "deleteRetentionPolicy": {"enabled": True, "days": 30},
               "containerDeleteRetentionPolicy": {"enabled": True, "days": 30}}
    items.append(Item("blob service", f"{c.account}/default", f"{account_id}/blobServices/default", st,
                      {"properties": service}, "versioning and soft delete: an overwritten or deleted state "
                      "can be restored", tuple(f"properties.{k}" for k in service)))
    container_id = arm.blob_container_id(sub, c.resource_group, c.account, c.container)
    items.append(Item("blob container", f"{c.account}/{c.container}", container_id, st,
                      {"properties": {"publicAccess": "None"}}, "`pulumi login azblob://...`: one state file per "
                      "stack", ("properties.publicAccess",)))
    vault_id = arm.vault_id(sub, c.resource_group, c.vault)
    vault_props = {"enableRbacAuthorization": True, "enablePurgeProtection": True}
    items.append(Item("key vault", c.vault, vault_id, kv,
                      {"location": loc, "tags": tags,
                       "properties": {"tenantId": "", "sku": {"family": "A", "name": "standard"},
                                      "softDeleteRetentionInDays": 90, **vault_props}},
                      "holds the secrets-provider key (RBAC, purge protection)",
                      tuple(f"properties.{k}" for k in vault_props)))
    key_id = f"{vault_id}/keys/{c.key_name}"
    items.append(Item("key", f"{c.vault}/{c.key_name}", key_id, kv,
                      {"properties": {"kty": "RSA", "keySize": 2048, "keyOps": ["encrypt", "decrypt"]}},
                      "Pulumi's secrets provider (azurekeyvault://) encrypts the stacks' secrets with it"))
    return Bootstrap(config, sub, items, _grants(c, sub, container_id, key_id))


def _grants(c: BootstrapConfig, sub: str, container_id: str, key_id: str) -> list[Grant]:
    state = f"container {c.account}/{c.container}"
    key = f"key {c.vault}/{c.key_name}"
    out: list[Grant] = []
    for env in c.environments:
        who, rg = c.identity_of(env), c.deploy_resource_groups[env]
        scope, label = arm.resource_group_id(sub, rg), f"resource group {rg}"
        out.append(Grant(who, "contributor", scope, label, "pulumi up creates, changes and deletes the stack's "
                         "resources; nothing outside its resource group"))
        if env in c.protected:
            out.append(Grant(who, "user-access-administrator", scope, label, "the stack assigns roles (access, "
                             "deployer_access) and, with protect: true, places locks (Microsoft.Authorization/"
                             "locks/write, which Role Based Access Control Administrator lacks)"))
        else:
            out.append(Grant(who, "role-based-access-control-administrator", scope, label, "the stack assigns "
                             "roles (access.claude_users, secret_readers, deployer_access)"))
        out.append(Grant(who, "storage-blob-data-contributor", container_id, state, "reads and writes the stack's "
                         "state and its lock"))
        out.append(Grant(who, "key-vault-crypto-user", key_id, key, "encrypts and decrypts the stack's secrets"))
    preview, drift = c.identity_of(PREVIEW), c.identity_of(DRIFT)
    for env in c.environments:
        rg = c.deploy_resource_groups[env]
        scope, label = arm.resource_group_id(sub, rg), f"resource group {rg}"
        out.append(Grant(preview, "reader", scope, label, f"pulumi preview and preflight read the {env} stack"))
        out.append(Grant(preview, "cognitive-services-user", scope, label, "listKeys on the account: the program "
                         "reads the key during preview (the role also lets it call the models)"))
        out.append(Grant(drift, "reader", scope, label, f"verify reads the {env} stack's resources"))
        out.append(Grant(drift, "cognitive-services-user", scope, label, "listKeys: verify compares the exported "
                         "key with the account's (the role also lets it call the models)"))
        out.append(Grant(drift, "key-vault-secrets-user", scope, label, "verify reads the contract secrets of the "
                         "stack's vault"))
        # usage (the weekly summary): read-only; Cost Management answers at a resource group's scope
        # (learn.microsoft.com "Understand and work with scopes": Cost Management works at every scope above
        # resources, resource groups included), so the subscription is not needed
        out.append(Grant(drift, "monitoring-reader", scope, label, "usage reads the accounts' metrics (requests, "
                         "tokens, throttling, latency) for the weekly summary"))
        out.append(Grant(drift, "cost-management-reader", scope, label, "usage reads the resource group's cost "
                         "(Cost Management query and forecast) for the weekly summary"))
    who = preview
    out.append(Grant(who, "storage-blob-data-contributor", container_id, state, "pulumi preview reads the state "
                     "and takes the stack's lock (a write)"))
    out.append(Grant(who, "key-vault-crypto-user", key_id, key, "decrypts the stack's secrets to preview them"))
    return out


# --- reading and writing -----------------------------------------------------------------------------


class Arm(Protocol):
    """What bootstrap needs from ARM (:class:`SdkArm` over the Azure SDK; tests may pass a fake)."""

    def get(self, arm_id: str, api_version: str) -> dict[str, Any] | None: ...

    def put(self, arm_id: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def role_assignments(self, scope: str, principal_id: str) -> list[dict[str, Any]]: ...

    def tenant_id(self, subscription_id: str) -> str | None: ...


class SdkArm:
    """:class:`Arm` through ``ResourceManagementClient`` (generic by-id calls) and raw ARM requests."""

    def __init__(self, target: Any) -> None:
        from claude_foundry._azure.caller import ArmCaller

        self.caller = ArmCaller(target)
        self.resources = self.caller.client.resources

    def close(self) -> None:
        self.caller.close()

    def get(self, arm_id: str, api_version: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.resources.get_by_id(arm_id, api_version=api_version).as_dict()
        except ResourceNotFoundError:
            return None

    def put(self, arm_id: str, api_version: str, body: dict[str, Any]) -> dict[str, Any]:
        result = self.resources.begin_create_or_update_by_id(arm_id, api_version=api_version,
                                                             parameters=body).result()
        return result.as_dict() if hasattr(result, "as_dict") else {}

    def role_assignments(self, scope: str, principal_id: str) -> list[dict[str, Any]]:
        """The principal's assignments at, above and below ``scope`` (a handful: one page)."""
        flt = quote(f"principalId eq '{principal_id}'")
        path = f"{scope}/providers/Microsoft.Authorization/roleAssignments?$filter={flt}"
        status, data = self.caller.call("GET", path, arm.API_VERSIONS[arm.ROLE_ASSIGNMENT])
        if status == 404:  # the scope does not exist yet
            return []
        if status != 200:
            from azure.core.exceptions import HttpResponseError

            raise HttpResponseError(message=f"listing role assignments at {scope}: HTTP {status}: "
                                    f"{(data or {}).get('error', {}).get('message', '')}")
        return list((data or {}).get("value", []))

    def tenant_id(self, subscription_id: str) -> str | None:
        status, data = self.caller.call("GET", f"/subscriptions/{subscription_id}", arm.SUBSCRIPTIONS_API_VERSION)
        return (data or {}).get("tenantId") if status == 200 else None


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _same(path: str, live: Any, want: Any) -> bool:
    if path == "location" and isinstance(live, str) and isinstance(want, str):
        return normalize_location(live) == normalize_location(want)
    if isinstance(want, dict) and isinstance(live, dict):
        return all(_same(k, live.get(k), v) for k, v in want.items())
    return live == want


def _compare(item: Item) -> None:
    if item.live is None:
        item.action = CREATE
        return
    item.differs = [p for p in item.checks if not _same(p, _at(item.live, p), _at(item.body, p))]
    item.action = UPDATE if item.differs else EXISTS


def _grant_action(client: Arm, grant: Grant) -> str:
    if grant.principal_id is None:
        return CREATE
    for ra in client.role_assignments(grant.scope, grant.principal_id):
        p = ra.get("properties") or {}
        if str(p.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower() == grant.role_guid and \
                str(p.get("scope", "")).lower().rstrip("/") == grant.scope.lower():
            return EXISTS
    return CREATE


def inspect(bootstrap: Bootstrap, client: Arm) -> Bootstrap:
    """Read what exists and set every action (``--dry-run`` ends here)."""
    bootstrap.tenant_id = client.tenant_id(bootstrap.subscription_id)
    for item in bootstrap.items:
        item.live = client.get(item.arm_id, item.api_version)
        _compare(item)
    _inspect_grants(bootstrap, client)
    return bootstrap


def _inspect_grants(bootstrap: Bootstrap, client: Arm) -> None:
    identities = bootstrap.identities()
    for grant in bootstrap.grants:
        live = identities[grant.identity].live
        grant.principal_id = (live or {}).get("properties", {}).get("principalId")
        grant.action = _grant_action(client, grant)


def apply(bootstrap: Bootstrap, client: Arm, progress: Callable[[str], None] | None = None) -> Bootstrap:
    """Create or update what :func:`inspect` found missing or different, then the role assignments."""
    bootstrap.dry_run = False
    say = progress or (lambda _message: None)
    tenant = bootstrap.tenant_id
    for item in bootstrap.items:
        if item.action == EXISTS:
            continue
        body = item.body
        if item.kind == "key vault":
            if not tenant:
                raise UserError("the subscription's tenant is unknown: cannot create the key vault")
            body = {**body, "properties": {**body["properties"], "tenantId": tenant}}
        say(f"{item.action} {item.kind} {item.name}")
        client.put(item.arm_id, item.api_version, body)
        item.live = client.get(item.arm_id, item.api_version)  # what ARM holds now (the identity's ids)
    _inspect_grants(bootstrap, client)
    for grant in bootstrap.grants:
        if grant.action == EXISTS:
            continue
        if grant.principal_id is None:  # pragma: no cover - the identity was just created
            raise UserError(f"{grant.identity}: no principal id after creating it")
        say(f"assign {arm.CI_ROLE_NAMES[grant.role]} to {grant.identity} on {grant.scope_label}")
        ra_id = f"{grant.scope}/providers/Microsoft.Authorization/roleAssignments/{grant.name}"
        client.put(ra_id, arm.API_VERSIONS[arm.ROLE_ASSIGNMENT], {"properties": {
            "roleDefinitionId": arm.role_definition_id_of(bootstrap.subscription_id, grant.role_guid),
            "principalId": grant.principal_id, "principalType": "ServicePrincipal",
            "description": f"claude-foundry ci bootstrap: {grant.why}"[:1024]}})
    return bootstrap


def run_bootstrap(config: BootstrapConfig, target: Any, *, dry_run: bool,
                  progress: Callable[[str], None] | None = None) -> Bootstrap:
    """Plan, read and (unless ``dry_run``) apply against ``target`` (an :class:`azure.target.Target`)."""
    bootstrap = plan_bootstrap(config, target.subscription_id)
    client = SdkArm(target)
    try:
        inspect(bootstrap, client)
        if not dry_run:
            apply(bootstrap, client, progress)
    finally:
        client.close()
    return bootstrap
