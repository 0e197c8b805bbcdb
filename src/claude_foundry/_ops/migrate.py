"""Moving a logical deployment name to a successor model without a failed request (docs/lifecycle.md, "Moving a
deployment").

:func:`move_deployment` drives the four steps against a :class:`~claude_foundry._azure.target.Target` (Azure, or the
local sandbox in tests and rehearsals) and returns a :class:`MoveReport` (data; a CLI renders it):

1. **deploy** the replacement beside the old deployment, under the physical name
   :func:`claude_foundry._contract.physical_name` (``<logical>--<model>``), with the old one's SKU, capacity and
   ``modelProviderData``;
2. **smoke** it: one tiny Messages call to the new physical deployment, whose answer must name the new model;
3. **switch** the contract: the logical name's map entry (``<prefix>-deployments``, and the account's entry of
   ``<prefix>-accounts`` when the stack has one) becomes ``{model: <new>, deployment: <physical>}``. Runtimes that
   re-read the map (every ``DEFAULT_MAP_REFRESH_INTERVAL`` seconds, and after a 404) send the new physical name from
   then on; older ones keep sending the old name, which still answers;
4. **drain** for ``drain`` seconds, then **remove** the old deployment.

Every wait is bounded (the Target's call bounds, ``operation_timeout`` per long-running operation, ``smoke_timeout``
for the new deployment to answer). A move stopped half-way is resumed by running it again: a replacement already
deployed is reused, a contract already switched is left as is, an old deployment already gone is not an error.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry._azure.caller import wait_for
from claude_foundry._azure.target import OPERATION_TIMEOUT, Target
from claude_foundry._catalogue import Catalogue, load_catalogue
from claude_foundry._errors import ArgumentProblem, InvalidArgument, OperationFailed, UserError

#: Seconds between the switch and the removal of the old deployment by default: ten times the runtime's map
#: re-read interval (30 s), so every running runtime has followed and its calls in flight to the old deployment
#: (up to a few minutes for a long answer) are over. The minimum that is safe is the re-read interval plus the
#: longest call your applications make; runtimes that never re-read the map must be restarted within it.
DEFAULT_DRAIN = 300.0
#: Seconds the new deployment has to answer the smoke call (a new deployment can answer 404 for a while).
DEFAULT_SMOKE_TIMEOUT = 120.0


class MoveError(OperationFailed):
    """A step of a move failed; ``step`` names it. What was done before it stays (a re-run resumes)."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
        #: With :func:`move_stack_deployment`: the stack's key of the account that failed, and those moved before.
        self.account: str | None = None
        self.moved: list[str] = []


@dataclass
class MoveStep:
    name: str  # deploy | smoke | switch | drain | remove
    seconds: float
    detail: str


@dataclass
class MoveReport:
    """What a move did: the logical name, the old and new physical deployments and models, each step's time."""

    logical: str
    account: str
    from_deployment: str
    from_model: str
    to_deployment: str
    to_model: str
    to_version: str
    steps: list[MoveStep] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    account_key: str = c.PRIMARY_ACCOUNT  # the stack's name (key) for the account

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"logical": self.logical, "account": self.account, "account_key": self.account_key,
                "from": {"deployment": self.from_deployment, "model": self.from_model},
                "to": {"deployment": self.to_deployment, "model": self.to_model, "version": self.to_version},
                "seconds": round(self.seconds, 3),
                "steps": [{"name": s.name, "seconds": round(s.seconds, 3), "detail": s.detail} for s in self.steps]}


def _resource_id(target: Target, resource_group: str, account: str, deployment: str) -> str:
    return arm.deployment_id(target.subscription_id, resource_group, account, deployment)


def _get(rm: Any, rid: str) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return rm.resources.get_by_id(rid, api_version=arm.DEPLOYMENT_API_VERSION).as_dict()
    except ResourceNotFoundError:
        return None


