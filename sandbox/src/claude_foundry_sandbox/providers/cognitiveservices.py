"""Microsoft.CognitiveServices: Foundry accounts (soft delete, restore, keys), their Claude deployments (model,
SKU, quota, provider data, long-running writes), the models and usages of a location or an account, deleted
accounts and the subdomain check."""

from __future__ import annotations

import copy
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from claude_foundry import _provider_data as provider_data
from claude_foundry._azure import arm as arm_facts
from claude_foundry_sandbox import state as st
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

CS_NS = arm_facts.COGNITIVE_SERVICES_NAMESPACE
ACCOUNTS = "microsoft.cognitiveservices/accounts"
DEPLOYMENTS = "microsoft.cognitiveservices/accounts/deployments"

SUBDOMAIN_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]{0,62}[a-zA-Z0-9]$")
#: How long Azure keeps a deleted Cognitive Services account before purging it (48 hours).
ACCOUNT_RETENTION_SECONDS = 48 * 3600


def _subscription_routes(api: ArmApi, method: str, segs: list[str], low: list[str], body: Any) -> Reply | None:
    n = len(segs)
    sub_id = f"/subscriptions/{api.s.subscription_id}"
    if n == 7 and low[4] == "locations" and low[6] in ("usages", "models") and method == "GET":
        api.authorize(sub_id, "read")
        if low[6] == "usages":
            return Reply(200, {"value": _usages(api, segs[5]), "nextLink": None})
        return Reply(200, {"value": _location_models(api, segs[5]), "nextLink": None})
    if n == 5 and low[4] == "deletedaccounts" and method == "GET":
        api.authorize(sub_id, "read")
        return Reply(200, {"value": [_deleted_account_view(api, r)
                                     for r in api.s.deleted_accounts.values()]})
    if n == 10 and low[4] == "locations" and low[6] == "resourcegroups" and low[8] == "deletedaccounts":
        return _deleted_account(api, method, segs[5], segs[7], segs[9])
    if n == 5 and low[4] == "checkdomainavailability" and method == "POST":
        api.authorize(sub_id, "read")
        name = str((body or {}).get("subdomainName", ""))
        taken = _subdomain_taken(api, name, None)
        return Reply(200, {"isSubdomainAvailable": not taken, "subdomainName": name,
                           "type": (body or {}).get("type", "Microsoft.CognitiveServices/accounts"),
                           "reason": "Sub domain name is already in use." if taken else None})
    return None


# --- accounts -------------------------------------------------------------------------------------


def _subdomain_taken(api: ArmApi, subdomain: str, own_key: str | None) -> bool:
    sub = subdomain.lower()
    if sub in api.s.taken_subdomains:
        return True
    held = [*api.s.accounts(), *(r["resource"] for r in api.s.deleted_accounts.values())]
    for acc in held:
        if acc["id"].lower() != own_key and \
                str(acc.get("properties", {}).get("customSubDomainName", "")).lower() == sub:
            return True
    return False


