"""``rotate-keys`` on a stack with several accounts: every account, one after another, each publishing to its own key
secret, with its own journal and lease; an interrupted run resumes the interrupted account only."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from seeding import base_stack
from test_ops_rotate import runner_dies_after_regenerating_key1

from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.target import Target, sandbox_target
from claude_foundry._errors import UserError
from claude_foundry._ops.rotate import (
    COMPLETE,
    IN_PROGRESS,
    LAST_STEP,
    Journal,
    Lease,
    Rotator,
    RunRecord,
    journal_secret_name,
    lease_secret_name,
    rotate_keys,
    rotate_stack,
    run_secret_name,
)
from claude_foundry._ops.view import stack_view
from claude_foundry._rehearse import up_local
from claude_foundry.cli import exit_code, main
from claude_foundry.program.spec import load_spec
from claude_foundry_sandbox.testing import unique

pytestmark = pytest.mark.e2e

ACCOUNTS = ["primary", "sweden"]


class Interrupted(Exception):
    pass


class MultiStack:
    """A deployed stack with a primary (eastus2) and ``sweden`` (swedencentral), plus probes per account."""

    def __init__(self, path: Path, target: Target, vault_url: str) -> None:
        self.path = path
        self.spec = load_spec(path)
        self.target = target
        self.vault_url = vault_url
        self.view = stack_view(self.spec, target)
        self.names = self.spec.secret_names
        self.arm = ArmCaller(target)
        self.secrets = target.secret_client(vault_url)
        self.seen: set[str] = set()  # every key value observed, to check the output never shows one

    def keys(self, account: str) -> tuple[str, str]:
        acct = self.view.accounts[account]
        status, data = self.arm.call("POST", acct.account.id + "/listKeys", acct.account.api_version)
        assert status == 200, data
        self.seen.update((data["key1"], data["key2"]))
        return data["key1"], data["key2"]

    def vault_key(self, account: str) -> str:
        value = self.secrets.get_secret(self.names.api_key_of(account)).value
        self.seen.add(value)
        return value

    def key_in_use(self, account: str) -> str:
        """The invariant: the account's key secret holds a key the account accepts now. Returns which."""
        key1, key2 = self.keys(account)
        value = self.vault_key(account)
        assert value in (key1, key2), f"the vault holds a revoked key of {account}"
        return "key1" if value == key1 else "key2"

    def _tags(self, name: str) -> dict[str, str] | None:
        status, data = self.arm.call("GET", f"{self.view.vault.id}/secrets/{name}", self.view.vault.api_version)
        return (data.get("tags") or {}) if status == 200 else None

    def journal(self, account: str) -> Journal | None:
        tags = self._tags(journal_secret_name(self.names.prefix, account))
        return None if tags is None else Journal.from_tags(tags)

    def lease(self, account: str) -> Lease | None:
        tags = self._tags(lease_secret_name(self.names.prefix, account))
        return None if tags is None else Lease.from_tags(tags)

    def run_record(self) -> RunRecord | None:
        tags = self._tags(run_secret_name(self.names.prefix))
        return None if tags is None else RunRecord.from_tags(tags)

    def plant_lease(self, account: str, holder: str, expires_in: float) -> None:
        """Another runner's lease on ``account``, written as a runner writes it."""
        rotator = Rotator(self.view, grace=0, min_regenerate_gap=0, account=account)
        try:
            now = time.time()
            rotator.write_lease(Lease(lease_id=str(uuid.uuid4()), holder=holder, acquired_at=now - 60,
                                      expires_at=now + expires_in))
        finally:
            rotator.close()

    def close(self) -> None:
        self.arm.close()
        self.secrets.close()


@pytest.fixture
def multi(tmp_path: Path, connection: dict[str, Any]) -> Any:
    target = sandbox_target(connection)
    # small capacities: Global Standard quota is one pool for the whole (session's) sandbox subscription
    path = base_stack(tmp_path, "cf-mrot-", extra=(
        "deployments:\n  my-claude-deployment: {capacity: 2}\n  fast: {capacity: 2}\n"
        f"accounts:\n  sweden:\n    name: {unique('cf-mrot-sc-')}\n    location: swedencentral\n"))
    deployed = up_local(load_spec(path), target, state_dir=tmp_path)
    assert deployed.result.ok, deployed.result.summary()
    assert deployed.vault_url
    stack = MultiStack(path, target, deployed.vault_url)
    assert list(stack.view.accounts) == ACCOUNTS
    assert stack.view.accounts["sweden"].location == "swedencentral"
    yield stack
    stack.close()


