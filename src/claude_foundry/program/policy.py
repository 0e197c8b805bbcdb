"""Policy guardrails: one set of rules for ``claude-foundry plan --policy`` and the Pulumi policy pack.

The rules look at a *neutral resource view* (:class:`PolicyResource`): the Pulumi type token, the
resource's properties as the engine sees them (camelCase, the same as the mock inputs of
:mod:`claude_foundry.program._plan`), its logical name and URN, whether it is ``protect``-ed and which resources its
properties depend on. Two adapters fill it in:

* :func:`from_planned` / :func:`resources_of_plan` from :class:`claude_foundry.program._plan.PlannedResource`
  (offline: ``claude-foundry plan STACK --policy``);
* :func:`from_pulumi` from what ``pulumi-policy`` hands a ``ResourceValidationPolicy`` or a
  ``StackValidationPolicy`` (``policy/__main__.py``, ``pulumi preview --policy-pack policy``). Values that
  are unknown during a preview become :data:`UNKNOWN`, and a rule never flags what it cannot know.

Each rule is a small function returning :class:`Violation` s (rule id, resource name, message,
enforcement ``mandatory`` or ``advisory``). A *resource* rule sees one resource at a time, a *stack* rule
all of them (diagnostics, model offered in the account's location).

Production: a resource is judged as production when the stack (the environment) is named ``prod`` or
``production`` — taken from the stack name in its URN and from its ``environment`` tag, which every
taggable resource carries from the spec — or when it is ``protect``-ed (the spec's ``protect: true``
protects the account, the deployments and the vault). See ``docs/policy.md``.

Importable without Pulumi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import _contract as contract
from claude_foundry import _provider_data as provider_data
from claude_foundry._azure import arm
from claude_foundry._catalogue import Catalogue, load_catalogue

MANDATORY = "mandatory"
ADVISORY = "advisory"
LEVELS = (MANDATORY, ADVISORY)

#: Environment (stack) names treated as production.
PRODUCTION_ENVIRONMENTS = frozenset({"prod", "production"})
#: Spec tag (``tags:`` in the stack file) that explicitly allows open public network access in production:
#: the ``public-network`` violation then stays advisory. The value must be ``"true"``.
ALLOW_PUBLIC_NETWORK_TAG = contract.TAG_ALLOW_PUBLIC_NETWORK
#: Minimum Log Analytics retention (days) that Anthropic recommends for request logs.
MIN_LOG_RETENTION_DAYS = 30
#: Retention Azure applies to a PerGB2018 workspace when none is given.
DEFAULT_WORKSPACE_RETENTION_DAYS = 30

#: The location of global resources (action groups, metric alerts): never judged by allowed-location.
GLOBAL_LOCATION = "global"

CS_NAMESPACE = "microsoft.cognitiveservices"
TYPED_DEPLOYMENT = "azure-native:cognitiveservices:Deployment"
DIAGNOSTIC_SETTING_TYPES = frozenset({arm.DIAGNOSTIC_SETTING, arm.DIAGNOSTIC_SETTING_V2})


class _Unknown:
    """A value Pulumi cannot know during a preview (an output of a resource not created yet)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()

#: pulumi-policy's sentinels for unknown values (the engine's wire constants).
_UNKNOWN_SENTINELS = frozenset({
    "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
    "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
    "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
    "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
    "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
    "e48ece36-62e2-4504-bad9-02848725956a",  # archive
    "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
})


