"""The rehearsal's graph: ARM steps from the plan, in dependency order, run in parallel where it allows."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from claude_foundry._azure.errors import describe
from claude_foundry._azure.resource import ArmResource

CREATE, UPDATE, SAME, FAILED, SKIPPED, DELETED, ABSENT, KEPT = (
    "create", "update", "unchanged", "failed", "skipped", "deleted", "absent", "kept")


@dataclass
class Step:
    """One ARM resource to apply, and the steps it waits for."""

    key: str  # unique (Pulumi URN)
    resource: ArmResource
    depends_on: list[str] = field(default_factory=list)  # keys of other steps
    protect: bool = False  # Pulumi's protect: never deleted as an orphan

    @property
    def type(self) -> str:
        """Pulumi type token."""
        return self.resource.token

    @property
    def name(self) -> str:
        """Pulumi logical name."""
        return self.resource.logical_name

    @property
    def arm_id(self) -> str:
        return self.resource.id

    @property
    def api_version(self) -> str:
        return self.resource.api_version

    @property
    def body(self) -> dict[str, Any]:
        return self.resource.body


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
        return self.count(CREATE) + self.count(UPDATE) + self.count(DELETED)

    def summary(self) -> str:
        parts = [f"{self.count(CREATE)} created", f"{self.count(UPDATE)} updated",
                 f"{self.count(SAME)} unchanged"]
        if self.count(DELETED):
            parts.append(f"{self.count(DELETED)} deleted: " + ", ".join(sorted(
                r.step.name or r.step.arm_id for r in self.results if r.action == DELETED)))
        if self.count(KEPT):
            parts.append(f"{self.count(KEPT)} no longer in the stack but kept")
        if self.count(FAILED):
            parts.append(f"{self.count(FAILED)} failed")
        if self.count(SKIPPED):
            parts.append(f"{self.count(SKIPPED)} skipped")
        change = "0 to change" if self.changed == 0 and self.ok else f"{self.changed} changed"
        return f"{change} ({', '.join(parts)})"

    def by_type(self, suffix: str) -> list[StepResult]:
        return [r for r in self.results if r.step.type.endswith(suffix)]


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
        return StepResult(step, FAILED, time.monotonic() - started, error=describe(exc))


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
        out.append(Step(step.key, step.resource, sorted(deps), step.protect))
    # ARM refuses concurrent changes to one account's deployments (409 RequestConflict): delete them one after
    # another, as they were created.
    by_account: dict[str, list[Step]] = {}
    for step in out:
        if "/deployments/" in step.arm_id.lower() and "/accounts/" in step.arm_id.lower():
            by_account.setdefault(step.arm_id.lower().rsplit("/deployments/", 1)[0], []).append(step)
    for chain in by_account.values():
        keys = {s.key for s in chain}
        if any(d in keys for s in chain for d in s.depends_on):
            continue  # already chained (the program's creation order), which also serialises the deletes
        chain.sort(key=lambda s: s.arm_id.lower())
        for earlier, later in itertools.pairwise(chain):
            later.depends_on.append(earlier.key)
    return out


def steps_from_plan(resources: Iterable[Any]) -> list[Step]:
    """ARM steps from a :class:`claude_foundry.program._plan.Plan`'s resources (components carry no ARM body).

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
        steps.append(Step(key=r.urn, resource=r.arm, depends_on=sorted(deps), protect=bool(r.protect)))
    return steps
