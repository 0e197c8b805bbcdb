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

A stack with several accounts (``accounts:``) rotates every account (or those asked for), one after another, so
that at most one account's key is in flux while the others serve (the runtime fails over between them); each
account's key goes to its own secret (``SecretNames.api_key_of``: ``<prefix>-api-key`` for the first,
``<prefix>-api-key-<account>`` for another). Journal and lease are per account: the first keeps
``<prefix>-rotation`` and ``<prefix>-rotation-lease``, another account has ``<prefix>-rotation-journal-<account>``
and ``<prefix>-rotation-lease-<account>``. An account is not started while another account of the stack is under
a fresh lease (another runner rotating it). The run itself is recorded in ``<prefix>-rotation-run`` (which
accounts it rotates, which are done): a run after an interruption resumes the interrupted account and goes on with
the accounts not rotated yet, leaving alone those the interrupted run had finished (:func:`rotate_stack`).
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_foundry import _contract as contract
from claude_foundry._azure.caller import ArmCaller
from claude_foundry._azure.errors import arm_error_text, describe
from claude_foundry._errors import ArgumentProblem, InvalidArgument, OperationFailed, UserError
from claude_foundry._ops.view import AccountView, StackView

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
#: ``rotate_stack``'s hook: (account key, step number, step id) after each step.
AccountStepHook = Callable[[str, int, str], None]

# --- what a rotation reports, as data (the CLI words it: cli/_rotate_keys.py) ----------------------

#: :class:`RotationEvent` kinds. A run over several accounts: ``RUN_START`` (a new run), ``RUN_CONTINUE`` (an
#: unfinished run continued), ``RUN_STALE`` (an unfinished run too old to continue; a new one starts). One account:
#: ``START`` (a new rotation) or ``RESUME`` (after ``step``), then per step done ``STEP``, before a wait
#: ``WAIT_GRACE`` or ``WAIT_REREAD`` (two regenerations kept the runtime's key re-read interval apart), at the end
#: ``STOPPED`` (after ``step``, as ``stop_after`` asked) or ``DONE``. ``WARNING`` at any point.
RUN_START, RUN_CONTINUE, RUN_STALE = "run-start", "run-continue", "run-stale"
START, RESUME, STEP, WAIT_GRACE, WAIT_REREAD, STOPPED, DONE, WARNING = (
    "start", "resume", "step", "wait-grace", "wait-reread", "stopped", "complete", "warning")


class RotationWarning(str):
    """A warning of a rotation, in the library's words (a ``str``, so it reads and serializes as text).
    ``parameter``: the argument it follows from (``break_lease``), named at its end in parentheses; a front end
    names that argument its own way with :meth:`naming` (the CLI: ``(--break-lease)``)."""

    text: str
    parameter: str | None

    def __new__(cls, text: str, parameter: str | None = None) -> RotationWarning:
        self = super().__new__(cls, f"{text} ({parameter})" if parameter else text)
        self.text = text
        self.parameter = parameter
        return self

    def naming(self, names: Mapping[str, str]) -> str:
        """The warning with its parameter called ``names[parameter]`` (its own name when absent)."""
        if not self.parameter:
            return self.text
        return f"{self.text} ({names.get(self.parameter, self.parameter)})"

    def within(self, where: str) -> RotationWarning:
        """The same warning, said of ``where`` (an account of several)."""
        return RotationWarning(f"{where}: {self.text}", self.parameter)


@dataclass(frozen=True)
class RotationEvent:
    """One thing a rotation did or is about to do (``kind``: one of the kinds above). Data only, no key value ever;
    the CLI turns each into a line (``cli/_rotate_keys.py``), a library caller may log or ignore them.

    ``account``, ``name``, ``location``: the account (its stack's key, its name and region; empty for a run's
    events). ``rotation_id``: the account's rotation, or the run's id for a run's events. ``step`` (of ``total``):
    the step done (``STEP``), resumed after (``RESUME``) or stopped after (``STOPPED``); ``step_id`` and ``text``
    (what it did) for ``STEP``. ``seconds``: the wait (``WAIT_*``), the grace (``START``), the age limit of a run
    (``RUN_STALE``); ``interval``: the runtime's key re-read interval (``WAIT_REREAD``). ``accounts`` and ``done``:
    the run's accounts and those already rotated in it, ``when``: when the run started (``RUN_CONTINUE``) or was
    last updated (``RUN_STALE``). ``warning``: the :class:`RotationWarning` (``WARNING``)."""

    kind: str
    account: str = ""
    name: str = ""
    location: str = ""
    rotation_id: str = ""
    step: int = 0
    total: int = LAST_STEP
    step_id: str = ""
    text: str = ""
    seconds: float = 0.0
    interval: float = 0.0
    accounts: tuple[str, ...] = ()
    done: tuple[str, ...] = ()
    when: str = ""
    warning: RotationWarning | None = None


