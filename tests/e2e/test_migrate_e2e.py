"""End to end on the sandbox: a logical deployment moves to a successor model (deploy the replacement beside the old
one, smoke it, switch the contract, drain, remove the old one) while runtime clients keep calling it."""

from __future__ import annotations

import threading
import time

import pytest
from seeding import seed_stack

from claude_foundry import _contract as c
from claude_foundry._azure.target import sandbox_target
from claude_foundry._client import runtime as rt
from claude_foundry._ops.migrate import move_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

anthropic = pytest.importorskip("anthropic")

HI = [{"role": "user", "content": "hi"}]
OLD, NEW = "claude-sonnet-4-6", "claude-sonnet-5-5"


class Caller(threading.Thread):
    """Calls ``chat`` in a loop through one runtime client; records every answer's model and every failure."""

    def __init__(self, runtime: rt.FoundryRuntime) -> None:
        super().__init__(daemon=True)
        self.client = runtime.client("chat", max_retries=0)
        self.stop = threading.Event()
        self.models: list[str] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.models.append(self.client.messages.create(model="chat", max_tokens=8, messages=HI).model)
            except Exception as exc:
                self.failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(0.01)

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)
        self.client.close()


def test_a_full_move_loses_no_request_and_older_runtimes_are_answered_through_the_drain(sandbox, credential):
    stack = seed_stack(sandbox, credential, {"chat": OLD}, prefix="cf-mv")
    ca = sandbox.connection["ca_bundle"]
    # a current runtime (re-reads the map every 0.5 s here; 30 s by default) ...
    current = rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential,
                                               ca_bundle=ca, use_cache=False, map_refresh_interval=0.5)
    # ... and an older one: the contract as it was, never re-read (what a runtime from before moves does: it
    # ignores the entry's "deployment" field and sends the logical name)
    older = rt.FoundryRuntime(current.contract, ca_bundle=ca)
    assert not older.follows_moves
    caller, old_caller = Caller(current), Caller(older)
    seen_in_drain: dict[str, list] = {}

    def drain(seconds: float) -> None:
        """The move's drain: the older runtime is still answered, by the old deployment."""
        start = time.monotonic()
        answers = []
        while time.monotonic() - start < seconds:
            answers.append(older.messages_create("chat", max_tokens=8, messages=HI).model)
            time.sleep(0.05)
        seen_in_drain["older"] = answers

    caller.start()
    old_caller.start()
    try:
        time.sleep(0.5)
        report = move_deployment(sandbox_target(sandbox.connection), resource_group=stack.resource_group,
                                 account=stack.account, vault_url=stack.vault_url, prefix=stack.prefix,
                                 logical="chat", to_model=NEW, drain=2.0, sleep=drain)
        old_caller.finish()  # the older runtime's own calls stop with the old deployment gone
        time.sleep(1.0)  # the current runtime keeps calling after the removal
    finally:
        caller.finish()
        old_caller.finish()
        current.close()
        older.close()

    physical = c.physical_name("chat", NEW)
    assert report.to_deployment == physical == "chat--claude-sonnet-5-5"
    assert [s.name for s in report.steps] == ["deploy", "smoke", "switch", "drain", "remove"]
    # zero failed requests for the runtime that follows moves, and it ended up on the new model
    assert caller.failures == []
    assert OLD in caller.models
    assert caller.models[-1] == NEW
    # the older runtime was answered through the drain, by the old model
    assert seen_in_drain["older"]
    assert set(seen_in_drain["older"]) == {OLD}
    # the contract names the physical deployment; the old deployment is gone
    dmap = c.load_deployment_map(stack.secrets.get_secret(stack.names.deployments).value)
    assert dmap["chat"].model == NEW
    assert dmap["chat"].deployment == physical
    names = {d.name for d in stack.cs.deployments.list(stack.resource_group, stack.account)}
    assert names == {physical}
    # what the sandbox answered: the old deployment until the switch, then the new one
    answered = [a["deployment"] for a in sandbox.faults.answers(stack.account) if a["status"] == 200]
    assert answered[-1] == physical
    assert "chat" in answered


def test_the_runtime_follows_a_switch_on_404_without_waiting_for_its_interval(sandbox, credential):
    """Periodic re-read off: the old deployment removed at once (no drain) answers 404, and the runtime re-reads
    the map and retries once, on the new physical deployment."""
    stack = seed_stack(sandbox, credential, {"chat": OLD}, prefix="cf-mv404")
    current = rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=credential,
                                               ca_bundle=sandbox.connection["ca_bundle"], use_cache=False,
                                               map_refresh_interval=None)
    with current:
        assert current.messages_create("chat", max_tokens=8, messages=HI).model == OLD
        move_deployment(sandbox_target(sandbox.connection), resource_group=stack.resource_group,
                        account=stack.account, vault_url=stack.vault_url, prefix=stack.prefix, logical="chat",
                        to_model=NEW, drain=0)
        assert current.messages_create("chat", max_tokens=8, messages=HI).model == NEW
        assert current.map_rereads == 1
    statuses = [(a["deployment"], a["status"]) for a in sandbox.faults.answers(stack.account)]
    assert statuses[-1] == (c.physical_name("chat", NEW), 200)


def test_a_move_refused_by_arm_names_the_step_and_leaves_the_contract(sandbox, credential):
    from claude_foundry._ops.migrate import MoveError

    stack = seed_stack(sandbox, credential, {"chat": OLD}, prefix="cf-mvbad")
    before = stack.secrets.get_secret(stack.names.deployments).value
    with pytest.raises(MoveError) as info:  # deprecated: Foundry takes no new deployment of it
        move_deployment(sandbox_target(sandbox.connection), resource_group=stack.resource_group,
                        account=stack.account, vault_url=stack.vault_url, prefix=stack.prefix, logical="chat",
                        to_model="claude-opus-4-5", drain=0)
    assert info.value.step == "deploy"
    assert "no longer accepts new deployments" in str(info.value)
    assert stack.secrets.get_secret(stack.names.deployments).value == before