def _new_body(old: dict[str, Any], model: str, version: str, provider_data: dict[str, Any] | None) -> dict[str, Any]:
    props = old.get("properties") or {}
    data = provider_data or props.get("modelProviderData") or props.get("model_provider_data")
    if not isinstance(data, dict) or not data:
        raise MoveError("deploy", "the old deployment's modelProviderData is not readable back from ARM (whether GET "
                                  "echoes it is unverified): pass model_provider_data= (organizationName, "
                                  "countryCode, industry: the stack's foundry.model_provider)")
    sku = old.get("sku") or {}
    new_props: dict[str, Any] = {
        "model": {"format": (props.get("model") or {}).get("format") or "Anthropic", "name": model,
                  "version": version},
        "modelProviderData": {k: data[k] for k in ("organizationName", "countryCode", "industry") if k in data},
        "versionUpgradeOption": props.get("versionUpgradeOption") or props.get("version_upgrade_option")
        or arm.VERSION_UPGRADE_DEFAULT,
    }
    rai = props.get("raiPolicyName") or props.get("rai_policy_name")
    if rai:
        new_props["raiPolicyName"] = rai
    return {"sku": {"name": sku.get("name") or "GlobalStandard", "capacity": int(sku.get("capacity") or 1)},
            "properties": new_props}


def _read_accounts_doc(secrets: Any, names: c.SecretNames) -> str | None:
    """The ``<prefix>-accounts`` document (contract version 2), None for a one-account stack."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return secrets.get_secret(names.accounts).value or None
    except ResourceNotFoundError:
        return None


def _load_accounts(text: str, names: c.SecretNames) -> tuple[list[c.Contract], dict[str, str]]:
    try:
        return c.load_accounts(text)
    except ValueError as exc:
        raise UserError(f"Key Vault secret {names.accounts!r} is not an accounts document: {exc}") from None


@dataclass
class _AccountMap:
    """One account's side of the contract as a move reads it."""

    deployments: dict[str, c.DeploymentInfo]
    accounts_doc: str | None  # the whole <prefix>-accounts value (None: a one-account stack)
    base_url: str | None  # from the accounts document (None: the version 1 secret <prefix>-endpoint)
    key_secret: str | None  # from the accounts document (None: the version 1 secret <prefix>-api-key)
    auth_mode: str | None  # from the accounts document (None: the version 1 secret <prefix>-auth-mode)


def _read_map(secrets: Any, names: c.SecretNames, account_key: str = c.PRIMARY_ACCOUNT) -> _AccountMap:
    """The deployment map of the account ``account_key``: the stack's first account's from the version 1 secrets
    (``<prefix>-deployments``, what a version 1 reader reads), another's from the accounts document."""
    from azure.core.exceptions import ResourceNotFoundError

    accounts = _read_accounts_doc(secrets, names)
    if c.account_label(account_key):  # not the first account: only the accounts document has it
        if accounts is None:
            raise UserError(f"Key Vault secret {names.accounts!r} not found: the contract lists no account "
                            f"{account_key!r} (a one-account stack has only {c.PRIMARY_ACCOUNT!r})")
        listed, key_secrets = _load_accounts(accounts, names)
        for a in listed:
            if a.account == account_key:
                return _AccountMap(dict(a.deployments), accounts, a.base_url, key_secrets.get(a.account),
                                   a.auth_mode)
        raise UserError(f"the contract lists no account {account_key!r} (accounts: "
                        f"{', '.join(a.account for a in listed)})")
    try:
        text = secrets.get_secret(names.deployments).value
    except ResourceNotFoundError:
        raise UserError(f"Key Vault secret {names.deployments!r} not found: wrong vault or prefix") from None
    try:
        return _AccountMap(c.load_deployment_map(text or "{}"), accounts, None, None, None)
    except ValueError as exc:
        raise UserError(f"Key Vault secret {names.deployments!r} is not a deployment map: {exc}") from None


def serving_accounts(target: Target, *, vault_url: str, logical: str,
                     prefix: str = c.DEFAULT_SECRET_PREFIX) -> list[str]:
    """The accounts of the stack (their keys, the first first) whose contract serves ``logical``: the accounts
    document's order for a stack with several accounts, else the one account when its map holds the name."""
    names = c.SecretNames(prefix)
    secrets = target.secret_client(vault_url)
    try:
        accounts = _read_accounts_doc(secrets, names)
        if accounts is not None:
            listed, _ = _load_accounts(accounts, names)
            return [a.account for a in listed if logical in a.deployments]
        return [c.PRIMARY_ACCOUNT] if logical in _read_map(secrets, names).deployments else []
    finally:
        secrets.close()


