"""``claude-foundry preflight``: will ``pulumi up`` succeed? Checked against the subscription before deploying.

One :class:`Check` per question, each ``pass``, ``fail`` or ``warn`` with the reason and the fix:

* ``provider-data``: every Claude deployment carries complete ``modelProviderData``;
* ``subscription``: the subscription's type (``subscriptionPolicies.quotaId``) may deploy Claude: CSP, free
  trial and student subscriptions fail; credit-only, Visual Studio and Dev/Test ones warn (catalogue data);
* ``subdomain``: the account's custom subdomain is free, or already ours (``checkDomainAvailability``);
* ``deleted-account``: no soft-deleted Foundry account with the stack's resource group and name (Azure keeps a
  deleted account 48 h; creating it again fails with 409 ``FlagMustBeSetForRestore``) (``deleted_accounts.list``);
* ``deleted-vault``: no soft-deleted Key Vault with the stack's vault name (names are global; creating it
  again fails with 409 ``ConflictError``) (``Microsoft.KeyVault/locations/{loc}/deletedVaults/{name}``);
* ``model:<deployment>``: the model and version are offered in the location with the chosen SKU, and not
  Deprecated (``models.list(location)``, the live truth; Deprecating / Legacy / Preview warn);
* ``quota:<model>/<sku>``: the summed capacity fits the subscription's quota (``usages.list(location)``),
  counting the capacity our own live deployments already hold as available to us;
* ``marketplace:<model>``: the Marketplace terms Claude bills through (the Claude Platform on Foundry / CCU
  offer, then the per-model offer of older deployments) are accepted. Not accepted, or an offer the
  Marketplace does not know (400), is a warning: the Cognitive Services RP signs the terms itself from
  ``modelProviderData``;
* ``resource-group`` and ``permissions``: the group exists (or may be created) and the caller may write
  accounts, deployments, vaults (and role assignments when the stack makes some) there.

A stack with several accounts (``accounts:``) is checked account by account where Azure answers per account or
per region: ``subdomain``, ``deleted-account`` and ``model:<deployment>`` of any account but the first are named
``subdomain:<account>``, ``deleted-account:<account>`` and ``model:<account>/<deployment>`` (the first's keep their
names), each checked against the models list of that account's own location, and every such finding names the
account and its region. Quota is checked per pool: a Global Standard pool is one per subscription (the capacity of
every account adds up), a Data Zone Standard pool one per data zone (``quota:<model>/<sku>@<zone>``), any other SKU
one per region (``quota:<model>/<sku>@<location>``), each against the usages of the accounts' own locations.
Subscription eligibility, Marketplace terms, the vault, the resource group and the permissions are checked once.

An endpoint that answers 404 (not implemented, e.g. in the local sandbox) degrades to ``warn: could not check``.
ARM not answering within the client's bounds (:class:`~claude_foundry._azure.errors.NoAnswer`) ends the run:
the remaining checks would wait as long again. So does a credential that cannot get a token (or that ARM refuses):
one :class:`~claude_foundry._azure.errors.NoCredential` (exit 2) saying so and how to log in, not one failure per
check.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from azure.core.exceptions import ClientAuthenticationError

from claude_foundry import _provider_data as provider_data
from claude_foundry._azure import arm
from claude_foundry._azure.arm import MARKETPLACE_API_VERSION, PERMISSIONS_API_VERSION
from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.errors import NoAnswer, arm_error_text, describe, no_credential, status_of
from claude_foundry._ops.view import AccountView, StackView

PASS, FAIL, WARN = "pass", "fail", "warn"

#: api-version of ``GET /subscriptions/{id}`` (Microsoft.Resources subscriptions, stable).
SUBSCRIPTION_API_VERSION = "2022-12-01"


#: The Marketplace offer type the agreements API files Anthropic's offers under (the offers themselves are
#: catalogue data: ``Catalogue.marketplace_offers``).
MARKETPLACE_OFFER_TYPE = "virtualmachine"


@dataclass
class Check:
    name: str
    status: str  # pass | fail | warn
    reason: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class PreflightReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    def summary(self) -> str:
        return (f"preflight: {self.count(PASS)} passed, {self.count(WARN)} warnings, "
                f"{self.count(FAIL)} failed")

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_json() for c in self.checks], "summary": self.summary()}


def _could_not_check(name: str, what: str, exc_or_text: Any) -> Check:
    text = exc_or_text if isinstance(exc_or_text, str) else describe(exc_or_text)
    return Check(name, WARN, f"could not check: {what} answered {text}",
                 "check by hand before deploying, or re-run where the API is reachable")


# --- provider data ---------------------------------------------------------------------------------


def provider_data_problems(data: Any) -> list[str]:
    """What is wrong with one deployment's ``modelProviderData`` (empty: complete)."""
    return [f"{field} {problem}" for field, problem in provider_data.problems(data)]


