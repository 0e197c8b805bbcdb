"""An embedded stand-in for the parts of Azure claude-foundry touches — not Azure.

One HTTPS port on 127.0.0.1 serves Entra ID client-credential tokens, Azure Resource Manager (resource
groups, Cognitive Services accounts and deployments, Key Vault, Log Analytics, role assignments, locks,
diagnostic settings and any other type as a generic store), the Key Vault secrets data plane and the
Foundry Claude endpoint (``/anthropic/v1/messages``), with fault injection. See ``docs/sandbox.md``.

Its own distribution, ``claude-foundry-sandbox`` (``sandbox/`` of the claude-foundry repository), which
``pip install 'claude-foundry[sandbox]'`` brings; released with claude-foundry under one tag.
"""

from importlib.metadata import PackageNotFoundError, version

from claude_foundry_sandbox.faults import FaultSpec
from claude_foundry_sandbox.server import Sandbox, SandboxConfig

try:
    __version__ = version("claude-foundry-sandbox")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["FaultSpec", "Sandbox", "SandboxConfig", "__version__"]