#: Called with each :class:`RotationEvent` as it happens (an exception it raises stops the rotation).
EventHook = Callable[[RotationEvent], None]


class LeaseHeld(OperationFailed):
    """Another runner holds a fresh rotation lease (of this account, or of another account of the stack), so this
    rotation did not start. ``situation``: whose lease, until when, and why to wait; ``account``: the stack's key of
    the account whose lease it is (``None``: another account's, while rotating the stack as a whole). Rotating with
    ``break_lease=True`` goes on anyway (only when that run is gone: cancelled, runner lost)."""

    def __init__(self, situation: str, account: str | None = None) -> None:
        self.situation = situation
        self.account = account
        super().__init__(f"{situation}: rotate with break_lease=True")

    def within(self, where: str) -> LeaseHeld:
        """The same error, said of ``where`` (an account of several)."""
        return LeaseHeld(f"{where}: {self.situation}", self.account)

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


#: The record of a rotation run over several accounts (stacks with ``accounts:`` only).
RUN_SUFFIX = "rotation-run"
RUN_FORMAT = "claude-foundry-rotation-run/1"
#: Key Vault: a tag value holds at most 256 characters, a secret at most 15 tags.
TAG_VALUE_MAX = 256
TAGS_MAX = 15
#: Seconds an unfinished run is continued after its last update (the accounts it rotated are then skipped); an
#: older one is left: a new run rotates every account again (an account interrupted mid-way still resumes).
RUN_RESUME_WINDOW = 7 * 86400.0


def _state_name(name: str, what: str) -> str:
    if not contract.SECRET_NAME_RE.match(name):
        raise UserError(f"the {what} secret name {name!r} is not a Key Vault secret name (1-127 characters of "
                        "0-9, a-z, A-Z and '-'): shorten key_vault.secret_prefix or the account's name in accounts:")
    return name


def journal_secret_name(prefix: str, account: str = contract.PRIMARY_ACCOUNT) -> str:
    """The rotation journal of one account: ``<prefix>-rotation`` for the stack's first account (the name of a
    one-account stack's), ``<prefix>-rotation-journal-<account>`` for another (never the name of another account's
    lease)."""
    return _state_name(f"{prefix}-{JOURNAL_SUFFIX}{contract.account_label(account, '-journal-')}", "rotation journal")


def lease_secret_name(prefix: str, account: str = contract.PRIMARY_ACCOUNT) -> str:
    """The rotation lease of one account: ``<prefix>-rotation-lease`` for the stack's first account (the name of a
    one-account stack's), ``<prefix>-rotation-lease-<account>`` for another."""
    return _state_name(f"{prefix}-{LEASE_SUFFIX}{contract.account_label(account)}", "rotation lease")


