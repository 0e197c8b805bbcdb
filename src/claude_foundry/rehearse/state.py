"""What the last rehearsal applied, per resource id: digests only, never values."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from claude_foundry.azure.resource import ArmResource
from claude_foundry.rehearse.graph import Step


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
        return [Step(key=e["id"], resource=ArmResource(e["id"], e["api_version"], token=e["type"],
                                                       logical_name=e["name"]))
                for k, e in sorted(self.entries.items()) if k not in wanted]

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
