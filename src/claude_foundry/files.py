"""Writing files that hold a secret: 0600 from the first byte, atomically (the env export's ``--write``, the
sandbox's connection file, CA and server keys, persisted state). Vocabulary: imports nothing of ours."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private(path: str | os.PathLike[str], data: bytes | str, *, sync: bool = True) -> Path:
    """Write ``data`` to ``path`` with mode 0600, atomically, whatever was there before.

    A file opened with ``O_CREAT`` keeps the mode it already had, so a pre-existing 0644 file would stay
    0644 with a secret in it. Instead a new file is created next to ``path`` with ``O_CREAT | O_EXCL``
    (``O_NOFOLLOW``: never through a planted symlink) and mode 0600 (``fchmod`` too, whatever the umask),
    filled, synced (unless ``sync`` is false) and renamed over ``path``.
    """
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_MODE)
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