def check_provider_data(deployment_bodies: dict[str, dict[str, Any]]) -> Check:
    problems: list[str] = []
    for name, body in sorted(deployment_bodies.items()):
        data, _ = provider_data.of_properties(body.get("properties"))
        problems.extend(f"{name}: {p}" for p in provider_data_problems(data))
    if problems:
        return Check("provider-data", FAIL, "; ".join(problems),
                     "set foundry.model_provider (organization_name, country_code such as US, lower-case "
                     "industry) in the stack file")
    return Check("provider-data", PASS, f"complete on {len(deployment_bodies)} deployment(s)")


def check_subscription(caller: ArmCaller, subscription_id: str, catalogue: Any) -> Check:
    """Whether the subscription's type may deploy Claude at all: its ``subscriptionPolicies.quotaId`` against the
    catalogue's eligibility table (``Catalogue.eligibility_of``). CSP, free trial and student subscriptions fail;
    credit-only, Visual Studio and Dev/Test ones warn. Also what ``claude-foundry doctor`` reports."""
    check = "subscription"
    status, data = caller.call("GET", f"/subscriptions/{subscription_id}", SUBSCRIPTION_API_VERSION)
    policies = (data or {}).get("subscriptionPolicies") if isinstance(data, dict) else None
    quota_id = (policies or {}).get("quotaId") if isinstance(policies, dict) else None
    if status != 200 or not quota_id:
        return Check(check, WARN, f"could not read the subscription's type ({arm_error_text(status, data)})",
                     "check that it is not CSP, a free trial, student, or credit-only sponsored subscription")
    verdict = catalogue.eligibility_of(str(quota_id))
    if verdict is None:
        return Check(check, PASS, f"subscription type {quota_id}: not one the docs exclude")
    words = f"subscription type {quota_id}: {verdict.reason}"
    if verdict.verdict == "eligible":
        return Check(check, PASS, words)
    if verdict.verdict == "ineligible":
        return Check(check, FAIL, words, "deploy from a pay-as-you-go or Enterprise (EA / MCA-E) subscription "
                                         "(Azure answers \"Marketplace purchase eligibility check failed\")")
    fix = ("request Claude quota for the subscription, or deploy from a pay-as-you-go or EA subscription"
           if verdict.verdict == "zero-quota" else
           "attach a pay-as-you-go payment method, or deploy from a pay-as-you-go or EA subscription")
    return Check(check, WARN, words, fix)


# --- the checks against the subscription -----------------------------------------------------------