def _smoke(target: Target, base_url: str, api_key: str | None, logical: str, entry: c.DeploymentInfo,
           timeout: float, sleep: Callable[[float], None]) -> str:
    """One tiny call to the new physical deployment through a runtime (as applications will call it); retries a 404
    (a new deployment propagating) within ``timeout``. The model the answer names."""
    import anthropic

    from claude_foundry._client.runtime import FoundryRuntime

    contract = c.Contract(resource="", base_url=base_url, deployments={logical: entry},
                          auth_mode=c.AUTH_MODE_KEY if api_key else c.AUTH_MODE_ENTRA, api_key=api_key)
    runtime = FoundryRuntime(contract, credential=target.credential, ca_bundle=target.ca_bundle, timeout=30,
                             map_refresh_interval=None)
    deadline = time.monotonic() + timeout
    delay = 1.0
    with runtime, runtime.client(logical, max_retries=0) as client:
        while True:
            try:
                msg = client.messages.create(model=logical, max_tokens=8,
                                             messages=[{"role": "user", "content": "Say hi"}])
                return str(msg.model)
            except anthropic.NotFoundError:
                if time.monotonic() + delay > deadline:
                    raise MoveError("smoke", f"the new deployment {entry.deployment!r} still answers 404 after "
                                             f"{timeout:g} s") from None
                sleep(delay)
                delay = min(delay * 1.5, 10.0)
            except anthropic.APIStatusError as exc:
                raise MoveError("smoke", f"the new deployment {entry.deployment!r} answered {exc.status_code}: "
                                         f"{str(exc)[:300]}") from None
            except anthropic.APIConnectionError as exc:
                raise MoveError("smoke", f"the new deployment {entry.deployment!r} could not be reached "
                                         f"({type(exc).__name__})") from None


