"""Errors that end a command with a readable message instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix (bad input, missing file, wrong flag): message to stderr, exit code.

    The message must never contain a key or token.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class OperationFailed(UserError):
    """A check or an operation against Azure (or the sandbox) failed; the message says why. Exit 1."""

    exit_code = 1