def test_the_state_secrets_of_the_primary_keep_their_names(multi: MultiStack) -> None:
    prefix = multi.names.prefix
    assert journal_secret_name(prefix, "primary") == journal_secret_name(prefix) == f"{prefix}-rotation"
    assert lease_secret_name(prefix, "primary") == lease_secret_name(prefix) == f"{prefix}-rotation-lease"
    assert journal_secret_name(prefix, "sweden") == f"{prefix}-rotation-journal-sweden"
    assert lease_secret_name(prefix, "sweden") == f"{prefix}-rotation-lease-sweden"


def test_every_account_is_rotated_one_after_another(multi: MultiStack, credential: Any,
                                                    connection: dict[str, Any]) -> None:
    from claude_foundry._client.runtime import FoundryRuntime

    before = {a: multi.keys(a) for a in ACCOUNTS}
    for a in ACCOUNTS:
        assert multi.vault_key(a) == before[a][0]
    assert before["primary"][0] != before["sweden"][0]  # two accounts, two keys
    # clients started before the rotation: they hold the old keys and must re-read their own account's secret
    runtime = FoundryRuntime.from_key_vault(multi.vault_url, prefix=multi.names.prefix, credential=credential,
                                            ca_bundle=connection["ca_bundle"], use_cache=False)
    runtimes = runtime.accounts()
    try:
        assert [r.account for r in runtimes] == ACCOUNTS
        assert [r.region for r in runtimes] == ["eastus2", "swedencentral"]
        log: list[tuple[str, int, str]] = []

        def hook(account: str, number: int, step_id: str) -> None:
            other = "sweden" if account == "primary" else "primary"
            log.append((account, number, multi.key_in_use(account)))
            # never two accounts in flux: the other one is untouched (primary first) or done (sweden second)
            assert multi.keys(other) == (before[other] if account == "primary" else after_primary[0])
            multi.key_in_use(other)
            if account == "primary" and number == LAST_STEP:
                after_primary.append(multi.keys("primary"))

        after_primary: list[tuple[str, str]] = []
        outcome = rotate_stack(multi.view, grace=0, min_regenerate_gap=0, on_account_step=hook)
        assert [r.account for r in outcome.accounts] == ACCOUNTS
        assert all(r.steps_run == list(range(1, LAST_STEP + 1)) and r.complete for r in outcome.accounts)
        assert outcome.complete
        assert outcome.skipped == []
        assert outcome.remaining == []
        assert [(a, n) for a, n, _ in log] == [(a, n) for a in ACCOUNTS for n in range(1, LAST_STEP + 1)]
        assert [k for _, _, k in log] == ["key2", "key2", "key2", "key1", "key1", "key1"] * 2
        for a in ACCOUNTS:
            new1, new2 = multi.keys(a)
            assert {new1, new2}.isdisjoint(before[a]), a
            assert multi.vault_key(a) == new1, a  # each account's own secret holds that account's key
            journal = multi.journal(a)
            assert journal is not None
            assert journal.status == COMPLETE
            assert journal.completed_step == LAST_STEP
            assert journal.rotation_id == next(r.rotation_id for r in outcome.accounts if r.account == a)
            lease = multi.lease(a)
            assert lease is not None
            assert not lease.fresh()
        record = multi.run_record()
        assert record is not None
        assert (record.run_id, record.status, record.accounts, record.done) == \
            (outcome.run_id, COMPLETE, ACCOUNTS, ACCOUNTS)
        # the runtime answers on both accounts after the rotation (each re-read its own key after a 401)
        for r in runtimes:
            name = sorted(r.deployments)[0]
            reply = r.messages_create(name, max_tokens=8, messages=[{"role": "user", "content": "ping"}])
            assert reply.content, r.account
            assert r.key_rereads >= 1, r.account
    finally:
        for r in runtimes:
            r.close()


