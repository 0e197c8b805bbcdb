"""The smallest valid stack file the unit tests start from (one account, one deployment), as text, so that
line numbers in expected messages are stable: the deployment is on line 8."""

from __future__ import annotations


def one_deployment_stack(deployment: str = "fast: {model: claude-haiku-4-5}") -> str:
    return f"""\
environment: dev
location: eastus2
resource_group: rg-claude-dev
foundry:
  name: contoso-claude-dev
  model_provider: {{organization_name: Contoso, country_code: US, industry: technology}}
deployments:
  {deployment}
key_vault: {{name: kv-contoso-claude-dev}}
"""