def move_deployment(
    target: Target,
    *,
    resource_group: str,
    account: str,
    vault_url: str,
    logical: str,
    to_model: str,
    to_version: str | None = None,
    prefix: str = c.DEFAULT_SECRET_PREFIX,
    drain: float = DEFAULT_DRAIN,
    model_provider_data: dict[str, Any] | None = None,
    operation_timeout: float = OPERATION_TIMEOUT,
    smoke_timeout: float = DEFAULT_SMOKE_TIMEOUT,
    catalogue: Catalogue | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    account_key: str = c.PRIMARY_ACCOUNT,
    vault_id: str | None = None,
) -> MoveReport:
    """Move the logical deployment ``logical`` of one account of the stack (``account`` in ``resource_group``; its
    key in the stack ``account_key``, the first account's by default; contract in ``vault_url`` under ``prefix``) to
    ``to_model`` (version: ``to_version``, else the one of the same hosting as the old deployment, else the
    catalogue's default). The first account's map is ``<prefix>-deployments`` (and its entry of
    ``<prefix>-accounts``), another account's its entry of ``<prefix>-accounts``. With ``vault_id`` (the vault's
    ARM id) the contract is written through ARM, as the program writes it (Contributor on the resource group is
    enough), else through Key Vault's data plane (Key Vault Secrets Officer). Returns the :class:`MoveReport`;
    :class:`MoveError` names the step that failed, :class:`UserError` bad input."""
    if not isinstance(drain, int | float) or drain < 0 or drain != drain or drain > 86400:
        raise InvalidArgument(ArgumentProblem("drain", f" must be 0-86400 seconds (got {drain!r})"))
    cat = catalogue or load_catalogue()
    info = cat.model(to_model)
    if info is None:
        raise UserError(f"unknown model {to_model!r}: the catalogue does not know it (refresh it, or check the name)")
    from azure.core.exceptions import HttpResponseError

    names = c.SecretNames(prefix)
    say = progress or (lambda _line: None)
    rm = target.resource_client()
    secrets = target.secret_client(vault_url)
    try:
        side = _read_map(secrets, names, account_key)
        deployments, accounts_doc = side.deployments, side.accounts_doc
        if logical not in deployments:
            raise UserError(f"deployment {logical!r} is not in the contract of account {account_key!r}; known: "
                            f"{', '.join(sorted(deployments)) or 'none'}")
        current = deployments[logical]
        old_physical = current.physical(logical)
        new_physical = c.physical_name(logical, to_model)
        old = _get(rm, _resource_id(target, resource_group, account, old_physical))
        if current.model == to_model and old_physical == new_physical:
            report = MoveReport(logical, account, old_physical, current.model, new_physical, to_model,
                                current.version, account_key=account_key)
            report.steps.append(MoveStep("switch", 0.0, "already moved: nothing to do"))
            return report
        if old is None:
            raise MoveError("deploy", f"the deployment {old_physical!r} serving {logical!r} is not in account "
                                      f"{account!r}: nothing to copy the SKU and capacity from")
        old_model = (old.get("properties") or {}).get("model") or {}
        old_hosting = (cat.model(str(old_model.get("name"))) or info).versions.get(str(old_model.get("version")))
        version = to_version or (info.version_for(old_hosting.hosting) if old_hosting else None) \
            or info.default_version
        if version not in info.versions:
            raise UserError(f"{to_model} has no version {version!r}; versions: {', '.join(info.versions)}")
        report = MoveReport(logical, account, old_physical, str(old_model.get("name") or current.model),
                            new_physical, to_model, version, account_key=account_key)

        # 1. deploy the replacement beside the old one
        t0 = time.monotonic()
        new_id = _resource_id(target, resource_group, account, new_physical)
        if _get(rm, new_id) is None:
            body = _new_body(old, to_model, version, model_provider_data)
            say(f"deploying {new_physical} ({to_model} version {version}) beside {old_physical}")
            try:
                wait_for(rm.resources.begin_create_or_update_by_id(new_id, api_version=arm.DEPLOYMENT_API_VERSION,
                                                                   parameters=body),
                         f"deployment {new_physical}", operation_timeout)
            except OperationFailed as exc:
                raise MoveError("deploy", str(exc)) from None
            except HttpResponseError as exc:  # ARM's refusal (quota, a deprecated model, ...): its words
                raise MoveError("deploy", f"ARM refused {new_physical}: {_arm_words(exc)}") from None
            detail = f"deployed {new_physical}"
        else:
            detail = f"{new_physical} already deployed (resumed)"
        report.steps.append(MoveStep("deploy", time.monotonic() - t0, detail))

        # 2. smoke-test it, as applications will call it
        t0 = time.monotonic()
        base_url = side.base_url or c.check_endpoint(secrets.get_secret(names.endpoint).value)
        key = None
        try:
            auth = side.auth_mode or secrets.get_secret(names.auth_mode).value
            if (auth or c.AUTH_MODE_KEY) == c.AUTH_MODE_KEY:
                key = secrets.get_secret(side.key_secret or names.api_key).value
        except Exception:
            key = None
        entry = c.DeploymentInfo(model=to_model, version=version, family=cat.family_of(to_model), sku=current.sku,
                                 capacity=current.capacity, deployment=new_physical)
        answered = _smoke(target, base_url, key, logical, entry, smoke_timeout, sleep)
        if answered != to_model and not answered.startswith(to_model + "-"):
            raise MoveError("smoke", f"{new_physical} answered as model {answered!r}, not {to_model!r}")
        report.steps.append(MoveStep("smoke", time.monotonic() - t0, f"{new_physical} answered as {answered}"))

        # 3. switch the contract: runtimes that re-read the map follow
        t0 = time.monotonic()
        deployments = {**deployments, logical: entry}
        def write(name: str, value: str) -> None:
            if vault_id is None:
                secrets.set_secret(name, value)
            else:
                _write_secret_arm(target, vault_id, name, value)

        if not c.account_label(account_key):  # the first account's map is also what a version 1 reader reads
            write(names.deployments, c.dump_deployment_map(deployments))
        if accounts_doc:
            listed, _ = _load_accounts(_read_accounts_doc(secrets, names) or accounts_doc, names)
            listed = [dataclasses.replace(a, deployments={**a.deployments, logical: entry})
                      if a.account == account_key else a for a in listed]
            write(names.accounts, c.dump_accounts(listed, names))
        say(f"switched {logical} to {new_physical}; draining {old_physical} for {drain:g} s")
        report.steps.append(MoveStep("switch", time.monotonic() - t0, f"{logical} -> {new_physical}"))

        # 4. drain, then remove the old deployment
        t0 = time.monotonic()
        if drain:
            sleep(drain)
        report.steps.append(MoveStep("drain", time.monotonic() - t0, f"{drain:g} s"))
        t0 = time.monotonic()
        old_id = _resource_id(target, resource_group, account, old_physical)
        if old_physical != new_physical and _get(rm, old_id) is not None:
            try:
                wait_for(rm.resources.begin_delete_by_id(old_id, api_version=arm.DEPLOYMENT_API_VERSION),
                         f"deleting deployment {old_physical}", operation_timeout)
            except OperationFailed as exc:
                raise MoveError("remove", str(exc)) from None
            except HttpResponseError as exc:
                raise MoveError("remove", f"ARM refused to delete {old_physical}: {_arm_words(exc)}") from None
        say(f"removed {old_physical}")
        report.steps.append(MoveStep("remove", time.monotonic() - t0, f"removed {old_physical}"))
        return report
    finally:
        rm.close()
        secrets.close()