def run_secret_name(prefix: str) -> str:
    """The record of the last rotation run of a stack with several accounts."""
    return _state_name(f"{prefix}-{RUN_SUFFIX}", "rotation run")


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
    #: Where the holder runs: its host name and process id (0: not recorded, a lease from before 0.2).
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    def fresh(self, now: float | None = None) -> bool:
        """Held, not expired, and its holder not known to be gone (:meth:`holder_gone`)."""
        return self.status == HELD and self.expires_at > (time.time() if now is None else now) \
            and not self.holder_gone()

    def holder_gone(self) -> bool:
        """The holder ran on this host and its process no longer exists (``os.kill(pid, 0)``): its lease is not
        waited out. A holder on another host, or one that recorded no pid, is never judged gone."""
        if self.pid <= 0 or self.host != socket.gethostname() or self.status != HELD:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # EPERM: a process of another user holds that pid, so it exists
            return False
        return False

    def describe(self) -> str:
        return f"{self.holder}, started {_iso(self.acquired_at)}, lease expires {_iso(self.expires_at)}"

    def to_json(self) -> dict[str, Any]:
        return {"format": LEASE_FORMAT, "lease_id": self.lease_id, "holder": self.holder, "status": self.status,
                "host": self.host, "pid": self.pid,
                "acquired_at": _iso(self.acquired_at), "expires_at": _iso(self.expires_at)}

    def tags(self) -> dict[str, str]:
        return {"lease-id": self.lease_id, "lease-holder": self.holder, "lease-status": self.status,
                "lease-acquired": _iso(self.acquired_at), "lease-acquired-at": f"{self.acquired_at:.3f}",
                "lease-expires": _iso(self.expires_at), "lease-expires-at": f"{self.expires_at:.3f}",
                "lease-host": self.host[:250], "lease-pid": str(self.pid), "managed-by": "claude-foundry"}

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
        try:
            pid = int(tags.get("lease-pid", "0"))
        except ValueError:
            pid = 0
        return cls(lease_id=tags["lease-id"], holder=tags.get("lease-holder", "?"), acquired_at=acquired,
                   expires_at=expires, status=tags.get("lease-status", HELD), host=tags.get("lease-host", ""),
                   pid=pid if 0 < pid < 2**31 else 0)


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
    """One account's rotation (this run's part of it)."""

    rotation_id: str
    resumed_from: int  # 0: a fresh rotation
    steps_run: list[int]
    warnings: list[RotationWarning]
    account: str = contract.PRIMARY_ACCOUNT  # the stack's key for the account
    name: str = ""  # the account's name
    location: str = ""
    complete: bool = True  # False: stopped (``stop_after``) before the last step

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "name": self.name, "location": self.location,
                "rotation_id": self.rotation_id, "resumed_from_step": self.resumed_from,
                "steps_run": self.steps_run, "complete": self.complete, "warnings": self.warnings}


