"""Local rehearsal of a deploy: apply the Pulumi program's resource graph to the sandbox's ARM.

The program is not described twice: :func:`claude_foundry.program.plan.plan` runs the real components under Pulumi
mocks; every registered resource carries its ARM id, API version and request body (``armmap``). This
module PUTs those bodies through the Azure SDK (``ResourceManagementClient.resources``, the same generic
path the Pulumi generic resource takes), in dependency order: resources whose dependencies are done run
concurrently, so the deployments of one account (chained in the program) go one after another and
independent accounts go in parallel. A failed resource stops its dependants and leaves what succeeded in
place; a re-run resumes. Like Pulumi, it keeps a small state file (a hash of what it last applied per
resource id) so an unchanged second run changes nothing.

This is a rehearsal against the local sandbox. ``pulumi up`` against Azure is the real path.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_foundry.azure.target import Target
from claude_foundry.program import armmap

# The plan's stand-in for a key read from the account (``${listAccountKeys:<account id>:key1}``); the local
# deploy replaces it with the key the sandbox's ARM lists when it writes the secret.
from claude_foundry.program.plan import KEY_PLACEHOLDER_RE

CREATE, UPDATE, SAME, FAILED, SKIPPED, DELETED, ABSENT = (
    "create", "update", "unchanged", "failed", "skipped", "deleted", "absent")


@dataclass
class Step:
    """One ARM resource to apply."""

    key: str  # unique (Pulumi URN)
    type: str  # Pulumi type token
    name: str  # logical name
    arm_id: str
    api_version: str
    body: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)  # keys of other steps


@dataclass
class StepResult:
    step: Step
    action: str
    seconds: float = 0.0
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ApplyResult:
    results: list[StepResult]

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    @property
    def ok(self) -> bool:
        return not any(r.action in (FAILED, SKIPPED) for r in self.results)

    @property
    def changed(self) -> int:
        return self.count(CREATE) + self.count(UPDATE)

    def summary(self) -> str:
        parts = [f"{self.count(CREATE)} created", f"{self.count(UPDATE)} updated",
                 f"{self.count(SAME)} unchanged"]
        if self.count(FAILED):
            parts.append(f"{self.count(FAILED)} failed")
        if self.count(SKIPPED):
            parts.append(f"{self.count(SKIPPED)} skipped")
        change = "0 to change" if self.changed == 0 and self.ok else f"{self.changed} changed"
        return f"{change} ({', '.join(parts)})"

    def by_type(self, suffix: str) -> list[StepResult]:
        return [r for r in self.results if r.step.type.endswith(suffix)]


# --- state ----------------------------------------------------------------------------------------


class DeployState:
    """What was applied last, per resource id: a hash of the body (no secret value), its type, logical
    name and API version (so a resource dropped from the stack can be deleted). Kept in a JSON file."""

    FORMAT = "claude-foundry-local-deploy/2"

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.entries: dict[str, dict[str, str]] = {}
        if path is not None and path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("format") == self.FORMAT:
                    self.entries = {k: dict(v) for k, v in data.get("applied", {}).items()}
            except (OSError, ValueError, AttributeError):
                self.entries = {}

    def get(self, arm_id: str) -> str | None:
        entry = self.entries.get(arm_id.lower())
        return entry["digest"] if entry else None

    def set(self, step: Step, digest: str | None) -> None:
        with self._lock:
            if digest is None:
                self.entries.pop(step.arm_id.lower(), None)
            else:
                self.entries[step.arm_id.lower()] = {"digest": digest, "id": step.arm_id, "type": step.type,
                                                     "name": step.name, "api_version": step.api_version}
            self._save()

    def orphans(self, steps: list[Step]) -> list[Step]:
        """Resources applied before that the stack no longer has (to delete, as ``pulumi up`` would)."""
        wanted = {s.arm_id.lower() for s in steps}
        return [Step(key=e["id"], type=e["type"], name=e["name"], arm_id=e["id"], api_version=e["api_version"],
                     body={}) for k, e in sorted(self.entries.items()) if k not in wanted]

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"format": self.FORMAT, "applied": self.entries}, indent=1, sort_keys=True),
                       encoding="utf-8")
        tmp.replace(self.path)


def body_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- ARM calls ------------------------------------------------------------------------------------


def describe_arm_error(exc: BaseException) -> str:
    """ARM's error in words: code and message, never a request body."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError

    if isinstance(exc, HttpResponseError):
        err = getattr(exc, "error", None)
        code = getattr(err, "code", None) or getattr(exc, "reason", None) or "Error"
        message = getattr(err, "message", None) or str(exc).splitlines()[0]
        status = getattr(exc, "status_code", None)
        return f"{status} {code}: {message}" if status else f"{code}: {message}"
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach ARM: {str(exc).splitlines()[0]}"
    return f"{exc.__class__.__name__}: {exc}"