def _write_secret_arm(target: Target, vault_id: str, name: str, value: str) -> None:
    """Set a contract secret through ARM (``vaults/secrets``), keeping the tags and content type it has."""
    from claude_foundry._azure.caller import ArmCaller

    path = f"{vault_id}/secrets/{name}"
    caller = ArmCaller(target)
    try:
        status, data = caller.call("GET", path, arm.KEY_VAULT_API_VERSION)
        body: dict[str, Any] = {"properties": {"value": value}}
        if status == 200 and isinstance(data, dict):
            if data.get("tags"):
                body["tags"] = data["tags"]
            kind = (data.get("properties") or {}).get("contentType")
            if kind:
                body["properties"]["contentType"] = kind
        status, data = caller.call("PUT", path, arm.KEY_VAULT_API_VERSION, body)
    finally:
        caller.close()
    if status not in (200, 201):
        from claude_foundry._azure.errors import arm_error_text

        raise MoveError("switch", f"writing the contract secret {name}: {arm_error_text(status, data)}")


def _arm_words(exc: BaseException) -> str:
    from claude_foundry._azure.errors import describe

    try:
        return describe(exc)
    except Exception:
        return type(exc).__name__


# --- every account of the stack, one after another ---------------------------------------------------------------


@dataclass
class StackMoveReport:
    """A move of one logical name over the accounts of a stack: each account's :class:`MoveReport` in the order
    moved, and the accounts left out (key -> why)."""

    logical: str
    to_model: str
    moves: list[MoveReport] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(m.seconds for m in self.moves)

    def to_json(self) -> dict[str, Any]:
        return {"logical": self.logical, "to_model": self.to_model, "seconds": round(self.seconds, 3),
                "accounts": [m.to_json() for m in self.moves], "skipped": dict(self.skipped)}


