"""The Foundry Claude endpoint through the unmodified anthropic SDK (AnthropicFoundry)."""

from __future__ import annotations

import json

import pytest

from claude_foundry import _contract as contract
from claude_foundry._azure import arm
from claude_foundry_sandbox.testing import deployment_body, unique

pytestmark = pytest.mark.e2e

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "Say hello."}]


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
    assert info.value.status_code == 403
    assert "Cognitive Services User" in info.value.body["error"]["message"]


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
    assert info.value.body["error"]["code"] == "DeploymentNotFound"  # the body, not the SDK's wording of it
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
    assert info.value.body["error"]["code"] == "AuthenticationTypeDisabled"
    assert key not in str(info.value)
    assert key not in json.dumps(info.value.body)


# --- answering like Foundry, per model (capabilities from the catalogue) ----------------------------------


@pytest.fixture(scope="module")
def newest_deployment(cs_client, claude_account):
    """A claude-opus-5-5 deployment beside the account's own: adaptive thinking, effort, system role."""
    import json

    cs_client.deployments.begin_create_or_update(
        claude_account["resource_group"], claude_account["account"], "newest",
        json.dumps(deployment_body(model="claude-opus-5-5")).encode(),
        api_version=arm.DEPLOYMENT_API_VERSION).result()
    return "newest"


@pytest.fixture(scope="module")
def older_deployment(cs_client, claude_account):
    """A claude-haiku-4-5 deployment (no adaptive thinking, no effort, 64K output, no system turns): what the
    wording tests need since claude-sonnet-4-5, which had the same limits, retired (2026-11-30)."""
    import json

    cs_client.deployments.begin_create_or_update(
        claude_account["resource_group"], claude_account["account"], "older",
        json.dumps(deployment_body(model="claude-haiku-4-5")).encode(),
        api_version=arm.DEPLOYMENT_API_VERSION).result()
    return "older"


def _refused(client, **kw):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(**{"max_tokens": 64, "messages": MESSAGES, "timeout": 30, **kw})
    body = info.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == info.value.response.headers["request-id"]
    assert info.value.response.headers.get("apim-request-id")
    return body["error"]["message"]


SYSTEM_TURN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
               {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Again"}]


@pytest.mark.parametrize(("kw", "message"), [
    ({"messages": SYSTEM_TURN}, "role 'system' is not supported on this model"),
    ({"thinking": {"type": "adaptive"}}, "adaptive thinking is not supported on this model"),
    ({"output_config": {"effort": "high"}}, "This model does not support the effort parameter."),
    ({"max_tokens": 100000},
     "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5"),
    ({"extra_body": {"temperature": 1.5}}, "temperature: range: 0..1"),  # not in anthropic 2.x's params
    ({"messages": [{"role": "user", "content": ""}]},
     "messages.0: all messages must have non-empty content except for the optional final assistant message"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
     "messages: text content blocks must be non-empty"),
    ({"thinking": {"type": "enabled", "budget_tokens": 512}},
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 2048},
     "`max_tokens` must be greater than `thinking.budget_tokens`."),
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048,
      "tools": [{"name": "t", "input_schema": {"type": "object"}}], "tool_choice": {"type": "any"}},
     "Thinking may not be enabled when tool_choice forces tool use."),
], ids=["system-role", "adaptive", "effort", "max-tokens", "temperature", "empty-content", "empty-text",
        "budget-min", "budget-vs-max", "thinking-forced-tool"])
def test_unsupported_requests_get_the_api_wording(claude_account, account_key, http_client, older_deployment, kw,
                                                  message):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    assert _refused(client, model=older_deployment, **kw).startswith(message)


def test_unknown_top_level_field(claude_account, account_key, http_client):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    assert _refused(client, model=claude_account["deployment"], extra_body={"frobnicate": 1}) == \
        "frobnicate: Extra inputs are not permitted"


def test_newest_model_takes_what_older_ones_refuse(claude_account, account_key, http_client, newest_deployment):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    msg = client.messages.create(model=newest_deployment, max_tokens=128000, messages=SYSTEM_TURN,
                                 thinking={"type": "adaptive"}, output_config={"effort": "xhigh"}, timeout=30)
    assert msg.model == "claude-opus-5-5"
    assert _refused(client, model=newest_deployment, thinking={"type": "enabled", "budget_tokens": 2048},
                    max_tokens=4096) == (
        '"thinking.type.enabled" is not supported for this model. Use "thinking.type.adaptive" and '
        '"output_config.effort" to control thinking behavior.')
    assert _refused(client, model=newest_deployment, max_tokens=128001).endswith("for claude-opus-5-5")


