"""The runtime's OpenTelemetry: spans and GenAI metrics read back from the SDK's in-memory exporters, for sync,
async, streaming and failover calls (mock transports), content off by default, and off without a provider."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from test_failover import KEY_A, MSG, Clock, Fake, connect_error, make

from claude_foundry import _contract as c
from claude_foundry._client import _telemetry
from claude_foundry._client import runtime as rt
from claude_foundry._client.failover import CircuitBreaker
from fakes import FakeTransport, answer, error

USAGE = {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 11, "cache_creation_input_tokens": 5}
SECRET_PROMPT = "the-secret-prompt-text"


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.reader = InMemoryMetricReader()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out = []
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    """SDK providers as the runtime sees them (OpenTelemetry sets its global providers once per process, so the
    module's lookups are pointed at these instead)."""
    o = Otel()
    _telemetry._reset_for_tests()
    from opentelemetry import metrics, trace

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: o.tracer_provider)
    monkeypatch.setattr(metrics, "get_meter_provider", lambda: o.meter_provider)
    monkeypatch.setattr(trace, "get_tracer", lambda *a, **k: o.tracer_provider.get_tracer(*a, **k))
    monkeypatch.setattr(metrics, "get_meter", lambda *a, **k: o.meter_provider.get_meter(*a, **k))
    monkeypatch.setattr(_telemetry, "_DEFAULTS", [])
    monkeypatch.delenv(_telemetry.ENV_CAPTURE_CONTENT, raising=False)
    yield o
    _telemetry._reset_for_tests()


def telemetry_answer(request: httpx2.Request) -> httpx2.Response:
    """The model's answer with prompt-cache usage (``message_delta`` repeats it, output tokens cumulative)."""
    request_id = "req_stream" if json.loads(request.content).get("stream") else "req_1"
    return answer(request, model="claude-sonnet-4-6", usage=USAGE, headers={"request-id": request_id})


def runtime() -> rt.FoundryRuntime:
    deps = {"sonnet": c.DeploymentInfo(model="claude-sonnet-4-6", version="1", family="sonnet")}
    return rt.FoundryRuntime(c.Contract("res-east", "https://res-east.services.ai.azure.com/anthropic", deps,
                                        api_key=KEY_A, region="eastus2", account="primary"))


def sync_client(handler: Any = telemetry_answer) -> Any:
    return runtime().client(http_client=FakeTransport(handler).client())


def check_chat_span(span: Any, *, stream: bool = False) -> None:
    a = span.attributes
    assert span.name == "chat sonnet"
    assert span.kind.name == "CLIENT"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "sonnet"
    assert a["gen_ai.request.max_tokens"] == 8
    assert a["gen_ai.response.model"] == "claude-sonnet-4-6"
    assert a["gen_ai.response.id"] == "msg_1"
    assert tuple(a["gen_ai.response.finish_reasons"]) == ("end_turn",)
    # the conventions: input = input_tokens + cache reads + cache writes
    assert a["gen_ai.usage.input_tokens"] == 7 + 11 + 5
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["gen_ai.usage.cache_read.input_tokens"] == 11
    assert a["gen_ai.usage.cache_creation.input_tokens"] == 5
    assert a["server.address"] == "res-east.services.ai.azure.com"
    assert a["server.port"] == 443
    assert a["claude_foundry.account"] == "primary"
    assert a["claude_foundry.resource"] == "res-east"
    assert a["claude_foundry.deployment"] == "sonnet"
    assert a["cloud.region"] == "eastus2"
    assert "error.type" not in a
    if stream:
        assert a["gen_ai.request.stream"] is True
        assert a["gen_ai.response.time_to_first_chunk"] >= 0
    else:
        assert "gen_ai.request.stream" not in a
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system_instr")) for k in a)
    assert SECRET_PROMPT not in repr(dict(a))
    assert KEY_A not in repr(dict(a))


def check_metrics(otel: Otel, calls: int = 1) -> None:
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points("gen_ai.client.token.usage")}
    assert tokens["input"].sum == 23 * calls
    assert tokens["input"].count == calls
    assert tokens["output"].sum == 3 * calls
    assert tokens["input"].attributes["gen_ai.response.model"] == "claude-sonnet-4-6"
    assert tokens["input"].attributes["gen_ai.request.model"] == "sonnet"
    assert tuple(tokens["input"].explicit_bounds) == tuple(float(b) for b in _telemetry.TOKEN_BUCKETS)
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == calls
    assert duration.attributes["gen_ai.provider.name"] == "anthropic"
    assert duration.attributes["claude_foundry.account"] == "primary"
    assert tuple(duration.explicit_bounds) == _telemetry.DURATION_BUCKETS