def test_account_flag_rotates_only_that_account(multi: MultiStack, conn_file: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    primary_before, sweden_before = multi.keys("primary"), multi.keys("sweden")
    primary_secret = multi.vault_key("primary")
    code = main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--grace", "0", "--account", "sweden",
                 "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    data = json.loads(out.out)
    assert [a["account"] for a in data["accounts"]] == ["sweden"]
    assert data["accounts"][0]["location"] == "swedencentral"
    assert data["accounts"][0]["steps_run"] == list(range(1, LAST_STEP + 1))
    assert data["complete"] is True
    assert multi.keys("primary") == primary_before  # the primary's keys, secret and state untouched
    assert multi.vault_key("primary") == primary_secret
    assert multi.journal("primary") is None
    assert multi.lease("primary") is None
    assert set(multi.keys("sweden")).isdisjoint(sweden_before)
    assert multi.vault_key("sweden") == multi.keys("sweden")[0]
    assert multi.journal("sweden").status == COMPLETE  # type: ignore[union-attr]
    text = out.out + out.err
    assert "sweden" in text
    for key in multi.seen:
        assert key not in text


def test_the_cli_rotates_both_and_reports_each(multi: MultiStack, conn_file: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = {a: multi.keys(a) for a in ACCOUNTS}
    multi.vault_key("primary")
    multi.vault_key("sweden")
    assert main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--grace", "0", "--stop-after", "3"]) == 0
    first = capsys.readouterr()
    assert multi.journal("primary").completed_step == 3  # type: ignore[union-attr]
    assert multi.journal("sweden") is None  # not started while the primary is in flux
    assert multi.run_record().status == IN_PROGRESS  # type: ignore[union-attr]
    # the same command again (comma-separated names) finishes the primary, then rotates sweden
    assert main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--grace", "0",
                 "--account", "primary,sweden"]) == 0
    second = capsys.readouterr()
    for a in ACCOUNTS:
        assert set(multi.keys(a)).isdisjoint(before[a]), a
        assert multi.vault_key(a) == multi.keys(a)[0], a
    text = first.out + first.err + second.out + second.err
    flat = " ".join(text.split())
    sweden = multi.view.accounts["sweden"]
    assert f"{sweden.name} (sweden, swedencentral)" in flat
    assert "resuming rotation" in flat
    assert "stopped" in flat
    for key in multi.seen:
        assert key not in text


def test_an_interrupted_run_resumes_only_the_interrupted_account(multi: MultiStack) -> None:
    """The run rotated the primary, then stopped inside sweden's rotation: the next run finishes sweden and leaves
    the primary (rotated already in that run) alone."""
    sweden_before = multi.keys("sweden")

    def crash(account: str, number: int, step_id: str) -> None:
        if account == "sweden" and number == 3:
            raise Interrupted("runner died")

    with pytest.raises(Interrupted):
        rotate_stack(multi.view, grace=0, min_regenerate_gap=0, on_account_step=crash)
    primary_keys = multi.keys("primary")
    primary_journal = multi.journal("primary")
    assert primary_journal is not None
    assert primary_journal.status == COMPLETE
    assert multi.journal("sweden").completed_step == 3  # type: ignore[union-attr]
    assert multi.key_in_use("sweden") == "key2"
    record = multi.run_record()
    assert record is not None
    assert record.status == IN_PROGRESS
    assert record.done == ["primary"]

    log: list[tuple[str, int]] = []
    outcome = rotate_stack(multi.view, grace=0, min_regenerate_gap=0,
                           on_account_step=lambda a, n, _: log.append((a, n)))
    assert log == [("sweden", 4), ("sweden", 5), ("sweden", 6)]
    assert outcome.skipped == ["primary"]
    assert [(r.account, r.resumed_from, r.steps_run) for r in outcome.accounts] == [("sweden", 3, [4, 5, 6])]
    assert outcome.complete
    assert multi.keys("primary") == primary_keys  # not rotated again
    assert multi.journal("primary") == primary_journal  # its state not touched
    assert set(multi.keys("sweden")).isdisjoint(sweden_before)
    assert multi.vault_key("sweden") == multi.keys("sweden")[0]
    assert multi.run_record().status == COMPLETE  # type: ignore[union-attr]
    # and a run after a finished one rotates every account again
    again = rotate_stack(multi.view, grace=0, min_regenerate_gap=0)
    assert [r.account for r in again.accounts] == ACCOUNTS
    assert again.run_id != outcome.run_id


