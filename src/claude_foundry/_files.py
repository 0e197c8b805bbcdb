"""Writing files: those that hold a secret 0600 from the first byte (the env export's ``--write``, the sandbox's
connection file, CA and server keys, persisted state), every other one (reports, schema, catalogue, ``init``)
with the same care: atomically, never through a symlink. Vocabulary: imports nothing of ours."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from claude_foundry._errors import ClaudeFoundryError

PRIVATE_MODE = 0o600


#: Mode of a file that holds nothing secret (reports, schemas, catalogue snapshots), before the umask.
PUBLIC_MODE = 0o666


def write_private(path: str | os.PathLike[str], data: bytes | str, *, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` with mode 0600, atomically, whatever was there before.

    A file opened with ``O_CREAT`` keeps the mode it already had, so a pre-existing 0644 file would stay
    0644 with a secret in it. Instead a new file is created next to ``path`` with ``O_CREAT | O_EXCL``
    (``O_NOFOLLOW``: never through a planted symlink) and mode 0600 (``fchmod`` too, whatever the umask),
    filled, synced (unless ``sync`` is false) and renamed over ``path``.
    """
    return _write_atomic(path, data, PRIVATE_MODE, chmod=True, sync=sync)


def write_file(path: str | os.PathLike[str], data: bytes | str, *, sync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically, never through a symlink: every file claude-foundry writes that holds
    nothing secret (smoke reports, ``schema -o``, ``catalogue refresh -o``, ``init``'s files, the local deploy's
    state). A symlink at ``path`` is replaced by the file, its target left untouched (as ``env --write`` does);
    a reader sees the old file or the new one, never half of one. Mode 0666 less the umask."""
    return _write_atomic(path, data, PUBLIC_MODE, chmod=False, sync=sync)


def _write_atomic(path: str | os.PathLike[str], data: bytes | str, mode: int, *, chmod: bool, sync: bool) -> Path:
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            if chmod:
                os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


class LockBusy(ClaudeFoundryError, TimeoutError):
    """Another process held the lock for longer than the caller would wait; the message names it."""


#: Seconds between two attempts to take a held lock.
LOCK_POLL = 0.1


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], *, wait: float, what: str,
                   on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created 0600 if missing, never through a symlink) for the block,
    waiting at most ``wait`` seconds for another holder: :class:`LockBusy` naming it (the host and pid it wrote
    in the file) and ``what`` otherwise. ``on_wait`` is told once who holds it when a wait begins. The kernel
    drops the lock when its holder dies, so a killed run never blocks the next one."""
    import fcntl  # POSIX only, like the local rehearsal

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), PRIVATE_MODE)
    try:
        deadline = time.monotonic() + max(0.0, wait)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise LockBusy(f"{what} is in use by {holder}: gave up after waiting {wait:g}s") from None
                if on_wait is not None and not told:
                    on_wait(f"{what} is in use by {holder}: waiting up to {wait:g}s")
                    told = True
                time.sleep(LOCK_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 256, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return f"another process ({text})" if text else "another process"