class Preflight:
    def __init__(self, view: StackView) -> None:
        from claude_foundry._catalogue import load_catalogue

        self.catalogue = load_catalogue()
        self.view = view
        self.spec = view.spec
        self.target = view.target
        #: every account of the stack (the first first), and the spec's view of each (its deployments)
        self.accounts: list[AccountView] = list(view.accounts.values())
        #: wording and check names only (never a code path): a stack with several accounts names the account and
        #: region in each finding and its quota pools in the check names; a one-account stack's read as they always did
        self.multi = len(self.accounts) > 1
        self.resolved = {a.key: a for a in self.spec.all_accounts()}
        self.cs = view.target.cognitive_client()
        self.arm = ArmCaller(view.target)
        self._models: dict[str, list[Any]] = {}  # location -> the live models list there
        self._deleted_accounts: list[Any] | None = None
        self._own: dict[str, dict[tuple[str, str], int]] = {}  # account key -> capacity held per (model, SKU)

    def close(self) -> None:
        self.cs.close()
        self.arm.close()

    def _deployments_of(self, acct: AccountView) -> dict[str, Any]:
        """The account's deployments as the spec gives them (model, version, sku, capacity)."""
        return dict(self.resolved[acct.key].deployments)

    def _name(self, check: str, acct: AccountView, detail: str = "") -> str:
        """A check's name: ``check[:detail]`` for the first account (the names of a one-account stack),
        ``check:<account>[/detail]`` for another (:meth:`AccountView.path`)."""
        path = acct.path(detail)
        return f"{check}:{path}" if path else check

    def _where(self, acct: AccountView) -> str:
        """What a finding about one account starts with, in a stack with several: the account and its region
        (wording only: a one-account stack's findings read as they always did)."""
        return f"account {acct.words}: " if self.multi else ""

    def _name_field(self, acct: AccountView) -> str:
        """The stack file's field that names the account (``foundry.name``, ``accounts.<key>.name``)."""
        return ".".join((*self.resolved[acct.key].settings_path, "name"))

    def run(self) -> PreflightReport:
        bodies = {a.path(n): d.body for a in self.accounts for n, d in a.deployments.items()}
        checks = [check_provider_data(bodies)]
        steps: list[tuple[str, Any]] = [("subscription", self.check_subscription)]
        for acct in self.accounts:
            steps.append((self._name("subdomain", acct), lambda a=acct: self.check_subdomain(a)))
        for acct in self.accounts:
            steps.append((self._name("deleted-account", acct), lambda a=acct: self.check_deleted_account(a)))
        steps.append(("deleted-vault", self.check_deleted_vault))
        for acct in self.accounts:
            steps.append((self._name("models", acct), lambda a=acct: self.check_models(a)))
        steps += [("quota", self.check_quota), ("marketplace", self.check_marketplace),
                  ("resource-group", self.check_resource_group)]
        for name, fn in steps:
            try:
                result = fn()
            except NoAnswer:  # ARM did not answer within the client's bounds: the other checks would not either
                raise
            except ClientAuthenticationError as exc:  # no credential (or refused): every other check would say so
                raise no_credential(exc) from None
            except Exception as exc:  # one check's surprise must not hide the others
                result = [Check(name, FAIL, f"unexpected error: {describe(exc)}", "")]
            checks.extend(result if isinstance(result, list) else [result])
        return PreflightReport(checks)

    # --- subscription eligibility ---------------------------------------------------------------

    def check_subscription(self) -> Check:
        """Whether the subscription's type may deploy Claude at all (``subscriptionPolicies.quotaId``)."""
        return check_subscription(self.arm, self.target.subscription_id, self.catalogue)

    # --- subdomain --------------------------------------------------------------------------------

    def _live_account(self, acct: AccountView) -> dict[str, Any] | None:
        status, data = self.arm.call("GET", acct.account.id, acct.account.api_version)
        return data if status == 200 and isinstance(data, dict) else None

    def check_subdomain(self, acct: AccountView) -> Check:
        from azure.core.exceptions import HttpResponseError

        check, where, field = self._name("subdomain", acct), self._where(acct), self._name_field(acct)
        name = acct.name
        try:
            answer = self.cs.check_domain_availability(
                subdomain_name=name, type=f"{arm.COGNITIVE_SERVICES_NAMESPACE}/accounts", kind=arm.ACCOUNT_KIND)
        except HttpResponseError as exc:
            if status_of(exc) == 404:
                return _could_not_check(check, "checkDomainAvailability", exc)
            raise
        if answer.is_subdomain_available:
            return Check(check, PASS, f"{where}{name} is free")
        live = self._live_account(acct)
        if live and str((live.get("properties") or {}).get("customSubDomainName", "")).lower() == name.lower():
            return Check(check, PASS, f"{where}{name} is taken by this stack's own account (an update, not a "
                                      "create)")
        holder = self._deleted_holder(name)
        if holder is not None:
            if self._is_ours(holder, acct):
                return Check(check, PASS, f"{where}{name} is held by this stack's own soft-deleted account (see "
                                          f"{self._name('deleted-account', acct)})")
            loc, rg, acc = _deleted_account_coordinates(holder)
            return Check(check, FAIL, f"{where}{name} is held by the soft-deleted account {acc} (resource group "
                                      f"{rg}, {loc}) until it is purged",
                         f"purge it: az cognitiveservices account purge -l {loc} -g {rg} -n {acc}; or choose "
                         f"another {field}")
        reason = answer.reason or "in use"
        return Check(check, FAIL, f"{where}{name} is taken by another account ({reason})",
                     f"choose another {field}: the custom subdomain is globally unique (a soft-deleted "
                     "account of yours may also hold it: purge it)")

    # --- soft-deleted account and vault ------------------------------------------------------------

    def deleted_accounts(self) -> list[Any]:
        """The subscription's soft-deleted Cognitive Services accounts (``DeletedAccounts_List``), once."""
        if self._deleted_accounts is None:
            self._deleted_accounts = list(self.cs.deleted_accounts.list())
        return self._deleted_accounts

    def _is_ours(self, deleted: Any, acct: AccountView) -> bool:
        _, rg, name = _deleted_account_coordinates(deleted)
        return rg.lower() == self.spec.resource_group.lower() and name.lower() == acct.name.lower()

    def _deleted_holder(self, subdomain: str) -> Any | None:
        """The soft-deleted account holding ``subdomain``, when the caller may list them."""
        from azure.core.exceptions import HttpResponseError

        try:
            deleted = self.deleted_accounts()
        except HttpResponseError:
            return None
        for d in deleted:
            props = d.properties
            sub = getattr(props, "custom_sub_domain_name", None) if props is not None else None
            if str(sub or "").lower() == subdomain.lower():
                return d
        return None

    def check_deleted_account(self, acct: AccountView) -> Check:
        from azure.core.exceptions import HttpResponseError

        check, where = self._name("deleted-account", acct), self._where(acct)
        rg, name = self.spec.resource_group, acct.name
        try:
            mine = [d for d in self.deleted_accounts() if self._is_ours(d, acct)]
        except HttpResponseError as exc:
            if status_of(exc) in (403, 404):
                return _could_not_check(check, "the deleted accounts list", exc)
            raise
        if not mine:
            return Check(check, PASS, f"{where}no soft-deleted account {name} in resource group {rg}")
        d = mine[0]
        loc, _, acc = _deleted_account_coordinates(d)
        props = d.properties
        when = ""
        if props is not None and getattr(props, "deletion_date", None):
            when = f", deleted {props.deletion_date}"
            if getattr(props, "scheduled_purge_date", None):
                when += f", purged by Azure at {props.scheduled_purge_date}"
        return Check(check, FAIL,
                     f"{where}the account {acc} in resource group {rg} was deleted and is soft-deleted ({loc}{when}): "
                     "creating it again fails with FlagMustBeSetForRestore",
                     f"purge it: az cognitiveservices account purge -l {loc} -g {rg} -n {acc}; or restore it "
                     f"(az cognitiveservices account recover -l {loc} -g {rg} -n {acc}) and import it into the "
                     "stack")

    def check_deleted_vault(self) -> list[Check]:
        check = "deleted-vault"
        if self.view.vault is None:
            return []
        name = self.view.vault.id.rsplit("/", 1)[-1]
        location = str(self.view.vault.body.get("location") or self.spec.location).replace(" ", "").lower()
        sub = f"/subscriptions/{self.target.subscription_id}/providers/Microsoft.KeyVault"
        status, data = self.arm.call("GET", f"{sub}/locations/{location}/deletedVaults/{name}",
                                     arm.API_VERSIONS[arm.VAULT])
        if status == 404:
            # Vault names are global: one soft-deleted in another location of the subscription blocks it too.
            status, data = self._deleted_vault_elsewhere(sub, name)
            if status == 404:
                return [Check(check, PASS, f"no soft-deleted vault named {name}")]
        if status in (401, 403):
            return [Check(check, WARN, f"could not check: {arm_error_text(status, data)}",
                          f"check by hand: az keyvault list-deleted --query \"[?name=='{name}']\"")]
        if status != 200 or not isinstance(data, dict):
            return [Check(check, WARN, f"could not check: {arm_error_text(status, data)}",
                          f"check by hand: az keyvault show-deleted --name {name}")]
        props = data.get("properties") or {}
        loc = str(props.get("location") or location)
        purge_date = props.get("scheduledPurgeDate", "the end of its retention")
        reason = (f"a soft-deleted vault {name} ({loc}, deleted {props.get('deletionDate', '?')}, kept until "
                  f"{purge_date}) holds the name: creating the vault fails with ConflictError")
        recover = f"az keyvault recover --name {name} --location {loc}"
        if props.get("purgeProtectionEnabled"):
            return [Check(check, FAIL, reason + "; it has purge protection",
                          f"recover it ({recover}) and import it into the stack, or choose another "
                          f"key_vault.name: purge protection makes purging impossible before {purge_date}")]
        return [Check(check, FAIL, reason,
                      f"recover it ({recover}) and import it into the stack, or purge it (az keyvault purge "
                      f"--name {name} --location {loc}), or choose another key_vault.name")]

    def _deleted_vault_elsewhere(self, sub: str, name: str) -> tuple[int, Any]:
        """``(200, deleted vault)`` when one named ``name`` is soft-deleted anywhere in the subscription,
        ``(404, None)`` when none is (or the list cannot be read: the location's answer stands)."""
        path: str | None = f"{sub}/deletedVaults"
        for _ in range(20):  # pages
            if path is None:
                break
            status, data = self.arm.call("GET", path, arm.API_VERSIONS[arm.VAULT])
            if status != 200 or not isinstance(data, dict):
                break
            for v in data.get("value") or []:
                if str(v.get("name", "")).lower() == name.lower():
                    return 200, v
            next_link = data.get("nextLink")
            path = _path_of(next_link) if next_link else None
        return 404, None

    # --- models -----------------------------------------------------------------------------------

    def models(self, location: str | None = None) -> list[Any]:
        """The live models list of ``location`` (the stack's by default), read once per location."""
        location = location or self.spec.location
        if location not in self._models:
            self._models[location] = list(self.cs.models.list(location))
        return self._models[location]

    def _offer(self, model: str, version: str, location: str | None = None) -> Any | None:
        for entry in self.models(location):
            m = entry.model
            if m is not None and m.name == model and str(m.version) == str(version):
                return m
        return None

    def check_models(self, acct: AccountView) -> list[Check]:
        """Each of the account's deployments against the models list of the account's own location."""
        from azure.core.exceptions import HttpResponseError

        location, where = acct.location, self._where(acct)
        try:
            models = self.models(location)
        except HttpResponseError as exc:
            if status_of(exc) == 404:
                what = f"the models list API of {location}" if self.multi else "the models list API"
                return [_could_not_check(self._name("models", acct), what, exc)]
            raise
        path = self.resolved[acct.key].path  # () for foundry:, whose deployments are the stack's own
        elsewhere = f", or leave it out of this account ({'.'.join((*path, 'deployments'))})" if path else ""
        out = []
        for name, d in self._deployments_of(acct).items():
            check = self._name("model", acct, name)
            offer = self._offer(d.model, str(d.version), location)
            if offer is None:
                versions = sorted({str(e.model.version) for e in models
                                   if e.model is not None and e.model.name == d.model})
                if versions:
                    out.append(Check(check, FAIL, f"{where}{d.model} version {d.version} is not offered in "
                                                  f"{location} (versions there: {', '.join(versions)})",
                                     f"set the deployment's version to one offered there{elsewhere}"))
                else:
                    here = sorted({e.model.name for e in models
                                   if e.model is not None and str(e.model.name).startswith("claude")})
                    out.append(Check(check, FAIL, f"{where}{d.model} is not offered in {location} (Claude models "
                                                  f"there: {', '.join(here) or 'none'})",
                                     f"pick another model, or another location where it is offered{elsewhere}"))
                continue
            lifecycle = str(getattr(offer, "lifecycle_status", "") or "")
            inference_end = getattr(getattr(offer, "deprecation", None), "inference", None)
            if lifecycle.lower() == "deprecated":
                out.append(Check(check, FAIL, f"{where}{d.model} {d.version} is Deprecated in {location}: inference "
                                              "calls answer 410 and new deployments are refused",
                                 f"deploy a current model ({', '.join(self.catalogue.successors(d.model))})"))
                continue
            skus = [s.name for s in (offer.skus or [])]
            if d.sku not in skus:
                out.append(Check(check, FAIL, f"{where}{d.model} {d.version} is not offered as {d.sku} in {location} "
                                              f"(SKUs: {', '.join(skus) or 'none'})",
                                 f"change the deployment's sku{elsewhere}"))
                continue
            if lifecycle.lower() in ("deprecating", "legacy"):
                until = f" (inference ends {str(inference_end)[:10]})" if inference_end else ""
                out.append(Check(check, WARN, f"{where}{d.model} {d.version} is {lifecycle} in {location}{until}: "
                                              "only subscriptions with existing deployments may create new ones",
                                 f"plan a move to {', '.join(self.catalogue.successors(d.model))}"))
                continue
            if lifecycle.lower() == "preview":
                out.append(Check(check, WARN, f"{where}{d.model} {d.version} offered in {location} as {d.sku}, in "
                                              "preview",
                                 "no SLA in preview; pin a GA model for production"))
                continue
            out.append(Check(check, PASS, f"{where}{d.model} {d.version} offered in {location} as {d.sku}"))
        return out

    # --- quota ------------------------------------------------------------------------------------

    def _usage_name(self, model: str, version: str, sku: str, location: str | None = None) -> str:
        location = location or self.spec.location
        offer = self._offer(model, version, location) if location in self._models else None
        for s in (offer.skus or []) if offer is not None else []:
            if s.name == sku and getattr(s, "usage_name", None):
                return s.usage_name
        return f"AIServices.{sku}.{model}"

    def _own_capacity(self, acct: AccountView) -> dict[tuple[str, str], int]:
        """Capacity our own live deployments hold per (model, SKU): a redeploy reuses it."""
        if acct.key in self._own:
            return self._own[acct.key]
        status, data = self.arm.call("GET", acct.account.id + "/deployments", arm.DEPLOYMENT_API_VERSION)
        own: dict[tuple[str, str], int] = defaultdict(int)
        if status == 200 and isinstance(data, dict):
            for d in data.get("value") or []:
                model = ((d.get("properties") or {}).get("model") or {}).get("name", "")
                sku = d.get("sku") or {}
                own[(model, sku.get("name", ""))] += int(sku.get("capacity") or 0)
        self._own[acct.key] = own
        return own

    def _pool(self, sku: str, location: str) -> tuple[str, str]:
        """The quota pool a deployment draws from: ``("global", "")`` (Global Standard: one per subscription),
        ``("zone", <geography>)`` (a data zone SKU) or ``("region", <location>)`` (any other SKU)."""
        loc = location.replace(" ", "").lower()
        info = self.catalogue.skus.get(sku)
        if info is None:
            return ("region", loc)
        if info.geographies is None:
            return ("global", "")
        where = self.catalogue.locations.get(loc)
        return ("zone", where.geography) if where is not None else ("region", loc)

    def check_quota(self) -> list[Check]:
        """The capacity the stack asks for, per quota pool, against the usages of the accounts' own locations."""
        from azure.core.exceptions import HttpResponseError

        out: list[Check] = []
        usages: dict[str, dict[str, Any]] = {}  # location -> usage name (lower case) -> usage
        for acct in self.accounts:
            if acct.location in usages:
                continue
            try:
                listed = list(self.cs.usages.list(acct.location))
            except HttpResponseError as exc:
                if status_of(exc) == 404:
                    what = f"the usages API of {acct.location}" if self.multi else "the usages API"
                    out.append(_could_not_check(self._name("quota", acct), what, exc))
                    continue
                raise
            usages[acct.location] = {u.name.value.lower(): u for u in listed if u.name is not None and u.name.value}
        # (pool, model, version, sku) -> [(account, capacity)], accounts in the stack's order
        wanted: dict[tuple[tuple[str, str], str, str, str], list[tuple[AccountView, int]]] = defaultdict(list)
        for acct in self.accounts:
            for d in self._deployments_of(acct).values():
                parts = wanted[(self._pool(d.sku, acct.location), d.model, str(d.version), d.sku)]
                if parts and parts[-1][0] is acct:
                    parts[-1] = (acct, parts[-1][1] + int(d.capacity or 0))
                else:
                    parts.append((acct, int(d.capacity or 0)))
        # in the order of (model, version, sku), as a one-account stack always listed them
        for (pool, model, version, sku), parts in sorted(wanted.items(), key=lambda kv: (*kv[0][1:], kv[0][0])):
            capacity = sum(c for _, c in parts)
            check = f"quota:{model}/{sku}"
            if self.multi and pool[0] != "global":
                check += f"@{pool[1]}"
            readable = [a for a, _ in parts if a.location in usages]
            if not readable:
                continue  # every location's usages API failed: said above
            usage, usage_name, location = None, "", readable[0].location
            for a in readable:
                usage_name = self._usage_name(model, version, sku, a.location)
                usage = usages[a.location].get(usage_name.lower())
                if usage is not None:
                    location = a.location
                    break
            lead = ""
            if self.multi:
                asks = " + ".join(f"account {a.words} {c}K" for a, c in parts)
                pool_words = ("the subscription's one Global Standard pool (every region)" if pool[0] == "global"
                              else f"the {sku} pool of data zone {pool[1]}" if pool[0] == "zone"
                              else f"the {sku} quota of {pool[1]}")
                lead = f"{asks} of {pool_words}: "
            if usage is None:
                where = ", ".join(dict.fromkeys(a.location for a in readable))
                out.append(Check(check, WARN, f"{lead}no usage entry {usage_name} in {where}",
                                 "check the quota in the Foundry portal (Quotas)"))
                continue
            limit = int(usage.limit or 0)
            in_pool = [a for a in self.accounts if self._pool(sku, a.location) == pool]
            own = sum(self._own_capacity(a).get((model, sku), 0) for a in in_pool)
            used_by_others = max(int(usage.current_value or 0) - own, 0)
            free = limit - used_by_others
            seen_in = f" (usages of {location})" if self.multi else ""
            if capacity > free:
                fix_pool = ("Global Standard quota is one pool per subscription across all regions, so another "
                            "region does not help; " if sku == "GlobalStandard" else
                            "Data Zone Standard quota is one pool per data zone; " if sku == "DataZoneStandard"
                            else "")
                out.append(Check(check, FAIL, f"{lead}needs {capacity}K TPM; {free} of {limit} is free "
                                              f"({used_by_others} used by other deployments){seen_in}",
                                 f"{fix_pool}lower the deployments' capacity, delete unused deployments (and purge "
                                 "soft-deleted accounts, which hold quota for 48 h), or request more quota "
                                 "(Foundry portal: Quotas)"))
            else:
                out.append(Check(check, PASS, f"{lead}needs {capacity}K TPM; {free} of {limit} free{seen_in}"))
        return out

    # --- marketplace ------------------------------------------------------------------------------

    def _agreement(self, ids: tuple[str, str, str]) -> tuple[int, Any]:
        publisher, offer, plan = ids
        path = (f"/subscriptions/{self.target.subscription_id}/providers/Microsoft.MarketplaceOrdering/"
                f"offerTypes/{MARKETPLACE_OFFER_TYPE}/publishers/{publisher}/offers/{offer}/plans/{plan}/"
                "agreements/current")
        return self.arm.call("GET", path, MARKETPLACE_API_VERSION)

    def check_marketplace(self) -> list[Check]:
        """Per model: the terms of the offers Claude bills through (the CCU offer, then the per-model one), tried
        in the catalogue's order. Accepted anywhere passes; an offer the Marketplace does not know (400) or terms
        not accepted yet are warnings: the Cognitive Services RP signs the terms from modelProviderData."""
        out = []
        offers = self.catalogue.marketplace_offers
        for model in sorted({d.model for a in self.accounts for d in self._deployments_of(a).values()}):
            check = f"marketplace:{model}"
            notes: list[str] = []
            accepted = None
            unreachable = None
            pending: tuple[str, str, str] | None = None
            for o in offers:
                ids = o.ids(model)
                if ids is None:
                    notes.append(f"{o.name}: Marketplace ids not known to the catalogue")
                    continue
                status, data = self._agreement(ids)
                label = "/".join(ids)
                if status == 200 and isinstance(data, dict):
                    if (data.get("properties") or {}).get("accepted"):
                        accepted = ids
                        break
                    pending = pending or ids
                    notes.append(f"terms of {ids[1]} not accepted yet")
                elif status == 400:
                    notes.append(f"Marketplace offer {label} not found ({arm_error_text(status, data)})")
                elif status == 404:
                    unreachable = arm_error_text(status, data)
                else:
                    notes.append(f"{label}: could not check ({arm_error_text(status, data)})")
            if accepted is not None:
                out.append(Check(check, PASS, f"terms of {accepted[1]} accepted"))
            elif unreachable is not None and pending is None:
                out.append(_could_not_check(check, "the Marketplace agreements API", unreachable))
            else:
                fix = ("the Cognitive Services RP accepts the terms from modelProviderData at the first deployment; "
                       "if your subscription blocks RP-initiated purchases, accept them: "
                       + (f"az term accept --publisher {pending[0]} --product {pending[1]} --plan {pending[2]}"
                          if pending else "in the Foundry portal (the model's deploy page)"))
                out.append(Check(check, WARN, "; ".join(notes) or "no Marketplace offer to check", fix))
        return out

    # --- resource group and permissions -----------------------------------------------------------

    def _required_actions(self) -> list[str]:
        actions = ["Microsoft.CognitiveServices/accounts/write",
                   "Microsoft.CognitiveServices/accounts/deployments/write",
                   "Microsoft.CognitiveServices/accounts/listKeys/action"]
        if self.view.vault is not None:
            actions.append("Microsoft.KeyVault/vaults/write")
            actions.append("Microsoft.KeyVault/vaults/secrets/write")
        if self.view.role_assignments:
            actions.append("Microsoft.Authorization/roleAssignments/write")
        return actions

    def check_resource_group(self) -> list[Check]:
        rg = self.spec.resource_group
        sub_scope = f"/subscriptions/{self.target.subscription_id}"
        status, data = self.arm.call("GET", self.view.rg_id, arm.API_VERSIONS[arm.RESOURCE_GROUP])
        out = []
        required = self._required_actions()
        if status == 200:
            loc = str((data or {}).get("location", ""))
            if loc and loc.replace(" ", "").lower() != self.spec.location.lower():
                out.append(Check("resource-group", PASS,
                                 f"{rg} exists (in {loc}; the resources go to {self.spec.location})"))
            else:
                out.append(Check("resource-group", PASS, f"{rg} exists"))
            scope = self.view.rg_id
        elif status == 404:
            if not self.spec.create_resource_group:
                out.append(Check("resource-group", FAIL, f"{rg} does not exist and create_resource_group is false",
                                 "create it, or set create_resource_group: true"))
                return out
            out.append(Check("resource-group", PASS, f"{rg} does not exist yet; the stack creates it"))
            scope = sub_scope
            required = ["Microsoft.Resources/subscriptions/resourceGroups/write", *required]
        elif status == 403:
            out.append(Check("resource-group", FAIL, f"cannot read {rg}: {arm_error_text(status, data)}",
                             "grant the deploying identity Contributor (or Owner) on the group or subscription"))
            return out
        else:
            out.append(Check("resource-group", FAIL, f"cannot read {rg}: {arm_error_text(status, data)}", ""))
            return out
        out.append(self.check_permissions(scope, required))
        return out

    def check_permissions(self, scope: str, required: list[str]) -> Check:
        status, data = self.arm.call("GET", f"{scope}/providers/Microsoft.Authorization/permissions",
                                     PERMISSIONS_API_VERSION)
        if status == 404:
            return _could_not_check("permissions", "Microsoft.Authorization/permissions",
                                    arm_error_text(status, data))
        if status != 200 or not isinstance(data, dict):
            return Check("permissions", WARN, f"could not check: {arm_error_text(status, data)}",
                         "check the deploying identity's roles by hand")
        grants = data.get("value") or []
        if not grants:
            # The caller could read the scope just before, so an empty answer means the API said nothing.
            return Check("permissions", WARN, "could not check: the permissions API listed no permissions "
                                              "for a scope the caller can read",
                         "check the deploying identity's roles by hand")
        missing = [a for a in required if not permitted(a, grants)]
        where = "the subscription" if scope.count("/") == 2 else f"resource group {self.spec.resource_group}"
        if missing:
            return Check("permissions", FAIL, f"the caller may not: {', '.join(missing)} on {where}",
                         "grant Contributor (and, for the role assignments, Owner or User Access "
                         f"Administrator) on {where}")
        return Check("permissions", PASS, f"the caller may write everything the stack makes on {where}")


