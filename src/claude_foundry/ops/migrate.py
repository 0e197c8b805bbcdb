"""Moving a logical deployment name to a successor model without a failed request (docs/lifecycle.md, "Moving a
deployment").

:func:`move_deployment` drives the four steps against a :class:`~claude_foundry.azure.target.Target` (Azure, or the
local sandbox in tests and rehearsals) and returns a :class:`MoveReport` (data; a CLI renders it):

1. **deploy** the replacement beside the old deployment, under the physical name
   :func:`claude_foundry.contract.physical_name` (``<logical>--<model>``), with the old one's SKU, capacity and
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import contract as c
from claude_foundry.azure import arm
from claude_foundry.azure.caller import wait_for
from claude_foundry.azure.target import OPERATION_TIMEOUT, Target
from claude_foundry.catalogue import Catalogue, load_catalogue
from claude_foundry.errors import OperationFailed, UserError

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

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"logical": self.logical, "account": self.account,
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


def _read_map(secrets: Any, names: c.SecretNames) -> tuple[dict[str, c.DeploymentInfo], str | None]:
    """The primary's deployment map and the accounts document (None for a one-account stack)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        text = secrets.get_secret(names.deployments).value
    except ResourceNotFoundError:
        raise UserError(f"Key Vault secret {names.deployments!r} not found: wrong vault or prefix") from None
    try:
        accounts = secrets.get_secret(names.accounts).value
    except ResourceNotFoundError:
        accounts = None
    try:
        return c.load_deployment_map(text or "{}"), accounts
    except ValueError as exc:
        raise UserError(f"Key Vault secret {names.deployments!r} is not a deployment map: {exc}") from None


def _smoke(target: Target, base_url: str, api_key: str | None, logical: str, entry: c.DeploymentInfo,
           timeout: float, sleep: Callable[[float], None]) -> str:
    """One tiny call to the new physical deployment through a runtime (as applications will call it); retries a 404
    (a new deployment propagating) within ``timeout``. The model the answer names."""
    import anthropic

    from claude_foundry.client.runtime import FoundryRuntime

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
) -> MoveReport:
    """Move the logical deployment ``logical`` of the stack's primary account (``account`` in ``resource_group``,
    contract in ``vault_url`` under ``prefix``) to ``to_model`` (version: ``to_version``, else the one of the same
    hosting as the old deployment, else the catalogue's default). Returns the :class:`MoveReport`;
    :class:`MoveError` names the step that failed, :class:`UserError` bad input."""
    if drain < 0 or drain != drain or drain > 86400:
        raise UserError(f"drain must be 0-86400 seconds (got {drain!r})")
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
        deployments, accounts_doc = _read_map(secrets, names)
        if logical not in deployments:
            raise UserError(f"deployment {logical!r} is not in the contract; known: {', '.join(sorted(deployments))}")
        current = deployments[logical]
        old_physical = current.physical(logical)
        new_physical = c.physical_name(logical, to_model)
        old = _get(rm, _resource_id(target, resource_group, account, old_physical))
        if current.model == to_model and old_physical == new_physical:
            report = MoveReport(logical, account, old_physical, current.model, new_physical, to_model,
                                current.version)
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
                            new_physical, to_model, version)

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
        base_url = c.check_endpoint(secrets.get_secret(names.endpoint).value)
        key = None
        try:
            auth = secrets.get_secret(names.auth_mode).value
            if (auth or c.AUTH_MODE_KEY) == c.AUTH_MODE_KEY:
                key = secrets.get_secret(names.api_key).value
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
        secrets.set_secret(names.deployments, c.dump_deployment_map(deployments))
        if accounts_doc:
            listed, _ = c.load_accounts(accounts_doc)
            listed = [dataclasses.replace(a, deployments={**a.deployments, logical: entry})
                      if a.account == c.PRIMARY_ACCOUNT else a for a in listed]
            secrets.set_secret(names.accounts, c.dump_accounts(listed, names))
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


def _arm_words(exc: BaseException) -> str:
    from claude_foundry.azure.errors import describe

    try:
        return describe(exc)
    except Exception:
        return type(exc).__name__