class Rotator:
    """Rotates one account of the stack (``account``: its key, :data:`~claude_foundry._contract.PRIMARY_ACCOUNT` for
    ``foundry:``)."""

    def __init__(self, view: StackView, *, grace: float = 60.0, on_event: EventHook | None = None,
                 on_step: StepHook | None = None, stop_after: int | None = None,
                 min_regenerate_gap: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, break_lease: bool = False,
                 holder: str | None = None,
                 account: str = contract.PRIMARY_ACCOUNT, own_leases: set[str] | None = None) -> None:
        spec = view.spec
        acct = view.accounts.get(account)
        if acct is None:
            raise UserError(f"no account {account!r} in the stack: {describe_accounts(view)}")
        if spec.foundry.disable_local_auth:
            raise UserError(f"{acct.name} disables local auth (foundry.disable_local_auth: true): clients "
                            "use Entra ID tokens, there is no key to rotate")
        if view.vault is None:  # pragma: no cover - the program always makes one
            raise UserError("the stack has no Key Vault to publish the key to")
        if isinstance(grace, bool) or not isinstance(grace, int | float) or not math.isfinite(grace) or grace < 0:
            raise InvalidArgument(ArgumentProblem("grace", f" must be a finite number of seconds >= 0, not {grace!r}"))
        self.view = view
        self.grace = grace
        if min_regenerate_gap is None:
            from claude_foundry._client import runtime

            min_regenerate_gap = runtime.KEY_REREAD_MIN_INTERVAL + REGENERATE_GAP_MARGIN
        self.min_regenerate_gap = min_regenerate_gap
        self.break_lease = break_lease
        self.holder = holder or runner_identity()
        self.lease_ttl = grace + min_regenerate_gap + LEASE_MARGIN
        self.lease: Lease | None = None  # ours, while held
        self.on_event = on_event
        self.on_step = on_step
        self.stop_after = stop_after
        self.sleep = sleep
        self.names = spec.secret_names
        self.acct = acct
        self.account_key = acct.key
        #: how messages name it: its name, with its key and region in a stack with several accounts (wording only)
        self.label = acct.words if len(view.accounts) > 1 else acct.name
        #: other accounts of the stack and their lease secrets (checked before this one starts)
        self.others = [(a, f"{view.vault.id}/secrets/{lease_secret_name(self.names.prefix, a.key)}")
                       for k, a in view.accounts.items() if k != acct.key]
        #: lease ids this runner took (in this run, for other accounts): never "another runner's"
        self.own_leases = own_leases if own_leases is not None else set()
        self.key_secret_name = self.names.api_key_of(acct.key)
        self.key_secret = view.secrets.get(self.key_secret_name)
        self.journal_id = f"{view.vault.id}/secrets/{journal_secret_name(self.names.prefix, acct.key)}"
        self.lease_secret_id = f"{view.vault.id}/secrets/{lease_secret_name(self.names.prefix, acct.key)}"
        self.secret_api_version = view.vault.api_version
        self.warnings: list[RotationWarning] = []
        self._secret_client: Any = None
        self._can_read: bool | None = None
        self.arm = ArmCaller(view.target)  # last: nothing above may fail with it open

    # --- progress, as events ------------------------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        if self.on_event is not None:
            self.on_event(RotationEvent(kind, account=self.account_key, name=self.acct.name,
                                        location=self.acct.location, **fields))

    def warn(self, text: str, parameter: str | None = None) -> None:
        warning = RotationWarning(text, parameter)
        self.warnings.append(warning)
        self.emit(WARNING, warning=warning)

    # --- ARM helpers ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, api_version: str, body: Any = None, what: str = "") -> Any:
        status, data = self.arm.call(method, path, api_version, body)
        if status not in (200, 201, 202):
            raise OperationFailed(f"{what or path}: {arm_error_text(status, data)}; fix the cause and run "
                                  "`claude-foundry rotate-keys` again: it resumes")
        return data

    def account_state(self) -> dict[str, Any]:
        data = self._call("GET", self.acct.account.id, self.acct.account.api_version, what="reading the account")
        return data if isinstance(data, dict) else {}

    def list_keys(self) -> tuple[str, str]:
        data = self._call("POST", self.acct.account.id + "/listKeys", self.acct.account.api_version,
                          what="listing the account keys")
        return str(data.get("key1") or ""), str(data.get("key2") or "")

    def regenerate(self, key_name: str) -> None:
        self._call("POST", self.acct.account.id + "/regenerateKey", self.acct.account.api_version,
                   {"keyName": key_name}, what=f"regenerating {key_name}")

    def publish(self, key: str) -> None:
        """Write ``key`` as the account's key secret through ARM, with the body (tags...) the program gives it."""
        body: dict[str, Any] = {}
        if self.key_secret is not None:
            body = json.loads(json.dumps(self.key_secret.body))
        props = body.setdefault("properties", {})
        props["value"] = key
        path = f"{self.view.vault.id}/secrets/{self.key_secret_name}"  # type: ignore[union-attr]  # the program always makes a vault; the rotation refuses a plan without one
        self._call("PUT", path, self.secret_api_version, body, what=f"publishing the key to {self.key_secret_name}")

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
        journal.account = self.acct.account.id
        self._write_state(self.journal_id, journal.tags(), journal.to_json(), "rotation journal")

    # --- the lease: one runner at a time ---------------------------------------------------------

    def read_lease(self) -> Lease | None:
        tags = self._read_state(self.lease_secret_id, "rotation lease")
        return None if tags is None else Lease.from_tags(tags)

    def write_lease(self, lease: Lease) -> None:
        self._write_state(self.lease_secret_id, lease.tags(), lease.to_json(), "rotation lease")

    def _held(self, other: Lease, lost: bool = False) -> LeaseHeld:
        left = max(0.0, other.expires_at - time.time())
        whose = ("lost the rotation lease to a run that took it at the same moment: " if lost else
                 f"another rotate-keys holds the rotation lease of {self.label}: ")
        return LeaseHeld(f"{whose}{other.describe()} (in {left / 60:.0f} min). Two rotations must not interleave: "
                         "wait for it to finish (an expired lease is taken over automatically). If that run is "
                         "gone (cancelled, runner lost), break the lease", self.account_key)

    def check_other_accounts(self) -> None:
        """In a stack with several accounts: none of the others may be under a fresh lease of another runner,
        else two accounts' keys would be in flux at once (:class:`LeaseHeld`; ``break_lease`` goes on)."""
        for other, secret in self.others:
            tags = self._read_state(secret, f"rotation lease of {other.words}")
            lease = None if tags is None else Lease.from_tags(tags)
            if lease is None or not lease.fresh() or lease.lease_id in self.own_leases:
                continue
            words = f"another rotate-keys is rotating account {other.words}: {lease.describe()}"
            if self.break_lease:
                self.warn(f"{words}; rotating {self.label} anyway", "break_lease")
                continue
            raise LeaseHeld(f"{words}. Rotating {self.label} at the same time would put two accounts' keys in flux "
                            "at once: wait for it to finish (an expired lease is taken over automatically). If that "
                            "run is gone (cancelled, runner lost)")

    def acquire_lease(self) -> None:
        """Take the lease, or stop (:class:`LeaseHeld`) naming who holds a fresh one."""
        if self.others:
            self.check_other_accounts()
        current = self.read_lease()
        if current is not None and current.fresh():
            if not self.break_lease:
                raise self._held(current)
            self.warn(f"broke the rotation lease of {current.describe()}", "break_lease")
        elif current is not None and current.holder_gone():
            self.warn(f"took over the rotation lease of {current.describe()}: its process (pid {current.pid}) is "
                      "gone from this host")
        elif current is not None and current.status == HELD:
            self.warn(f"took over the expired rotation lease of {current.describe()}")
        now = time.time()
        mine = Lease(lease_id=str(uuid.uuid4()), holder=self.holder, acquired_at=now, expires_at=now + self.lease_ttl)
        self.write_lease(mine)
        time.sleep(LEASE_SETTLE)
        after = self.read_lease()
        if after is None or after.lease_id != mine.lease_id:
            if after is not None and after.fresh():
                raise self._held(after, lost=True)
            raise OperationFailed("the rotation lease did not read back as written; run again")
        self.lease = mine
        self.own_leases.add(mine.lease_id)

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
        """The account's key secret's current value, or None when the caller may not read it."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        if self._can_read is False:
            return None
        if self._secret_client is None:
            vault = self.account_vault_url()
            self._secret_client = self.view.target.secret_client(vault)
        try:
            value = self._secret_client.get_secret(self.key_secret_name).value or ""
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
        data = self._call("GET", self.view.vault.id, self.view.vault.api_version,  # type: ignore[union-attr]  # the program always makes a vault; the rotation refuses a plan without one
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
            self.emit(WAIT_GRACE, seconds=remaining)
            self.sleep(remaining)

    def _wait_regenerate_gap(self, journal: Journal) -> None:
        """The runtime re-reads the key at most once per ``KEY_REREAD_MIN_INTERVAL``: space regenerations
        (within a rotation and across rotations) at least that far apart, whatever the grace."""
        if not journal.regenerated_at:
            return
        remaining = self.min_regenerate_gap - max(0.0, time.time() - journal.regenerated_at)
        if remaining > 0:
            self.emit(WAIT_REREAD, seconds=remaining, interval=self.min_regenerate_gap - REGENERATE_GAP_MARGIN)
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
            raise UserError(f"account {self.label} has local auth disabled: there is no key to rotate "
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
            self.emit(RESUME, rotation_id=journal.rotation_id, step=resumed)
        else:
            previous = journal
            journal = Journal(rotation_id=str(uuid.uuid4()))
            if previous is not None:
                journal.regenerated_at = previous.regenerated_at
            resumed = 0
            self.write_journal(journal)
            self.emit(START, rotation_id=journal.rotation_id, seconds=self.grace)
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
            self.emit(STEP, rotation_id=journal.rotation_id, step=number, step_id=step_id, text=done)
            if self.on_step is not None:
                self.on_step(number, step_id)
            if self.stop_after is not None and number >= self.stop_after and number < LAST_STEP:
                self.emit(STOPPED, rotation_id=journal.rotation_id, step=number)
                return self._result(journal, resumed, ran, complete=False)
        self.emit(DONE, rotation_id=journal.rotation_id, step=LAST_STEP)
        return self._result(journal, resumed, ran, complete=True)

    def _result(self, journal: Journal, resumed: int, ran: list[int], *, complete: bool) -> RotationResult:
        return RotationResult(journal.rotation_id, resumed, ran, self.warnings, account=self.account_key,
                              name=self.acct.name, location=self.acct.location, complete=complete)

    def close(self) -> None:
        self.arm.close()
        if self._secret_client is not None:
            self._secret_client.close()


def rotate_keys(view: StackView, **kwargs: Any) -> RotationResult:
    """Rotate one account's keys (``account=``: its key; the stack's first by default). A stack with several
    accounts rotates them all with :func:`rotate_stack`; here it needs ``account=`` (rotating only the first
    unasked would leave the others unrotated without a word)."""
    if len(view.accounts) > 1 and "account" not in kwargs:
        raise UserError(f"the stack has several accounts ({describe_accounts(view)}): rotate_stack(view) rotates "
                        "them all, one after another; rotate_keys(view, account=KEY) rotates one")
    rotator = Rotator(view, **kwargs)
    try:
        return rotator.run()
    finally:
        rotator.close()


# --- every account of a stack -------------------------------------------------------------------------


def describe_accounts(view_or_spec: Any) -> str:
    """``primary (name), sweden (name)``: the accounts of a stack (a :class:`StackView` or a spec), keys first."""
    if isinstance(view_or_spec, StackView):
        pairs = [(a.key, a.name) for a in view_or_spec.accounts.values()]
    else:
        pairs = [(a.key, a.name) for a in view_or_spec.all_accounts()]
    return ", ".join(f"{key} ({name})" for key, name in pairs)


def select_accounts(spec: Any, wanted: list[str] | tuple[str, ...] | None) -> list[str]:
    """The accounts to rotate, as the stack's keys in the stack's order: every account when ``wanted`` is empty,
    else those named (by key, :data:`~claude_foundry._contract.PRIMARY_ACCOUNT` for ``foundry:``, or by account
    name; comma-separated lists are split). An unknown name is an :class:`InvalidArgument` (of ``accounts``)
    listing the stack's accounts."""
    accounts = spec.all_accounts()
    order = [a.key for a in accounts]
    if not wanted:
        return order
    by_name = {a.key: a.key for a in accounts}
    for a in accounts:
        by_name.setdefault(a.name.lower(), a.key)
    chosen: set[str] = set()
    for raw in wanted:
        parts = [p.strip() for p in str(raw).split(",")]
        if not any(parts):
            raise InvalidArgument(ArgumentProblem(
                "accounts", f" needs an account name (the stack's accounts: {describe_accounts(spec)})"))
        for part in parts:
            if not part:
                continue
            key = by_name.get(part) or by_name.get(part.lower())
            if key is None:
                raise InvalidArgument(ArgumentProblem(
                    "accounts", f" {part!r}: no such account in the stack; its accounts are {describe_accounts(spec)}"))
            chosen.add(key)
    return [k for k in order if k in chosen]


