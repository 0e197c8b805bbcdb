"""OpenTelemetry for the runtime's Messages calls: one span per call and the GenAI client metrics, as the
OpenTelemetry semantic conventions for generative AI define them (v1.41.0, the last release of
open-telemetry/semantic-conventions that holds them: ``docs/gen-ai/anthropic.md``, ``gen-ai-spans.md``,
``gen-ai-metrics.md``; they have since moved to open-telemetry/semantic-conventions-genai). docs/observability.md
lists every attribute, event and metric.

**Off unless an application configured OpenTelemetry.** :func:`enabled` is False while the global tracer and meter
providers are OpenTelemetry's defaults (the API's proxies / no-ops): then the runtime does nothing here but that
check per call (a clock read; the providers themselves are looked at once a second). Once a provider is set it
stays set (OpenTelemetry sets a global provider once), so the answer is cached. ``opentelemetry-api`` comes with
anthropic; the SDK and exporters are the application's (``claude-foundry[telemetry]``).

**No content unless asked.** Prompts, system instructions and completions are recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is ``true`` (the variable OpenTelemetry's GenAI
instrumentations read); never a key, a token or a header value.

Why not ``opentelemetry-instrumentation-anthropic``: it patches ``anthropic.resources.messages`` for every client in
the process, above the runtime's middleware, so it sees the logical call only — not the account, region or
deployment that served it, nor failover attempts, breaker changes or key re-reads; it writes ``gen_ai.system``
(replaced by ``gen_ai.provider.name``), and its async ``create`` span is not the current one, so it cannot be
enriched from below. The runtime's middleware already sits on every call (sync, async, streaming, failover), so
the span is made there; an application that also runs that instrumentor gets its span as the parent of this one.

One adapter fact: OpenTelemetry's API publishes no "is a provider configured" check; :func:`_is_default` knows the
API's default provider classes (one of them private) and ``tests/unit/test_telemetry.py`` pins it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

#: The conventions' version this module follows (the schema URL of the tracer and meter).
SEMCONV_VERSION = "1.41.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
#: The instrumentation scope's name.
SCOPE = "claude_foundry.client"
#: OpenTelemetry's switch for recording message content (GenAI instrumentations), read on every traced call.
ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

#: Bucket boundaries the conventions ask for (``gen-ai-metrics.md``).
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

#: Largest non-streaming answer body kept to read its usage (the runtime's own bound is larger; past this the span
#: has no token counts, the call is unaffected).
MAX_PARSED_BODY = 8 * 1024 * 1024
#: Most completion text kept for ``gen_ai.output.messages`` of a streamed call (content capture only).
MAX_CAPTURED_TEXT = 1024 * 1024

# Attribute names (the conventions' registry; ``claude_foundry.*`` are this project's own).
OPERATION, PROVIDER = "gen_ai.operation.name", "gen_ai.provider.name"
REQUEST_MODEL, RESPONSE_MODEL, RESPONSE_ID = "gen_ai.request.model", "gen_ai.response.model", "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS, OUTPUT_TOKENS = "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"
CACHE_READ, CACHE_CREATION = "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens"
TOKEN_TYPE, ERROR_TYPE = "gen_ai.token.type", "error.type"
STREAM, FIRST_CHUNK = "gen_ai.request.stream", "gen_ai.response.time_to_first_chunk"
SERVER_ADDRESS, SERVER_PORT = "server.address", "server.port"
ACCOUNT, RESOURCE, DEPLOYMENT = "claude_foundry.account", "claude_foundry.resource", "claude_foundry.deployment"
REGION = "cloud.region"
ATTEMPTS = "claude_foundry.failover.attempts"
REQUEST_ID = "claude_foundry.request_id"
#: Span events.
EVENT_ATTEMPT_FAILED = "claude_foundry.failover.attempt_failed"
EVENT_FAILOVER = "claude_foundry.failover"
EVENT_BREAKER = "claude_foundry.circuit_breaker"
EVENT_KEY_REREAD = "claude_foundry.key_reread"
EVENT_DEPLOYMENT_MOVED = "claude_foundry.deployment_moved"

_REQUEST_PARAMS: tuple[tuple[str, str, type], ...] = (
    ("max_tokens", "gen_ai.request.max_tokens", int), ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float), ("top_k", "gen_ai.request.top_k", int))

#: The call being traced in this context (a failover call's endpoint attempts report to it instead of starting
#: spans of their own).
ACTIVE: contextvars.ContextVar[Call | None] = contextvars.ContextVar("claude_foundry_telemetry_call", default=None)

_ON = False
_INSTRUMENTS: list[Any] = []  # [tracer, duration histogram, token histogram], made once


_DEFAULTS: list[Any] = []  # [get_tracer_provider, get_meter_provider, default tracer types, default meter types]


def _defaults() -> list[Any]:
    if not _DEFAULTS:
        from opentelemetry import metrics, trace

        meters: tuple[type, ...] = (metrics.NoOpMeterProvider,)
        try:
            from opentelemetry.metrics._internal import _ProxyMeterProvider  # the API's default before one is set

            meters = (*meters, _ProxyMeterProvider)
        except ImportError:  # pragma: no cover - a later API; test_telemetry.py fails first
            pass
        _DEFAULTS.extend([trace.get_tracer_provider, metrics.get_meter_provider,
                          (trace.ProxyTracerProvider, trace.NoOpTracerProvider), meters])
    return _DEFAULTS


def _is_default(tracer_provider: Any, meter_provider: Any) -> bool:
    """Whether both providers are the API's defaults (nothing configured). The one adapter fact of this module."""
    d = _defaults()
    return isinstance(tracer_provider, d[2]) and isinstance(meter_provider, d[3])