def _split_account_id(account_id: str) -> tuple[str, str]:
    m = re.search(r"/resourceGroups/([^/]+)/providers/Microsoft\.CognitiveServices/accounts/([^/]+)$",
                  account_id, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a Cognitive Services account id: {account_id}")
    return m.group(1), m.group(2)


class Applier:
    def __init__(self, target: Target, state: DeployState) -> None:
        self.target = target
        self.state = state
        self._resources = target.resource_client()
        self._cognitive = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._resources.close()
        if self._cognitive is not None:
            self._cognitive.close()

    def _keys(self, account_id: str) -> dict[str, str]:
        with self._lock:
            if self._cognitive is None:
                self._cognitive = self.target.cognitive_client()
        rg, name = _split_account_id(account_id)
        keys = self._cognitive.accounts.list_keys(rg, name)
        return {"key1": keys.key1, "key2": keys.key2}

    def resolve(self, value: Any) -> Any:
        """Replace key placeholders with the account's current key (read from ARM's listKeys)."""
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, str) and KEY_PLACEHOLDER_RE.search(value):
            def sub(m: re.Match[str]) -> str:
                return self._keys(m.group("account_id"))[m.group("key")]
            return KEY_PLACEHOLDER_RE.sub(sub, value)
        return value

    def exists(self, step: Step) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._resources.resources.get_by_id(step.arm_id, api_version=step.api_version)
        except ResourceNotFoundError:
            return False
        return True

    def apply(self, step: Step) -> StepResult:
        started = time.monotonic()
        body = self.resolve(step.body)
        digest = body_digest(body)
        known = self.state.get(step.arm_id)
        # Like Pulumi, trust the state for what we applied, but confirm the resource still exists (it may
        # have been deleted out of band). Without a matching state entry there is nothing to confirm: PUT.
        if known == digest:
            if self.exists(step):
                return StepResult(step, SAME, time.monotonic() - started)
            action = CREATE  # applied before, deleted since
        else:
            action = UPDATE if known is not None else CREATE
        poller = self._resources.resources.begin_create_or_update_by_id(
            step.arm_id, api_version=step.api_version, parameters=body)
        result = poller.result()
        self.state.set(step, digest)
        outputs = result.as_dict() if hasattr(result, "as_dict") else {}
        return StepResult(step, action, time.monotonic() - started, outputs=outputs)

    def delete(self, step: Step) -> StepResult:
        from azure.core.exceptions import ResourceNotFoundError

        started = time.monotonic()
        try:
            self._resources.resources.begin_delete_by_id(step.arm_id, api_version=step.api_version).result()
        except ResourceNotFoundError:
            self.state.set(step, None)
            return StepResult(step, ABSENT, time.monotonic() - started)
        self.state.set(step, None)
        return StepResult(step, DELETED, time.monotonic() - started)


# --- the scheduler --------------------------------------------------------------------------------

Reporter = Callable[[StepResult], None]


def run_graph(steps: list[Step], work: Callable[[Step], StepResult], *, reverse: bool = False,
              concurrency: int = 16, report: Reporter | None = None) -> list[StepResult]:
    """Run ``work`` over the steps in dependency order (reverse order for deletes), in parallel where the
    graph allows. A step whose dependency failed is skipped, not attempted."""
    by_key = {s.key: s for s in steps}
    deps: dict[str, set[str]] = {s.key: {d for d in s.depends_on if d in by_key} for s in steps}
    if reverse:
        rdeps: dict[str, set[str]] = {k: set() for k in by_key}
        for k, ds in deps.items():
            for d in ds:
                rdeps[d].add(k)
        deps = rdeps
    done: dict[str, StepResult] = {}
    running: dict[Future[StepResult], str] = {}
    results: list[StepResult] = []

    def finish(res: StepResult) -> None:
        done[res.step.key] = res
        results.append(res)
        if report:
            report(res)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        while len(done) < len(steps):
            for key in by_key:
                if key in done or key in running.values():
                    continue
                pending = deps[key]
                if any(done.get(d) is not None and done[d].action in (FAILED, SKIPPED) for d in pending):
                    bad = next(d for d in pending if done.get(d) and done[d].action in (FAILED, SKIPPED))
                    finish(StepResult(by_key[key], SKIPPED, error=f"not attempted: {by_key[bad].name} "
                                                                   f"did not succeed"))
                    continue
                if all(d in done for d in pending):
                    running[pool.submit(_guarded, work, by_key[key])] = key
            if not running:
                if len(done) < len(steps):  # a cycle: cannot happen with Pulumi's graph
                    for key in by_key:
                        if key not in done:
                            finish(StepResult(by_key[key], SKIPPED, error="dependency cycle"))
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in finished:
                running.pop(fut)
                finish(fut.result())
    return results


