"""Compatibility import path: the components live in :mod:`claude_foundry.program.components`."""

from claude_foundry.program.components import *  # noqa: F403
from claude_foundry.program.components import __all__  # noqa: F401