@dataclass
class RunRecord:
    """A rotation run over several accounts: which it rotates (in order) and which are done. No key values."""

    run_id: str
    accounts: list[str]
    done: list[str] = field(default_factory=list)
    status: str = IN_PROGRESS
    started_at: str = field(default_factory=_now_iso)
    updated_at: str = field(default_factory=_now_iso)

    def age(self, now: float | None = None) -> float:
        """Seconds since the last update (infinite when unreadable)."""
        try:
            updated = dt.datetime.strptime(self.updated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            return math.inf
        return (time.time() if now is None else now) - updated.timestamp()

    def to_json(self) -> dict[str, Any]:
        return {"format": RUN_FORMAT, "run_id": self.run_id, "status": self.status, "accounts": self.accounts,
                "done": self.done, "started_at": self.started_at, "updated_at": self.updated_at}

    def tags(self) -> dict[str, str]:
        tags = {"run-id": self.run_id, "run-status": self.status, "run-started": self.started_at,
                "run-updated": self.updated_at, "managed-by": "claude-foundry",
                **_list_tags("run-accounts", self.accounts), **_list_tags("run-done", self.done)}
        if len(tags) > TAGS_MAX:
            raise InvalidArgument(ArgumentProblem(
                "accounts", "", before=f"too many accounts ({len(self.accounts)}) to record one rotation run in Key "
                                       "Vault tags: rotate them in groups with "))
        return tags

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> RunRecord | None:
        if not tags or "run-id" not in tags:
            return None
        return cls(run_id=tags["run-id"], accounts=_tag_list(tags, "run-accounts"), done=_tag_list(tags, "run-done"),
                   status=tags.get("run-status", IN_PROGRESS), started_at=tags.get("run-started", ""),
                   updated_at=tags.get("run-updated", ""))


def _list_tags(name: str, items: list[str]) -> dict[str, str]:
    """A list of account keys as tags of at most 256 characters: ``name``, ``name-2``, ... (comma-separated)."""
    chunks: list[list[str]] = [[]]
    for item in items:
        if chunks[-1] and len(",".join([*chunks[-1], item])) > TAG_VALUE_MAX:
            chunks.append([])
        chunks[-1].append(item)
    return {(name if n == 0 else f"{name}-{n + 1}"): ",".join(c) for n, c in enumerate(chunks)}


def _tag_list(tags: dict[str, str], name: str) -> list[str]:
    out: list[str] = []
    n = 1
    while True:
        value = tags.get(name if n == 1 else f"{name}-{n}")
        if value is None:
            return out
        out.extend(p for p in value.split(",") if p)
        n += 1


@dataclass
class StackRotationResult:
    """A run over the stack's accounts: each account's :class:`RotationResult`, in the order rotated."""

    run_id: str  # "" for a one-account stack (no run record)
    accounts: list[RotationResult]
    skipped: list[str] = field(default_factory=list)  # already rotated in the run this one continued
    remaining: list[str] = field(default_factory=list)  # of the run, still to rotate (stopped, or not asked for)
    warnings: list[RotationWarning] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.remaining and all(r.complete for r in self.accounts)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "accounts": [r.to_json() for r in self.accounts], "skipped": self.skipped,
                "remaining": self.remaining, "complete": self.complete, "warnings": self.warnings}


