"""The Pulumi program: read the stack file named in stack config, build the top component, export outputs.

Stack config (``Pulumi.<stack>.yaml``):
  claude-foundry:spec             stack file, relative to the project root (e.g. stacks/dev.yaml)
  claude-foundry:baseUrlTemplate  optional Claude endpoint template (default: contract's)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT / "src") not in sys.path:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(PROJECT_ROOT / "src"))

from claude_foundry.program.components import (  # noqa: E402
    DEFAULT_COMPONENT_NAME,
    FOUNDRY_BASE_URL_TEMPLATE,
    ClaudeFoundryStack,
    ClaudeFoundryStackArgs,
)
from claude_foundry.program.spec import load_spec  # noqa: E402

config = pulumi.Config("claude-foundry")
spec = load_spec(PROJECT_ROOT / config.require("spec"))
template = config.get("baseUrlTemplate") or FOUNDRY_BASE_URL_TEMPLATE

stack = ClaudeFoundryStack(DEFAULT_COMPONENT_NAME, ClaudeFoundryStackArgs(spec=spec, base_url_template=template))
for output_name, value in stack.outputs().items():
    pulumi.export(output_name, value)
