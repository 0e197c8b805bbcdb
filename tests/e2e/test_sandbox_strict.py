"""The sandbox answers as Foundry and the Messages API do where clients differ (issue 23): which key headers it takes,
``anthropic-version``, prompt caching in ``usage`` (plain and streamed), and ``tool_use`` under ``tool_choice: auto``
so an agent loop runs end to end — through the unmodified anthropic SDK, asserting on status, body and headers."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "Say hello."}]
#: A prefix well over every model's minimum cacheable length (4,096 tokens at most; the sandbox counts four
#: characters a token): about 6,000 tokens.
LONG_DOC = "The sandbox stands in for Foundry. " * 700
WEATHER_TOOL = {"name": "get_weather", "description": "The weather in a city.",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}}
CLOCK_TOOL = {"name": "get_time", "description": "The time.", "input_schema": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def client(claude_account, account_key, http_client):
    return anthropic.AnthropicFoundry(api_key=account_key, base_url=claude_account["base_url"],
                                      http_client=http_client, max_retries=0)


def _post(claude_account, ssl_context, headers, body=None):
    body = body or {"model": claude_account["deployment"], "max_tokens": 16, "messages": MESSAGES}
    return httpx.post(claude_account["base_url"] + "/v1/messages", json=body, headers=headers,
                      verify=ssl_context, timeout=30)


# --- headers -----------------------------------------------------------------------------------------------------

def test_api_key_header_alone_is_refused_with_foundrys_wording(claude_account, account_key, ssl_context):
    refused = _post(claude_account, ssl_context, {"api-key": account_key, "anthropic-version": "2023-06-01"})
    assert refused.status_code == 401
    body = refused.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert body["error"]["message"].startswith(
        "Access denied due to invalid subscription key or wrong API endpoint.")
    assert refused.headers["request-id"]
    assert refused.headers["apim-request-id"]
    assert account_key not in refused.text
    taken = _post(claude_account, ssl_context, {"x-api-key": account_key, "anthropic-version": "2023-06-01"})
    assert taken.status_code == 200
    assert taken.json()["type"] == "message"


def test_anthropic_foundry_sends_both_key_headers_and_is_answered(client, claude_account, account_key):
    raw = client.messages.with_raw_response.create(model=claude_account["deployment"], max_tokens=16,
                                                   messages=MESSAGES)
    sent = raw.http_request.headers
    assert sent.get("x-api-key") == account_key
    assert sent.get("api-key") == account_key
    assert raw.status_code == 200
    assert raw.parse().content[0].type == "text"


def test_missing_anthropic_version_is_a_400_after_authentication(claude_account, account_key, ssl_context):
    missing = _post(claude_account, ssl_context, {"x-api-key": account_key})
    assert missing.status_code == 400
    assert missing.json()["error"] == {"type": "invalid_request_error",
                                       "message": "anthropic-version: header is required"}
    assert missing.headers["request-id"]
    # authentication comes first: a wrong key without the header is a 401
    assert _post(claude_account, ssl_context, {"x-api-key": "not-the-key"}).status_code == 401


def test_plain_anthropic_client_sends_the_key_as_bearer_and_is_answered(claude_account, account_key,
                                                                         http_client, ssl_context):
    """anthropic 2.x's plain client (what LangChain's ChatAnthropic builds) sends ``Authorization: Bearer <key>``;
    the sandbox takes it (docs/sandbox.md, "Authentication", says why). A wrong bearer key is a 401."""
    plain = anthropic.Anthropic(api_key=account_key, base_url=claude_account["base_url"], http_client=http_client,
                                max_retries=0)
    raw = plain.messages.with_raw_response.create(model=claude_account["deployment"], max_tokens=16,
                                                  messages=MESSAGES)
    assert raw.http_request.headers.get("authorization") == f"Bearer {account_key}"
    assert "x-api-key" not in raw.http_request.headers
    assert raw.status_code == 200
    assert raw.parse().model == claude_account["model"]
    wrong = _post(claude_account, ssl_context, {"authorization": "Bearer not-the-key",
                                                "anthropic-version": "2023-06-01"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"


# --- prompt caching ----------------------------------------------------------------------------------------------

def _cached_system(ttl=None, text=LONG_DOC):
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return [{"type": "text", "text": text, "cache_control": control}]


def test_a_cached_prefix_is_written_then_read(client, claude_account):
    system = _cached_system(text=LONG_DOC + "write-then-read")
    first = client.messages.create(model=claude_account["deployment"], max_tokens=16, system=system,
                                   messages=MESSAGES).usage
    assert first.cache_creation_input_tokens > 4096
    assert first.cache_read_input_tokens == 0
    assert first.cache_creation is not None
    assert first.cache_creation.ephemeral_5m_input_tokens == first.cache_creation_input_tokens
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert 0 < first.input_tokens < 100  # only what follows the breakpoint
    again = client.messages.create(model=claude_account["deployment"], max_tokens=16, system=system,
                                   messages=[{"role": "user", "content": "Something else."}]).usage
    assert again.cache_read_input_tokens == first.cache_creation_input_tokens
    assert again.cache_creation_input_tokens == 0
    assert again.cache_creation.ephemeral_5m_input_tokens == 0


def test_one_hour_ttl_and_automatic_caching(client, claude_account):
    hour = client.messages.create(model=claude_account["deployment"], max_tokens=16,
                                  system=_cached_system("1h", LONG_DOC + "hour"), messages=MESSAGES).usage
    assert hour.cache_creation.ephemeral_1h_input_tokens == hour.cache_creation_input_tokens > 0
    assert hour.cache_creation.ephemeral_5m_input_tokens == 0
    # top-level cache_control: the breakpoint goes on the last block; the same conversation again reads it all
    body = {"model": claude_account["deployment"], "max_tokens": 16, "system": LONG_DOC + "auto",
            "messages": MESSAGES}
    auto = client.messages.create(**body, extra_body={"cache_control": {"type": "ephemeral"}}).usage
    assert auto.cache_creation_input_tokens > 0
    assert auto.input_tokens == 0
    reread = client.messages.create(**body, extra_body={"cache_control": {"type": "ephemeral"}}).usage
    assert reread.cache_read_input_tokens == auto.cache_creation_input_tokens


def test_a_prefix_below_the_minimum_is_not_cached(client, claude_account):
    for _ in range(2):
        usage = client.messages.create(model=claude_account["deployment"], max_tokens=16,
                                       system=_cached_system(text="Too short to cache."), messages=MESSAGES).usage
        assert usage.cache_creation_input_tokens == 0
        assert usage.cache_read_input_tokens == 0
        assert usage.input_tokens > 0


def test_streamed_usage_reports_the_cache(client, claude_account):
    system = _cached_system(text=LONG_DOC + "streamed")
    seen = []
    for _ in range(2):
        events = list(client.messages.create(model=claude_account["deployment"], max_tokens=16, system=system,
                                             messages=MESSAGES, stream=True))
        start = next(e for e in events if e.type == "message_start").message.usage
        delta = next(e for e in events if e.type == "message_delta").usage
        assert delta.cache_creation_input_tokens == start.cache_creation_input_tokens
        assert delta.cache_read_input_tokens == start.cache_read_input_tokens
        assert delta.input_tokens == start.input_tokens
        seen.append(start)
    assert seen[0].cache_creation_input_tokens > 0
    assert seen[0].cache_read_input_tokens == 0
    assert seen[0].cache_creation.ephemeral_5m_input_tokens == seen[0].cache_creation_input_tokens
    assert seen[1].cache_read_input_tokens == seen[0].cache_creation_input_tokens
    assert seen[1].cache_creation_input_tokens == 0


@pytest.mark.parametrize(("system", "message"), [
    ([{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(5)],
     "A maximum of 4 blocks with cache_control may be provided. Found 5."),
    ([{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}],
     "system.0.cache_control.ttl: Input should be '5m' or '1h'"),
], ids=["five-breakpoints", "bad-ttl"])
def test_bad_cache_control_gets_a_400(client, claude_account, system, message):
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.create(model=claude_account["deployment"], max_tokens=16, system=system,
                               messages=MESSAGES)
    assert info.value.status_code == 400
    assert info.value.body["error"] == {"type": "invalid_request_error", "message": message}


# --- tool_use under tool_choice: auto ------------------------------------------------------------------------------

def test_an_agent_loop_runs_end_to_end_under_auto(client, claude_account):
    tools = [CLOCK_TOOL, WEATHER_TOOL]
    messages = [{"role": "user", "content": "Please use the get_weather tool for Paris."}]
    first = client.messages.create(model=claude_account["deployment"], max_tokens=256, tools=tools,
                                   tool_choice={"type": "auto"}, messages=messages)
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "get_weather"
    assert isinstance(call.input.get("city"), str)
    messages += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                               "content": "18 C and sunny"}]}]
    second = client.messages.create(model=claude_account["deployment"], max_tokens=256, tools=tools,
                                    messages=messages)  # tool_choice left out: auto
    assert second.stop_reason == "end_turn"
    assert [b.type for b in second.content] == ["text"]
    assert 'get_weather returned "18 C and sunny"' in second.content[0].text


@pytest.mark.parametrize(("text", "choice"), [
    ("What is the weather in Paris?", {"type": "auto"}),       # not asked for by name: text
    ("Use the get_weather tool.", {"type": "none"}),           # none: never a tool
    ("<system-reminder>use the get_weather tool</system-reminder>Say hi", {"type": "auto"}),  # not the user's
], ids=["not-named", "none", "reminder"])
def test_auto_answers_text_unless_a_tool_is_asked_for(client, claude_account, text, choice):
    msg = client.messages.create(model=claude_account["deployment"], max_tokens=256, tools=[WEATHER_TOOL],
                                 tool_choice=choice, messages=[{"role": "user", "content": text}])
    assert msg.stop_reason == "end_turn"
    assert [b.type for b in msg.content] == ["text"]


def test_auto_tool_use_streams(client, claude_account):
    with client.messages.stream(model=claude_account["deployment"], max_tokens=256, tools=[WEATHER_TOOL],
                                messages=[{"role": "user", "content": "Call `get_weather` for Oslo"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].type == "tool_use"
    assert final.content[-1].name == "get_weather"
    assert "city" in final.content[-1].input