class _RunBook:
    """Reads and writes the run record through ARM (tags and JSON value, as the journal)."""

    def __init__(self, view: StackView) -> None:
        self.arm = ArmCaller(view.target)
        self.api_version = view.vault.api_version  # type: ignore[union-attr]  # the program always makes a vault; the rotation refuses a plan without one
        self.secret_id = f"{view.vault.id}/secrets/{run_secret_name(view.spec.secret_names.prefix)}"  # type: ignore[union-attr]  # as above

    def read(self) -> RunRecord | None:
        status, data = self.arm.call("GET", self.secret_id, self.api_version)
        if status == 404:
            return None
        if status != 200 or not isinstance(data, dict):
            raise OperationFailed(f"reading the rotation run record: {arm_error_text(status, data)}")
        return RunRecord.from_tags(data.get("tags") or {})

    def write(self, record: RunRecord) -> None:
        record.updated_at = _now_iso()
        body = {"tags": record.tags(), "properties": {"value": json.dumps(record.to_json(), sort_keys=True),
                                                      "contentType": "application/json"}}
        status, data = self.arm.call("PUT", self.secret_id, self.api_version, body)
        if status not in (200, 201, 202):
            raise OperationFailed(f"writing the rotation run record: {arm_error_text(status, data)}; run "
                                  "`claude-foundry rotate-keys` again: it resumes")

    def close(self) -> None:
        self.arm.close()