def _guarded(work: Callable[[Step], StepResult], step: Step) -> StepResult:
    started = time.monotonic()
    try:
        return work(step)
    except Exception as exc:  # every failure is reported per resource, in words
        return StepResult(step, FAILED, time.monotonic() - started, error=describe_arm_error(exc))


def apply_steps(steps: list[Step], target: Target, *, state_path: Path | None = None, concurrency: int = 16,
                report: Reporter | None = None) -> ApplyResult:
    """Apply the steps; then, when everything succeeded, delete what an earlier run applied and the stack
    no longer has (children and locks first)."""
    state = DeployState(state_path)
    applier = Applier(target, state)
    try:
        results = run_graph(steps, applier.apply, concurrency=concurrency, report=report)
        if all(r.action not in (FAILED, SKIPPED) for r in results):
            orphans = deletion_order(state.orphans(steps))
            results += run_graph(orphans, applier.delete, reverse=True, concurrency=concurrency, report=report)
        return ApplyResult(results)
    finally:
        applier.close()


def destroy_steps(steps: list[Step], target: Target, *, state_path: Path | None = None, concurrency: int = 16,
                  report: Reporter | None = None) -> ApplyResult:
    applier = Applier(target, DeployState(state_path))
    try:
        return ApplyResult(run_graph(deletion_order(steps), applier.delete, reverse=True, concurrency=concurrency,
                                     report=report))
    finally:
        applier.close()


def _under(arm_id: str, scope: str) -> bool:
    return arm_id.lower().startswith(scope.lower().rstrip("/") + "/")


def deletion_order(steps: list[Step]) -> list[Step]:
    """Steps whose ``depends_on`` also say what ARM needs for deleting (``run_graph(reverse=True)`` deletes a
    step only after everything that depends on it): a resource nested in another (a deployment in its
    account, a role assignment on a vault) depends on it, and a management lock depends on everything in
    its scope, so the lock goes first; ARM refuses deletes under a lock (409 ScopeLocked)."""
    out = []
    for step in steps:
        deps = set(step.depends_on)
        scope = step.arm_id.split("/providers/Microsoft.Authorization/locks/")[0] \
            if "/providers/microsoft.authorization/locks/" in step.arm_id.lower() else None
        for other in steps:
            if other is step:
                continue
            if _under(step.arm_id, other.arm_id):
                deps.add(other.key)  # nested in other: other is deleted after it
            if scope is not None and (_under(other.arm_id, scope) or other.arm_id.lower() == scope.lower()):
                deps.add(other.key)  # a lock goes before everything in its scope
        out.append(Step(step.key, step.type, step.name, step.arm_id, step.api_version, step.body, sorted(deps)))
    return out


def steps_from_plan(resources: Iterable[Any]) -> list[Step]:
    """ARM steps from a :class:`claude_foundry.program.plan.Plan`'s resources (components carry no ARM body).

    A component's dependencies are passed on to the resources inside it, and a dependency on a component
    means a dependency on everything inside it, as in Pulumi.
    """
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    children: dict[str, list[str]] = {}
    for r in resources:
        if r.parent:
            children.setdefault(r.parent, []).append(r.urn)

    def leaves(urn: str) -> list[str]:
        r = by_urn.get(urn)
        if r is None:
            return []
        if r.arm is not None:
            return [urn]
        out: list[str] = []
        for c in children.get(urn, []):
            out.extend(leaves(c))
        return out

    def inherited(r: Any) -> set[str]:
        deps = set(r.depends_on)
        parent = by_urn.get(r.parent) if r.parent else None
        while parent is not None and parent.arm is None:
            deps |= set(parent.depends_on)
            parent = by_urn.get(parent.parent) if parent.parent else None
        return deps

    steps = []
    for r in resources:
        if r.arm is None:
            continue
        deps: set[str] = set()
        for d in inherited(r):
            deps.update(x for x in leaves(d) if x != r.urn)
        steps.append(Step(key=r.urn, type=r.type, name=r.name, arm_id=r.arm.id, api_version=r.arm.api_version,
                          body=r.arm.body, depends_on=sorted(deps)))
    return steps


