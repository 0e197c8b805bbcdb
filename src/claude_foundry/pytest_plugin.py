"""Compatibility plugin path (``-p claude_foundry.pytest_plugin``): the plugin lives in
:mod:`claude_foundry.client.pytest_plugin`."""

from claude_foundry.client.pytest_plugin import *  # noqa: F403