def _put_account(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    existing = api.s.resources.get(target.key)
    if existing is not None and api.s.busy(target.key):
        raise api.conflict(existing["id"])
    if existing is None and target.key in api.s.deleted_accounts:
        if (body.get("properties") or {}).get("restore") is not True:
            # Azure's answer (azure-cli#18146, terraform-provider-azurerm#12258): 409 FlagMustBeSetForRestore
            raise ArmError(409, "FlagMustBeSetForRestore",
                           f"An existing resource with ID '{target.path}' has been soft-deleted. To restore "
                           "the resource, you must specify 'restore' to be 'true' in the property. If you "
                           "don't want to restore existing resource, please purge it first.")
        existing = _restore_account(api, target.key)
    if api.same_input(existing, body):
        return Reply(200, public(existing))
    props = body.get("properties") or {}
    require_location(body)
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
    if _subdomain_taken(api, str(subdomain), target.key):
        raise ArmError(409, "CustomDomainInUse",
                       f"Custom domain name '{subdomain}' is already in use by another account. Please use a "
                       "different name.")
    if existing and normalize_location(str(body["location"])) != existing["location"]:
        raise ArmError(400, "LocationNotChangeable", "The location of an account cannot be changed.")
    res = api.base(target, body, existing)
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
    p["dateCreated"] = existing["properties"]["dateCreated"] if existing else iso(time.time())
    p["provisioningState"] = "Updating" if existing else "Creating"
    p.pop("restore", None)
    res.setdefault("sku", {"name": arm_facts.ACCOUNT_SKU})
    res.setdefault("kind", arm_facts.ACCOUNT_KIND)
    res["etag"] = f'"{uuid.uuid4()}"'
    _system_identity(api, res, existing)
    res["_sb"]["keys"] = (existing or {}).get("_sb", {}).get("keys") or {
        "key1": st.new_account_key(), "key2": st.new_account_key()}
    api.s.resources[target.key] = res
    return api.accepted(200 if existing else 201, target.key, res["location"], CS_NS)


# --- soft-deleted accounts (kept 48 h; the name and the subdomain stay held until purged) -----------


def _soft_delete_account(api: ArmApi, key: str) -> None:
    res = api.s.resources.get(key)
    if res is None:
        return
    now = time.time()
    api.s.deleted_accounts[key] = {
        "resource": copy.deepcopy(res),
        "deployments": [copy.deepcopy(d) for d in api.s.deployments_of(key)],
        "deletionDate": now, "scheduledPurgeDate": now + ACCOUNT_RETENTION_SECONDS,
        "location": res.get("location", "")}
    api.remove_tree(key)


def _restore_account(api: ArmApi, key: str) -> dict[str, Any]:
    """Bring a soft-deleted account (and its deployments) back, as ``properties.restore: true`` does."""
    record = api.s.deleted_accounts.pop(key)
    res = record["resource"]
    api.s.resources[key] = res
    for dep in record.get("deployments") or []:
        api.s.resources[dep["id"].lower()] = dep
    return res


def _deleted_account_view(api: ArmApi, record: dict[str, Any]) -> dict[str, Any]:
    """``DeletedAccounts_Get``/``_List``: the account, with the deleted-account id and the dates
    (azure-rest-api-specs, GetDeletedAccount.json; ``deletionDate``/``scheduledPurgeDate`` in AccountProperties)."""
    res = public(record["resource"])
    rg = res["id"].split("/")[4]
    res["id"] = (f"/subscriptions/{api.s.subscription_id}/providers/{CS_NS}/locations/{record['location']}/"
                 f"resourceGroups/{rg}/deletedAccounts/{res['name']}")
    props = res.setdefault("properties", {})
    props["provisioningState"] = "Succeeded"
    props["deletionDate"] = iso(record["deletionDate"])
    props["scheduledPurgeDate"] = iso(record["scheduledPurgeDate"])
    return res


def _deleted_account(api: ArmApi, method: str, location: str, rg: str, name: str) -> Reply:
    sub_id = f"/subscriptions/{api.s.subscription_id}"
    key = f"{sub_id}/resourceGroups/{rg}/providers/{CS_NS}/accounts/{name}".lower()
    api.authorize(sub_id, "read" if method == "GET" else "write")
    record = api.s.deleted_accounts.get(key)
    if record is None or record["location"] != normalize_location(location):
        raise ArmError(404, "ResourceNotFound",
                       f"The deleted account '{name}' in resource group '{rg}' and location '{location}' was "
                       "not found.")
    if method == "GET":
        return Reply(200, _deleted_account_view(api, record))
    if method != "DELETE":
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on deleted accounts (GET, DELETE).")
    if api.s.busy(key):
        raise api.conflict(record["resource"]["id"])
    if api.s.provisioning_delay <= 0:
        del api.s.deleted_accounts[key]
        api.s.save()
        return Reply(200)
    op = api.s.start_operation(key, "purge", record["location"], CS_NS)
    api.s.save()
    return Reply(202, None, api.lro_headers(op))


def _account_action(api: ArmApi, method: str, target: Target, segs: list[str], low: list[str],
                    body: Any) -> Reply | None:
    """POST listKeys/regenerateKey, GET models/usages below an account."""
    if not (len(segs) == 9 and target.is_collection and target.type.startswith(ACCOUNTS + "/")):
        return None
    action = low[-1]
    account_key = "/".join(["", *low[:-1]])
    if action not in ("listkeys", "regeneratekey", "models", "usages"):
        return None
    account = api.s.resources.get(account_key)
    if account is None:
        api.require_parent(Target(target.path, account_key, ACCOUNTS, "", segs[-2],
                                    "/" + "/".join(segs[:4]), False, segs[3]))
        raise ArmError(404, "ResourceNotFound",
                       f"The Resource 'Microsoft.CognitiveServices/accounts/{segs[-2]}' under resource group "
                       f"'{segs[3]}' was not found.")
    if action in ("listkeys", "regeneratekey"):
        if method != "POST":
            raise ArmError(405, "MethodNotAllowed", f"{segs[-1]} takes POST.")
        api.authorize(account_key, "write", f"Microsoft.CognitiveServices/accounts/{segs[-1]}/action")
        keys = account["_sb"]["keys"]
        if action == "regeneratekey":
            key_name = str((body or {}).get("keyName", ""))
            if key_name.lower() not in ("key1", "key2"):
                raise ArmError(400, "InvalidKeyName", "keyName must be Key1 or Key2.")
            keys[key_name.lower()] = st.new_account_key()
            api.s.save()
        return Reply(200, {"key1": keys["key1"], "key2": keys["key2"]})
    if method != "GET":
        raise ArmError(405, "MethodNotAllowed", f"{segs[-1]} takes GET.")
    api.authorize(account_key, "read")
    if action == "usages":
        return Reply(200, {"value": _usages(api, account["location"]), "nextLink": None})
    return Reply(200, {"value": _account_models(api, account["location"]), "nextLink": None})


# --- models and quota -----------------------------------------------------------------------------


def _model_skus(api: ArmApi, model: str, version: str, location: str) -> list[dict[str, Any]]:
    info = api.s.catalogue.models[model]
    out = []
    for sku in api.s.skus_in(location, model, version):
        out.append({"name": sku, "usageName": api.s.usage_name(sku, model),
                    "capacity": {"minimum": 1, "maximum": max(api.s.quota_limit(sku, model), 1), "step": 1,
                                 "default": info.default_capacity},
                    "rateLimits": [{"key": "request", "renewalPeriod": 60, "count": 1}]})
    return out


#: The catalogue's lifecycle status as the models list spells ``lifecycleStatus`` (ModelLifecycleStatus).
LIFECYCLE_STATUS = {"ga": "GenerallyAvailable", "preview": "Preview", "gated": "Preview",
                    "deprecated": "Deprecating", "retired": "Deprecated"}


def _account_models(api: ArmApi, location: str) -> list[dict[str, Any]]:
    """The models list (``AccountModel`` items) for a location, seeded from the catalogue, one per version."""
    out = []
    for name in api.s.models_in(location):
        info = api.s.catalogue.models.get(name)
        if info is None:
            continue
        for version in api.s.versions_in(name, location):
            stage = info.stage_of(version, api.s.today_date())  # the sandbox's today: a test may move it
            status = stage if stage in ("retired", "deprecated") else info.status_of(version)
            entry: dict[str, Any] = {
                "format": api.s.catalogue.format, "name": name, "version": version,
                "isDefaultVersion": version == info.default_version,
                "lifecycleStatus": LIFECYCLE_STATUS[status],
                "capabilities": {"chatCompletion": "true", "messages": "true", "responses": "false"},
                "maxCapacity": max((api.s.quota_limit(s, name) for s in api.s.skus_in(location, name, version)),
                                   default=0),
                "skus": _model_skus(api, name, version, location),
                "systemData": {"createdBy": "Microsoft", "createdByType": "Application"},
            }
            dep: dict[str, str] = {}
            retirement, deprecation = info.retirement_of(version), info.deprecation_of(version)
            if retirement:
                dep["inference"] = f"{retirement.isoformat()}T00:00:00Z"
            if deprecation or retirement:
                dep["deprecationStatus"] = "Planned"
            if dep:
                entry["deprecation"] = dep
            out.append(entry)
    return out


def _location_models(api: ArmApi, location: str) -> list[dict[str, Any]]:
    return [{"kind": arm_facts.ACCOUNT_KIND, "skuName": arm_facts.ACCOUNT_SKU, "model": m,
             "description": f"{m['name']} on Microsoft Foundry (sandbox)"}
            for m in _account_models(api, location)]


def _used_capacity(api: ArmApi, location: str, sku: str, model: str, exclude_key: str | None = None) -> int:
    """Capacity of ``model`` under ``sku`` already deployed in the quota pool ``location`` draws from: Global
    Standard is one pool per subscription across regions, Data Zone Standard one per data zone."""
    cat = api.s.catalogue
    geo_of = {loc: li.geography for loc, li in cat.locations.items()}
    here = normalize_location(location)
    sku_info = cat.skus.get(sku)
    zone = sku_info.geographies if sku_info else None
    total = 0
    for key, res in api.s.resources.items():
        if res.get("type", "").lower() != DEPLOYMENTS or key == exclude_key:
            continue
        account = api.s.resources.get(key.rsplit("/deployments/", 1)[0])
        if account is None:
            continue
        there: str = account.get("location") or ""  # an account always has one
        same_pool = (there == here) if sku not in cat.skus else (
            zone is None or geo_of.get(there) == geo_of.get(here))
        if not same_pool:
            continue
        if res.get("sku", {}).get("name") == sku and \
                res.get("properties", {}).get("model", {}).get("name") == model:
            total += int(res["sku"].get("capacity") or 0)
    return total


def _usages(api: ArmApi, location: str) -> list[dict[str, Any]]:
    out = []
    for model in api.s.models_in(location):
        for sku in api.s.skus_in(location):
            name = api.s.usage_name(sku, model)
            out.append({"name": {"value": name, "localizedValue": f"Tokens Per Minute (thousands) - {model} - "
                                 f"{sku}"},
                        "currentValue": _used_capacity(api, location, sku, model),
                        "limit": api.s.quota_limit(sku, model), "unit": "Count", "status": "Included",
                        "quotaPeriod": "00:01:00"})
    return out


# --- deployments ----------------------------------------------------------------------------------


def _validate_provider_data(data: Any) -> dict[str, Any]:
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


def _system_identity(api: ArmApi, res: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A system-assigned identity gets a principalId (kept across updates, as Azure keeps it) and the tenant."""
    identity = res.get("identity")
    if isinstance(identity, dict) and "SystemAssigned" in str(identity.get("type", "")):
        old_ident = (existing or {}).get("identity") or {}
        identity["principalId"] = old_ident.get("principalId") or str(uuid.uuid4())
        identity["tenantId"] = api.s.tenant_id


def _below_account(api: ArmApi, target: Target, body: dict[str, Any]
                   ) -> tuple[dict[str, Any], dict[str, Any] | None, Reply | None]:
    """What every write below an account starts with: (the account, the resource as it is, the answer when the
    body repeats the last one). Azure refuses a change below an account while another is in flight (409)."""
    account_key = target.parent.lower()
    account = api.s.resources[account_key]
    if api.s.busy(account_key):
        raise api.conflict(account["id"])
    existing = api.s.resources.get(target.key)
    if api.same_input(existing, body):
        return account, existing, Reply(200, public(existing))
    return account, existing, None


def _put_deployment(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    account, existing, same = _below_account(api, target, body)
    if same is not None:
        return same
    location = account["location"]
    props = body.get("properties") or {}
    model = props.get("model") or {}
    fmt = model.get("format")
    cat = api.s.catalogue
    if fmt != cat.format:
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The sandbox only knows models of format '{cat.format}'; got format '{fmt}'.")
    name = model.get("name")
    info = cat.models.get(str(name))
    if info is None or name not in api.s.models_in(location):
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The model '{fmt}/{name}' is not supported in location '{location}'. Models offered "
                       f"there: {', '.join(api.s.models_in(location)) or 'none'}.")
    version = str(model.get("version") or info.default_version)
    if version not in info.versions:
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The model '{fmt}/{name}' has no version '{version}'. Versions: "
                       f"{', '.join(info.versions)}.")
    if version not in api.s.versions_in(str(name), location):
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The model '{fmt}/{name}' version '{version}' is not supported in location '{location}'. "
                       f"Versions offered there: {', '.join(api.s.versions_in(str(name), location)) or 'none'}.")
    eligibility = cat.eligibility_of(api.s.subscription_quota_id)
    if eligibility is not None and eligibility.verdict == "ineligible":
        # Wording from MicrosoftDocs models-partners.md and Azure-Samples/claude; the error code is not documented.
        words = ("CSP subscription not supported: Cloud Solution Provider (CSP) subscriptions can't purchase "
                 "third-party model offerings." if api.s.subscription_quota_id.upper().startswith("CSP") else
                 "Error occurred when subscribing to Marketplace: Marketplace Subscription purchase eligibility "
                 "check failed.")
        raise ArmError(400, "MarketplaceSubscriptionError", words)
    today = api.s.today_date()
    stage = info.stage_of(version, today)
    same_model = existing is not None and (existing.get("properties", {}).get("model") or {}).get("name") == name \
        and str((existing.get("properties", {}).get("model") or {}).get("version")) == version
    # Microsoft's terms (model-retirements.md): a deprecated model is "no longer available for new customers" while
    # existing deployments keep working; a retired one is "no longer available for use". The wording below is the
    # sandbox's own (Azure's exact text for a Claude model is unpublished); it names the date and the replacement.
    if stage == "retired":
        when = info.retirement_of(version)
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The model '{fmt}/{name}' version '{version}' is retired"
                       + (f" since {when.isoformat()}" if when and when <= today else "")
                       + f" and can no longer be deployed; {cat.replacement_words(str(name))}.")
    deprecation = info.deprecation_of(version)
    if not same_model and (stage == "deprecated" or (deprecation is not None and deprecation <= today)):
        retirement = info.retirement_of(version)
        raise ArmError(400, "DeploymentModelNotSupported",
                       f"The model '{fmt}/{name}' version '{version}' is deprecated and no longer accepts new "
                       "deployments (existing deployments keep answering"
                       + (f" until its retirement on {retirement.isoformat()}" if retirement else "")
                       + f"); {cat.replacement_words(str(name))}.")
    sku = body.get("sku") or {}
    sku_name = sku.get("name")
    offered = api.s.skus_in(location, str(name), version)
    if sku_name not in offered:
        raise ArmError(400, "InvalidResourceProperties",
                       f"The specified SKU '{sku_name}' for model '{name} {version}' is not supported in "
                       f"location '{location}'. SKUs: {', '.join(offered) or 'none'}.")
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
    _validate_provider_data(props.get("modelProviderData"))
    limit = api.s.quota_limit(sku_name, name)
    used = _used_capacity(api, location, sku_name, name, exclude_key=target.key)
    if used + capacity > limit:
        raise ArmError(400, "InsufficientQuota",
                       f"This operation require {capacity} new capacity in quota Tokens Per Minute "
                       f"(thousands) - {name} - {sku_name}, which is bigger than the current available "
                       f"capacity {max(limit - used, 0)}. The current quota usage is {used} and the quota "
                       f"limit is {limit} for quota {api.s.usage_name(sku_name, name)}.")
    res = api.base(target, body, existing)
    p = res["properties"]
    p["model"] = {"format": fmt, "name": name, "version": version}
    res["sku"] = {"name": sku_name, "capacity": capacity}
    p.setdefault("versionUpgradeOption", arm_facts.ARM_VERSION_UPGRADE_DEFAULT)
    p["capabilities"] = {"chatCompletion": "true", "messages": "true"}
    p["rateLimits"] = [{"key": "request", "renewalPeriod": 60, "count": capacity},
                       {"key": "token", "renewalPeriod": 60, "count": capacity * 1000}]
    p["provisioningState"] = "Updating" if existing else "Creating"
    for hidden in api.s.deployment_get_omits:  # accepted, but not echoed on GET (seed: deployment_get_omits)
        if hidden in p:
            res["_sb"].setdefault("hidden", {})[hidden] = p.pop(hidden)
    api.s.resources[target.key] = res
    return api.accepted(200 if existing else 201, target.key, location, CS_NS)


def _delete_deployment(api: ArmApi, target: Target, existing: dict[str, Any]) -> Reply | None:
    """A long-running delete while the sandbox has a provisioning delay (else the router removes it)."""
    if api.s.provisioning_delay > 0:
        existing.setdefault("properties", {})["provisioningState"] = "Deleting"
        loc = api.s.resources[target.parent.lower()].get("location", "global")
        op = api.s.start_operation(target.key, "delete", loc, CS_NS)
        api.s.save()
        return Reply(202, None, api.lro_headers(op))
    return None


PROVIDER = Provider(
    types=(
        ResourceType(ACCOUNTS, put=_put_account, soft_delete=_soft_delete_account),
        ResourceType(DEPLOYMENTS, put=_put_deployment, delete=_delete_deployment, conflicts_on_parent=True),
        # the handlers are at the end of the file (optional Foundry projects)
        ResourceType("microsoft.cognitiveservices/accounts/projects", put=lambda *a: _put_project(*a),
                     delete=lambda *a: _delete_project(*a), conflicts_on_parent=True),
    ),
    subscription_routes={CS_NS.lower(): _subscription_routes},
    actions={ACCOUNTS: _account_action},
)


# --- projects (optional Foundry projects: accounts/projects, the portal's playground and monitoring) --------

PROJECT_NAME_RE = re.compile(arm_facts.PROJECT_NAME_PATTERN)



def _put_project(api: ArmApi, target: Target, body: dict[str, Any]) -> Reply:
    """``Projects_Create`` (azure-rest-api-specs, 2025-06-01 CreateProject.json): only below an AIServices
    account with ``properties.allowProjectManagement: true``; answers provisioningState, endpoints, isDefault
    and the system-assigned identity's principalId. Refused while the account has a write in flight, as
    deployments are (one change below an account at a time)."""
    account, existing, same = _below_account(api, target, body)
    if same is not None:
        return same
    acc_props = account.get("properties") or {}
    if str(account.get("kind", "")).lower() != arm_facts.ACCOUNT_KIND.lower() or \
            acc_props.get("allowProjectManagement") is not True:
        # the sandbox's wording: Azure refuses projects under such an account (exact text unverified)
        raise ArmError(400, "BadRequest",
                       f"Project management is not enabled on account '{account['name']}': projects can only be "
                       f"created under an account of kind '{arm_facts.ACCOUNT_KIND}' with "
                       "properties.allowProjectManagement set to true. Update the account first.")
    if not PROJECT_NAME_RE.match(target.name):
        raise ArmError(400, "InvalidResourceName",
                       f"The project name '{target.name}' is invalid: 2-64 characters of letters, digits, '_', "
                       "'-' and '.', starting with a letter or digit.")
    location = body.get("location") or account["location"]
    if normalize_location(str(location)) != account["location"]:
        raise ArmError(400, "LocationNotAvailableForResourceType",
                       f"The project must be in the location of its account ('{account['location']}'); got "
                       f"'{location}'.")
    res = api.base(target, {**body, "location": location}, existing)
    p = res["properties"]
    sub = str(acc_props.get("customSubDomainName") or account["name"]).lower()
    p["endpoints"] = {"AI Foundry API": f"https://{sub}.services.ai.azure.com/api/projects/{target.name}"}
    siblings = [k for k in api.s.resources if k.startswith(target.parent.lower() + "/projects/") and k != target.key]
    p["isDefault"] = (existing or {}).get("properties", {}).get("isDefault", not siblings)
    p["provisioningState"] = "Updating" if existing else "Creating"
    res["etag"] = f'"{uuid.uuid4()}"'
    _system_identity(api, res, existing)
    api.s.resources[target.key] = res
    return api.accepted(200 if existing else 201, target.key, res["location"], CS_NS)


def _delete_project(api: ArmApi, target: Target, existing: dict[str, Any]) -> Reply | None:
    """Long-running while the sandbox has a provisioning delay, as deployments' deletes are."""
    return _delete_deployment(api, target, existing)