# --- the whole local deploy -----------------------------------------------------------------------


@dataclass
class LocalDeploy:
    """What ``up --local`` did, and where the runtime finds the result."""

    result: ApplyResult
    endpoint: str
    resource_name: str
    vault_url: str | None
    secret_prefix: str
    deployments: list[str]


def plan_for_target(spec: Any, target: Target) -> Any:
    """The program's plan with the target's ids (subscription, tenant, caller) and endpoint template."""
    from claude_foundry.program.plan import plan

    config = {"subscriptionId": target.subscription_id}
    if target.tenant_id:
        config["tenantId"] = target.tenant_id
    if target.principal_id:
        config["objectId"] = target.principal_id
    return plan(spec, base_url_template=target.foundry_base_url_template, client_config=config)


def state_file(state_dir: Path, spec: Any, target: Target) -> Path:
    return state_dir / f"deploy-{spec.environment}-{target.subscription_id}.json"


def up_local(spec: Any, target: Target, *, state_dir: Path | None = None, concurrency: int = 16,
             report: Reporter | None = None) -> LocalDeploy:
    planned = plan_for_target(spec, target)
    steps = steps_from_plan(planned.resources)
    state = state_file(state_dir, spec, target) if state_dir else None
    result = apply_steps(steps, target, state_path=state, concurrency=concurrency, report=report)
    vault_url = None
    vault = next((s for s in steps if s.type == armmap.VAULT), None)
    if vault is not None and result.ok:
        with target.resource_client() as client:
            got = client.resources.get_by_id(vault.arm_id, api_version=vault.api_version)
        vault_url = (got.properties or {}).get("vaultUri")
    return LocalDeploy(result=result, endpoint=spec.base_url(target.foundry_base_url_template),
                       resource_name=spec.foundry.name, vault_url=vault_url,
                       secret_prefix=spec.key_vault.secret_prefix, deployments=list(spec.deployments))


def down_local(spec: Any, target: Target, *, state_dir: Path | None = None, concurrency: int = 16,
               report: Reporter | None = None) -> ApplyResult:
    planned = plan_for_target(spec, target)
    steps = steps_from_plan(planned.resources)
    state = state_file(state_dir, spec, target) if state_dir else None
    return destroy_steps(steps, target, state_path=state, concurrency=concurrency, report=report)


def purge_soft_deleted(spec: Any, target: Target) -> list[str]:
    """After ``down``: purge the stack's soft-deleted account and vault, so the same names can be deployed
    again (Azure keeps both soft-deleted and refuses to re-create them: ``FlagMustBeSetForRestore``,
    ``ConflictError``). A vault under purge protection cannot be purged and is left as it is. Returns what
    was done, in words."""
    from azure.core.exceptions import ResourceNotFoundError

    from claude_foundry.ops.common import ArmCaller

    done = []
    with target.cognitive_client() as cs:
        try:
            cs.deleted_accounts.begin_purge(spec.location, spec.resource_group, spec.foundry.name).result()
            done.append(f"purged the soft-deleted account {spec.foundry.name}")
        except ResourceNotFoundError:
            pass
    name = spec.key_vault.name
    if spec.key_vault.purge_protection:
        done.append(f"vault {name} stays soft-deleted: purge protection forbids purging it before its retention "
                    "ends (recover it with `createMode: recover`)")
        return done
    caller = ArmCaller(target)
    try:
        path = (f"/subscriptions/{target.subscription_id}/providers/Microsoft.KeyVault/locations/"
                f"{spec.location}/deletedVaults/{name}/purge")
        status, _ = caller.call("POST", path, armmap.API_VERSIONS[armmap.VAULT])
    finally:
        caller.close()
    if status in (200, 202, 204):
        done.append(f"purged the soft-deleted vault {name}")
    return done
