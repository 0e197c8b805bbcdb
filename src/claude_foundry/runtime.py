"""Compatibility import path: the runtime lives in :mod:`claude_foundry.client.runtime`."""

from claude_foundry.client.runtime import *  # noqa: F403
from claude_foundry.client.runtime import __all__  # noqa: F401