#: Seconds between two looks at the global providers while none is set: a provider set after a client was made
#: is seen within this time; in between, the check per call is one clock read.
RECHECK_INTERVAL = 1.0
_NEXT_CHECK = 0.0


def enabled() -> bool:
    """True once an application has set a tracer or meter provider (cached from then on); while none is, the
    providers are looked at once per :data:`RECHECK_INTERVAL` (the only work done per call while off)."""
    if _ON:
        return True
    global _NEXT_CHECK
    now = time.monotonic()
    if now < _NEXT_CHECK:
        return False
    _NEXT_CHECK = now + RECHECK_INTERVAL
    return _check()


def _check() -> bool:
    global _ON
    d = _DEFAULTS or _defaults()
    if isinstance(d[0](), d[2]) and isinstance(d[1](), d[3]):
        return False
    _ON = True
    return True


def _reset_for_tests() -> None:
    """Forget the cached answer and instruments (tests that set providers of their own)."""
    global _ON, _NEXT_CHECK
    _ON, _NEXT_CHECK = False, 0.0
    _INSTRUMENTS.clear()


def _instruments() -> list[Any]:
    if not _INSTRUMENTS:
        from opentelemetry import metrics, trace

        from claude_foundry import __version__ as version

        tracer = trace.get_tracer(SCOPE, version, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(SCOPE, version, schema_url=SCHEMA_URL)
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s",
                                          description="GenAI operation duration.",
                                          explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS))
        tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}",
                                        description="Number of input and output tokens used.",
                                        explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS))
        _INSTRUMENTS.extend([tracer, duration, tokens])
    return _INSTRUMENTS


def capture_content() -> bool:
    return os.environ.get(ENV_CAPTURE_CONTENT, "").strip().lower() == "true"


def event(name: str, attributes: Mapping[str, Any]) -> None:
    """Add an event to the call traced in this context (nothing when none is)."""
    call = ACTIVE.get()
    if call is not None:
        call.event(name, attributes)


def _server(base_url: str) -> dict[str, Any]:
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    out: dict[str, Any] = {}
    if parts.hostname:
        out[SERVER_ADDRESS] = parts.hostname
        with contextlib.suppress(ValueError):  # a port that is not a number: no server.port
            out[SERVER_PORT] = parts.port or (443 if parts.scheme == "https" else 80)
    return out


def endpoint_attributes(runtime: Any) -> dict[str, Any]:
    """The attributes of the account a runtime calls: server, account key, Foundry resource, region."""
    out = _server(runtime.base_url)
    if runtime.account:
        out[ACCOUNT] = runtime.account
    if runtime.resource:
        out[RESOURCE] = runtime.resource
    if runtime.region:
        out[REGION] = runtime.region
    return out


