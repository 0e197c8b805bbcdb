"""Applying a plan to the sandbox's ARM through the Azure SDKs, and taking it down again."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claude_foundry._azure import arm
from claude_foundry._azure.caller import ArmCaller, check_operation_timeout, wait_for
from claude_foundry._azure.target import OPERATION_TIMEOUT, Target
from claude_foundry._rehearse.graph import (
    ABSENT,
    CREATE,
    DELETED,
    FAILED,
    KEPT,
    SAME,
    SKIPPED,
    UPDATE,
    ApplyResult,
    Reporter,
    Step,
    StepResult,
    deletion_order,
    run_graph,
    steps_from_plan,
)
from claude_foundry._rehearse.state import DeployState, body_digest, held, lock_path
from claude_foundry.program._plan import KEY_PLACEHOLDER_RE, plan_for_target


def _split_account_id(account_id: str) -> tuple[str, str]:
    m = re.search(r"/resourceGroups/([^/]+)/providers/Microsoft\.CognitiveServices/accounts/([^/]+)$",
                  account_id, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a Cognitive Services account id: {account_id}")
    return m.group(1), m.group(2)


def _what(verb: str, step: Step) -> str:
    return f"{verb} {step.type.split(':')[-1]} {step.name or step.arm_id}"


class Applier:
    def __init__(self, target: Target, state: DeployState, *, operation_timeout: float = OPERATION_TIMEOUT) -> None:
        self.target = target
        self.state = state
        self.operation_timeout = check_operation_timeout(operation_timeout)
        self._resources = target.resource_client()
        self._cognitive: Any = None
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
        result = wait_for(poller, _what("applying", step), self.operation_timeout)
        self.state.set(step, digest)
        outputs = result.as_dict() if hasattr(result, "as_dict") else {}
        return StepResult(step, action, time.monotonic() - started, outputs=outputs)

    def delete(self, step: Step) -> StepResult:
        from azure.core.exceptions import ResourceNotFoundError

        started = time.monotonic()
        try:
            wait_for(self._resources.resources.begin_delete_by_id(step.arm_id, api_version=step.api_version),
                     _what("deleting", step), self.operation_timeout)
        except ResourceNotFoundError:
            self.state.set(step, None)
            return StepResult(step, ABSENT, time.monotonic() - started)
        self.state.set(step, None)
        return StepResult(step, DELETED, time.monotonic() - started)


def apply_steps(steps: list[Step], target: Target, *, state_path: Path | None = None, concurrency: int = 16,
                report: Reporter | None = None, scope: str | None = None,
                operation_timeout: float = OPERATION_TIMEOUT) -> ApplyResult:
    """Apply the steps; then, when everything succeeded, delete what an earlier run applied and the stack
    no longer has (children and locks first; one account's deployments one after another) — only inside
    ``scope`` (the stack's resource group), never a protected resource or a resource group. A long-running
    operation that has not finished after ``operation_timeout`` seconds fails its step (and its dependants)."""
    state = DeployState(state_path)
    applier = Applier(target, state, operation_timeout=operation_timeout)
    try:
        results = run_graph(steps, applier.apply, concurrency=concurrency, report=report)
        if all(r.action not in (FAILED, SKIPPED) for r in results):
            orphans, kept = state.orphans(steps, scope)
            # what lies inside a kept resource (its lock, secrets, role assignments) stays with it
            kept_ids = [s.arm_id for s, why in kept if why.startswith("protected")]
            inside = [o for o in orphans if any(o.resource.is_under(k) for k in kept_ids)]
            orphans = [o for o in orphans if o not in inside]
            kept += [(o, "inside a protected resource that is kept") for o in inside]
            results += run_graph(deletion_order(orphans), applier.delete, reverse=True, concurrency=concurrency,
                                 report=report)
            for step, why in kept:
                state.forget(step)
                res = StepResult(step, KEPT, error=why)
                results.append(res)
                if report:
                    report(res)
        return ApplyResult(results)
    finally:
        applier.close()


def destroy_steps(steps: list[Step], target: Target, *, state_path: Path | None = None, concurrency: int = 16,
                  report: Reporter | None = None, operation_timeout: float = OPERATION_TIMEOUT) -> ApplyResult:
    applier = Applier(target, DeployState(state_path), operation_timeout=operation_timeout)
    try:
        return ApplyResult(run_graph(deletion_order(steps), applier.delete, reverse=True, concurrency=concurrency,
                                     report=report))
    finally:
        applier.close()


@dataclass
class LocalDeploy:
    """What ``up --local`` did, and where the runtime finds the result."""

    result: ApplyResult
    endpoint: str
    resource_name: str
    vault_url: str | None
    secret_prefix: str
    deployments: list[str]


def stack_scope(spec: Any, target: Target) -> str:
    """What a stack owns in the rehearsal: everything inside its resource group."""
    return arm.resource_group_id(target.subscription_id, spec.resource_group)


def state_file(state_dir: Path, spec: Any, target: Target) -> Path:
    """The stack's own state file, named by what identifies a stack (subscription, resource group, account),
    not only by its environment (two stack files may share one). A pre-0.2 file shared per environment hands
    over the entries inside this stack's resource group."""
    ident = f"{target.subscription_id}/{spec.resource_group}/{spec.foundry.name}".lower()
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    path = state_dir / f"deploy-{spec.environment}-{spec.foundry.name}-{digest}.json"
    legacy = state_dir / DeployState.LEGACY_NAME.format(environment=spec.environment,
                                                        subscription=target.subscription_id)
    if not path.exists() and legacy.is_file():
        DeployState(path).take_from(legacy, stack_scope(spec, target))
    return path


def _one_at_a_time(state: Path | None, spec: Any) -> contextlib.AbstractContextManager[None]:
    """One ``up``/``down --local`` of a stack at a time per state directory: a second one waits for the first
    (at most :data:`state.LOCK_WAIT` seconds), then sees what it did."""
    if state is None:
        return contextlib.nullcontext()
    return held(lock_path(state), f"the local deploy state of stack {spec.environment} ({state})")


def up_local(spec: Any, target: Target, *, state_dir: Path | None = None, concurrency: int = 16,
             report: Reporter | None = None, operation_timeout: float = OPERATION_TIMEOUT) -> LocalDeploy:
    planned = plan_for_target(spec, target)
    steps = steps_from_plan(planned.resources)
    state = state_file(state_dir, spec, target) if state_dir else None
    with _one_at_a_time(state, spec):
        result = apply_steps(steps, target, state_path=state, concurrency=concurrency, report=report,
                             scope=stack_scope(spec, target), operation_timeout=operation_timeout)
    vault_url = None
    vault = next((s for s in steps if s.type == arm.VAULT), None)
    if vault is not None and result.ok:
        with target.resource_client() as client:
            got = client.resources.get_by_id(vault.arm_id, api_version=vault.api_version)
        vault_url = (got.properties or {}).get("vaultUri")
    return LocalDeploy(result=result, endpoint=spec.base_url(target.foundry_base_url_template),
                       resource_name=spec.foundry.name, vault_url=vault_url,
                       secret_prefix=spec.key_vault.secret_prefix, deployments=list(spec.deployments))


def down_local(spec: Any, target: Target, *, state_dir: Path | None = None, concurrency: int = 16,
               report: Reporter | None = None, operation_timeout: float = OPERATION_TIMEOUT) -> ApplyResult:
    planned = plan_for_target(spec, target)
    steps = steps_from_plan(planned.resources)
    state = state_file(state_dir, spec, target) if state_dir else None
    with _one_at_a_time(state, spec):
        return destroy_steps(steps, target, state_path=state, concurrency=concurrency, report=report,
                             operation_timeout=operation_timeout)


def purge_soft_deleted(spec: Any, target: Target, *, operation_timeout: float = OPERATION_TIMEOUT) -> list[str]:
    """After ``down``: purge the stack's soft-deleted account and vault, so the same names can be deployed
    again (Azure keeps both soft-deleted and refuses to re-create them: ``FlagMustBeSetForRestore``,
    ``ConflictError``). A vault under purge protection cannot be purged and is left as it is. Returns what
    was done, in words."""
    from azure.core.exceptions import ResourceNotFoundError

    done = []
    with target.cognitive_client() as cs:
        try:
            wait_for(cs.deleted_accounts.begin_purge(spec.location, spec.resource_group, spec.foundry.name),
                     f"purging the soft-deleted account {spec.foundry.name}", operation_timeout)
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
        status, _ = caller.call("POST", path, arm.API_VERSIONS[arm.VAULT])
    finally:
        caller.close()
    if status in (200, 202, 204):
        done.append(f"purged the soft-deleted vault {name}")
    return done