WEATHER = {"name": "get_weather", "description": "Weather",
           "input_schema": {"type": "object", "required": ["city"], "additionalProperties": False,
                            "properties": {"city": {"type": "string", "minLength": 3},
                                           "unit": {"enum": ["c", "f"]},
                                           "when": {"type": "string", "format": "date"},
                                           "hours": {"type": "array", "items": {"type": "integer", "minimum": 6},
                                                     "minItems": 2},
                                           "where": {"$ref": "#/$defs/place"}},
                            "$defs": {"place": {"type": "object", "properties": {"lat": {"type": "number"}}}}}}


def test_forced_tool_gives_tool_use_from_the_schema(claude_account, account_key, http_client):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    for choice in ({"type": "tool", "name": "get_weather"}, {"type": "any"}):
        msg = client.messages.create(model=claude_account["deployment"], max_tokens=256, messages=MESSAGES,
                                     tools=[WEATHER], tool_choice=choice)
        assert msg.stop_reason == "tool_use"
        [block] = msg.content
        assert block.type == "tool_use"
        assert block.id.startswith("toolu_")
        assert block.name == "get_weather"
        assert len(block.input["city"]) >= 3
        assert block.input["unit"] == "c"
        assert block.input["when"] == "2026-01-01"
        assert len(block.input["hours"]) == 2
        assert all(h >= 6 for h in block.input["hours"])
        assert block.input["where"] == {"lat": 0.0}
    with client.messages.stream(model=claude_account["deployment"], max_tokens=256, messages=MESSAGES,
                                tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"}) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == msg.content[0].input
    assert "input_json" in events
    auto = client.messages.create(model=claude_account["deployment"], max_tokens=64, messages=MESSAGES,
                                  tools=[WEATHER])
    assert auto.stop_reason == "end_turn"
    assert _refused(client, model=claude_account["deployment"], tools=[WEATHER],
                    tool_choice={"type": "tool", "name": "nope"}).startswith("tool_choice.name")


def test_json_schema_output(claude_account, account_key, http_client):
    import json

    client = _key_client(claude_account["base_url"], account_key, http_client)
    schema = {"type": "object", "required": ["name", "tags"], "additionalProperties": False,
              "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                             "score": {"type": "integer", "minimum": 1, "maximum": 5}}}
    msg = client.messages.create(model=claude_account["deployment"], max_tokens=256, messages=MESSAGES,
                                 output_config={"format": {"type": "json_schema", "schema": schema}})
    data = json.loads(msg.content[0].text)
    assert set(data) == {"name", "tags", "score"}
    assert isinstance(data["tags"], list)
    assert 1 <= data["score"] <= 5


def test_count_tokens(claude_account, account_key, http_client):
    client = _key_client(claude_account["base_url"], account_key, http_client)
    raw = client.messages.with_raw_response.count_tokens(model=claude_account["deployment"], messages=MESSAGES,
                                                         system="Be brief.", tools=[WEATHER])
    assert raw.headers.get("request-id")
    counted = raw.parse()
    assert counted.input_tokens > client.messages.count_tokens(model=claude_account["deployment"],
                                                               messages=MESSAGES).input_tokens > 0
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.count_tokens(model=claude_account["deployment"], messages=MESSAGES,
                                     extra_body={"max_tokens": 5})
    assert info.value.body["error"]["message"] == "max_tokens: Extra inputs are not permitted"
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-deployment", messages=MESSAGES)


def test_thinking_block_and_raw_stream_order(claude_account, account_key, http_client, ssl_context):
    import httpx

    client = _key_client(claude_account["base_url"], account_key, http_client)
    kw = {"model": claude_account["deployment"], "max_tokens": 2048, "messages": MESSAGES,
          "thinking": {"type": "enabled", "budget_tokens": 1024}}
    msg = client.messages.create(**kw)
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].signature
    events = list(client.messages.create(**kw, stream=True))
    assert [e.type for e in events][-2:] == ["message_delta", "message_stop"]
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]
    assert deltas.index("signature_delta") < deltas.index("text_delta")
    assert [e.content_block.type for e in events if e.type == "content_block_start"] == ["thinking", "text"]
    # the raw order, with the ping the SDKs drop
    with httpx.stream("POST", claude_account["base_url"] + "/v1/messages", json={**kw, "stream": True},
                      headers={"x-api-key": account_key, "anthropic-version": "2023-06-01"},
                      verify=ssl_context) as r:
        raw = [line.split(": ", 1)[1] for line in r.iter_lines() if line.startswith("event: ")]
    assert raw[:3] == ["message_start", "content_block_start", "ping"]
    assert raw[-2:] == ["message_delta", "message_stop"]
