"""``claude-foundry rotate-keys``: rotate the Foundry account's keys without downtime, resumably.

The runtime reads the key from the vault's ``<prefix>-api-key`` secret and re-reads it once when Foundry
answers 401. The rotation therefore always moves the vault to the *other* key before revoking one:

1. publish key2 to the api-key secret;
2. wait ``grace`` seconds (clients pick up key2 on their next read, or on their first 401);
3. regenerate key1 (nobody should use it now);
4. publish the new key1;
5. wait ``grace`` seconds;
6. regenerate key2.

The vault never holds a revoked key: before each regeneration the secret is checked (when the caller may
read it) to hold the *other* key, and re-published if it does not. Publishing goes through ARM
(``Microsoft.KeyVault/vaults/secrets``, as the Pulumi program writes it), so the deploying identity's
Contributor role suffices.

State lives in the vault so that any CI runner can resume: the secret ``<prefix>-rotation`` holds the
journal (JSON value, the same fields as tags, readable through ARM). It never holds a key.
A second run after an interruption at any step continues after the last step the journal recorded; every
step is safe to repeat.

Two runners must not interleave: a run holds the lease ``<prefix>-rotation-lease`` (a secret in the same vault:
holder, start, expiry) from its first write to its end, renewing it before each step. A second run while the
lease is fresh stops (exit 1) naming the holder; an expired lease (a runner that died) is taken over; a live
one can be broken deliberately (``break_lease``). Key Vault secrets have no conditional write, so taking the
lease is write-then-read-back after a short pause, and every renewal checks the lease is still ours: keep
``pulumi up`` and ``rotate-keys`` in one CI concurrency group as well (docs/ci.md).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hmac
import json
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_foundry.azure.caller import ArmCaller
from claude_foundry.azure.errors import arm_error_text, describe
from claude_foundry.errors import OperationFailed, UserError
from claude_foundry.ops.view import StackView

JOURNAL_SUFFIX = "rotation"
JOURNAL_FORMAT = "claude-foundry-rotation/1"
IN_PROGRESS, COMPLETE = "in-progress", "complete"

#: (number, id, what it does)
STEPS: tuple[tuple[int, str, str], ...] = (
    (1, "publish-key2", "published key2 to the vault"),
    (2, "grace-1", "waited for clients to pick up key2"),
    (3, "regenerate-key1", "regenerated key1"),
    (4, "publish-key1", "published the new key1 to the vault"),
    (5, "grace-2", "waited for clients to pick up key1"),
    (6, "regenerate-key2", "regenerated key2"),
)
LAST_STEP = STEPS[-1][0]

StepHook = Callable[[int, str], None]

LEASE_SUFFIX = "rotation-lease"
LEASE_FORMAT = "claude-foundry-rotation-lease/1"
HELD, RELEASED = "held", "released"
#: Seconds a lease outlives its last renewal beyond the grace wait it covers: room for one step's ARM calls
#: (each bounded by the client timeouts, docs/operations.md). A runner that dies leaves a lease that expires
#: at most ``grace`` + this after its last step.
LEASE_MARGIN = 900.0
#: Seconds between writing the lease and reading it back: a runner that wrote at the same moment shows then.
LEASE_SETTLE = 0.5

#: Added to the runtime's minimum interval between two key re-reads: two regenerations are never closer than
#: that, so a client that re-read the key after one 401 may re-read again after the next one.
REGENERATE_GAP_MARGIN = 0.5


def journal_secret_name(prefix: str) -> str:
    return f"{prefix}-{JOURNAL_SUFFIX}"


def lease_secret_name(prefix: str) -> str:
    return f"{prefix}-{LEASE_SUFFIX}"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso() -> str:
    return _iso(time.time())


def runner_identity() -> str:
    """Who is rotating, in words: the CI run (GitHub Actions) or the user, with host and process id."""
    env = os.environ
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        who = (f"GitHub Actions {env.get('GITHUB_REPOSITORY', '?')} run {env['GITHUB_RUN_ID']}"
               f"/{env.get('GITHUB_RUN_ATTEMPT', '1')} ({env.get('GITHUB_WORKFLOW', '?')}, job "
               f"{env.get('GITHUB_JOB', '?')})")
    else:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no user name (some containers)
            who = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown user"
    return f"{who} on {socket.gethostname()} (pid {os.getpid()})"[:250]  # a Key Vault tag holds 256


@dataclass
class Lease:
    """Who rotates the keys now, until when. Stored as the tags (and JSON value) of the lease secret."""

    lease_id: str
    holder: str
    acquired_at: float  # epoch seconds
    expires_at: float  # epoch seconds
    status: str = HELD

    def fresh(self, now: float | None = None) -> bool:
        return self.status == HELD and self.expires_at > (time.time() if now is None else now)

    def describe(self) -> str:
        return f"{self.holder}, started {_iso(self.acquired_at)}, lease expires {_iso(self.expires_at)}"

    def to_json(self) -> dict[str, Any]:
        return {"format": LEASE_FORMAT, "lease_id": self.lease_id, "holder": self.holder, "status": self.status,
                "acquired_at": _iso(self.acquired_at), "expires_at": _iso(self.expires_at)}

    def tags(self) -> dict[str, str]:
        return {"lease-id": self.lease_id, "lease-holder": self.holder, "lease-status": self.status,
                "lease-acquired": _iso(self.acquired_at), "lease-acquired-at": f"{self.acquired_at:.3f}",
                "lease-expires": _iso(self.expires_at), "lease-expires-at": f"{self.expires_at:.3f}",
                "managed-by": "claude-foundry"}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Lease | None:
        if not tags or "lease-id" not in tags:
            return None
        try:
            acquired, expires = float(tags.get("lease-acquired-at", "0")), float(tags.get("lease-expires-at", "0"))
        except ValueError:  # unreadable: treat as expired (taken over)
            acquired = expires = 0.0
        if not (math.isfinite(acquired) and math.isfinite(expires)):
            acquired = expires = 0.0
        return cls(lease_id=tags["lease-id"], holder=tags.get("lease-holder", "?"), acquired_at=acquired,
                   expires_at=expires, status=tags.get("lease-status", HELD))


@dataclass
class Journal:
    """The rotation's state. No key values, ever."""

    rotation_id: str
    status: str = IN_PROGRESS
    completed_step: int = 0
    started_at: str = field(default_factory=_now_iso)
    updated_at: str = field(default_factory=_now_iso)
    published_at: float = 0.0  # epoch seconds of the last publish (for the grace wait on resume)
    regenerated_at: float = 0.0  # epoch seconds of the last regeneration (kept across rotations)
    account: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"format": JOURNAL_FORMAT, "rotation_id": self.rotation_id, "status": self.status,
                "completed_step": self.completed_step,
                "completed_step_name": STEPS[self.completed_step - 1][1] if self.completed_step else "",
                "started_at": self.started_at, "updated_at": self.updated_at,
                "published_at": self.published_at, "regenerated_at": self.regenerated_at,
                "account": self.account}

    def tags(self) -> dict[str, str]:
        return {"rotation-id": self.rotation_id, "rotation-status": self.status,
                "rotation-step": str(self.completed_step), "rotation-started": self.started_at,
                "rotation-updated": self.updated_at, "rotation-published-at": f"{self.published_at:.3f}",
                "rotation-regenerated-at": f"{self.regenerated_at:.3f}",
                "managed-by": "claude-foundry"}

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Journal | None:
        if not tags or "rotation-id" not in tags:
            return None
        try:
            return cls(rotation_id=tags["rotation-id"], status=tags.get("rotation-status", IN_PROGRESS),
                       completed_step=int(tags.get("rotation-step", "0")),
                       started_at=tags.get("rotation-started", ""), updated_at=tags.get("rotation-updated", ""),
                       published_at=float(tags.get("rotation-published-at", "0") or 0),
                       regenerated_at=float(tags.get("rotation-regenerated-at", "0") or 0))
        except ValueError:
            return None


