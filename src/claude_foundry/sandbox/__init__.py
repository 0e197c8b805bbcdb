"""An embedded stand-in for the parts of Azure claude-foundry touches — not Azure.

One HTTPS port on 127.0.0.1 serves Entra ID client-credential tokens, Azure Resource Manager (resource
groups, Cognitive Services accounts and deployments, Key Vault, Log Analytics, role assignments, locks,
diagnostic settings and any other type as a generic store), the Key Vault secrets data plane and the
Foundry Claude endpoint (``/anthropic/v1/messages``), with fault injection. See ``docs/sandbox.md``.

Needs the ``sandbox`` extra (starlette, uvicorn, cryptography).
"""

from claude_foundry.sandbox.faults import FaultSpec
from claude_foundry.sandbox.server import Sandbox, SandboxConfig

__all__ = ["FaultSpec", "Sandbox", "SandboxConfig"]