def _parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic content blocks as the conventions' message parts (``gen-ai-input-messages.json``)."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else []:
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append({"type": "text", "content": block.get("text", "")})
        elif kind == "tool_use":
            parts.append({"type": "tool_call", "id": block.get("id"), "name": block.get("name"),
                          "arguments": block.get("input")})
        elif kind == "tool_result":
            parts.append({"type": "tool_call_response", "id": block.get("tool_use_id"),
                          "result": block.get("content")})
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": block.get("thinking", "")})
        elif isinstance(kind, str):
            parts.append({"type": kind})  # images, documents: their kind, never their bytes
    return parts


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Call:
    """One traced Messages call: its span, and the metrics recorded when it ends."""

    def __init__(self, body: Any, *, runtime: Any = None, failover: bool = False) -> None:
        tracer, self._duration, self._tokens = _instruments()
        from opentelemetry.trace import SpanKind

        self.start = time.monotonic()
        self.failover = failover
        self.failures = 0
        self.ended = False
        self.capture = capture_content()
        body = body if isinstance(body, Mapping) else {}
        model = body.get("model")
        self.metric_attrs: dict[str, Any] = {OPERATION: "chat", PROVIDER: "anthropic"}
        attrs: dict[str, Any] = dict(self.metric_attrs)
        if isinstance(model, str):
            attrs[REQUEST_MODEL] = self.metric_attrs[REQUEST_MODEL] = model
        for key, name, kind in _REQUEST_PARAMS:
            value = body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attrs[name] = kind(value)
        stops = body.get("stop_sequences")
        if isinstance(stops, list) and all(isinstance(s, str) for s in stops):
            attrs["gen_ai.request.stop_sequences"] = stops
        if body.get("stream") is True:
            attrs[STREAM] = True
        if self.capture:
            messages = body.get("messages")
            if isinstance(messages, list):
                attrs["gen_ai.input.messages"] = _dumps([
                    {"role": m.get("role"), "parts": _parts(m.get("content"))}
                    for m in messages if isinstance(m, Mapping)])
            system = body.get("system")
            if system:
                attrs["gen_ai.system_instructions"] = _dumps(_parts(system))
        self.model = model if isinstance(model, str) else None
        name = f"chat {model}" if isinstance(model, str) else "chat"
        self.span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        if runtime is not None:
            self.set_endpoint(runtime)

    # -- during the call --

    def set_endpoint(self, runtime: Any) -> None:
        attrs = endpoint_attributes(runtime)
        if self.model is not None:
            info = runtime.deployments.get(self.model)
            attrs[DEPLOYMENT] = (info.deployment if info is not None and info.deployment else self.model)
        self.span.set_attributes(attrs)
        for key in (SERVER_ADDRESS, SERVER_PORT, ACCOUNT):
            if key in attrs:
                self.metric_attrs[key] = attrs[key]
            else:
                self.metric_attrs.pop(key, None)

    def event(self, name: str, attributes: Mapping[str, Any]) -> None:
        if name == EVENT_ATTEMPT_FAILED:
            self.failures += 1
        self.span.add_event(name, dict(attributes))

    # -- the end --

    def fail(self, exc: BaseException) -> None:
        """The call raised before an answer came back (or while its body was read)."""
        if self.ended:
            return
        from opentelemetry.trace import Status, StatusCode

        kind = type(exc).__qualname__
        self.span.record_exception(exc, escaped=True)
        self.span.set_status(Status(StatusCode.ERROR, kind))
        self._end(error=kind)

    def respond(self, response: Any) -> None:
        """The call's answer (an SDK response): read its usage as its body goes by; the span ends with it."""
        from claude_foundry._client import _sdk

        http = response.http_response
        status = http.status_code
        self.span.set_attribute("http.response.status_code", status)
        rid = http.headers.get("request-id") or http.headers.get("apim-request-id")
        if rid:
            self.span.set_attribute(REQUEST_ID, rid[:200])
        reader = _Reader(self, status, "text/event-stream" in http.headers.get("content-type", ""))
        if _sdk.body_in_memory(http):
            reader.feed(http.content)
            reader.done()
            return
        inner = http.stream
        self_call = self
        import httpx2

        class Observed(httpx2.SyncByteStream, httpx2.AsyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                try:
                    for chunk in inner:
                        reader.feed(chunk)
                        yield chunk
                except BaseException as exc:
                    self_call.fail(exc)
                    raise
                reader.done()

            async def __aiter__(self) -> AsyncIterator[bytes]:
                try:
                    async for chunk in inner:
                        reader.feed(chunk)
                        yield chunk
                except BaseException as exc:
                    self_call.fail(exc)
                    raise
                reader.done()

            def close(self) -> None:
                try:
                    inner.close()
                finally:
                    reader.done(closed=True)

            async def aclose(self) -> None:
                try:
                    await inner.aclose()
                finally:
                    reader.done(closed=True)

        http.stream = Observed()

    def finish(self, status: int, data: dict[str, Any], error: str | None) -> None:
        if self.ended:
            return
        from opentelemetry.trace import Status, StatusCode

        span = self.span
        model = data.get("model")
        if isinstance(model, str):
            span.set_attribute(RESPONSE_MODEL, model)
            self.metric_attrs[RESPONSE_MODEL] = model
        if isinstance(data.get("id"), str):
            span.set_attribute(RESPONSE_ID, data["id"])
        if isinstance(data.get("stop_reason"), str):
            span.set_attribute(FINISH_REASONS, [data["stop_reason"]])
        usage = data.get("usage")
        counts: tuple[int, int] | None = None
        if isinstance(usage, Mapping):
            def n(key: str) -> int:
                v = usage.get(key)
                return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0

            read, created = n("cache_read_input_tokens"), n("cache_creation_input_tokens")
            # the conventions (anthropic.md): input = input_tokens + cache reads + cache writes
            counts = (n("input_tokens") + read + created, n("output_tokens"))
            span.set_attributes({INPUT_TOKENS: counts[0], OUTPUT_TOKENS: counts[1], CACHE_READ: read,
                                 CACHE_CREATION: created})
        if "first_chunk" in data:
            span.set_attribute(FIRST_CHUNK, data["first_chunk"])
        if self.capture and "output" in data:
            span.set_attribute("gen_ai.output.messages", _dumps([
                {"role": "assistant", "parts": data["output"], "finish_reason": data.get("stop_reason") or ""}]))
        if error is None and status >= 400:
            error = str(status)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        self._end(error=error, counts=counts)

    def _end(self, *, error: str | None, counts: tuple[int, int] | None = None) -> None:
        self.ended = True
        if self.failover:
            self.span.set_attribute(ATTEMPTS, self.failures + 1)
        attrs = self.metric_attrs
        if error is not None:
            self.span.set_attribute(ERROR_TYPE, error)
            attrs = {**attrs, ERROR_TYPE: error}
        self._duration.record(time.monotonic() - self.start, attributes=attrs)
        if counts is not None:
            self._tokens.record(counts[0], attributes={**attrs, TOKEN_TYPE: "input"})
            self._tokens.record(counts[1], attributes={**attrs, TOKEN_TYPE: "output"})
        self.span.end()


class _Reader:
    """Reads what a call's answer says about usage as its bytes go by: the JSON body (non-streaming, and error
    bodies), or the ``message_start`` / ``message_delta`` / ``error`` events of a stream."""

    def __init__(self, call: Call, status: int, events: bool) -> None:
        self.call, self.status, self.events = call, status, events and status < 300
        self.buffer: list[bytes] = []
        self.size = 0
        self.partial = b""
        self.data: dict[str, Any] = {}
        self.error: str | None = None
        self.text: list[str] = []
        self.text_size = 0
        self.first = True

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.first:
            self.first = False
            if self.events:
                self.data["first_chunk"] = time.monotonic() - self.call.start
        if not self.events:
            self.size += len(chunk)
            if self.size <= MAX_PARSED_BODY:
                self.buffer.append(chunk)
            return
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()
        if len(self.partial) > MAX_PARSED_BODY:
            self.partial = b""
        for line in lines:
            if line.startswith(b"data:"):
                self._event(line[5:])

    def _event(self, raw: bytes) -> None:
        head = raw[:64]
        if not (b"message_" in head or b"error" in head or (self.call.capture and b"content_block_delta" in head)):
            return
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            for key in ("model", "id"):
                if isinstance(message.get(key), str):
                    self.data[key] = message[key]
            if isinstance(message.get("usage"), dict):
                self.data["usage"] = dict(message["usage"])
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.data["stop_reason"] = delta["stop_reason"]
            usage = event.get("usage")
            if isinstance(usage, dict):  # cumulative counts: the latest win
                merged = dict(self.data.get("usage") or {})
                merged.update({k: v for k, v in usage.items() if v is not None})
                self.data["usage"] = merged
        elif kind == "error" and isinstance(event.get("error"), dict):
            err = event["error"].get("type")
            self.error = err if isinstance(err, str) and len(err) <= 64 else "error"
        elif kind == "content_block_delta" and self.call.capture:
            delta = event.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("text"), str) and self.text_size < MAX_CAPTURED_TEXT:
                self.text.append(delta["text"])
                self.text_size += len(delta["text"])

    def done(self, closed: bool = False) -> None:
        call = self.call
        if call.ended:
            return
        if self.events:
            if self.partial.startswith(b"data:"):
                self._event(self.partial[5:])
            if call.capture:
                self.data["output"] = [{"type": "text", "content": "".join(self.text)}]
            call.finish(self.status, self.data, self.error)
            return
        data: dict[str, Any] = {}
        if self.size <= MAX_PARSED_BODY and self.buffer:
            try:
                parsed = json.loads(b"".join(self.buffer))
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                data = parsed
        error = None
        if self.status >= 400:
            err = data.get("error")
            kind = err.get("type") if isinstance(err, dict) else None
            error = kind if isinstance(kind, str) and 0 < len(kind) <= 64 else str(self.status)
            data = {}
        elif call.capture and isinstance(data.get("content"), list):
            data["output"] = _parts(data["content"])
        call.finish(self.status, data, error)


