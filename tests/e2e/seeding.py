"""Seeding a stack into the sandbox through the Azure SDKs (what the Pulumi program would create), for the
runtime, smoke and env end-to-end tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claude_foundry import _contract as c
from claude_foundry._azure import arm
from claude_foundry_sandbox.testing import PROVIDER_DATA

KV_API_VERSION = "2023-07-01"
ROLE_ASSIGNMENT_API_VERSION = "2022-04-01"


@dataclass
class Stack:
    sandbox: Any
    credential: Any
    resource_group: str
    account: str
    vault: str
    prefix: str
    deployments: dict[str, str]  # name -> model
    auth_mode: str
    secrets: Any = field(repr=False)  # SecretClient
    cs: Any = field(repr=False)  # CognitiveServicesManagementClient

    @property
    def vault_url(self) -> str:
        return self.sandbox.vault_url(self.vault)

    @property
    def base_url(self) -> str:
        return self.sandbox.foundry_base_url(self.account)

    @property
    def names(self) -> c.SecretNames:
        return c.SecretNames(self.prefix)

    @property
    def account_id(self) -> str:
        return arm.account_id(self.sandbox.state.subscription_id, self.resource_group, self.account)

    def current_key(self) -> str:
        return self.cs.accounts.list_keys(self.resource_group, self.account).key1


def _mgmt(sandbox: Any, credential: Any) -> tuple[Any, Any]:
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    conn = sandbox.connection
    kw = {"base_url": conn["arm_endpoint"], "credential_scopes": [conn["arm_scope"]],
          "connection_verify": conn["ca_bundle"]}
    sub = conn["subscription_id"]
    return ResourceManagementClient(credential, sub, **kw), CognitiveServicesManagementClient(credential, sub, **kw)


def assign_role(rm: Any, sandbox: Any, scope: str, role: str, principal_id: str) -> None:
    """A role assignment through ARM (what the Pulumi program does)."""
    sub = sandbox.connection["subscription_id"]
    rm.resources.begin_create_or_update_by_id(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        api_version=ROLE_ASSIGNMENT_API_VERSION,
        parameters={"properties": {"roleDefinitionId": arm.role_definition_id(sub, role),
                                   "principalId": principal_id, "principalType": "ServicePrincipal"}},
    ).result()


def seed_stack(sandbox: Any, credential: Any, deployments: dict[str, str], *, prefix: str = "cf-e2e",
               disable_local_auth: bool = False) -> Stack:
    """Account + deployments (ARM), vault + Key Vault Secrets Officer (ARM), contract secrets (SecretClient)."""
    from azure.keyvault.secrets import SecretClient

    conn = sandbox.connection
    rm, cs = _mgmt(sandbox, credential)
    tag = uuid.uuid4().hex[:8]
    rg, account, vault = f"rg-rt-{tag}", f"cf-rt-{tag}", f"kv-rt-{tag}"
    rm.resource_groups.create_or_update(rg, {"location": "eastus2"})
    props: dict[str, Any] = {"customSubDomainName": account, "publicNetworkAccess": "Enabled"}
    if disable_local_auth:
        props["disableLocalAuth"] = True
    cs.accounts.begin_create(rg, account, {"location": "eastus2", "kind": arm.ACCOUNT_KIND,
                                           "sku": {"name": arm.ACCOUNT_SKU}, "properties": props}).result()
    for name, model in deployments.items():
        body = {"sku": {"name": "GlobalStandard", "capacity": 1},
                "properties": {"model": {"format": "Anthropic", "name": model, "version": "1"},
                               "modelProviderData": PROVIDER_DATA,
                               "versionUpgradeOption": arm.VERSION_UPGRADE_DEFAULT,
                               "raiPolicyName": arm.RAI_POLICY_DEFAULT}}
        cs.deployments.begin_create_or_update(rg, account, name, json.dumps(body).encode(),
                                              api_version=arm.DEPLOYMENT_API_VERSION).result()
    vid = arm.vault_id(conn["subscription_id"], rg, vault)
    rm.resources.begin_create_or_update_by_id(vid, api_version=KV_API_VERSION, parameters={
        "location": "eastus2",
        "properties": {"tenantId": conn["tenant_id"], "sku": {"family": "A", "name": "standard"},
                       "enableRbacAuthorization": True}}).result()
    assign_role(rm, sandbox, vid, "key-vault-secrets-officer", conn["principal_id"])
    secrets = SecretClient(sandbox.vault_url(vault), credential, connection_verify=conn["ca_bundle"])
    names = c.SecretNames(prefix)
    from claude_foundry._catalogue import load_catalogue

    cat = load_catalogue()
    dmap = {n: c.DeploymentInfo(model=m, version="1", family=cat.family_of(m), capacity=1)
            for n, m in deployments.items()}
    secrets.set_secret(names.endpoint, sandbox.foundry_base_url(account))
    secrets.set_secret(names.resource, account)
    secrets.set_secret(names.deployments, c.dump_deployment_map(dmap))
    auth_mode = c.AUTH_MODE_ENTRA if disable_local_auth else c.AUTH_MODE_KEY
    secrets.set_secret(names.auth_mode, auth_mode)
    if not disable_local_auth:
        secrets.set_secret(names.api_key, cs.accounts.list_keys(rg, account).key1)
    return Stack(sandbox, credential, rg, account, vault, prefix, dict(deployments), auth_mode, secrets, cs)


def rotate_key(stack: Stack) -> str:
    """Regenerate key1 through ARM and write the new key to the vault (what ops' rotate does)."""
    new = stack.cs.accounts.regenerate_key(stack.resource_group, stack.account, key_name="Key1").key1
    stack.secrets.set_secret(stack.names.api_key, new)
    return new


def grant_caller(stack: Stack, principal_id: str, role: str = "cognitive-services-user") -> None:
    rm, _ = _mgmt(stack.sandbox, stack.credential)
    assign_role(rm, stack.sandbox, stack.account_id, role, principal_id)


MODELS = {"opus": "claude-opus-4-6", "sonnet": "claude-sonnet-4-6", "haiku": "claude-haiku-4-5"}


#: The shipped stacks' shared base (organisation, location, deployments) that the local-deploy tests extend.
SHARED_BASE = Path(__file__).resolve().parents[2] / "stacks" / "shared" / "base.yaml"


def base_stack(directory: Path, prefix: str, *, foundry: str = "", extra: str = "") -> Path:
    """A dev-like stack extending the shipped shared base, with names unique in the session's sandbox
    (subdomains and vault names are global there too). ``foundry``: more lines of the ``foundry:`` block
    (indented two spaces); ``extra``: more top-level YAML."""
    from claude_foundry_sandbox.testing import extends_line, unique

    name = unique(prefix)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(extends_line(SHARED_BASE) + f"environment: e2e\nresource_group: rg-{name}\n"
                    f"foundry:\n  name: {name}\n{foundry}key_vault: {{name: kv{name[-18:]}}}\n{extra}",
                    encoding="utf-8")
    return path
