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
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claude_foundry.azure.caller import ArmCaller
from claude_foundry.azure.errors import arm_error_text
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

#: Added to the runtime's minimum interval between two key re-reads: two regenerations are never closer than
#: that, so a client that re-read the key after one 401 may re-read again after the next one.
REGENERATE_GAP_MARGIN = 0.5


def journal_secret_name(prefix: str) -> str:
    return f"{prefix}-{JOURNAL_SUFFIX}"


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
                 sleep: Callable[[float], None] = time.sleep) -> None:
        spec = view.spec
        if spec.foundry.disable_local_auth:
            raise UserError(f"{spec.foundry.name} disables local auth (foundry.disable_local_auth: true): clients "
                            "use Entra ID tokens, there is no key to rotate")
        if view.vault is None:  # pragma: no cover - the program always makes one
            raise UserError("the stack has no Key Vault to publish the key to")
        if grace < 0:
            raise UserError("--grace must not be negative")
        self.view = view
        self.grace = grace
        if min_regenerate_gap is None:
            from claude_foundry.client import runtime

            min_regenerate_gap = runtime.KEY_REREAD_MIN_INTERVAL + REGENERATE_GAP_MARGIN
        self.min_regenerate_gap = min_regenerate_gap
        self.console = console
        self.on_step = on_step
        self.stop_after = stop_after
        self.sleep = sleep
        self.names = spec.secret_names
        self.arm = ArmCaller(view.target)
        self.key_secret = view.secrets.get(self.names.api_key)
        self.journal_id = f"{view.vault.id}/secrets/{journal_secret_name(self.names.prefix)}"
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

    def read_journal(self) -> Journal | None:
        status, data = self.arm.call("GET", self.journal_id, self.secret_api_version)
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise OperationFailed(f"reading the rotation journal: {arm_error_text(status, data)}")
        return Journal.from_tags(data.get("tags") or {})

    def write_journal(self, journal: Journal) -> None:
        journal.updated_at = _now_iso()
        journal.account = self.view.account.id
        body = {"tags": journal.tags(),
                "properties": {"value": json.dumps(journal.to_json(), sort_keys=True),
                               "contentType": "application/json"}}
        self._call("PUT", self.journal_id, self.secret_api_version, body, what="writing the rotation journal")

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