@dataclass
class RotationResult:
    rotation_id: str
    resumed_from: int  # 0: a fresh rotation
    steps_run: list[int]
    warnings: list[str]


class Rotator:
    def __init__(self, view: StackView, *, grace: float = 60.0, console: Any = None,
                 on_step: StepHook | None = None, stop_after: int | None = None,
                 min_regenerate_gap: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, break_lease: bool = False,
                 holder: str | None = None, stack_file: str = "STACK_FILE") -> None:
        spec = view.spec
        if spec.foundry.disable_local_auth:
            raise UserError(f"{spec.foundry.name} disables local auth (foundry.disable_local_auth: true): clients "
                            "use Entra ID tokens, there is no key to rotate")
        if view.vault is None:  # pragma: no cover - the program always makes one
            raise UserError("the stack has no Key Vault to publish the key to")
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not math.isfinite(grace) or grace < 0:
            raise UserError(f"--grace must be a finite number of seconds >= 0, not {grace!r}")
        self.view = view
        self.grace = grace
        if min_regenerate_gap is None:
            from claude_foundry.client import runtime

            min_regenerate_gap = runtime.KEY_REREAD_MIN_INTERVAL + REGENERATE_GAP_MARGIN
        self.min_regenerate_gap = min_regenerate_gap
        self.break_lease = break_lease
        self.stack_file = stack_file
        self.holder = holder or runner_identity()
        self.lease_ttl = grace + min_regenerate_gap + LEASE_MARGIN
        self.lease: Lease | None = None  # ours, while held
        self.console = console
        self.on_step = on_step
        self.stop_after = stop_after
        self.sleep = sleep
        self.names = spec.secret_names
        self.arm = ArmCaller(view.target)
        self.key_secret = view.secrets.get(self.names.api_key)
        self.journal_id = f"{view.vault.id}/secrets/{journal_secret_name(self.names.prefix)}"
        self.lease_secret_id = f"{view.vault.id}/secrets/{lease_secret_name(self.names.prefix)}"
        self.secret_api_version = view.vault.api_version
        self.warnings: list[str] = []
        self._secret_client: Any = None
        self._can_read: bool | None = None

    # --- output -----------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        if self.console is not None:
            self.console.print(text, highlight=False)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        self.say(f"[yellow]! {text}[/]")

    # --- ARM helpers ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, api_version: str, body: Any = None, what: str = "") -> Any:
        status, data = self.arm.call(method, path, api_version, body)
        if status not in (200, 201, 202):
            raise OperationFailed(f"{what or path}: {arm_error_text(status, data)}; fix the cause and run "
                                  "`claude-foundry rotate-keys` again: it resumes")
        return data

    def account_state(self) -> dict[str, Any]:
        data = self._call("GET", self.view.account.id, self.view.account.api_version, what="reading the account")
        return data if isinstance(data, dict) else {}

    def list_keys(self) -> tuple[str, str]:
        data = self._call("POST", self.view.account.id + "/listKeys", self.view.account.api_version,
                          what="listing the account keys")
        return str(data.get("key1") or ""), str(data.get("key2") or "")

    def regenerate(self, key_name: str) -> None:
        self._call("POST", self.view.account.id + "/regenerateKey", self.view.account.api_version,
                   {"keyName": key_name}, what=f"regenerating {key_name}")

    def publish(self, key: str) -> None:
        """Write ``key`` as the api-key secret through ARM, with the body (tags...) the program gives it."""
        body: dict[str, Any] = {}
        if self.key_secret is not None:
            body = json.loads(json.dumps(self.key_secret.body))
        props = body.setdefault("properties", {})
        props["value"] = key
        path = f"{self.view.vault.id}/secrets/{self.names.api_key}"  # type: ignore[union-attr]
        self._call("PUT", path, self.secret_api_version, body, what=f"publishing the key to {self.names.api_key}")

    def _read_state(self, secret_id: str, what: str) -> dict[str, str] | None:
        """The tags of a state secret (journal, lease) read through ARM; None when it does not exist."""
        status, data = self.arm.call("GET", secret_id, self.secret_api_version)
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise OperationFailed(f"reading the {what}: {arm_error_text(status, data)}")
        return data.get("tags") or {}

    def _write_state(self, secret_id: str, tags: dict[str, str], value: dict[str, Any], what: str) -> None:
        """A state secret: the fields as tags (readable with Reader) and as its JSON value. Never a key."""
        body = {"tags": tags, "properties": {"value": json.dumps(value, sort_keys=True),
                                             "contentType": "application/json"}}
        self._call("PUT", secret_id, self.secret_api_version, body, what=f"writing the {what}")

    def read_journal(self) -> Journal | None:
        tags = self._read_state(self.journal_id, "rotation journal")
        return None if tags is None else Journal.from_tags(tags)

    def write_journal(self, journal: Journal) -> None:
        journal.updated_at = _now_iso()
        journal.account = self.view.account.id
        self._write_state(self.journal_id, journal.tags(), journal.to_json(), "rotation journal")

    # --- the lease: one runner at a time ---------------------------------------------------------

    def read_lease(self) -> Lease | None:
        tags = self._read_state(self.lease_secret_id, "rotation lease")
        return None if tags is None else Lease.from_tags(tags)

    def write_lease(self, lease: Lease) -> None:
        self._write_state(self.lease_secret_id, lease.tags(), lease.to_json(), "rotation lease")

    def _held_message(self, other: Lease) -> str:
        left = max(0.0, other.expires_at - time.time())
        return (f"another rotate-keys holds the rotation lease of {self.view.account_name}: {other.describe()} "
                f"(in {left / 60:.0f} min). Two rotations must not interleave: wait for it to finish (an expired "
                "lease is taken over automatically). If that run is gone (cancelled, runner lost), break the "
                f"lease: claude-foundry rotate-keys {self.stack_file} --break-lease")

    def acquire_lease(self) -> None:
        """Take the lease, or stop (exit 1) naming who holds a fresh one."""
        current = self.read_lease()
        if current is not None and current.fresh():
            if not self.break_lease:
                raise OperationFailed(self._held_message(current))
            self.warn(f"broke the rotation lease of {current.describe()} (--break-lease)")
        elif current is not None and current.status == HELD:
            self.warn(f"took over the expired rotation lease of {current.describe()}")
        now = time.time()
        mine = Lease(lease_id=str(uuid.uuid4()), holder=self.holder, acquired_at=now, expires_at=now + self.lease_ttl)
        self.write_lease(mine)
        time.sleep(LEASE_SETTLE)
        after = self.read_lease()
        if after is None or after.lease_id != mine.lease_id:
            if after is not None and after.fresh():
                raise OperationFailed("lost the rotation lease to a run that took it at the same moment: "
                                      + self._held_message(after).split(": ", 1)[1])
            raise OperationFailed("the rotation lease did not read back as written; run again")
        self.lease = mine

    def renew_lease(self) -> None:
        """Before each step: the lease must still be ours (not broken or taken over); extend it."""
        if self.lease is None:
            return
        current = self.read_lease()
        if current is None or current.lease_id != self.lease.lease_id:
            self.lease = None
            who = current.describe() if current is not None else "nobody (the lease is gone)"
            raise OperationFailed(f"the rotation lease was taken over by {who}: stopping before the next step. "
                                  "The journal lets whoever holds the lease finish the rotation")
        self.lease.expires_at = time.time() + self.lease_ttl
        self.write_lease(self.lease)

    def release_lease(self) -> None:
        """At the end (also after a failure): the lease is free for the next run at once."""
        if self.lease is None:
            return
        lease, self.lease = self.lease, None
        try:
            current = self.read_lease()
            if current is not None and current.lease_id == lease.lease_id:
                lease.status = RELEASED
                lease.expires_at = time.time()
                self.write_lease(lease)
        except Exception as exc:  # never hide the run's own outcome; the lease then expires by itself
            self.warn(f"could not release the rotation lease ({describe(exc)}): it expires at "
                      f"{_iso(lease.expires_at)}")

    # --- the vault's current value (data plane, when readable) -----------------------------------

    def _vault_value(self) -> str | None:
        """The api-key secret's current value, or None when the caller may not read it."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        if self._can_read is False:
            return None
        if self._secret_client is None:
            vault = self.account_vault_url()
            self._secret_client = self.view.target.secret_client(vault)
        try:
            value = self._secret_client.get_secret(self.names.api_key).value or ""
        except ResourceNotFoundError:
            return ""
        except HttpResponseError as exc:
            if exc.status_code == 403:
                self._can_read = False
                self.warn("cannot read the key secret (Key Vault Secrets User missing): the vault's value is "
                          "trusted from the journal instead of checked")
                return None
            raise
        self._can_read = True
        return value

    def account_vault_url(self) -> str:
        data = self._call("GET", self.view.vault.id, self.view.vault.api_version,  # type: ignore[union-attr]
                          what="reading the vault")
        url = ((data or {}).get("properties") or {}).get("vaultUri")
        if not url:
            raise OperationFailed("the vault has no vaultUri")
        return str(url)

    def vault_holds(self, key: str) -> bool | None:
        value = self._vault_value()
        if value is None:
            return None
        return hmac.compare_digest(value.encode(), key.encode())

    # --- the steps --------------------------------------------------------------------------------

    def _wait_grace(self, journal: Journal) -> None:
        remaining = self.grace - max(0.0, time.time() - journal.published_at) if journal.published_at else self.grace
        if remaining > 0:
            self.say(f"  [dim]waiting {remaining:.1f}s (grace) …[/]")
            self.sleep(remaining)

    def _wait_regenerate_gap(self, journal: Journal) -> None:
        """The runtime re-reads the key at most once per ``KEY_REREAD_MIN_INTERVAL``: space regenerations
        (within a rotation and across rotations) at least that far apart, whatever the grace."""
        if not journal.regenerated_at:
            return
        remaining = self.min_regenerate_gap - max(0.0, time.time() - journal.regenerated_at)
        if remaining > 0:
            self.say(f"  [dim]waiting {remaining:.1f}s (clients re-read the key at most every "
                     f"{self.min_regenerate_gap - REGENERATE_GAP_MARGIN:g}s) …[/]")
            self.sleep(remaining)

    def _ensure_vault_holds(self, key_index: int, journal: Journal) -> None:
        """Before revoking the other key: the vault must hold key<key_index>; re-publish it when not."""
        keys = self.list_keys()
        key = keys[key_index - 1]
        holds = self.vault_holds(key)
        if holds is False:
            self.warn(f"the key secret does not hold key{key_index} (changed since it was published?): "
                      f"publishing key{key_index} again and waiting the grace period before revoking")
            self.publish(key)
            journal.published_at = time.time()
            self.write_journal(journal)
            self._wait_grace(journal)

    def do_step(self, number: int, journal: Journal) -> None:
        if number in (1, 4):
            index = 2 if number == 1 else 1
            key = self.list_keys()[index - 1]
            self.publish(key)
            if self.vault_holds(key) is False:
                raise OperationFailed(f"published key{index} but the vault does not return it; run again")
            journal.published_at = time.time()
        elif number in (2, 5):
            self._wait_grace(journal)
        elif number in (3, 6):
            self._ensure_vault_holds(2 if number == 3 else 1, journal)
            self._wait_regenerate_gap(journal)
            self.regenerate("Key1" if number == 3 else "Key2")
            journal.regenerated_at = time.time()

    def run(self) -> RotationResult:
        live = self.account_state()
        if ((live.get("properties") or {}).get("disableLocalAuth")):
            raise UserError(f"account {self.view.account_name} has local auth disabled: there is no key to rotate "
                            "(and the stack file says otherwise: run `claude-foundry verify`)")
        self.acquire_lease()
        try:
            return self._run()
        finally:
            self.release_lease()

    def _run(self) -> RotationResult:
        journal = self.read_journal()
        if journal is not None and journal.status == IN_PROGRESS and 0 <= journal.completed_step < LAST_STEP:
            resumed = journal.completed_step
            self.say(f"[bold]resuming rotation {journal.rotation_id}[/] after step {resumed}/{LAST_STEP}")
        else:
            previous = journal
            journal = Journal(rotation_id=str(uuid.uuid4()))
            if previous is not None:
                journal.regenerated_at = previous.regenerated_at
            resumed = 0
            self.write_journal(journal)
            self.say(f"[bold]rotation {journal.rotation_id}[/] of {self.view.account_name} "
                     f"(grace {self.grace:g}s)")
        ran = []
        for number, step_id, done in STEPS:
            if number <= journal.completed_step:
                continue
            self.renew_lease()
            self.do_step(number, journal)
            journal.completed_step = number
            journal.status = COMPLETE if number == LAST_STEP else IN_PROGRESS
            self.write_journal(journal)
            ran.append(number)
            self.say(f"  [green]✓[/] {number}/{LAST_STEP} {done}")
            if self.on_step is not None:
                self.on_step(number, step_id)
            if self.stop_after is not None and number >= self.stop_after and number < LAST_STEP:
                self.say(f"[yellow]stopped after step {number} as asked; run again to finish[/]")
                return RotationResult(journal.rotation_id, resumed, ran, self.warnings)
        self.say(f"[green]rotation {journal.rotation_id} complete:[/] the vault holds the new key1, "
                 "key2 is new and unused")
        return RotationResult(journal.rotation_id, resumed, ran, self.warnings)

    def close(self) -> None:
        self.arm.close()
        if self._secret_client is not None:
            self._secret_client.close()


def rotate_keys(view: StackView, **kwargs: Any) -> RotationResult:
    rotator = Rotator(view, **kwargs)
    try:
        return rotator.run()
    finally:
        rotator.close()
