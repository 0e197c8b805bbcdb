"""Compatibility import path: the stack spec lives in :mod:`claude_foundry.program.spec`."""

from claude_foundry.program.spec import *  # noqa: F403
from claude_foundry.program.spec import __all__  # noqa: F401