def _in_words(acct: AccountView, exc: Exception) -> Exception | None:
    """A failure while rotating one account of several, with the account named (None: not one to reword)."""
    from claude_foundry._azure.errors import describe_azure

    where = f"account {acct.words}"
    if isinstance(exc, LeaseHeld):
        return exc.within(where)
    if isinstance(exc, InvalidArgument):
        return InvalidArgument(*(ArgumentProblem(p.parameter, p.detail, before=f"{where}: {p.before}")
                                 for p in exc.problems))
    if isinstance(exc, UserError):
        cls = OperationFailed if isinstance(exc, OperationFailed) else UserError
        return cls(f"{where}: {exc}")
    words = describe_azure(exc)
    if words is None:
        return None
    return OperationFailed(f"{where}: {words}; run `claude-foundry rotate-keys` again: it resumes")


def rotate_stack(view: StackView, *, accounts: list[str] | tuple[str, ...] | None = None,
                 on_event: EventHook | None = None, on_account_step: AccountStepHook | None = None,
                 stop_after: int | None = None, **kwargs: Any) -> StackRotationResult:
    """Rotate every account of the stack (or those in ``accounts``: keys or names, see :func:`select_accounts`),
    one after another: at most one account's key in flux at a time. A one-account stack: exactly
    :func:`rotate_keys`.

    With several accounts the run is recorded (``<prefix>-rotation-run``). A run that finds the last one
    unfinished continues it: without ``accounts`` it rotates (or resumes) the accounts that run has not finished
    and leaves the others alone; with ``accounts`` it rotates those (resuming one interrupted mid-way).
    ``stop_after``: stop after that step of the account being rotated (a later run resumes).
    ``on_event(event)`` with each :class:`RotationEvent` (the run's and each account's), as it happens;
    ``on_account_step(account, number, step_id)`` after each step. Other keyword arguments go to each account's
    :class:`Rotator`."""
    keys = select_accounts(view.spec, accounts)

    def hook_for(key: str) -> StepHook | None:
        if on_account_step is None:
            return None
        return lambda number, step_id: on_account_step(key, number, step_id)

    own_leases: set[str] = set()
    # every account's Rotator first: a bad argument (grace, local auth) is refused before anything is written
    rotators: dict[str, Rotator] = {}
    try:
        for key in keys:
            rotators[key] = Rotator(view, on_event=on_event, stop_after=stop_after, on_step=hook_for(key),
                                    account=key, own_leases=own_leases, **kwargs)
        if len(view.accounts) <= 1:
            result = rotators[keys[0]].run()
            return StackRotationResult("", [result], warnings=list(result.warnings))
        return _rotate_accounts(view, keys, rotators, on_event, asked=bool(accounts))
    finally:
        for rotator in rotators.values():
            rotator.close()


