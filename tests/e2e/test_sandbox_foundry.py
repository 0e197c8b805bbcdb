"""The Foundry Claude endpoint through the unmodified anthropic SDK (AnthropicFoundry)."""

from __future__ import annotations

import pytest

from claude_foundry import contract
from claude_foundry.azure import arm
from claude_foundry.sandbox.testing import deployment_body, unique

pytestmark = pytest.mark.e2e

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "Say hello."}]


@pytest.fixture(scope="module")
def http_client(ssl_context):
    client = anthropic.DefaultHttpxClient(verify=ssl_context)
    yield client
    client.close()


@pytest.fixture(scope="module")
def account_key(cs_client, claude_account):
    return cs_client.accounts.list_keys(claude_account["resource_group"], claude_account["account"]).key1


def _key_client(base_url, key, http_client):
    return anthropic.AnthropicFoundry(api_key=key, base_url=base_url, http_client=http_client, max_retries=0)


def test_create_and_stream_by_key(claude_account, account_key, http_client):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    raw = client.messages.with_raw_response.create(model=claude_account["deployment"], max_tokens=64,
                                                   messages=MESSAGES)
    assert raw.headers.get("request-id")
    assert raw.headers.get("apim-request-id")
    assert not [h for h in raw.headers if h.lower().startswith("anthropic-ratelimit")]
    msg = raw.parse()
    assert msg.id.startswith("msg_")
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.model == claude_account["model"]
    assert msg.content[0].type == "text"
    assert msg.content[0].text
    assert msg.stop_reason == "end_turn"
    assert msg.usage.output_tokens > 0
    with client.messages.stream(model=claude_account["deployment"], max_tokens=64, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == final.content[0].text == msg.content[0].text
    assert final.model == claude_account["model"]
    events = [e.type for e in client.messages.create(model=claude_account["deployment"], max_tokens=64,
                                                      messages=MESSAGES, stream=True)]
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert {"content_block_start", "content_block_delta", "content_block_stop", "message_delta"} <= set(events)


def test_max_tokens_stops_early(claude_account, account_key, http_client):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    msg = client.messages.create(model=claude_account["deployment"], max_tokens=3, messages=MESSAGES)
    assert msg.stop_reason == "max_tokens"
    assert msg.usage.output_tokens == 3


@pytest.mark.parametrize("scope", contract.TOKEN_SCOPES)
def test_entra_with_each_scope(sandbox, claude_account, make_credential, http_client, scope):
    from azure.identity import get_bearer_token_provider

    p = sandbox.add_principal("caller", roles=[("azure-ai-user", claude_account["account_id"])])
    provider = get_bearer_token_provider(make_credential(p["client_id"], p["client_secret"]), scope)
    client = anthropic.AnthropicFoundry(azure_ad_token_provider=provider, base_url=claude_account["base_url"],
                                        http_client=http_client, max_retries=0)
    msg = client.messages.create(model=claude_account["deployment"], max_tokens=32, messages=MESSAGES)
    assert msg.model == claude_account["model"]
    with client.messages.stream(model=claude_account["deployment"], max_tokens=32, messages=MESSAGES) as s:
        assert s.get_final_message().content[0].text


def test_role_less_principal_is_denied(sandbox, claude_account, make_credential, http_client):
    from azure.identity import get_bearer_token_provider

    p = sandbox.add_principal("no-roles")
    provider = get_bearer_token_provider(make_credential(p["client_id"], p["client_secret"]),
                                         contract.DEFAULT_TOKEN_SCOPE)
    client = anthropic.AnthropicFoundry(azure_ad_token_provider=provider, base_url=claude_account["base_url"],
                                        http_client=http_client, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as info:
        client.messages.create(model=claude_account["deployment"], max_tokens=8, messages=MESSAGES)
    assert "Cognitive Services User" in str(info.value)


def test_owner_is_not_a_caller(claude_account, credential, http_client):
    from azure.identity import get_bearer_token_provider

    provider = get_bearer_token_provider(credential, contract.DEFAULT_TOKEN_SCOPE)
    client = anthropic.AnthropicFoundry(azure_ad_token_provider=provider, base_url=claude_account["base_url"],
                                        http_client=http_client, max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.create(model=claude_account["deployment"], max_tokens=8, messages=MESSAGES)


def test_unknown_deployment_and_unsupported_routes(claude_account, account_key, http_client, ssl_context):
    import httpx

    client = _key_client(claude_account["base_url"], account_key, http_client)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="no-such-deployment", max_tokens=8, messages=MESSAGES)
    assert "DeploymentNotFound" in str(info.value)
    # AnthropicFoundry has no models/batches resources; Foundry answers 404 there.
    for path in ("/v1/models", "/v1/messages/batches"):
        r = httpx.get(claude_account["base_url"] + path, headers={"api-key": account_key}, verify=ssl_context)
        assert r.status_code == 404
        assert r.json()["type"] == "error"


def test_wrong_and_regenerated_key(cs_client, rm_client, http_client, sandbox):
    rg = unique("rg-key-")
    name = unique("acct-key-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    cs_client.accounts.begin_create(rg, name, {"location": "eastus2", "kind": arm.ACCOUNT_KIND,
                                               "sku": {"name": arm.ACCOUNT_SKU},
                                               "properties": {"customSubDomainName": name}}).result()
    import json

    cs_client.deployments.begin_create_or_update(rg, name, "d", json.dumps(deployment_body()).encode(),
                                                 api_version=arm.DEPLOYMENT_API_VERSION).result()
    old = cs_client.accounts.list_keys(rg, name).key1
    client = _key_client(sandbox.foundry_base_url(name), old, http_client)
    assert client.messages.create(model="d", max_tokens=8, messages=MESSAGES).content
    with pytest.raises(anthropic.AuthenticationError):
        _key_client(sandbox.foundry_base_url(name), "0" * 84, http_client).messages.create(
            model="d", max_tokens=8, messages=MESSAGES)
    cs_client.accounts.regenerate_key(rg, name, "Key1")
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="d", max_tokens=8, messages=MESSAGES)


def test_local_auth_disabled(cs_client, rm_client, http_client, sandbox):
    rg = unique("rg-nolocal-")
    name = unique("acct-nolocal-")
    rm_client.resource_groups.create_or_update(rg, {"location": "eastus2"})
    cs_client.accounts.begin_create(rg, name, {"location": "eastus2", "kind": arm.ACCOUNT_KIND,
                                               "sku": {"name": arm.ACCOUNT_SKU},
                                               "properties": {"customSubDomainName": name,
                                                              "disableLocalAuth": True}}).result()
    key = cs_client.accounts.list_keys(rg, name).key1
    with pytest.raises(anthropic.AuthenticationError) as info:
        _key_client(sandbox.foundry_base_url(name), key, http_client).messages.create(
            model="d", max_tokens=8, messages=MESSAGES)
    assert info.value.status_code == 401
    assert "AuthenticationTypeDisabled" in str(info.value)
    assert key not in str(info.value)
