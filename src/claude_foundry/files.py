"""Writing files: those that hold a secret 0600 from the first byte (the env export's ``--write``, the sandbox's
connection file, CA and server keys, persisted state), every other one (reports, schema, catalogue, ``init``)
with the same care: atomically, never through a symlink. Vocabulary: imports nothing of ours."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

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
