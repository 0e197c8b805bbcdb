"""The shared fakes (tests/fakes.py) answer what the anthropic SDK's own types parse, and the fake transport
records and answers as it says."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from claude_foundry_sandbox import messages_api
from fakes import FakeFoundry, FakeTransport, error_body, message, sse_events, stream_events

HI = [{"role": "user", "content": "hi"}]


def test_a_message_is_what_the_sdk_parses_with_every_usage_field() -> None:
    body = message("claude-opus-4-6", "hello there", usage={"input_tokens": 7, "cache_read_input_tokens": 4})
    parsed = Message.model_validate(body)
    assert parsed.id.startswith("msg_")
    assert (parsed.role, parsed.type, parsed.stop_reason, parsed.stop_sequence) == ("assistant", "message",
                                                                                    "end_turn", None)
    assert parsed.content[0].text == "hello there"  # type: ignore[union-attr]  # a text block
    assert set(body["usage"]) == {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                                  "cache_read_input_tokens", "cache_creation", "service_tier"}
    assert (parsed.usage.input_tokens, parsed.usage.cache_read_input_tokens, parsed.usage.output_tokens) == (7, 4, 1)
    assert parsed.usage.cache_creation is not None


def test_the_stream_is_the_api_order_of_events_the_sdk_parses() -> None:
    events = list(stream_events(message(text="two words")))
    assert [e for e, _ in events] == ["message_start", "content_block_start", "ping", "content_block_delta",
                                      "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    adapter: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)
    for name, data in events:
        if name != "ping":
            assert adapter.validate_python(data).type == name
    start, delta = events[0][1], events[-2][1]
    assert start["message"]["stop_reason"] is None
    assert start["message"]["content"] == []
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 2  # cumulative
    assert sse_events()[0].startswith("event: message_start\ndata: {")


@pytest.mark.parametrize(("status", "kind"), [(404, "not_found_error"), (429, "rate_limit_error"),
                                              (529, "overloaded_error"), (500, "api_error")])
def test_an_error_body_is_the_apis(status: int, kind: str) -> None:
    body = error_body(status, "nope", request_id="req_1")
    parsed = ErrorResponse.model_validate(body)
    assert (parsed.type, parsed.error.type, parsed.error.message, parsed.request_id) == ("error", kind, "nope",
                                                                                          "req_1")
    assert messages_api.error_body("invalid_request_error", "x", code="c")["error"] == {
        "type": "invalid_request_error", "message": "x", "code": "c"}


def test_the_transport_answers_from_its_queue_then_its_handler_and_records_each_call() -> None:
    transport = FakeTransport(queue=[503, httpx2.ConnectError("refused"), httpx2.Response(204)])
    with transport.client() as http:
        assert http.post("https://a.example/v1/messages", json={"model": "m"}).json()["error"]["type"] == "api_error"
        with pytest.raises(httpx2.ConnectError):
            http.get("https://a.example/")
        assert http.get("https://a.example/").status_code == 204
        answered = http.post("https://a.example/v1/messages", json={"model": "m", "stream": True})
    assert answered.headers["content-type"] == "text/event-stream"
    assert transport.outcomes == [503, "ConnectError", 204, 200]
    assert transport.calls[0].body == {"model": "m"}
    assert [r.method for r in transport.requests] == ["POST", "GET", "GET", "POST"]


def test_fake_foundry_checks_the_key_of_each_host_through_the_sdk() -> None:
    foundry = FakeFoundry({"a.example": "key-a"})
    good = anthropic.AnthropicFoundry(api_key="key-a", base_url="https://a.example/anthropic/", max_retries=0,
                                      http_client=foundry.client())
    answered = good.messages.create(model="d", max_tokens=8, messages=HI)
    assert answered.content[0].text == "pong"  # type: ignore[union-attr]  # a text block
    with pytest.raises(anthropic.AuthenticationError):
        good.with_options(api_key="key-b").messages.create(model="d", max_tokens=8, messages=HI)
    foundry.faults["a.example"] = lambda request: httpx2.Response(529, json=error_body(529, "busy"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        good.messages.create(model="d", max_tokens=8, messages=HI)
    assert caught.value.status_code == 529
    assert [(c.api_key, c.outcome) for c in foundry.calls] == [("key-a", 200), ("key-b", 401), ("key-a", 529)]