PROMPT = [{"role": "user", "content": SECRET_PROMPT}]


def test_sync_call_span_and_metrics(otel: Otel) -> None:
    msg = sync_client().messages.create(model="sonnet", max_tokens=8, messages=PROMPT)
    assert msg.content[0].text == "pong"  # the SDK reads the body the span was read from
    (span,) = otel.finished()
    check_chat_span(span)
    assert span.attributes["claude_foundry.request_id"] == "req_1"
    check_metrics(otel)


def test_sync_stream_span_ends_with_the_stream(otel: Otel) -> None:
    client = sync_client()
    with client.messages.stream(model="sonnet", max_tokens=8, messages=PROMPT) as stream:
        assert stream.get_final_message().content[0].text == "pong"
    (span,) = otel.finished()
    check_chat_span(span, stream=True)
    check_metrics(otel)


def test_async_call_and_stream(otel: Otel) -> None:
    async def main() -> None:
        client = runtime().async_client(http_client=FakeTransport(telemetry_answer).async_client())
        msg = await client.messages.create(model="sonnet", max_tokens=8, messages=PROMPT)
        assert msg.usage.output_tokens == 3
        async with client.messages.stream(model="sonnet", max_tokens=8, messages=PROMPT) as stream:
            assert (await stream.get_final_message()).content[0].text == "pong"
        await client.close()

    asyncio.run(main())
    plain, streamed = otel.finished()
    check_chat_span(plain)
    check_chat_span(streamed, stream=True)
    check_metrics(otel, calls=2)


def test_a_streamed_body_is_read_as_it_goes(otel: Otel) -> None:
    """A real (not in-memory) event stream: the span ends when the stream ends, with the usage of its events."""
    def streamed(request: httpx2.Request) -> httpx2.Response:
        text = telemetry_answer(request).text

        def chunks() -> Iterator[bytes]:
            data = text.encode()
            for i in range(0, len(data), 37):  # lines cut across chunks
                yield data[i:i + 37]

        return httpx2.Response(200, content=chunks(), headers={"content-type": "text/event-stream"})

    client = sync_client(streamed)
    with client.messages.stream(model="sonnet", max_tokens=8, messages=PROMPT) as stream:
        assert stream.get_final_message().usage.output_tokens == 3
    (span,) = otel.finished()
    check_chat_span(span, stream=True)


def test_error_status_sets_error_type(otel: Otel) -> None:
    import anthropic

    def overloaded(request: httpx2.Request) -> httpx2.Response:
        return error(529, "busy")

    client = runtime().client(max_retries=0, http_client=FakeTransport(overloaded).client())
    with pytest.raises(anthropic.APIStatusError) as info:
        client.messages.create(model="sonnet", max_tokens=8, messages=PROMPT)
    assert info.value.status_code == 529
    (span,) = otel.finished()
    assert span.attributes["error.type"] == "overloaded_error"
    assert span.attributes["http.response.status_code"] == 529
    assert span.status.status_code.name == "ERROR"
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == "overloaded_error"
    assert otel.points("gen_ai.client.token.usage") == []


def test_connection_error_sets_error_type(otel: Otel) -> None:
    import anthropic

    client = runtime().client(max_retries=0, http_client=FakeTransport(connect_error).client())
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model="sonnet", max_tokens=8, messages=PROMPT)
    (span,) = otel.finished()
    assert span.attributes["error.type"] == "APIConnectionError"  # the SDK error class the caller gets
    assert span.status.status_code.name == "ERROR"


def test_content_only_when_enabled(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_telemetry.ENV_CAPTURE_CONTENT, "true")
    client = sync_client()
    client.messages.create(model="sonnet", max_tokens=8, system="be brief", messages=PROMPT)
    with client.messages.stream(model="sonnet", max_tokens=8, messages=PROMPT) as stream:
        stream.get_final_message()
    plain, streamed = otel.finished()
    assert json.loads(plain.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": SECRET_PROMPT}]}]
    assert json.loads(plain.attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(plain.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "pong"}], "finish_reason": "end_turn"}]
    assert json.loads(streamed.attributes["gen_ai.output.messages"])[0]["parts"] == [
        {"type": "text", "content": "pong"}]
    assert KEY_A not in repr([dict(s.attributes) for s in otel.finished()])


