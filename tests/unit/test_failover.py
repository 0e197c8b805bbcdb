"""Unit tests of the failover runtime with a mock transport: which endpoint answers, breakers, streams, 401."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anthropic
import httpx2
import pytest

from claude_foundry import _contract as c
from claude_foundry._client import runtime as rt
from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime
from fakes import FakeFoundry, answer, error, sse

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
KEY_A2 = "key-a-rotated-fedcba98"
DEP = {"sonnet": c.DeploymentInfo(model="claude-sonnet-4-6", version="1", family="sonnet")}
MSG = [{"role": "user", "content": "ping"}]


Behaviour = Callable[[httpx2.Request], httpx2.Response | None]


class Fake(FakeFoundry):
    """Two accounts a and b (``faults[host]`` answers instead of the account; None: answer normally); ``seen``:
    (account, status or exception) of each request, in order."""

    def __init__(self) -> None:
        super().__init__({"a.services.ai.azure.com": KEY_A, "b.services.ai.azure.com": KEY_B})

    def reply(self, request: httpx2.Request) -> httpx2.Response:
        return answer(request, headers={"request-id": f"req-{request.url.host[0]}"})

    @property
    def seen(self) -> list[tuple[str, int | str]]:
        return [(call.request.url.host[0], call.outcome) for call in self.calls]


def status(code: int, **headers: str) -> Behaviour:
    return lambda request: error(code, f"injected {code}", headers=headers)


def connect_error(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def read_timeout(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=request)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def runtimes(key_reader_a: Callable[[], str | None] | None = None) -> list[rt.FoundryRuntime]:
    a = rt.FoundryRuntime(c.Contract("a", "https://a.services.ai.azure.com/anthropic", dict(DEP), api_key=KEY_A),
                          key_reader=key_reader_a)
    b = rt.FoundryRuntime(c.Contract("b", "https://b.services.ai.azure.com/anthropic", dict(DEP), api_key=KEY_B))
    return [a, b]


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make(fake: Fake, clock: Clock, **kwargs: object) -> FailoverRuntime:
    kwargs.setdefault("breaker", CircuitBreaker(failures=2, cool_down=30.0))
    return FailoverRuntime(runtimes(kwargs.pop("key_reader_a", None)),  # type: ignore[arg-type]
                           clock=clock, sleep=clock.sleep, async_sleep=clock.async_sleep,
                           transport=fake, async_transport=fake,
                           **kwargs)  # type: ignore[arg-type]


def call(fo: FailoverRuntime) -> anthropic.types.Message:
    return fo.client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=MSG)


def test_healthy_goes_to_the_preferred_endpoint(fake: Fake, clock: Clock) -> None:
    fo = make(fake, clock)
    assert call(fo).content[0].text == "pong"
    assert fake.seen == [("a", 200)]
    s = fo.stats()
    assert s["a"]["served"] == 1
    assert s["b"]["served"] == 0
    assert fo.failovers == 0
    assert s["a"]["breaker"] == "closed"


@pytest.mark.parametrize("fault", [status(500), status(503), status(529), connect_error, read_timeout,
                                   status(429, **{"retry-after": "5"})])
def test_failover_to_next(fake: Fake, clock: Clock, fault: Behaviour, caplog: pytest.LogCaptureFixture) -> None:
    fake.faults["a.services.ai.azure.com"] = fault
    fo = make(fake, clock)
    with caplog.at_level(logging.INFO, logger="claude_foundry._client.failover"):
        assert call(fo).content[0].text == "pong"
    assert fake.seen[-1] == ("b", 200)
    assert fake.seen[0][0] == "a"
    s = fo.stats()
    assert (s["a"]["failed"], s["a"]["failovers"], s["b"]["served"]) == (1, 1, 1)
    assert any("failover: endpoint a failed" in r.getMessage() for r in caplog.records)
    assert not any(KEY_A in r.getMessage() or KEY_B in r.getMessage() for r in caplog.records)
    assert clock.slept == []


def test_429_retry_after_keeps_calls_away(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(429, **{"retry-after": "10"})
    fo = make(fake, clock)
    call(fo)
    fake.calls.clear()
    call(fo)  # a is within its retry-after: not even tried
    assert fake.seen == [("b", 200)]
    clock.now += 11
    del fake.faults["a.services.ai.azure.com"]
    fake.calls.clear()
    call(fo)
    assert fake.seen == [("a", 200)]
    assert fo.stats()["a"]["breaker"] == "closed"  # 429s do not open the breaker


def test_all_down_raises_last_error(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(500)
    fake.faults["b.services.ai.azure.com"] = status(503)
    fo = make(fake, clock)
    with pytest.raises(anthropic.InternalServerError) as err:
        call(fo)
    assert err.value.status_code == 503
    fake.faults["b.services.ai.azure.com"] = connect_error
    with pytest.raises(anthropic.APIConnectionError):
        call(fo)


def test_all_rate_limited_waits_retry_after_within_budget(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(429, **{"retry-after": "2"})
    fake.faults["b.services.ai.azure.com"] = status(429, **{"retry-after": "3"})
    fo = make(fake, clock, timeout=30.0)
    seen_a = []

    def once(request: httpx2.Request) -> httpx2.Response | None:
        seen_a.append(1)
        return status(429, **{"retry-after": "2"})(request) if len(seen_a) == 1 else None

    fake.faults["a.services.ai.azure.com"] = once
    assert call(fo).content[0].text == "pong"
    assert clock.slept == [2.0]
    assert fake.seen == [("a", 429), ("b", 429), ("a", 200)]


def test_rate_limited_beyond_budget_raises_429(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(429, **{"retry-after": "60"})
    fake.faults["b.services.ai.azure.com"] = status(429, **{"retry-after": "60"})
    fo = make(fake, clock, timeout=5.0)
    with pytest.raises(anthropic.RateLimitError):
        call(fo)
    assert clock.slept == []


def test_breaker_opens_and_half_opens(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = connect_error
    fo = make(fake, clock)  # failures=2, cool_down=30
    call(fo)
    call(fo)
    assert fo.stats()["a"]["breaker"] == "open"
    fake.calls.clear()
    call(fo)
    assert fake.seen == [("b", 200)]  # open: a is skipped
    clock.now += 31
    assert fo.stats()["a"]["breaker"] == "half_open"
    fake.calls.clear()
    call(fo)  # the probe fails: open again
    assert fake.seen == [("a", "ConnectError"), ("b", 200)]
    assert fo.stats()["a"]["breaker"] == "open"
    clock.now += 31
    del fake.faults["a.services.ai.azure.com"]
    fake.calls.clear()
    call(fo)  # the probe succeeds: closed
    assert fake.seen == [("a", 200)]
    assert fo.stats()["a"]["breaker"] == "closed"


def test_all_breakers_open_fails_fast(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = connect_error
    fake.faults["b.services.ai.azure.com"] = connect_error
    fo = make(fake, clock, breaker=CircuitBreaker(failures=1, cool_down=30))
    with pytest.raises(anthropic.APIConnectionError):
        call(fo)
    fake.calls.clear()
    from claude_foundry._client.failover import NoEndpointAvailableError

    with pytest.raises(NoEndpointAvailableError, match="no endpoint available"):
        call(fo)
    assert fake.seen == []


def test_400_is_not_failed_over(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(400)
    fo = make(fake, clock)
    with pytest.raises(anthropic.BadRequestError):
        call(fo)
    assert fake.seen == [("a", 400)]
    assert fo.stats()["a"]["breaker"] == "closed"
    assert fo.failovers == 0


def test_streaming_200_is_not_retried(fake: Fake, clock: Clock) -> None:
    def broken_stream(request: httpx2.Request) -> httpx2.Response:
        def chunks():  # type: ignore[no-untyped-def]
            yield sse("claude-sonnet-4-6").split("event: content_block_delta")[0].encode()
            raise httpx2.ReadError("connection reset")
        return httpx2.Response(200, content=chunks(), headers={"content-type": "text/event-stream"})

    fake.faults["a.services.ai.azure.com"] = broken_stream
    fo = make(fake, clock)
    with pytest.raises(anthropic.APIConnectionError), \
            fo.client("sonnet").messages.stream(model="sonnet", max_tokens=8, messages=MSG) as stream:
        stream.get_final_message()
    assert [h for h, _ in fake.seen] == ["a"]  # never sent again to b
    assert fo.failovers == 0


def test_streaming_failover_before_first_byte(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = status(503)
    fo = make(fake, clock)
    with fo.client("sonnet").messages.stream(model="sonnet", max_tokens=8, messages=MSG) as stream:
        assert stream.get_final_message().content[0].text == "pong"
    assert fake.seen == [("a", 503), ("b", 200)]


def cut_body(request: httpx2.Request) -> httpx2.Response:
    """Headers in, then the connection drops while the (non-streamed) body is read."""
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"id": "msg_1", '
        raise httpx2.ReadError("connection reset")
    return httpx2.Response(200, content=chunks(), headers={"content-type": "application/json"})


def test_body_cut_after_the_headers_is_not_retried(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = cut_body
    fo = make(fake, clock)
    with pytest.raises(anthropic.APIConnectionError):
        call(fo)
    assert fake.seen == [("a", 200)]  # it may have been processed: never sent again to b
    assert fo.failovers == 0
    assert fo.stats()["a"]["failed"] == 0


def test_async_body_cut_after_the_headers_is_not_retried(fake: Fake, clock: Clock) -> None:
    def async_cut_body(request: httpx2.Request) -> httpx2.Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b'{"id": "msg_1", '
            raise httpx2.ReadError("connection reset")
        return httpx2.Response(200, content=chunks(), headers={"content-type": "application/json"})

    fake.faults["a.services.ai.azure.com"] = async_cut_body
    fo = make(fake, clock)

    async def main() -> None:
        with pytest.raises(anthropic.APIConnectionError):
            await fo.async_client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=MSG)
        await fo.aclose()

    asyncio.run(main())
    assert fake.seen == [("a", 200)]
    assert fo.failovers == 0


def test_a_redirect_is_never_followed_nor_failed_over(fake: Fake, clock: Clock) -> None:
    def redirect_then_refuse(request: httpx2.Request) -> httpx2.Response:
        if "hop=2" not in str(request.url):
            return httpx2.Response(307, headers={"location": str(request.url.copy_add_param("hop", "2"))})
        raise httpx2.ConnectError("connection refused", request=request)

    fake.faults["a.services.ai.azure.com"] = redirect_then_refuse
    fo = make(fake, clock)
    with pytest.raises(rt.RedirectRefusedError) as err:  # a redirect is an error with words, never followed
        call(fo)
    assert err.value.status_code == 307
    assert "https://a.services.ai.azure.com" in str(err.value)
    assert "hop" not in str(err.value)
    assert fake.seen == [("a", 307)]  # no second hop, and b was not asked either
    assert fo.failovers == 0


def test_a_connection_error_on_the_401_retry_fails_over(fake: Fake, clock: Clock) -> None:
    fake.keys["a.services.ai.azure.com"] = KEY_A2  # a's key was rotated; the vault has the new one
    attempts: list[int] = []

    def refuse_the_retry(request: httpx2.Request) -> httpx2.Response | None:
        attempts.append(1)
        if len(attempts) > 1:
            raise httpx2.ConnectError("connection refused", request=request)
        return None  # the account answers (401: the old key)

    fake.faults["a.services.ai.azure.com"] = refuse_the_retry
    fo = make(fake, clock, key_reader_a=lambda: KEY_A2)
    assert call(fo).content[0].text == "pong"
    assert fake.seen == [("a", 401), ("a", "ConnectError"), ("b", 200)]
    assert fo.stats()["a"]["failovers"] == 1


def test_key_reread_on_401_per_endpoint(fake: Fake, clock: Clock) -> None:
    fake.keys["a.services.ai.azure.com"] = KEY_A2  # a's key was rotated; the vault has the new one
    fo = make(fake, clock, key_reader_a=lambda: KEY_A2)
    assert call(fo).content[0].text == "pong"
    assert fake.seen == [("a", 401), ("a", 200)]
    assert fo.stats()["a"]["served"] == 1
    assert fo.failovers == 0


def test_unknown_deployment(fake: Fake, clock: Clock) -> None:
    fo = make(fake, clock)
    with pytest.raises(rt.UnknownDeploymentError):
        fo.client("nope")
    with pytest.raises(rt.UnknownDeploymentError):
        fo.client().messages.create(model="nope", max_tokens=8, messages=MSG)
    assert fake.seen == []


def test_deployment_served_only_by_second(fake: Fake, clock: Clock) -> None:
    a, b = runtimes()
    b = rt.FoundryRuntime(c.Contract("b", b.base_url, {**DEP, "opus": c.DeploymentInfo("claude-opus-4-6", "1",
                                                                                       "opus")}, api_key=KEY_B))
    fo = FailoverRuntime([a, b], transport=fake, clock=clock)
    fo.client("opus").messages.create(model="opus", max_tokens=8, messages=MSG)
    assert fake.seen == [("b", 200)]
    assert fo.failovers == 0


def test_async_and_async_stream(fake: Fake, clock: Clock) -> None:
    fake.faults["a.services.ai.azure.com"] = connect_error
    fo = make(fake, clock)

    async def main() -> None:
        client = fo.async_client("sonnet")
        msg = await client.messages.create(model="sonnet", max_tokens=8, messages=MSG)
        assert msg.content[0].text == "pong"
        async with client.messages.stream(model="sonnet", max_tokens=8, messages=MSG) as stream:
            assert (await stream.get_final_message()).content[0].text == "pong"
        await fo.aclose()

    asyncio.run(main())
    s = fo.stats()
    assert s["b"]["served"] == 2
    assert s["a"]["failovers"] == 2
    assert s["a"]["breaker"] == "open"


def test_breaker_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="failures"):
        CircuitBreaker(failures=0)
    with pytest.raises(ValueError, match="cool_down"):
        CircuitBreaker(cool_down=-1)
    with pytest.raises(ValueError, match="at least one"):
        FailoverRuntime([])
