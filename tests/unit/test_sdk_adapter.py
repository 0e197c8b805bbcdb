"""What claude-foundry relies on that the anthropic SDK and httpx2 do not publish, pinned against the installed
versions (_client/_sdk.py is the one module that touches it), and the one retry-after parser. When an SDK release
removes or changes one of these, a test here fails by name."""

from __future__ import annotations

import ast
import asyncio
import email.utils
import time
from pathlib import Path

import anthropic
import httpx2
import pytest

from claude_foundry._client import _http, _sdk
from fakes import FakeTransport

SRC = Path(__file__).resolve().parents[2] / "src" / "claude_foundry"
KEY = "k" * 84


def _pass(request, call_next):
    return call_next(request)


async def _pass_async(request, call_next):
    return await call_next(request)


def test_send_goes_through_the_other_clients_chain_and_transport():
    """A middleware on one client hands the call to another client (what FailoverRuntime does): the request
    reaches the second client's transport with the second client's base URL and key."""
    seen_inner, seen_outer = FakeTransport(), FakeTransport()
    inner = anthropic.AnthropicFoundry(api_key=KEY, base_url="https://inner.example/anthropic/", max_retries=0,
                                       middleware=[_pass],
                                       http_client=anthropic.DefaultHttpxClient(transport=seen_inner))

    def through_inner(request, call_next):
        return _sdk.send(inner, request)

    outer = anthropic.AnthropicFoundry(api_key="other-key", base_url="https://outer.example/anthropic/",
                                       max_retries=0, middleware=[through_inner],
                                       http_client=anthropic.DefaultHttpxClient(transport=seen_outer))
    msg = outer.messages.create(model="d", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert msg.content[0].text == "pong"
    assert seen_outer.requests == []
    assert [r.url.host for r in seen_inner.requests] == ["inner.example"]
    assert seen_inner.requests[0].headers["x-api-key"] == KEY


def test_send_async_goes_through_the_other_clients_chain():
    asyncio.run(_send_async())


async def _send_async() -> None:
    seen = FakeTransport()
    inner = anthropic.AsyncAnthropicFoundry(
        api_key=KEY, base_url="https://inner.example/anthropic/", max_retries=0, middleware=[_pass_async],
        http_client=anthropic.DefaultAsyncHttpxClient(transport=seen))

    async def through_inner(request, call_next):
        return await _sdk.send_async(inner, request)

    outer = anthropic.AsyncAnthropicFoundry(api_key="other", base_url="https://outer.example/anthropic/",
                                            max_retries=0, middleware=[through_inner],
                                            http_client=anthropic.DefaultAsyncHttpxClient(
                                                transport=FakeTransport()))
    msg = await outer.messages.create(model="d", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert msg.content[0].text == "pong"
    assert [r.url.host for r in seen.requests] == ["inner.example"]


def test_a_client_without_the_chain_is_named():
    with pytest.raises(_sdk.SdkChangedError, match=f"anthropic {anthropic.__version__}"):
        _sdk.send(object(), None)
    plain = anthropic.AnthropicFoundry(api_key=KEY, base_url="https://x.example/anthropic/")
    with pytest.raises(TypeError, match="middleware="):
        _sdk.send(plain, None)


def test_body_in_memory():
    assert _sdk.body_in_memory(httpx2.Response(200, content=b"whole"))
    streamed = httpx2.Response(200, stream=httpx2.ByteStream(b"later"))
    assert not _sdk.body_in_memory(streamed)


def test_only_the_adapter_touches_sdk_internals():
    """No other module reaches into anthropic's or httpx2's private names."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "_sdk.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in {
                    "anthropic", "httpx2"} and any(p.startswith("_") for p in node.module.split(".")[1:]):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} from {node.module}")
            if isinstance(node, ast.Attribute) and node.attr in {"_middleware_chain", "_content"}:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"hasattr", "getattr"}
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in {"_middleware_chain", "_content"}):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert offenders == []


# --- the one retry-after parser ---------------------------------------------------------------------------


def _date_in(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"retry-after-ms": "250"}, 0.25),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # Azure's milliseconds first
    ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),  # a bad ms value falls back to the seconds
    ({"retry-after": "-3"}, 0.0),
    ({"retry-after": "soon"}, None),
    ({"retry-after": "nan"}, None),
    ({"retry-after": "inf"}, None),
    ({"retry-after": "172800"}, None),  # two days: no advice, the caller's own backoff applies
    ({}, None),
    (None, None),
])
def test_retry_after(headers, expected):
    assert _http.retry_after(headers) == expected


def test_retry_after_http_dates():
    ahead = _http.retry_after({"retry-after": _date_in(30)})
    assert ahead is not None
    assert 28 <= ahead <= 31
    assert _http.retry_after({"retry-after": _date_in(-60)}) == 0.0
    assert _http.retry_after({"retry-after": _date_in(3 * 86400)}) is None


def test_retry_after_reads_httpx_headers():
    assert _http.retry_after(httpx2.Headers({"Retry-After": "4"})) == 4.0