def test_an_interrupted_account_run_resumes_that_account(multi: MultiStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--account sweden`` crashed after regenerating key1, before its journal said so: the same command again
    repeats step 3 safely and finishes; the primary is never touched."""
    primary_before = multi.keys("primary")
    with runner_dies_after_regenerating_key1(monkeypatch):
        rotate_stack(multi.view, accounts=["sweden"], grace=0, min_regenerate_gap=0)
    assert multi.key_in_use("sweden") == "key2"
    assert multi.journal("sweden").completed_step == 2  # type: ignore[union-attr]
    outcome = rotate_stack(multi.view, accounts=["sweden"], grace=0, min_regenerate_gap=0)
    assert [(r.account, r.resumed_from, r.steps_run) for r in outcome.accounts] == [("sweden", 2, [3, 4, 5, 6])]
    assert outcome.complete
    assert multi.key_in_use("sweden") == "key1"
    assert multi.keys("primary") == primary_before
    assert multi.journal("primary") is None


def test_another_runner_rotating_one_account_keeps_the_others_waiting(multi: MultiStack, conn_file: str,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    multi.plant_lease("primary", "runner-A on host-a (pid 1)", expires_in=3600)
    sweden_before = multi.keys("sweden")
    code = main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--grace", "0", "--account", "sweden"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1
    assert "runner-A on host-a (pid 1)" in err
    assert "(primary, eastus2)" in err
    assert "two accounts' keys in flux" in err
    assert multi.journal("sweden") is None  # nothing of sweden's was written
    assert multi.lease("sweden") is None
    assert multi.keys("sweden") == sweden_before
    # that run is gone: --break-lease goes on, saying so
    assert main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--grace", "0", "--account", "sweden",
                 "--break-lease"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "rotating" in out
    assert "anyway (--break-lease)" in out
    assert set(multi.keys("sweden")).isdisjoint(sweden_before)
    assert multi.lease("primary").holder.startswith("runner-A")  # type: ignore[union-attr]  # not ours to touch


def test_unknown_account_is_a_usage_error(multi: MultiStack, conn_file: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    before = multi.keys("primary")
    assert main(["rotate-keys", str(multi.path), "--sandbox", conn_file, "--account", "norway"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "'norway'" in err
    sweden = multi.view.accounts["sweden"].name
    assert f"primary ({multi.spec.foundry.name}), sweden ({sweden})" in err
    assert "Traceback" not in err
    assert multi.keys("primary") == before
    assert multi.run_record() is None
    # the library says the same
    with pytest.raises(UserError, match="norway") as exc:
        rotate_stack(multi.view, accounts=["norway"], grace=0)
    assert exit_code(exc.value) == 2


def test_rotate_keys_alone_refuses_to_rotate_only_the_primary_unasked(multi: MultiStack) -> None:
    with pytest.raises(UserError, match="rotate_stack"):
        rotate_keys(multi.view, grace=0, min_regenerate_gap=0)
    result = rotate_keys(multi.view, account="sweden", grace=0, min_regenerate_gap=0)
    assert (result.account, result.location, result.steps_run) == ("sweden", "swedencentral", [1, 2, 3, 4, 5, 6])
    assert multi.vault_key("sweden") == multi.keys("sweden")[0]
    assert multi.journal("primary") is None


def test_an_unfinished_run_too_old_to_continue_is_replaced(multi: MultiStack) -> None:
    """An unfinished run last updated over a week ago is not continued: every account is rotated again (sweden,
    interrupted mid-way, still resumes its own rotation)."""
    from claude_foundry._ops.rotate import RUN_RESUME_WINDOW, _iso

    def crash(account: str, number: int, step_id: str) -> None:
        if account == "sweden" and number == 2:
            raise Interrupted("runner died")

    with pytest.raises(Interrupted):
        rotate_stack(multi.view, grace=0, min_regenerate_gap=0, on_account_step=crash)
    primary_keys = multi.keys("primary")
    record = multi.run_record()
    assert record is not None
    assert record.done == ["primary"]
    record.updated_at = _iso(time.time() - RUN_RESUME_WINDOW - 3600)
    name = run_secret_name(multi.names.prefix)
    status, _ = multi.arm.call("PUT", f"{multi.view.vault.id}/secrets/{name}", multi.view.vault.api_version,
                               {"tags": record.tags(), "properties": {"value": "{}"}})
    assert status in (200, 201)
    outcome = rotate_stack(multi.view, grace=0, min_regenerate_gap=0)
    assert outcome.run_id != record.run_id
    assert outcome.skipped == []
    assert [(r.account, r.resumed_from) for r in outcome.accounts] == [("primary", 0), ("sweden", 2)]
    assert set(multi.keys("primary")).isdisjoint(primary_keys)
    assert multi.run_record().status == COMPLETE  # type: ignore[union-attr]
