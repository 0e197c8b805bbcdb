"""A fake ``pulumi`` executable for tests of ``claude-foundry doctor`` (unit and e2e): written into a directory the
test puts on PATH, it answers ``pulumi version`` and ``pulumi whoami --json`` as the real CLI does."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

WHOAMI = {"user": "platform@contoso.example", "url": "azblob://pulumi-state?storage_account=stcontoso",
          "organizations": []}


def fake_pulumi(directory: Path, version: str = "v3.240.0", whoami: dict[str, Any] | None = WHOAMI,
                whoami_exit: int = 0, sleep: float = 0.0) -> Path:
    """A ``pulumi`` executable answering ``version`` and ``whoami --json`` as the real one does."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "pulumi"
    answer = json.dumps(whoami) if whoami is not None else ""
    exe.write_text(f"""#!{sys.executable}
import sys, time
time.sleep({sleep})
if sys.argv[1:] == ["version"]:
    print({version!r})
elif sys.argv[1:] == ["whoami", "--json"]:
    if {whoami_exit}:
        sys.stderr.write("error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions\\n")
        sys.exit({whoami_exit})
    print({answer!r})
else:
    sys.exit(2)
""", encoding="utf-8")
    exe.chmod(0o755)
    return exe