def _rotate_accounts(view: StackView, keys: list[str], rotators: dict[str, Rotator], on_event: EventHook | None,
                     *, asked: bool) -> StackRotationResult:
    def emit(kind: str, record: RunRecord, **fields: Any) -> None:
        if on_event is not None:
            on_event(RotationEvent(kind, rotation_id=record.run_id, accounts=tuple(record.accounts),
                                   done=tuple(record.done), **fields))

    book = _RunBook(view)
    try:
        record = book.read()
        todo: list[str] = []
        if record is not None and record.status == IN_PROGRESS and record.age() > RUN_RESUME_WINDOW:
            emit(RUN_STALE, record, when=record.updated_at, seconds=RUN_RESUME_WINDOW)
        elif record is not None and record.status == IN_PROGRESS:
            known = [a for a in record.accounts if a in view.accounts]
            record.accounts = [a for a in view.accounts if a in known or a in keys]
            record.done = [a for a in record.done if a in record.accounts]
            todo = list(keys) if asked else [a for a in record.accounts if a not in record.done]
        if todo and record is not None:
            emit(RUN_CONTINUE, record, when=record.started_at)
        else:  # none, finished, or nothing of it left here: a new run
            record = RunRecord(run_id=str(uuid.uuid4()), accounts=list(keys))
            todo = list(keys)
            emit(RUN_START, record)
        skipped = [a for a in keys if a not in todo]
        book.write(record)
        results: list[RotationResult] = []
        warnings: list[RotationWarning] = []
        for key in todo:
            acct = view.accounts[key]
            try:
                result = rotators[key].run()
            except Exception as exc:
                reworded = _in_words(acct, exc)
                if reworded is None:
                    raise
                raise reworded from None
            results.append(result)
            warnings.extend(w.within(acct.words) for w in result.warnings)
            if not result.complete:
                break  # stop_after: the next run resumes this account, then goes on
            if key not in record.done:
                record.done.append(key)
            if all(a in record.done for a in record.accounts):
                record.status = COMPLETE
            book.write(record)
        remaining = [a for a in record.accounts if a not in record.done]
        return StackRotationResult(record.run_id, results, skipped, remaining, warnings)
    finally:
        book.close()