class StackAccount(Protocol):
    """An account of the stack as a move needs it: the stack's ``key`` for it and its Azure ``name``
    (:class:`~claude_foundry.program.spec._schema.ResolvedAccount`, :class:`~claude_foundry._ops.view.AccountView`)."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...


def move_stack_deployment(
    target: Target,
    *,
    resource_group: str,
    accounts: Iterable[StackAccount],
    vault_url: str,
    logical: str,
    to_model: str,
    only: list[str] | None = None,
    prefix: str = c.DEFAULT_SECRET_PREFIX,
    on_account: Callable[[str, MoveReport], None] | None = None,
    **move: Any,
) -> StackMoveReport:
    """Move ``logical`` to ``to_model`` on every account of the stack whose contract serves it (``accounts``: the
    stack's accounts in order, each with its ``key`` and ``name``: ``spec.all_accounts()`` or
    ``StackView.accounts.values()``), or on those of ``only``, one account after another: each
    completes its four steps (its own drain) before the next starts, so the others keep serving meanwhile.
    ``move``: the other keywords of :func:`move_deployment`. A failed account raises its :class:`MoveError`
    (``account`` names it, ``moved`` the accounts done before); running the same move again resumes."""
    names = {a.key: a.name for a in accounts}  # key -> Azure account name, in the stack's order
    if not names:
        raise InvalidArgument(ArgumentProblem("accounts", " must name at least one account"))
    unknown = [k for k in only or () if k not in names]
    if unknown:
        raise InvalidArgument(ArgumentProblem(
            "accounts", f" {unknown[0]!r}: no such account in the stack; its accounts are {', '.join(names)}"))
    serving = serving_accounts(target, vault_url=vault_url, logical=logical, prefix=prefix)
    report = StackMoveReport(logical, to_model)
    for key in names:
        if only and key not in only:
            report.skipped[key] = "not asked"
        elif key not in serving:
            report.skipped[key] = f"its contract does not serve {logical}"
    todo = [k for k in names if k not in report.skipped]
    if not todo:
        raise UserError(f"deployment {logical!r} is served by no account asked for (the contract's accounts "
                        f"serving it: {', '.join(serving) or 'none'})")
    for key in todo:
        try:
            done = move_deployment(target, resource_group=resource_group, account=names[key], vault_url=vault_url,
                                   logical=logical, to_model=to_model, prefix=prefix, account_key=key, **move)
        except MoveError as exc:
            exc.account = key
            exc.moved = [m.account_key for m in report.moves]
            raise
        report.moves.append(done)
        if on_account is not None:
            on_account(key, done)
    return report


# --- the stack file after a move ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackEdit:
    """One change to a stack file: at ``where`` (keys from the top of the file), set ``values`` and remove
    ``remove``; ``create``: the mapping is not there yet (an override for one account)."""

    where: tuple[str, ...]
    values: dict[str, Any]
    remove: tuple[str, ...] = ()
    create: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"where": ".".join(self.where), "set": dict(self.values), "remove": list(self.remove),
                "create": self.create}


@dataclass
class StackFileChange:
    """What a stack file must say after a move, so that ``pulumi up`` and ``up --local`` keep the physical
    deployments instead of re-creating the old ones. ``text``: the file rewritten (PyYAML: comments and layout are
    not kept), None when an edit falls in a file this one ``extends`` (``problems`` says which)."""

    path: str
    edits: list[StackEdit]
    text: str | None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "edits": [e.to_json() for e in self.edits], "writable": self.text is not None,
                "problems": list(self.problems)}


def _entry_values(logical: str, model: str, version: str, physical: str | None,
                  cat: Catalogue) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The keys a deployment entry needs to declare ``model`` at ``version`` served by ``physical``, and those to
    drop (a hosting or version of the old model). The version is written only when the model's default would not
    pick it."""
    values: dict[str, Any] = {"model": model}
    remove = ["hosting", "version"]
    info = cat.model(model)
    vinfo = info.version_info(version) if info else None
    if info is None or vinfo is None:
        values["version"] = version
    elif info.version_for(info.default_hosting) != version:
        if info.version_for(vinfo.hosting) == version:
            values["hosting"] = vinfo.hosting
        else:
            values["version"] = version
    if physical and physical != logical:
        values["deployment"] = physical
    else:
        remove.append("deployment")
    return values, tuple(k for k in remove if k not in values)