# -- wrapping a middleware's handler --------------------------------------------------------------------------


def _begin(request: Any, runtime: Any, failover: Any) -> tuple[Call, Any]:
    call = Call(request.options.json_data, runtime=runtime, failover=failover is not None)
    return call, ACTIVE.set(call)


def _failed(call: Call, failover: Any, exc: BaseException) -> None:
    if failover is not None:
        _served_by(call, failover, getattr(exc, "request", None))
    call.fail(exc)


def _answered(call: Call, failover: Any, response: Any) -> Any:
    if failover is not None:
        _served_by(call, failover, response.http_response.request)
    call.respond(response)
    return response


def traced(handle: Callable[[Any, Any], Any], request: Any, call_next: Any, *, runtime: Any = None,
           failover: Any = None) -> Any:
    """``handle(request, call_next)`` inside a new traced call (``handle`` is the middleware's own ``handle``: with
    the call active it takes its untraced path)."""
    call, token = _begin(request, runtime, failover)
    try:
        response = handle(request, call_next)
    except BaseException as exc:
        _failed(call, failover, exc)
        raise
    finally:
        ACTIVE.reset(token)
    return _answered(call, failover, response)


async def traced_async(handle: Callable[[Any, Any], Any], request: Any, call_next: Any, *, runtime: Any = None,
                       failover: Any = None) -> Any:
    """:func:`traced` for ``handle_async``."""
    call, token = _begin(request, runtime, failover)
    try:
        response = await handle(request, call_next)
    except BaseException as exc:
        _failed(call, failover, exc)
        raise
    finally:
        ACTIVE.reset(token)
    return _answered(call, failover, response)


def _served_by(call: Call, failover: Any, request: Any) -> None:
    """Set the attributes of the failover endpoint that the answer (or error) came from."""
    from claude_foundry._client._http import origin

    url = getattr(request, "url", None)
    if url is None:
        return
    where = origin(url)
    for runtime in failover.runtimes:
        if origin(runtime.base_url) == where:
            call.set_endpoint(runtime)
            return
