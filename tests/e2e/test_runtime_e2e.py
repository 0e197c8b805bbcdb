"""End to end: the runtime against the sandbox over real HTTPS, seeded through the Azure SDKs (seeding.py)."""

from __future__ import annotations

import asyncio

import pytest
from seeding import MODELS, Stack, grant_caller, rotate_key, seed_stack

from claude_foundry import _contract as c
from claude_foundry._client import runtime as rt

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

HI = [{"role": "user", "content": "hi"}]


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