def stack_file_change(path: str, spec: Any, report: StackMoveReport, catalogue: Catalogue | None = None
                      ) -> StackFileChange:
    """The edits that make the stack file at ``path`` (``spec``: it, loaded) declare what ``report`` moved: each
    moved account's entry names the new model and ``deployment: <physical>``; an account that inherits the
    entry from ``deployments:`` but was not moved gets an override keeping its old model."""
    import yaml

    cat = catalogue or load_catalogue()
    logical = report.logical
    moved = {m.account_key: m for m in report.moves}
    resolved = {a.key: a for a in spec.all_accounts()}
    edits: list[StackEdit] = []
    # the stack's own deployments: entry (foundry:'s, path ()), which the accounts: entries inherit
    base = next((moved[a.key] for a in resolved.values() if not a.path and a.key in moved), None)
    if base is not None:
        values, remove = _entry_values(logical, base.to_model, base.to_version, base.to_deployment, cat)
        edits.append(StackEdit(("deployments", logical), values, remove))
    for key, acct in resolved.items():
        if not acct.path or logical not in acct.deployments:
            continue
        where = (*acct.path, "deployments", logical)
        own = _account_override(spec, key, logical)
        m = moved.get(key)
        if m is not None:
            values, remove = _entry_values(logical, m.to_model, m.to_version, m.to_deployment, cat)
            if own is not None and "model" in own:
                edits.append(StackEdit(where, values, remove))
            elif base is None or (base.to_model, base.to_version, base.to_deployment) != \
                    (m.to_model, m.to_version, m.to_deployment):
                edits.append(StackEdit(where, values, create=True))
        elif base is not None and (own is None or "model" not in own):
            dep = acct.deployments[logical]  # as it is now: keep it
            values, _ = _entry_values(logical, dep.model, str(dep.version), dep.deployment, cat)
            edits.append(StackEdit(where, values, create=True))
    text, problems = _apply(path, edits, yaml)
    return StackFileChange(path, edits, text, problems)


def _account_override(spec: Any, key: str, logical: str) -> dict[str, Any] | None:
    """The account's own entry for ``logical`` as the spec holds it (model set: it names its own model)."""
    acct = spec.accounts.get(key)
    if acct is None or logical not in acct.deployments:
        return None
    dep = acct.deployments[logical]
    base = spec.deployments.get(logical)
    return {"model": dep.model} if base is None or dep.model != base.model else {}


def _apply(path: str, edits: list[StackEdit], yaml: Any) -> tuple[str | None, list[str]]:
    from pathlib import Path

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return None, [f"{path}: cannot be read back ({type(exc).__name__})"]
    if not isinstance(data, dict):
        return None, [f"{path}: not a mapping"]
    problems = []
    for edit in edits:
        node: Any = data
        for n, key in enumerate(edit.where):
            last = n == len(edit.where) - 1
            child = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and key == "deployments" and isinstance(child, list):
                child = node[key] = dict.fromkeys(child)  # an account's list of names becomes a mapping
            if child is None and isinstance(node, dict) and (edit.create or (key == "deployments" and
                                                                             edit.where[0] == "accounts")):
                if key == "deployments" and not last:  # "every deployment of the stack": say so as a mapping
                    child = node[key] = dict.fromkeys(data.get("deployments") or {})
                else:
                    child = node[key] = {}
            if not isinstance(child, dict):
                problems.append(f"{'.'.join(edit.where[:n + 1])} is not in {path} as a mapping (it comes from a "
                                "file this one extends, or is written another way): make this change there")
                break
            node = child
        else:
            for k in edit.remove:
                node.pop(k, None)
            node.update(edit.values)
    if problems:
        return None, problems
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120), []


def stack_vault_url(target: Target, resource_group: str, vault: str) -> str:
    """The contract vault's URL as ARM reports it (``properties.vaultUri``); :class:`OperationFailed` otherwise."""
    from claude_foundry._azure.caller import ArmCaller

    caller = ArmCaller(target)
    try:
        status, data = caller.call("GET", arm.vault_id(target.subscription_id, resource_group, vault),
                                   arm.KEY_VAULT_API_VERSION)
    finally:
        caller.close()
    url = ((data or {}).get("properties") or {}).get("vaultUri") if status == 200 and isinstance(data, dict) else None
    if not url:
        raise OperationFailed(f"the stack's vault {vault!r} in {resource_group!r} is not readable (ARM answered "
                              f"{status}): deploy the stack first, or check the subscription")
    return str(url)
