"""``claude-foundry verify``: compare what is live with what the stack's plan says should be.

The expected side is the real Pulumi program's ARM bodies (:func:`claude_foundry._ops.view.stack_view`);
the live side is read through ARM and, for secrets, the Key Vault data plane. Every difference is a
:class:`Drift` row: resource, field, expected, actual. Secret values are never shown: a secret that differs
reads "differs from the plan", and the API key is compared with the account's current keys with
``hmac.compare_digest``.

A stack with several accounts (``accounts:``) is checked account by account (properties, network rules,
deployments, role assignments, diagnostic settings), and its contract version 2 secrets too: ``<prefix>-accounts``
against the plan, each account's key secret (``SecretNames.api_key_of``) against that account's current keys. Its
rows name the account (:attr:`~claude_foundry._ops.view.AccountView.label`).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

from claude_foundry._azure import arm
from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.errors import arm_error_text
from claude_foundry._azure.resource import ArmResource
from claude_foundry._client.smoke import outside_network, outside_network_words
from claude_foundry._ops.view import AccountView, StackView

#: Deployment fields the program sends that Azure may leave out of a GET (whether it echoes modelProviderData is
#: unverified; raiPolicyName and versionUpgradeOption are optional): missing on GET is not drift.
MAYBE_NOT_ECHOED = (("properties.modelProviderData", "modelProviderData"),
                    ("properties.raiPolicyName", "raiPolicyName"),
                    ("properties.versionUpgradeOption", "versionUpgradeOption"))
MISSING = "(missing)"
ABSENT = "(absent)"
KEY_NOT_CURRENT = "not a current account key"


@dataclass
class Drift:
    resource: str
    field: str
    expected: str
    actual: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class VerifyReport:
    drifts: list[Drift]
    checked: int  # number of resources compared

    @property
    def in_sync(self) -> bool:
        return not self.drifts

    def summary(self) -> str:
        if self.in_sync:
            return f"in sync: {self.checked} resources match the stack"
        return f"drift: {len(self.drifts)} difference(s) across {self.checked} resources"

    def to_json(self) -> dict[str, Any]:
        return {"in_sync": self.in_sync, "checked": self.checked, "drift": [d.to_json() for d in self.drifts],
                "summary": self.summary()}


def _s(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)
    return d


def _ci_eq(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return a == b


def _norm_acls(acls: Any) -> dict[str, Any]:
    acls = acls if isinstance(acls, dict) else {}
    rules = sorted(str(r.get("value", r)) if isinstance(r, dict) else str(r) for r in acls.get("ipRules") or [])
    return {"defaultAction": acls.get("defaultAction") or "Allow", "ipRules": rules}


class Verifier:
    def __init__(self, view: StackView) -> None:
        self.view = view
        self.target = view.target
        self.arm = ArmCaller(view.target)
        self.drifts: list[Drift] = []
        self.checked = 0
        self._keys: dict[str, tuple[str, str] | None] = {}  # account key -> its current (key1, key2)
        self.accounts = view.accounts
        self.multi = len(self.accounts) > 1  # wording only (:meth:`_of`): a one-account stack's rows read as always
        #: account id (lower case) -> the account, to name the account of a role assignment or diagnostic setting
        self._by_id = {a.account.id.lower(): a for a in self.accounts.values()}

    def close(self) -> None:
        self.arm.close()

    def drift(self, resource: str, field: str, expected: Any, actual: Any) -> None:
        self.drifts.append(Drift(resource, field, _s(expected) if not isinstance(expected, str) else expected,
                                 _s(actual) if not isinstance(actual, str) else actual))

    def _get(self, planned: ArmResource) -> dict[str, Any] | None:
        status, data = self.arm.call("GET", planned.id, planned.api_version)
        self.checked += 1
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise_for(status, data, planned.id)
        return data

    def run(self) -> VerifyReport:
        for acct in self.accounts.values():
            if self.verify_account(acct) is not None:
                self.verify_deployments(acct)
        self.verify_role_assignments()
        self.verify_diagnostics()
        self.verify_vault()
        return VerifyReport(self.drifts, self.checked)

    def _of(self, acct: AccountView | None, word: str = " on ") -> str:
        """``<word><account label>`` for a row about something of one account of a stack with several, else ""
        (wording only: a one-account stack's rows read as they always did)."""
        return f"{word}{acct.label}" if acct is not None and self.multi else ""

    def _on(self, resource_id: str) -> str:
        """What a row about something at ``resource_id`` (an account, or under one) says it is on: the account's
        label in a stack with several, else the resource's name."""
        rid = resource_id.lower()
        acct = next((a for aid, a in self._by_id.items() if rid == aid or rid.startswith(aid + "/")), None)
        return self._of(acct, "") or resource_id.rsplit("/", 1)[-1]

    # --- account ----------------------------------------------------------------------------------

    def verify_account(self, acct: AccountView) -> dict[str, Any] | None:
        planned = acct.account
        name = acct.label
        live = self._get(planned)
        if live is None:
            self.drift(name, "exists", "present", MISSING)
            return None
        body = planned.body
        for path in ("kind", "sku.name", "properties.customSubDomainName", "properties.publicNetworkAccess"):
            exp = _get(body, path)
            if exp is not None and not _ci_eq(exp, _get(live, path)):
                self.drift(name, path.removeprefix("properties."), exp, _get(live, path))
        exp_local = bool(_get(body, "properties.disableLocalAuth"))
        act_local = bool(_get(live, "properties.disableLocalAuth"))
        if exp_local != act_local:
            self.drift(name, "disableLocalAuth", exp_local, act_local)
        if _get(body, "properties.networkAcls") is not None:
            exp_acl = _norm_acls(_get(body, "properties.networkAcls"))
            act_acl = _norm_acls(_get(live, "properties.networkAcls"))
            if exp_acl != act_acl:
                self.drift(name, "networkAcls", exp_acl, act_acl)
        return live

    # --- deployments ------------------------------------------------------------------------------

    def verify_deployments(self, acct: AccountView) -> None:
        status, data = self.arm.call("GET", acct.account.id + "/deployments", arm.DEPLOYMENT_API_VERSION)
        if status != 200 or not isinstance(data, dict):
            raise_for(status, data, acct.account.id + "/deployments")
        live = {d["name"]: d for d in data.get("value") or [] if isinstance(d, dict) and "name" in d}
        for name, planned in sorted(acct.deployments.items()):
            self.checked += 1
            res = f"deployment {name}{self._of(acct)}"
            got = live.pop(name, None)
            if got is None:
                self.drift(res, "exists", "present", MISSING)
                continue
            body = planned.body
            for path, label in (("properties.model.name", "model"), ("properties.model.version", "version"),
                                ("properties.model.format", "format"), ("sku.name", "sku"),
                                ("sku.capacity", "capacity"), *MAYBE_NOT_ECHOED):
                exp = _get(body, path)
                act = _get(got, path)
                if exp is None or (act is None and (path, label) in MAYBE_NOT_ECHOED):
                    continue  # Azure may not echo these on GET: absent is not drift, a different value is
                if path in ("sku.capacity", "properties.model.version"):
                    same = str(exp) == str(act)
                elif isinstance(exp, dict):
                    same = exp == act
                else:
                    same = _ci_eq(exp, act)
                if not same:
                    self.drift(res, label, exp, act)
        for name in sorted(live):
            got = live[name]
            self.drift(f"deployment {name}{self._of(acct)}", "exists", ABSENT + " not in the stack",
                       f"present ({_get(got, 'properties.model.name')}, {_get(got, 'sku.name')} "
                       f"{_get(got, 'sku.capacity')})")

    # --- role assignments, diagnostic settings ----------------------------------------------------

    def verify_role_assignments(self) -> None:
        for planned in self.view.role_assignments:
            role_guid = str(_get(planned.body, "properties.roleDefinitionId")).rsplit("/", 1)[-1]
            principal = _get(planned.body, "properties.principalId")
            role = next((arm.ROLE_NAMES[k] for k, g in arm.ROLE_IDS.items() if g == role_guid), role_guid)
            scope = planned.id.split("/providers/Microsoft.Authorization/", 1)[0]
            label = f"role {role} for {principal} on {self._on(scope)}"
            if self._get(planned) is not None:
                continue
            if self._assigned_elsewhere(scope, str(principal), role_guid):
                continue
            self.drift(label, "exists", "present", MISSING)

    def _assigned_elsewhere(self, scope: str, principal: str, role_guid: str) -> bool:
        """The same role for the same principal at the same scope under another assignment name."""
        status, data = self.arm.call(
            "GET", f"{scope}/providers/Microsoft.Authorization/roleAssignments?$filter="
                   + quote(f"principalId eq '{principal}'"),
            arm.API_VERSIONS[arm.ROLE_ASSIGNMENT])
        if status != 200 or not isinstance(data, dict):
            return False
        for ra in data.get("value") or []:
            p = ra.get("properties") or {}
            if str(p.get("roleDefinitionId", "")).rsplit("/", 1)[-1].lower() == role_guid.lower() and \
                    str(p.get("scope", "")).lower() == scope.lower():
                return True
        return False

    def verify_diagnostics(self) -> None:
        for planned in self.view.diagnostic_settings:
            parent_id = planned.id.split("/providers/Microsoft.Insights/", 1)[0]
            label = f"diagnostic setting {planned.id.rsplit('/', 1)[-1]} on {self._on(parent_id)}"
            live = self._get(planned)
            if live is None:
                self.drift(label, "exists", "present", MISSING)
                continue
            exp = _get(planned.body, "properties.workspaceId")
            act = _get(live, "properties.workspaceId")
            if exp and not _ci_eq(exp, act):
                self.drift(label, "workspaceId", exp, act)

    # --- Key Vault --------------------------------------------------------------------------------

    def _account_keys(self, acct: AccountView) -> tuple[str, str] | None:
        if acct.key not in self._keys:
            status, data = self.arm.call("POST", acct.account.id + "/listKeys", acct.account.api_version)
            self._keys[acct.key] = (str(data.get("key1") or ""), str(data.get("key2") or "")) \
                if status == 200 and isinstance(data, dict) else None
        return self._keys[acct.key]

    def verify_vault(self) -> None:
        planned = self.view.vault
        if planned is None:
            return
        name = f"key vault {planned.id.rsplit('/', 1)[-1]}"
        live = self._get(planned)
        if live is None:
            self.drift(name, "exists", "present", MISSING)
            return
        exp_rbac = bool(_get(planned.body, "properties.enableRbacAuthorization"))
        act_rbac = bool(_get(live, "properties.enableRbacAuthorization"))
        if exp_rbac != act_rbac:
            self.drift(name, "enableRbacAuthorization", exp_rbac, act_rbac)
        exp_net = _get(planned.body, "properties.publicNetworkAccess")  # only a private stack sends it
        if exp_net is not None and not _ci_eq(exp_net, _get(live, "properties.publicNetworkAccess")):
            self.drift(name, "publicNetworkAccess", exp_net, _get(live, "properties.publicNetworkAccess"))
        exp_pp = bool(_get(planned.body, "properties.enablePurgeProtection"))
        act_pp = bool(_get(live, "properties.enablePurgeProtection"))
        if exp_pp != act_pp:
            self.drift(name, "enablePurgeProtection", exp_pp, act_pp)
        vault_url = _get(live, "properties.vaultUri")
        if vault_url:
            self.verify_secrets(str(vault_url))

    def verify_secrets(self, vault_url: str) -> None:
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        names = self.view.spec.secret_names
        key_of = {names.api_key_of(k): a for k, a in self.accounts.items()}  # key secret -> its account
        client = self.target.secret_client(vault_url)
        try:
            for secret_name, planned in sorted(self.view.secrets.items()):
                self.checked += 1
                acct = key_of.get(secret_name)
                res = f"secret {secret_name}{self._of(acct, ' of ')}"
                try:
                    got = client.get_secret(secret_name)
                except ResourceNotFoundError:
                    self.drift(res, "exists", "present", MISSING)
                    continue
                except HttpResponseError as exc:
                    if outside_network(exc.status_code, str(exc)):
                        self.drift(f"key vault {vault_url}", "read secrets", "readable",
                                   "cannot read secrets from here: " + outside_network_words(f"Key Vault {vault_url}")
                                   + f" (Key Vault said: {str(exc).strip().splitlines()[0][:200]})")
                        return
                    if exc.status_code == 403:
                        self.drift(f"key vault {vault_url}", "read secrets", "readable",
                                   "cannot read secrets: Key Vault Secrets User missing for the caller")
                        return
                    raise
                if got.properties.enabled is False:
                    self.drift(res, "enabled", "true", "false")
                if acct is not None:  # an account's key: one of that account's current keys
                    self._compare_key(res, got.value or "", acct)
                elif secret_name == names.accounts:
                    self._compare_accounts(res, _get(planned.body, "properties.value"), got.value or "")
                else:
                    expected = _get(planned.body, "properties.value")
                    if isinstance(expected, str) and not hmac.compare_digest(
                            expected.encode(), (got.value or "").encode()):
                        self.drift(res, "value", "as planned", "differs from the plan")
            for key, acct in self.accounts.items():  # Entra only: no key should be exported
                secret_name = names.api_key_of(key)
                if secret_name in self.view.secrets:
                    continue
                try:
                    client.get_secret(secret_name)
                except (ResourceNotFoundError, HttpResponseError):
                    pass
                else:
                    self.drift(f"secret {secret_name}{self._of(acct, ' of ')}", "exists",
                               ABSENT + " (local auth disabled)", "present")
            if names.accounts not in self.view.secrets:  # one account: a leftover accounts document would send
                try:                                     # clients to accounts the stack no longer has
                    client.get_secret(names.accounts)
                except (ResourceNotFoundError, HttpResponseError):
                    pass
                else:
                    self.drift(f"secret {names.accounts}", "exists", ABSENT + " (the stack has one account)",
                               "present (clients read the accounts it lists and fail over to them)")
        finally:
            client.close()

    def _compare_accounts(self, res: str, expected: Any, value: str) -> None:
        """``<prefix>-accounts`` (no key in it) against the plan's: as JSON, naming the accounts that differ."""
        if not isinstance(expected, str):
            return  # not known at plan time: nothing to compare with
        try:
            exp_doc = json.loads(expected)
        except ValueError:  # not a document at plan time: compared as any other secret
            if not hmac.compare_digest(expected.encode(), value.encode()):
                self.drift(res, "value", "as planned", "differs from the plan")
            return
        try:
            act_doc = json.loads(value)
        except ValueError:
            act_doc = None
        if exp_doc == act_doc:
            return
        if not isinstance(exp_doc, dict) or not isinstance(act_doc, dict):
            self.drift(res, "value", "as planned", "differs from the plan (not an accounts document)")
            return

        def by_account(doc: dict[str, Any]) -> dict[str, Any]:
            return {str(a.get("account")): a for a in doc.get("accounts") or [] if isinstance(a, dict)}

        exp, act = by_account(exp_doc), by_account(act_doc)
        parts = []
        if exp_doc.get("version") != act_doc.get("version"):
            parts.append(f"version {act_doc.get('version')!r}, planned {exp_doc.get('version')!r}")
        parts += [f"account {k} missing" for k in exp if k not in act]
        parts += [f"account {k} not in the stack" for k in act if k not in exp]
        for k in exp:
            if k in act and exp[k] != act[k]:
                fields = sorted(f for f in set(exp[k]) | set(act[k]) if exp[k].get(f) != act[k].get(f))
                label = self.accounts[k].label if k in self.accounts else f"account {k}"
                parts.append(f"{label}: {', '.join(fields)}")
        if not parts and list(exp) != list(act):
            parts.append("accounts in another order (the order clients fail over in)")
        self.drift(res, "value", "as planned", "differs from the plan" + (f" ({'; '.join(parts)})" if parts else ""))

    def _compare_key(self, res: str, value: str, acct: AccountView) -> None:
        keys = self._account_keys(acct)
        if keys is None:
            self.drift(res, "value", "a current account key",
                       "cannot compare: listKeys refused (the caller needs "
                       "Microsoft.CognitiveServices/accounts/listKeys/action"
                       + self._of(acct) + ")")
            return
        ok = False
        for k in keys:  # compare with both, always, in constant time
            ok = hmac.compare_digest(value.encode(), k.encode()) or ok
        if not ok:
            self.drift(res, "value", "a current account key", KEY_NOT_CURRENT)


def raise_for(status: int, data: Any, what: str) -> None:
    from claude_foundry._errors import OperationFailed

    raise OperationFailed(f"cannot read {what}: {arm_error_text(status, data)}")


def run_verify(view: StackView) -> VerifyReport:
    v = Verifier(view)
    try:
        return v.run()
    finally:
        v.close()

