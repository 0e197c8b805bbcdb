"""Install (and find) the Node clients of the client tier: Claude Code, ``@anthropic-ai/foundry-sdk`` and the Vercel
AI SDK (``ai`` with ``@ai-sdk/anthropic``).

The pinned versions are in ``tests/clients/package.json`` and, with every dependency of theirs, in
``tests/clients/package-lock.json``; ``npm ci`` installs exactly the lock into ``.clients/node`` (an ignored path),
reused while that directory's copies of both files equal the pinned ones, so only a version bump (or a fresh
checkout) pays for the download (Claude Code's Linux binary is ~200 MB). ``scripts/test``
runs ``python tests/clients/node_clients.py`` before pytest; the fixtures call :func:`ensure_installed` too
and skip, with the reason, when node/npm are missing or the install fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).resolve().with_name("package.json")
LOCK = PINNED.with_name("package-lock.json")
PREFIX = ROOT / ".clients" / "node"
CLAUDE = PREFIX / "node_modules" / ".bin" / "claude"
FOUNDRY_SDK = PREFIX / "node_modules" / "@anthropic-ai" / "foundry-sdk" / "package.json"
#: the Vercel AI SDK (``ai``) and its Anthropic provider (``@ai-sdk/anthropic``): docs/clients.md's recipe
AI_SDK = (PREFIX / "node_modules" / "ai" / "package.json",
          PREFIX / "node_modules" / "@ai-sdk" / "anthropic" / "package.json")
INSTALL_LOG = PREFIX / "npm-install.log"
INSTALL_TIMEOUT = 600


class Unavailable(RuntimeError):
    """Why the Node clients cannot run here (the skip reason)."""


def installed() -> bool:
    copies = [(PREFIX / src.name, src) for src in (PINNED, LOCK)]
    return (all(copy.is_file() and copy.read_bytes() == src.read_bytes() for copy, src in copies)
            and CLAUDE.exists() and FOUNDRY_SDK.is_file() and all(p.is_file() for p in AI_SDK))


def ensure_installed() -> float:
    """Install unless cached; the seconds it took (0.0 when cached). Raises :class:`Unavailable`."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"`{tool}` is not on PATH: the client tier needs Node.js and npm")
    if installed():
        return 0.0
    start = time.monotonic()
    PREFIX.mkdir(parents=True, exist_ok=True)
    for src in (PINNED, LOCK):
        shutil.copyfile(src, PREFIX / src.name)
    npm = shutil.which("npm") or "npm"
    try:
        with INSTALL_LOG.open("w", encoding="utf-8") as log:
            # `npm ci`: exactly the lock's versions (and it fails if package.json and the lock disagree).
            proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(PREFIX)],  # noqa: S603
                                  cwd=PREFIX, stdout=log, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT,
                                  check=False)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"npm install did not finish in {INSTALL_TIMEOUT} s (see {INSTALL_LOG})") from None
    if proc.returncode != 0 or not installed():
        (PREFIX / "package.json").unlink(missing_ok=True)  # not cached: the next run tries again
        raise Unavailable(f"npm ci of the locked clients failed (exit {proc.returncode}; see {INSTALL_LOG})")
    return time.monotonic() - start


def main() -> int:
    try:
        seconds = ensure_installed()
    except Unavailable as exc:
        print(f"note: {exc}; the client tier (tests/clients) will skip", file=sys.stderr)
        return 0
    if seconds:
        print(f"installed the client tier's Node clients into {PREFIX} in {seconds:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