# --- the neutral view --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyResource:
    """One resource as the rules see it."""

    type: str  # Pulumi type token
    name: str  # logical name
    props: Mapping[str, Any]  # camelCase properties; unknowns are UNKNOWN
    urn: str = ""
    protect: bool = False
    #: property name -> URNs of the resources that property's value came from
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def get(self, dotted: str, default: Any = None) -> Any:
        value: Any = self.props
        for part in dotted.split("."):
            if value is UNKNOWN:
                return UNKNOWN
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value

    @property
    def stack(self) -> str:
        """The stack name from the URN (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
        if self.urn.startswith("urn:pulumi:"):
            return self.urn[len("urn:pulumi:"):].split("::", 1)[0]
        return ""

    @property
    def environment(self) -> str:
        tag = self.get("tags.environment")
        return tag if isinstance(tag, str) and tag else self.stack

    @property
    def production(self) -> bool:
        names = {self.stack, self.get("tags.environment")}
        return self.protect or any(isinstance(n, str) and n.lower() in PRODUCTION_ENVIRONMENTS for n in names)

    @property
    def tags(self) -> Mapping[str, Any]:
        tags = self.get("tags")
        return tags if isinstance(tags, Mapping) else {}


@dataclass(frozen=True)
class Violation:
    rule: str
    resource: str  # logical name ("" for the stack as a whole)
    message: str
    enforcement: str  # MANDATORY or ADVISORY
    urn: str = ""

    @property
    def mandatory(self) -> bool:
        return self.enforcement == MANDATORY

    def key(self) -> tuple[str, str, str]:
        return (self.rule, self.resource, self.enforcement)

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "resource": self.resource, "enforcement": self.enforcement,
                "message": self.message, "urn": self.urn}


@dataclass(frozen=True)
class PolicyConfig:
    """What the rules may be told: a narrower list of locations, another catalogue."""

    allowed_locations: tuple[str, ...] | None = None
    catalogue: Catalogue | None = None

    def __post_init__(self) -> None:
        if self.allowed_locations is not None:
            object.__setattr__(self, "allowed_locations", tuple(_norm_location(x) for x in self.allowed_locations))

    def cat(self) -> Catalogue:
        return self.catalogue or load_catalogue()

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any] | None) -> PolicyConfig:
        """From a policy's config in the pack (``allowedLocations: [..]``)."""
        locations = (config or {}).get("allowedLocations")
        if locations:
            return cls(allowed_locations=tuple(locations))
        return cls()