def test_failover_one_span_with_attempts_and_breaker_events(otel: Otel) -> None:
    fake, clock = Fake(), Clock()
    fake.faults["a.services.ai.azure.com"] = connect_error
    fo = make(fake, clock, breaker=CircuitBreaker(failures=1, cool_down=30.0))
    msg = fo.client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=MSG)
    assert msg.content[0].text == "pong"
    (span,) = otel.finished()  # the endpoint attempts report to the failover call's span: one span per call
    a = span.attributes
    assert a["claude_foundry.failover.attempts"] == 2
    assert a["claude_foundry.resource"] == "b"  # the endpoint that served it
    assert a["server.address"] == "b.services.ai.azure.com"
    assert a["gen_ai.usage.input_tokens"] == 5
    events = [(e.name, dict(e.attributes)) for e in span.events]
    failure = "APIConnectionError (ConnectError)"
    assert events[0] == ("claude_foundry.failover.attempt_failed",
                         {"claude_foundry.endpoint": "a", "claude_foundry.failure": failure})
    assert ("claude_foundry.circuit_breaker", {"claude_foundry.endpoint": "a", "claude_foundry.breaker.state": "open",
                                               "claude_foundry.breaker.was": "closed"}) in events
    assert ("claude_foundry.failover", {"claude_foundry.endpoint.from": "a", "claude_foundry.endpoint.to": "b",
                                        "claude_foundry.failure": "APIConnectionError (ConnectError)"}) in events
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1

    # a recovered endpoint: the half-open probe succeeds, the breaker closes, an event says so
    del fake.faults["a.services.ai.azure.com"]
    clock.now += 31
    fo.client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=MSG)
    second = otel.finished()[1]
    assert second.attributes["claude_foundry.resource"] == "a"
    assert second.attributes["claude_foundry.failover.attempts"] == 1
    assert ("claude_foundry.circuit_breaker", {"claude_foundry.endpoint": "a", "claude_foundry.breaker.state": "closed",
                                               "claude_foundry.breaker.was": "half_open"}) in [
        (e.name, dict(e.attributes)) for e in second.events]


def test_failover_async_stream(otel: Otel) -> None:
    fake, clock = Fake(), Clock()
    fake.faults["a.services.ai.azure.com"] = connect_error
    fo = make(fake, clock)

    async def main() -> None:
        client = fo.async_client("sonnet")
        async with client.messages.stream(model="sonnet", max_tokens=8, messages=MSG) as stream:
            await stream.get_final_message()
        await fo.aclose()

    asyncio.run(main())
    (span,) = otel.finished()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 2
    assert span.attributes["claude_foundry.failover.attempts"] == 2


def test_key_reread_event(otel: Otel) -> None:
    fake, clock = Fake(), Clock()
    fake.keys["a.services.ai.azure.com"] = "key-a-rotated-fedcba98"
    fo = make(fake, clock, key_reader_a=lambda: "key-a-rotated-fedcba98")
    fo.client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=MSG)
    (span,) = otel.finished()
    assert [e.name for e in span.events] == ["claude_foundry.key_reread"]
    assert "key-a-rotated" not in repr([dict(e.attributes) for e in span.events])


def test_off_without_a_provider() -> None:
    """In a fresh interpreter, nothing configured: enabled() is False (this pins the API's default provider
    classes); an SDK meter provider alone, or a tracer provider alone, turns it on."""
    code = """
from claude_foundry._client import _telemetry
from opentelemetry import metrics, trace
assert _telemetry.enabled() is False, "off by default"
import sys
from opentelemetry.sdk.{mod} import {cls}
{setter}({cls}())
assert _telemetry.enabled() is False, "looked at again only after RECHECK_INTERVAL"
_telemetry._NEXT_CHECK = 0.0
assert _telemetry.enabled() is True, "on with a provider"
print("ok")
"""
    for mod, cls, setter in (("metrics", "MeterProvider", "metrics.set_meter_provider"),
                             ("trace", "TracerProvider", "trace.set_tracer_provider")):
        script = code.format(mod=mod, cls=cls, setter=setter)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,  # noqa: S603
                             check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "ok"


def test_off_records_nothing_and_calls_work(monkeypatch: pytest.MonkeyPatch) -> None:
    _telemetry._reset_for_tests()
    monkeypatch.setattr(_telemetry, "Call", None)  # any use while off would raise
    msg = sync_client().messages.create(model="sonnet", max_tokens=8, messages=PROMPT)
    assert msg.usage.output_tokens == 3
