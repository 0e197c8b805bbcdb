"""The errors claude-foundry raises on purpose, under one root: ``except ClaudeFoundryError`` catches every one of
them (and nothing else). Exit codes are the CLI's business (``claude_foundry.cli``), not these classes'.

* :class:`UserError`: a mistake the user can fix — bad input, a missing file, a stack, contract or environment
  variable that is not allowed. The CLI exits 2.
* :class:`OperationFailed`: a check or an operation against Azure (or the sandbox) failed; the message says why.
  The CLI exits 1.

Each domain subclasses one of them (``SpecError``, ``RuntimeConfigError``, ``CatalogueError``, ``NoCredential`` …);
bounds of the client (``ResponseBoundError``, ``CrossOriginRequestError``) and SDK changes (``SdkChangedError``)
subclass the root directly. A message never contains a key or token.
"""

from __future__ import annotations


class ClaudeFoundryError(Exception):
    """The root of every error claude-foundry raises on purpose."""


class UserError(ClaudeFoundryError):
    """A mistake the user can fix (bad input, missing file, wrong value): the CLI prints it and exits 2."""


class OperationFailed(UserError):
    """A check or an operation against Azure (or the sandbox) failed; the message says why: the CLI exits 1.

    (A :class:`UserError` too, so that code catching user-facing errors to print them catches these as well.)"""