ResourceCheck = Callable[[PolicyResource, PolicyConfig], Iterable[Violation]]
StackCheck = Callable[[Sequence[PolicyResource], PolicyConfig], Iterable[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    scope: str  # "resource" or "stack"
    levels: tuple[str, ...]  # the enforcement levels its violations can have
    check: Callable[..., Iterable[Violation]]

    def run_resource(self, resource: PolicyResource, config: PolicyConfig | None = None) -> list[Violation]:
        if self.scope != "resource":
            raise TypeError(f"{self.id} is a stack rule")
        return list(self.check(resource, config or PolicyConfig()))

    def run_stack(self, resources: Sequence[PolicyResource], config: PolicyConfig | None = None) -> list[Violation]:
        config = config or PolicyConfig()
        if self.scope == "resource":
            return [v for r in resources for v in self.check(r, config)]
        return list(self.check(resources, config))


# --- helpers -----------------------------------------------------------------------------------------


def _norm_location(value: str) -> str:
    return value.replace(" ", "").lower()


def _v(rule: str, res: PolicyResource, message: str, enforcement: str = MANDATORY) -> Violation:
    return Violation(rule=rule, resource=res.name, message=message, enforcement=enforcement, urn=res.urn)


def _lower(value: Any) -> str:
    return value.lower() if isinstance(value, str) else ""


def _known(value: Any) -> bool:
    return value is not UNKNOWN


def is_account(res: PolicyResource) -> bool:
    return res.type == arm.ACCOUNT


def account_name(res: PolicyResource) -> str:
    name = res.get("accountName")
    if not isinstance(name, str):
        name = res.get("name")
    return name if isinstance(name, str) else ""


def is_deployment(res: PolicyResource) -> bool:
    """A Cognitive Services deployment: the generic resource (namespace + type, or its ARM type when
    the engine hands outputs) or the typed ``cognitiveservices:Deployment``."""
    if res.type == TYPED_DEPLOYMENT:
        return True
    if res.type != arm.GENERIC_RESOURCE:
        return False
    if _lower(res.get("resourceProviderNamespace")) == CS_NAMESPACE:
        return _lower(res.get("resourceType")) == "deployments"
    return _lower(res.get("type")) == "microsoft.cognitiveservices/accounts/deployments"


def is_claude_deployment(res: PolicyResource) -> bool:
    if not is_deployment(res):
        return False
    model = res.get("properties.model")
    if not isinstance(model, Mapping):
        return False
    return _lower(model.get("format")) == "anthropic" or _lower(model.get("name")).startswith("claude")


def deployment_account_name(res: PolicyResource) -> str:
    if res.type == TYPED_DEPLOYMENT:
        name = res.get("accountName")
        return name if isinstance(name, str) else ""
    parent = res.get("parentResourcePath")
    if isinstance(parent, str) and parent.lower().startswith("accounts/"):
        return parent.split("/", 1)[1]
    rid = res.get("id")
    if isinstance(rid, str) and "/accounts/" in rid.lower():
        return rid[rid.lower().index("/accounts/") + len("/accounts/"):].split("/", 1)[0]
    return ""


# --- resource rules ----------------------------------------------------------------------------------

R_LOCATION = "allowed-location"
R_MODEL = "allowed-model"
R_MODEL_LOCATION = "model-location"
R_PROVIDER_DATA = "model-provider-data"
R_VAULT_RBAC = "key-vault-rbac"
R_VAULT_PURGE = "key-vault-purge-protection"
R_LOCAL_AUTH = "local-auth-disabled"
R_DIAGNOSTICS = "diagnostics"
R_PUBLIC_NETWORK = "public-network"
R_ALERTS = "alerts"
R_BUDGET = "budget"
R_DASHBOARD = "dashboard"


def check_allowed_location(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """The Foundry account must be in a catalogue location (where Claude is offered); with
    ``allowed_locations`` configured, every resource that has a location must be in one of them."""
    location = res.get("location")
    if not isinstance(location, str) or not location:
        return
    loc = _norm_location(location)
    if loc == GLOBAL_LOCATION:
        return  # action groups and metric alerts are global resources: no data residency to judge
    if is_account(res):
        offered = config.cat().locations
        if loc not in offered:
            yield _v(R_LOCATION, res, f"Foundry account in {location!r}: Claude is offered only in "
                                      f"{', '.join(offered)} (catalogue)")
            return
    if config.allowed_locations is not None and loc not in config.allowed_locations:
        yield _v(R_LOCATION, res, f"location {location!r} is not allowed here; allowed: "
                                  f"{', '.join(config.allowed_locations)}")


def check_allowed_model(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """Every Claude deployment names a catalogue model and version, format Anthropic, not retired."""
    if not is_claude_deployment(res):
        return
    model = res.get("properties.model")
    name, version, fmt = model.get("name"), model.get("version"), model.get("format")
    if not _known(name):
        return
    cat = config.cat()
    info = cat.model(name) if isinstance(name, str) else None
    if info is None:
        # a Claude model id newer than the snapshot passes (preflight confirms it against Azure's live list);
        # a near miss of a known model or a non-Claude id does not
        unknown = cat.unknown_model(name) if isinstance(name, str) else ("error", "")
        if unknown[0] == "error":
            yield _v(R_MODEL, res, f"model {name!r} is not in the catalogue: {unknown[1]}")
        return
    if _known(version) and version is not None and str(version) not in info.versions:
        yield _v(R_MODEL, res, f"{name} version {version!r} is not in the catalogue; known: "
                               f"{', '.join(info.versions)}")
    if _known(fmt) and fmt != cat.format:
        yield _v(R_MODEL, res, f"{name}: properties.model.format must be {cat.format!r} (got {fmt!r})")
    verdict = cat.lifecycle(name, str(version)) if _known(version) and version is not None else None
    if verdict is not None and verdict[0] == "error":
        yield _v(R_MODEL, res, verdict[1])


def check_model_provider_data(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """Azure requires properties.modelProviderData on every Claude deployment: organizationName,
    an ISO-3166 alpha-2 countryCode (upper case) and a lower-case industry from the allowed list."""
    if not is_claude_deployment(res):
        return
    if res.type == TYPED_DEPLOYMENT:
        yield _v(R_PROVIDER_DATA, res, "the typed cognitiveservices.Deployment cannot carry modelProviderData; "
                                       "deploy Claude with the generic resources.Resource (ClaudeDeployments)")
        return
    data = res.get("properties.modelProviderData")
    if data is UNKNOWN:
        return
    if not isinstance(data, Mapping):
        _, nested = provider_data.of_properties(res.get("properties") if isinstance(res.get("properties"), Mapping)
                                                else None)
        where = (" (found inside properties.model: it belongs next to model, at properties.modelProviderData)"
                 if nested else "")
        yield _v(R_PROVIDER_DATA, res, "properties.modelProviderData is missing (organizationName, "
                                       f"countryCode, industry){where}")
        return
    for field_name, problem in provider_data.problems(data, known=_known):
        yield _v(R_PROVIDER_DATA, res, f"modelProviderData.{field_name} {problem}")


def check_vault_rbac(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """Key Vault authorises with Azure RBAC (enableRbacAuthorization true), not access policies."""
    if res.type != arm.VAULT:
        return
    rbac = res.get("properties.enableRbacAuthorization")
    if _known(rbac) and rbac is not True:
        yield _v(R_VAULT_RBAC, res, "Key Vault must use Azure RBAC: properties.enableRbacAuthorization true "
                                    f"(got {rbac!r})")


def check_vault_purge_protection(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """In production, the Key Vault has purge protection (key_vault.purge_protection: true)."""
    if res.type != arm.VAULT or not res.production:
        return
    purge = res.get("properties.enablePurgeProtection")
    if _known(purge) and purge is not True:
        yield _v(R_VAULT_PURGE, res, "production Key Vault without purge protection: set "
                                     "key_vault.purge_protection: true (irreversible)")


def check_local_auth(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """disableLocalAuth true (Entra ID only, no API keys): mandatory in production, advisory elsewhere."""
    if not is_account(res):
        return
    disabled = res.get("properties.disableLocalAuth")
    if not _known(disabled) or disabled is True:
        return
    level = MANDATORY if res.production else ADVISORY
    yield _v(R_LOCAL_AUTH, res, "API-key (local) auth is enabled: set foundry.disable_local_auth: true so that "
                                "only Entra ID tokens are accepted", level)


def public_network_open(res: PolicyResource) -> bool | None:
    """True when the account is reachable from any public address; None when unknown (preview)."""
    access = res.get("properties.publicNetworkAccess")
    if not _known(access):
        return None
    if _lower(access) == "disabled":
        return False
    acls = res.get("properties.networkAcls")
    if not _known(acls):
        return None
    if not isinstance(acls, Mapping):
        return True  # no ACLs: Azure's default is Allow
    action = acls.get("defaultAction")
    if not _known(action):
        return None
    return _lower(action) != "deny"


def private_access(res: PolicyResource) -> bool | None:
    """True when the account takes no public traffic at all (``publicNetworkAccess: Disabled``: reached through
    its private endpoints, ``private_network`` in the spec); None when unknown (preview)."""
    access = res.get("properties.publicNetworkAccess")
    return None if not _known(access) else _lower(access) == "disabled"


def check_public_network(res: PolicyResource, config: PolicyConfig) -> Iterator[Violation]:
    """Production requires private access (publicNetworkAccess Disabled: ``private_network`` with private
    endpoints, or ``public_network_access: false``) or public access narrowed to named addresses (networkAcls
    defaultAction Deny: ``ip_rules``); otherwise — Enabled with networkAcls Allow or absent, open to every public
    address — it is mandatory unless the explicit waiver (the tag ``claude-foundry-allow-public-network: "true"``,
    written by ``public_network_access: true`` spelled out) keeps it advisory. Advisory outside production."""
    if not is_account(res) or private_access(res) is not False or public_network_open(res) is not True:
        return
    waived = str(res.tags.get(ALLOW_PUBLIC_NETWORK_TAG, "")).lower() == "true"
    level = MANDATORY if res.production and not waived else ADVISORY
    note = f" (allowed by the tag {ALLOW_PUBLIC_NETWORK_TAG})" if waived else ""
    yield _v(R_PUBLIC_NETWORK, res, "the Foundry account accepts requests from any public address: make it "
                                    "private (private_network: private endpoints, public access disabled), or set "
                                    "foundry.network.ip_rules or public_network_access: false" + note, level)


# --- stack rules -------------------------------------------------------------------------------------


def _ends_with_id(value: Any, suffix: str) -> bool:
    return isinstance(value, str) and value.lower().rstrip("/").endswith(suffix.lower())


def _depends_on(res: PolicyResource, prop: str, target: PolicyResource) -> bool:
    return bool(target.urn) and target.urn in (res.property_dependencies.get(prop) or ())


def _targets(setting: PolicyResource, account: PolicyResource) -> bool:
    uri = setting.get("resourceUri")
    name = account_name(account)
    if _known(uri) and uri is not None:
        rid = account.get("id")
        if isinstance(rid, str) and rid and isinstance(uri, str) and uri.lower() == rid.lower():
            return True
        if name and _ends_with_id(uri, f"/providers/Microsoft.CognitiveServices/accounts/{name}"):
            return True
    return _depends_on(setting, "resourceUri", account)


def _workspace_of(setting: PolicyResource, workspaces: Sequence[PolicyResource]) -> PolicyResource | None:
    wid = setting.get("workspaceId")
    for ws in workspaces:
        if _depends_on(setting, "workspaceId", ws):
            return ws
        name = ws.get("workspaceName") or ws.get("name")
        if isinstance(name, str) and name and _known(wid) and _ends_with_id(
                wid, f"/providers/Microsoft.OperationalInsights/workspaces/{name}"):
            return ws
    return None


def check_diagnostics(resources: Sequence[PolicyResource], config: PolicyConfig) -> Iterator[Violation]:
    """Every Foundry account has a diagnostic setting with logs enabled that sends them to a Log Analytics
    workspace with at least 30 days of retention (or to an existing workspace, by id)."""
    settings = [r for r in resources if r.type in DIAGNOSTIC_SETTING_TYPES]
    workspaces = [r for r in resources if r.type == arm.WORKSPACE]
    for account in (r for r in resources if is_account(r)):
        mine = [s for s in settings if _targets(s, account)]
        if not mine:
            yield _v(R_DIAGNOSTICS, account, "no diagnostic setting sends the Foundry account's logs to Log "
                                             "Analytics: keep diagnostics.enabled: true")
            continue
        if any(_setting_ok(s, workspaces) for s in mine):
            continue
        for s in mine:
            for problem in _setting_problems(s, workspaces):
                yield _v(R_DIAGNOSTICS, s, problem)


def _setting_problems(setting: PolicyResource, workspaces: Sequence[PolicyResource]) -> list[str]:
    problems = []
    logs = setting.get("logs")
    if _known(logs):
        enabled = [x for x in (logs or []) if isinstance(x, Mapping) and x.get("enabled") is not False]
        if not enabled:
            problems.append("the diagnostic setting enables no log category (use categoryGroup allLogs)")
    wid = setting.get("workspaceId")
    ws = _workspace_of(setting, workspaces)
    if ws is None:
        if _known(wid) and not (isinstance(wid, str) and wid) and not setting.property_dependencies.get(
                "workspaceId"):
            problems.append("the diagnostic setting sends to no Log Analytics workspace (workspaceId)")
        return problems
    days = ws.get("retentionInDays", DEFAULT_WORKSPACE_RETENTION_DAYS)
    if days is None:
        days = DEFAULT_WORKSPACE_RETENTION_DAYS
    if _known(days) and isinstance(days, int | float) and days < MIN_LOG_RETENTION_DAYS:
        problems.append(f"workspace {ws.name} keeps logs {int(days)} days; at least {MIN_LOG_RETENTION_DAYS} "
                        "are required (diagnostics.retention_days)")
    return problems


def _setting_ok(setting: PolicyResource, workspaces: Sequence[PolicyResource]) -> bool:
    return not _setting_problems(setting, workspaces)


def check_model_location(resources: Sequence[PolicyResource], config: PolicyConfig) -> Iterator[Violation]:
    """Every Claude deployment's model version and SKU are offered (catalogue) in the location of its account."""
    cat = config.cat()
    accounts = {account_name(r): r for r in resources if is_account(r) and account_name(r)}
    for dep in (r for r in resources if is_claude_deployment(r)):
        account = accounts.get(deployment_account_name(dep))
        model, version, sku = dep.get("properties.model.name"), dep.get("properties.model.version"), \
            dep.get("sku.name")
        info = cat.model(model) if isinstance(model, str) else None
        if account is None or info is None or not _known(version) or not _known(sku):
            continue
        location = account.get("location")
        if not isinstance(location, str) or info.version_info(str(version)) is None:
            continue
        for field_name, problem in cat.offer_problems(model, str(version), str(sku), _norm_location(location)):
            if field_name in ("sku", "location"):
                yield _v(R_MODEL_LOCATION, dep, problem)


def _scopes_account(alert: PolicyResource, account: PolicyResource) -> bool:
    scopes = alert.get("scopes")
    if _known(scopes) and isinstance(scopes, Sequence) and not isinstance(scopes, str):
        rid, name = account.get("id"), account_name(account)
        for scope in scopes:
            if not isinstance(scope, str):
                continue
            if isinstance(rid, str) and rid and scope.lower() == rid.lower():
                return True
            if name and _ends_with_id(scope, f"/providers/Microsoft.CognitiveServices/accounts/{name}"):
                return True
        if all(isinstance(x, str) and x for x in scopes):
            return False  # known ids, none of them the account
    return _depends_on(alert, "scopes", account)  # a preview: the account's id is not known yet


def _receivers(group: PolicyResource) -> int:
    """How many receivers an action group has (any kind; an unknown list counts as one)."""
    n = 0
    for key in ("emailReceivers", "webhookReceivers", "smsReceivers", "voiceReceivers", "armRoleReceivers",
                "azureAppPushReceivers", "logicAppReceivers", "azureFunctionReceivers", "automationRunbookReceivers",
                "itsmReceivers", "eventHubReceivers", "incidentReceivers"):
        value = group.get(key)
        if not _known(value):
            n += 1
        elif isinstance(value, Sequence) and not isinstance(value, str):
            n += len(value)
    return n


def _action_group_ids(alert: PolicyResource) -> list[Any]:
    actions = alert.get("actions")
    if not _known(actions):
        return [UNKNOWN]
    return [a.get("actionGroupId") for a in (actions or []) if isinstance(a, Mapping)]


def _group_of(alert: PolicyResource, group_id: Any, groups: Sequence[PolicyResource]) -> PolicyResource | None:
    for g in groups:
        name = g.get("actionGroupName") or g.get("name")
        gid = g.get("id")
        if isinstance(group_id, str) and ((isinstance(gid, str) and gid and gid.lower() == group_id.lower()) or (
                isinstance(name, str) and name and _ends_with_id(group_id, f"/actionGroups/{name}"))):
            return g
    deps = [g for g in groups if _depends_on(alert, "actions", g)]
    return deps[0] if len(deps) == 1 else None


def check_alerts(resources: Sequence[PolicyResource], config: PolicyConfig) -> Iterator[Violation]:
    """Every Foundry account has an enabled metric alert scoped to it that notifies an action group with at least
    one receiver: mandatory in production, advisory elsewhere."""
    alerts = [r for r in resources if r.type == arm.METRIC_ALERT]
    groups = [r for r in resources if r.type == arm.ACTION_GROUP]
    for account in (r for r in resources if is_account(r)):
        level = MANDATORY if account.production else ADVISORY
        mine = [a for a in alerts if _scopes_account(a, account) and a.get("enabled") is not False]
        if not mine:
            yield _v(R_ALERTS, account, "no metric alert watches the Foundry account (throttling, server errors, "
                                        "latency): add alerts: {emails: [...]} to the stack", level)
            continue
        notified = False
        for alert in mine:
            for gid in _action_group_ids(alert):
                if not _known(gid):
                    notified = True
                    continue
                group = _group_of(alert, gid, groups)
                if group is None:
                    notified = notified or (isinstance(gid, str) and bool(gid))  # an action group of another stack
                elif group.get("enabled") is not False and _receivers(group) > 0:
                    notified = True
        if not notified:
            yield _v(R_ALERTS, account, "the Foundry account's metric alerts notify nobody: give them an action group "
                                        "with e-mail or webhook receivers (alerts.emails, alerts.webhooks)", level)


def _budget_scope(budget: PolicyResource) -> Any:
    scope = budget.get("scope")
    if isinstance(scope, str) and scope:
        return scope
    rid = budget.get("id")  # a stack policy sees outputs: no scope, but the id starts with it
    marker = "/providers/microsoft.consumption/budgets/"
    if isinstance(rid, str) and marker in rid.lower():
        return rid[: rid.lower().index(marker)]
    return scope if not _known(scope) else None


def _account_resource_group(account: PolicyResource) -> tuple[str, str]:
    """(subscription id or "", resource group name or "") of an account, from its id or its inputs."""
    rid = account.get("id")
    if isinstance(rid, str) and "/resourcegroups/" in rid.lower():
        parts = rid.split("/")
        return parts[2], parts[4]
    rg = account.get("resourceGroupName")
    return "", rg if isinstance(rg, str) else ""


def _covers(budget: PolicyResource, account: PolicyResource, resources: Sequence[PolicyResource]) -> bool | None:
    """True when the budget's scope holds the account (its resource group or subscription); None when unknown."""
    scope = _budget_scope(budget)
    sub, rg = _account_resource_group(account)
    if isinstance(scope, str):
        parts = [p.lower() for p in scope.strip("/").split("/")]
        if len(parts) == 2 and parts[0] == "subscriptions":
            return not sub or parts[1] == sub.lower()
        if len(parts) == 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
            return parts[3] == rg.lower() and (not sub or parts[1] == sub.lower())
        return False
    groups = [r for r in resources if r.type == arm.RESOURCE_GROUP and
              _lower(r.get("resourceGroupName") or r.get("name")) == rg.lower()]
    if any(_depends_on(budget, "scope", g) for g in groups):
        return True
    return None if not _known(scope) or budget.property_dependencies.get("scope") else False


def check_budget(resources: Sequence[PolicyResource], config: PolicyConfig) -> Iterator[Violation]:
    """Every Foundry account's resource group (or subscription) has a cost budget with at least one enabled
    notification: mandatory in production, advisory elsewhere (Claude is billed through the Marketplace)."""
    budgets = [r for r in resources if r.type == arm.BUDGET]
    for account in (r for r in resources if is_account(r)):
        level = MANDATORY if account.production else ADVISORY
        mine = [b for b in budgets if _covers(b, account, resources) is not False]
        if not mine:
            yield _v(R_BUDGET, account, "no cost budget covers the Foundry account's resource group (Claude is billed "
                                        "through the Azure Marketplace): add budget: {amount: ...} to the stack", level)
            continue
        for b in mine:
            notes = b.get("notifications")
            if not _known(notes):
                break
            enabled = [n for n in (notes or {}).values() if isinstance(n, Mapping) and n.get("enabled") is not False]
            if enabled:
                break
        else:
            yield _v(R_BUDGET, account, "the cost budget has no enabled notification: give budget.thresholds", level)


def _shows_account(workbook: PolicyResource, account: PolicyResource) -> bool:
    """Whether a workbook covers the account: its content names the account (or cannot be known yet), or its
    source is the account or the account's resource group."""
    data = workbook.get("serializedData")
    if not _known(data):
        return True
    name = account_name(account)
    if isinstance(data, str) and name and f"/providers/microsoft.cognitiveservices/accounts/{name.lower()}" in \
            data.lower():
        return True
    source = workbook.get("sourceId")
    if not _known(source):
        return True
    sub, rg = _account_resource_group(account)
    if isinstance(source, str) and rg:
        parts = [p.lower() for p in source.strip("/").split("/")]
        if len(parts) >= 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups" and \
                parts[3] == rg.lower() and (not sub or parts[1] == sub.lower()):
            return len(parts) == 4 or _ends_with_id(source, f"/accounts/{name}")
    return False


def check_dashboard(resources: Sequence[PolicyResource], config: PolicyConfig) -> Iterator[Violation]:
    """Every production Foundry account is shown on a usage workbook (``monitoring.dashboard: true``): advisory,
    and only in production (elsewhere the views of ``claude-foundry usage`` suffice)."""
    workbooks = [r for r in resources if r.type == arm.WORKBOOK]
    for account in (r for r in resources if is_account(r) and r.production):
        if not any(_shows_account(w, account) for w in workbooks):
            yield _v(R_DASHBOARD, account, "no Azure Monitor workbook shows the production Foundry account's usage "
                                           "(requests, tokens, throttling, latency, cost): add monitoring: "
                                           "{dashboard: true} to the stack", ADVISORY)


# --- the rule set ------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(R_LOCATION, "Allowed locations",
         "The Foundry account is in a location where the catalogue offers Claude; with allowedLocations "
         "configured, every located resource is in one of them.", "resource", (MANDATORY,),
         check_allowed_location),
    Rule(R_MODEL, "Allowed models",
         "Every Claude deployment names a catalogue model and version, format Anthropic, not retired.",
         "resource", (MANDATORY,), check_allowed_model),
    Rule(R_MODEL_LOCATION, "Model offered in the account's location",
         "Every Claude deployment's model is offered in its account's location (catalogue).",
         "stack", (MANDATORY,), check_model_location),
    Rule(R_PROVIDER_DATA, "Complete modelProviderData",
         "Every Claude deployment carries modelProviderData: organizationName, ISO-3166 countryCode, "
         "lower-case industry from the allowed list.", "resource", (MANDATORY,), check_model_provider_data),
    Rule(R_VAULT_RBAC, "Key Vault uses RBAC",
         "Key Vaults authorise with Azure RBAC (enableRbacAuthorization true).", "resource", (MANDATORY,),
         check_vault_rbac),
    Rule(R_VAULT_PURGE, "Key Vault purge protection in production",
         "Production Key Vaults have purge protection.", "resource", (MANDATORY,), check_vault_purge_protection),
    Rule(R_LOCAL_AUTH, "Entra ID only in production",
         "Foundry accounts disable local (API key) auth: mandatory in production, advisory elsewhere.",
         "resource", (MANDATORY, ADVISORY), check_local_auth),
    Rule(R_DIAGNOSTICS, "Diagnostics with 30-day retention",
         "Every Foundry account sends its logs through a diagnostic setting to Log Analytics with at least "
         "30 days of retention (or an existing workspace).", "stack", (MANDATORY,), check_diagnostics),
    Rule(R_PUBLIC_NETWORK, "No open public network access",
         "Foundry accounts are private (public network access disabled, private endpoints) or open only to named "
         "addresses: advisory outside production, mandatory in production unless the explicit waiver, the tag "
         f"{ALLOW_PUBLIC_NETWORK_TAG}: \"true\", allows it.", "resource",
         (MANDATORY, ADVISORY), check_public_network),
    Rule(R_ALERTS, "Metric alerts on the Foundry account",
         "Every Foundry account has an enabled metric alert that notifies an action group with a receiver: mandatory "
         "in production, advisory elsewhere.", "stack", (MANDATORY, ADVISORY), check_alerts),
    Rule(R_BUDGET, "A cost budget on the resource group",
         "Every Foundry account's resource group (or subscription) has a cost budget with an enabled notification: "
         "mandatory in production, advisory elsewhere.", "stack", (MANDATORY, ADVISORY), check_budget),
    Rule(R_DASHBOARD, "A usage dashboard in production",
         "Every production Foundry account is shown on an Azure Monitor workbook (monitoring.dashboard: true): "
         "advisory, production only.", "stack", (ADVISORY,), check_dashboard),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def evaluate(resources: Sequence[PolicyResource], config: PolicyConfig | None = None,
             rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Run ``rules`` over ``resources``: resource rules on each resource, stack rules once."""
    config = config or PolicyConfig()
    out: list[Violation] = []
    for rule in rules:
        out.extend(rule.run_stack(resources, config))
    return out


# --- adapters ----------------------------------------------------------------------------------------


def from_planned(resource: Any) -> PolicyResource:
    """A :class:`claude_foundry.program._plan.PlannedResource` as the rules see it."""
    return PolicyResource(type=resource.type, name=resource.name, props=resource.inputs, urn=resource.urn,
                          protect=bool(resource.protect),
                          property_dependencies=dict(getattr(resource, "property_dependencies", {}) or {}))


def resources_of_plan(plan: Any) -> list[PolicyResource]:
    """The custom resources of a :class:`claude_foundry.program._plan.Plan` (components carry nothing to check)."""
    return [from_planned(r) for r in plan.resources if r.custom]


def check_plan(plan: Any, config: PolicyConfig | None = None) -> list[Violation]:
    return evaluate(resources_of_plan(plan), config)


def _item(container: Any, key: Any) -> Any:
    """``container[key]``, or :data:`UNKNOWN` where pulumi_policy raises UnknownValueError (a preview value)."""
    try:
        return container[key]
    except Exception as exc:
        if type(exc).__name__ != "UnknownValueError":
            raise
        return UNKNOWN


def plain(value: Any) -> Any:
    """A deep plain copy of pulumi-policy props: its proxies raise ``UnknownValueError`` on unknown values
    and the raw engine values are sentinel strings; both become :data:`UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWN_SENTINELS else value
    if isinstance(value, Mapping):
        return {key: plain(_item(value, key)) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [plain(_item(value, n)) for n in range(len(value))]
    if hasattr(value, "value") and type(value).__name__ == "Secret":  # pulumi_policy.Secret
        return plain(value.value)
    return value


def from_pulumi(resource_type: str, props: Mapping[str, Any], *, urn: str = "", name: str = "",
                protect: bool = False,
                property_dependencies: Mapping[str, Sequence[str]] | None = None) -> PolicyResource:
    """What pulumi-policy gives a validation (``args.resource_type``, ``args.props``, ``args.urn``,
    ``args.name``, ``args.opts.protect``) as the rules see it. ``property_dependencies`` are URNs."""
    if not name and urn:
        name = urn.rsplit("::", 1)[-1]
    return PolicyResource(type=resource_type, name=name, props=plain(props), urn=urn, protect=bool(protect),
                          property_dependencies={k: tuple(v) for k, v in (property_dependencies or {}).items()})


# --- reporting ---------------------------------------------------------------------------------------


def summary(violations: Sequence[Violation]) -> tuple[int, int]:
    mandatory = sum(1 for v in violations if v.mandatory)
    return mandatory, len(violations) - mandatory


def format_violations(violations: Sequence[Violation]) -> list[str]:
    """One line per violation, mandatory first: ``MANDATORY  rule  resource: message``."""
    ordered = sorted(violations, key=lambda v: (LEVELS.index(v.enforcement), v.rule, v.resource))
    return [f"{v.enforcement.upper():<9}  {v.rule:<26} {v.resource or '(stack)'}: {v.message}" for v in ordered]
