"""What the last rehearsal applied, per resource id: digests only, never values."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from claude_foundry import _files as files
from claude_foundry._azure.resource import ArmResource
from claude_foundry._errors import OperationFailed
from claude_foundry._rehearse.graph import Step

#: Seconds a local deploy waits for another one using the same state (the same stack's state file, or the
#: embedded sandbox's state directory) before it stops with words (exit 1).
LOCK_WAIT = 600.0


@contextlib.contextmanager
def held(path: Path, what: str, *, wait: float = LOCK_WAIT,
         on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Run the block holding ``path``'s lock (:func:`files.exclusive_lock`): one local deploy at a time per state;
    :class:`OperationFailed` naming the holder after ``wait`` seconds."""
    try:
        with files.exclusive_lock(path, wait=wait, what=what, on_wait=on_wait):
            yield
    except files.LockBusy as exc:
        raise OperationFailed(f"{exc}; run the command again when it has finished") from None


def lock_path(state_path: Path) -> Path:
    """The lock beside a stack's state file."""
    return state_path.with_name(state_path.name + ".lock")


class DeployState:
    """What was applied last, per resource id: a hash of the body (no secret value), its type, logical
    name and API version (so a resource dropped from the stack can be deleted). Kept in a JSON file."""

    FORMAT = "claude-foundry-local-deploy/2"
    #: Files before 0.2 were named by environment and subscription only, so two stacks sharing an
    #: ``environment:`` shared one (and one deleted the other's resources as orphans).
    LEGACY_NAME = "deploy-{environment}-{subscription}.json"

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
                entry = {"digest": digest, "id": step.arm_id, "type": step.type, "name": step.name,
                         "api_version": step.api_version}
                if step.protect:
                    entry["protect"] = "true"
                self.entries[step.arm_id.lower()] = entry
            self._save()

    def orphans(self, steps: list[Step], scope: str | None = None) -> tuple[list[Step], list[tuple[Step, str]]]:
        """Resources applied before that the stack no longer has: ``(to delete, [(kept, why)])``. Deleted, as
        ``pulumi up`` would, only when they lie inside the stack's ``scope`` (its resource group), are not a
        resource group themselves, and were not protected."""
        wanted = {s.arm_id.lower() for s in steps}
        delete: list[Step] = []
        kept: list[tuple[Step, str]] = []
        for key, e in sorted(self.entries.items()):
            if key in wanted:
                continue
            step = Step(key=e["id"], resource=ArmResource(e["id"], e["api_version"], token=e["type"],
                                                          logical_name=e["name"]),
                        protect=e.get("protect") == "true")
            if step.protect:
                kept.append((step, "protected (protect: true when it was applied): delete it deliberately"))
            elif scope is not None and not step.resource.is_under(scope):
                kept.append((step, f"outside this stack's resource group {scope.rsplit('/', 1)[-1]}"))
            elif "/" not in e["id"].lower().split("/resourcegroups/", 1)[-1]:
                kept.append((step, "a resource group is never deleted as an orphan: delete it yourself"))
            else:
                delete.append(step)
        return delete, kept

    def forget(self, step: Step) -> None:
        """Stop tracking a resource without touching it (a kept orphan)."""
        self.set(step, None)

    def take_from(self, legacy: Path, scope: str) -> None:
        """Adopt, from a pre-0.2 shared state file, the entries inside ``scope``; leave the others there."""
        try:
            data = json.loads(legacy.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("format") != self.FORMAT:
            return
        applied = dict(data.get("applied") or {})
        scope_l = scope.lower().rstrip("/")
        mine = {k: v for k, v in applied.items() if k == scope_l or k.startswith(scope_l + "/")}
        if not mine:
            return
        with self._lock:
            self.entries.update({k: dict(v) for k, v in mine.items()})
            self._save()
        rest = {k: v for k, v in applied.items() if k not in mine}
        if rest:
            _write_json(legacy, {"format": self.FORMAT, "applied": rest})
        else:
            legacy.unlink(missing_ok=True)

    def _save(self) -> None:
        if self.path is None:
            return
        _write_json(self.path, {"format": self.FORMAT, "applied": self.entries})


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically (a crash leaves the old file or the new one, never half of one), through a temporary file of
    its own (two writers never share one), never through a symlink."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_file(path, json.dumps(data, indent=1, sort_keys=True))


def body_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
