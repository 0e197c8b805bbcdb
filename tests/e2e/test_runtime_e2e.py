"""End to end: the runtime against the sandbox over real HTTPS, seeded through the Azure SDKs.

Also holds the stack-seeding helper the smoke and env e2e tests import (``seed_stack``, ``rotate_key``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from claude_foundry import arm
from claude_foundry import contract as c
from claude_foundry import runtime as rt

pytestmark = pytest.mark.e2e

PROVIDER_DATA = {"organizationName": "Contoso Test", "countryCode": "US", "industry": "technology"}
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
    from claude_foundry.catalogue import load_catalogue

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


MODELS = {"opus": "claude-opus-4-6", "sonnet": "claude-sonnet-4-5", "haiku": "claude-haiku-4-5"}
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    for name in (c.ENV_API_KEY, c.ENV_RESOURCE, c.ENV_BASE_URL, c.ENV_DEPLOYMENTS, c.ENV_VAULT_URL,
                 c.ENV_CA_BUNDLE, c.ENV_TOKEN_SCOPE, c.ENV_SECRET_PREFIX):
        monkeypatch.delenv(name, raising=False)
    rt.clear_contract_cache()
    yield
    rt.clear_contract_cache()


@pytest.fixture(scope="module")
def key_stack(sandbox, credential):
    return seed_stack(sandbox, credential, MODELS)


def runtime_for(stack: Stack, **kw) -> rt.FoundryRuntime:
    ca = stack.sandbox.connection["ca_bundle"]
    return rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=stack.credential,
                                            ca_bundle=ca, **kw)


def test_contract_from_key_vault_and_calls(key_stack):
    runtime = runtime_for(key_stack)
    assert runtime.auth == "key"
    assert runtime.resource == key_stack.account
    assert runtime.base_url == key_stack.base_url
    assert {n: d.model for n, d in runtime.deployments.items()} == MODELS
    assert runtime.deployments["haiku"].family == "haiku"
    key = runtime.contract.api_key
    assert key
    assert key not in repr(runtime)
    assert key not in repr(runtime.contract)
    with runtime.client("opus") as client:
        msg = client.messages.create(model="opus", max_tokens=16, messages=HI)
    assert msg.model == "claude-opus-4-6"
    # cached: a second runtime for the same vault does not read Key Vault again
    again = runtime_for(key_stack)
    assert again.contract == runtime.contract
    assert runtime.key_vault_round_trips == 1

    async def go():
        client = runtime.async_client("sonnet")
        text = ""
        async with client.messages.stream(model="sonnet", max_tokens=16, messages=HI) as stream:
            async for chunk in stream.text_stream:
                text += chunk
        await client.close()
        return text

    assert asyncio.run(go())


def test_unknown_deployment_fails_fast(key_stack):
    runtime = runtime_for(key_stack)
    with runtime.client() as client, \
            pytest.raises(rt.UnknownDeploymentError, match="known deployments: haiku, opus, sonnet"):
        client.messages.create(model="gpt-4o", max_tokens=16, messages=HI)


def test_rotation_is_invisible_with_exactly_one_reread(sandbox, credential, request):
    stack = seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"]})
    runtime = runtime_for(stack)
    client = runtime.client("sonnet")
    old = runtime.contract.api_key
    request.addfinalizer(client.close)
    client.messages.create(model="sonnet", max_tokens=16, messages=HI)
    new = rotate_key(stack)
    assert new != old
    msg = client.messages.create(model="sonnet", max_tokens=16, messages=HI)  # 401 -> re-read -> retry
    assert msg.content[0].text
    assert runtime.key_rereads == 1
    assert runtime.key_vault_round_trips == 2  # the contract load + one key read
    assert runtime.contract.api_key == new
    client.messages.create(model="sonnet", max_tokens=16, messages=HI)
    assert runtime.key_vault_round_trips == 2
    # the process-wide cache follows: a new runtime starts with the new key and no Key Vault read
    assert runtime_for(stack).contract.api_key == new


def test_rotation_async(sandbox, credential):
    stack = seed_stack(sandbox, credential, {"haiku": MODELS["haiku"]})
    runtime = runtime_for(stack)
    rotate_key(stack)

    async def go():
        client = runtime.async_client("haiku")
        msg = await client.messages.create(model="haiku", max_tokens=16, messages=HI)
        await client.close()
        return msg

    assert asyncio.run(go()).model == MODELS["haiku"]
    assert runtime.key_rereads == 1


@pytest.mark.parametrize("scope", c.TOKEN_SCOPES)
def test_entra_stack(sandbox, credential, scope):
    stack = seed_stack(sandbox, credential, {"opus": MODELS["opus"]}, disable_local_auth=True)
    grant_caller(stack, sandbox.connection["principal_id"], "azure-ai-user")
    runtime = runtime_for(stack, token_scope=scope)
    assert runtime.auth == "entra"
    assert runtime.contract.api_key is None
    with runtime.client("opus") as client:
        msg = client.messages.create(model="opus", max_tokens=16, messages=HI)
    assert msg.model == MODELS["opus"]
