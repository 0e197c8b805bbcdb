"""The Messages API's answer shapes as plain data: the response body, its server-sent events and the error body.

One builder for every answer shaped like Anthropic's: the sandbox's Foundry endpoint (:mod:`claude_foundry_sandbox.
foundry`) answers with it, and the tests' fake transports (``tests/fakes.py``) build their answers with it, so a
fake and the sandbox cannot drift apart. Shapes from Anthropic's API reference (Messages, streaming, errors:
https://docs.anthropic.com/en/api/messages, /en/docs/build-with-claude/streaming, /en/api/errors) and the anthropic
SDK's types that parse them (``anthropic.types.Message``, ``Usage``, ``CacheCreation``, ``RawMessageStartEvent``,
``RawContentBlock{Start,Delta,Stop}Event``, ``RawMessageDeltaEvent`` with ``MessageDeltaUsage``,
``RawMessageStopEvent``, ``shared.ErrorResponse``). No starlette here: pure data, importable by any test.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

#: ``message_delta``'s cumulative usage (the SDK's ``MessageDeltaUsage``): the input counts again, with the output.
DELTA_USAGE_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


def message_id() -> str:
    """A fresh ``msg_…`` id (the API's ids are opaque; the sandbox's say where they come from)."""
    return "msg_sbx_" + secrets.token_hex(12)


def usage(input_tokens: int = 0, output_tokens: int = 0, *, cache_creation_input_tokens: int = 0,
          cache_read_input_tokens: int = 0, ephemeral_5m_input_tokens: int | None = None,
          ephemeral_1h_input_tokens: int = 0, service_tier: str = "standard") -> dict[str, Any]:
    """A response's ``usage``: ``input_tokens`` is what the cache neither read nor wrote; ``cache_creation`` splits
    the written tokens by TTL (all 5 minutes unless said)."""
    five = cache_creation_input_tokens - ephemeral_1h_input_tokens if ephemeral_5m_input_tokens is None \
        else ephemeral_5m_input_tokens
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": cache_creation_input_tokens,
            "cache_read_input_tokens": cache_read_input_tokens,
            "cache_creation": {"ephemeral_5m_input_tokens": five,
                               "ephemeral_1h_input_tokens": ephemeral_1h_input_tokens},
            "output_tokens": output_tokens, "service_tier": service_tier}


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def message(model: str, content: list[dict[str, Any]] | str, *, id: str | None = None,
            stop_reason: str | None = "end_turn", stop_sequence: str | None = None,
            usage: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A Messages response body (``type: message``, ``role: assistant``): ``content`` is its blocks (a string: one
    text block); ``usage`` fields not given are 0 (``output_tokens`` at least 1, as the API counts)."""
    blocks = [text_block(content)] if isinstance(content, str) else list(content)
    given = dict(usage or {})
    full = _usage_of(given)
    full.update(given)
    return {"id": id or message_id(), "type": "message", "role": "assistant", "model": model, "content": blocks,
            "stop_reason": stop_reason, "stop_sequence": stop_sequence, "usage": full}


def _usage_of(given: Mapping[str, Any]) -> dict[str, Any]:
    return usage(int(given.get("input_tokens", 0)), int(given.get("output_tokens", 1)),
                 cache_creation_input_tokens=int(given.get("cache_creation_input_tokens", 0)),
                 cache_read_input_tokens=int(given.get("cache_read_input_tokens", 0)))


def words(text: str) -> list[str]:
    """``text`` cut after each run of spaces: how the sandbox streams text (one delta a word)."""
    return re.findall(r"\S+\s*", text) or [""]


def _chunks(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def block_events(index: int, block: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """content_block_start, its deltas, content_block_stop: the shapes of the SDK's ``RawContentBlock*Event``."""
    kind = block["type"]
    if kind == "thinking":
        start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": w} for w in words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [{"type": "input_json_delta", "partial_json": c} for c in _chunks(json.dumps(block["input"]))]
    else:
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": w} for w in words(block["text"]) if w]
    out: list[tuple[str, dict[str, Any]]] = [
        ("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})]
    out += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return out


def stream_events(msg: Mapping[str, Any], *, ping: bool = True) -> Iterator[tuple[str, dict[str, Any]]]:
    """The events that stream ``msg`` (a :func:`message` body), in the order of the API's streaming reference:
    message_start (no content, no stop reason, output_tokens 1), per block start/deltas/stop (a ``ping`` after the
    first start), message_delta with the stop reason and the cumulative usage, message_stop."""
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**msg["usage"], "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(msg["content"]):
        for n, event in enumerate(block_events(index, block)):
            yield event
            if ping and index == 0 and n == 0:
                yield "ping", {"type": "ping"}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"]},
                            "usage": {k: msg["usage"][k] for k in DELTA_USAGE_FIELDS if k in msg["usage"]}}
    yield "message_stop", {"type": "message_stop"}


def sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One server-sent event: ``event: <name>``, ``data: <JSON>`` and the blank line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def stream_body(msg: Mapping[str, Any], *, ping: bool = True) -> bytes:
    """The whole ``text/event-stream`` body streaming ``msg``."""
    return b"".join(sse(event, data) for event, data in stream_events(msg, ping=ping))


#: The error ``type`` the API gives each status (Anthropic's errors reference; 413 is ``request_too_large``).
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 408: "timeout_error", 409: "invalid_request_error",
               413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error",
               503: "api_error", 504: "timeout_error", 529: "overloaded_error"}


def error_body(status_or_type: int | str, message: str, *, code: str | None = None,
               request_id: str | None = None) -> dict[str, Any]:
    """An error answer's body, ``{"type": "error", "error": {"type": …, "message": …}, "request_id": …}``:
    the error type named, or the one of a status (:data:`ERROR_TYPES`); ``code`` is what Foundry adds (its own
    error codes, ``DeploymentNotFound``)."""
    err_type = status_or_type if isinstance(status_or_type, str) else ERROR_TYPES.get(status_or_type, "api_error")
    error: dict[str, Any] = {"type": err_type, "message": message}
    if code:
        error["code"] = code
    body: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        body["request_id"] = request_id
    return body