def _deleted_account_coordinates(deleted: Any) -> tuple[str, str, str]:
    """(location, resource group, name) of a soft-deleted account, from its id
    (``/subscriptions/{s}/providers/Microsoft.CognitiveServices/locations/{loc}/resourceGroups/{rg}/deletedAccounts/{name}``)."""
    segs = str(deleted.id or "").split("/")
    low = [p.lower() for p in segs]
    loc = segs[low.index("locations") + 1] if "locations" in low else str(deleted.location or "")
    rg = segs[low.index("resourcegroups") + 1] if "resourcegroups" in low else ""
    return loc, rg, str(deleted.name or segs[-1])


def _path_of(link: str) -> str:
    """A ``nextLink`` without the endpoint and api-version (``ArmCaller.call`` adds them back)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(link)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k.lower() != "api-version"])
    return parts.path + (f"?{query}" if query else "")


def _match(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def permitted(action: str, grants: list[dict[str, Any]]) -> bool:
    """Does one of the permission entries (``actions`` minus ``notActions``) allow ``action``?"""
    for g in grants:
        if any(_match(p, action) for p in g.get("actions") or []) and \
                not any(_match(p, action) for p in g.get("notActions") or []):
            return True
    return False


def run_preflight(view: StackView) -> PreflightReport:
    pf = Preflight(view)
    try:
        return pf.run()
    finally:
        pf.close()
