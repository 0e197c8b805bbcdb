"""Failover across several Foundry resources (stacks) serving the same logical deployment.

::

    from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime
    from claude_foundry._client.runtime import FoundryRuntime

    fo = FailoverRuntime([FoundryRuntime.from_key_vault(URL_EAST), FoundryRuntime.from_key_vault(URL_WEST)],
                         breaker=CircuitBreaker(failures=3, cool_down=30.0))
    client = fo.client("sonnet-prod")            # anthropic.AnthropicFoundry (async_client: the async one)
    client.messages.create(model="sonnet-prod", max_tokens=64, messages=[...])
    fo.stats()                                   # per endpoint: served, failed, failovers, breaker state

How: the returned client carries one SDK middleware that never sends anything itself. For each attempt it
picks, in order, the endpoints whose runtime serves the request's ``model`` and whose circuit breaker lets a
call through (closed, or half-open for one probe), and hands the request to that endpoint's own runtime client
(``max_retries=0``): its base URL, its auth (key or Entra ID), its 401 key re-read and its stream checks.
A 429, a 5xx, a connection error or a timeout *before the response headers arrived* moves to the next endpoint;
anything else (a 200, streaming or not, a 4xx) is returned as is. A stream is never retried once its headers
are in, nor a non-streaming call whose body broke off after the headers (it may have been processed).
A 429 is waited out (``retry-after``) only when no other endpoint is available and the wait fits the request's
timeout. The SDK's own retries stay off: the attempts are ours and bounded (each endpoint at most once per
call, plus at most one wait round after 429s).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from claude_foundry._client import _http, _sdk, _telemetry
from claude_foundry._client._middleware import _request_model, ssl_context
from claude_foundry._client._redact import install_log_redaction
from claude_foundry._errors import ClaudeFoundryError

if TYPE_CHECKING:  # pragma: no cover
    import anthropic

    from claude_foundry._client.runtime import FoundryRuntime

__all__ = ["CircuitBreaker", "FailoverRuntime", "NoEndpointAvailableError"]  # noqa: F822 (module __getattr__)

log = logging.getLogger("claude_foundry._client.failover")

#: statuses that move a call to the next endpoint (the service did not do the work)
FAILOVER_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
#: request budget when neither the call nor the runtimes set a timeout (the SDK's default)
DEFAULT_BUDGET = 600.0

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

#: The request extension where the marking transport keeps ``[headers received]`` for one attempt: a list
#: that the requests of its redirects share (httpx copies the extensions dict, not its values), False while a
#: request is out, True once its response headers are in. The failover loop reads it from the error's request.
HEADERS_RECEIVED = "claude_foundry.headers_received"


@dataclass(frozen=True)
class CircuitBreaker:
    """Breaker settings, one breaker per endpoint: open after ``failures`` consecutive failures; after
    ``cool_down`` seconds let one probe through (half-open); its success closes, its failure reopens."""

    failures: int = 3
    cool_down: float = 30.0

    def __post_init__(self) -> None:
        if self.failures < 1:
            raise ValueError("failures must be >= 1")
        if not 0 <= self.cool_down < float("inf"):
            raise ValueError("cool_down must be finite and >= 0")


class _Breaker:
    def __init__(self, config: CircuitBreaker, clock: Callable[[], float]) -> None:
        self.config, self.clock = config, clock
        self.lock = threading.Lock()
        self.state = CLOSED
        self.consecutive = 0
        self.opened_at = 0.0
        self.probing = False
        self.not_before = 0.0  # a 429's retry-after

    def current_state(self) -> str:
        with self.lock:
            if self.state == OPEN and self.clock() - self.opened_at >= self.config.cool_down:
                return HALF_OPEN
            return self.state

    def acquire(self, *, ignore_retry_after: bool = False) -> bool:
        """May a call go to this endpoint now? (Claims the half-open probe.)"""
        if self.state == CLOSED and (ignore_retry_after or not self.not_before):
            return True  # closed, no retry-after: nothing to claim or change (one read, no lock)
        with self.lock:
            now = self.clock()
            if not ignore_retry_after and now < self.not_before:
                return False
            if self.state == OPEN:
                if now - self.opened_at < self.config.cool_down:
                    return False
                self.state = HALF_OPEN
                self.probing = False
            if self.state == HALF_OPEN:
                if self.probing:
                    return False
                self.probing = True
            return True

    def success(self) -> None:
        if self.state == CLOSED and not (self.consecutive or self.not_before or self.probing):
            return  # already closed and clean: nothing to write (no lock)
        with self.lock:
            self.state, self.consecutive, self.probing, self.not_before = CLOSED, 0, False, 0.0

    def failure(self, retry_after: float | None = None, *, throttled: bool = False) -> bool:
        """Count a failure; True when the breaker (re)opened. A 429 (``throttled``) does not count toward
        opening: its ``retry-after`` keeps calls away instead (a half-open probe answered 429 reopens)."""
        with self.lock:
            now = self.clock()
            if retry_after:
                self.not_before = max(self.not_before, now + retry_after)
            if throttled and self.state != HALF_OPEN:
                return False
            self.consecutive += 1
            if self.state == HALF_OPEN or (self.state == CLOSED and self.consecutive >= self.config.failures):
                self.state, self.opened_at, self.probing = OPEN, now, False
                return True
            return False

    def release(self) -> None:
        """A claimed probe that was not used (another endpoint answered first): nothing else to undo."""
        with self.lock:
            self.probing = False


class _Endpoint:
    def __init__(self, runtime: FoundryRuntime, name: str, breaker: _Breaker) -> None:
        self.runtime, self.name, self.breaker = runtime, name, breaker
        self.lock = threading.Lock()
        self.served = self.failed = self.failovers = 0
        self.clients: dict[tuple[bool, float | None], Any] = {}
        self.deployments = frozenset(runtime.deployments)  # a contract's map does not change (its key may)

    def serves(self, model: str | None) -> bool:
        return not self.deployments or model is None or model in self.deployments

    def count(self, field: str) -> None:
        with self.lock:
            setattr(self, field, getattr(self, field) + 1)

    def count_served(self) -> None:
        with self.lock:
            self.served += 1


def _budget(request: Any, default: float | None) -> float:
    t = request.timeout
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return float(t)
    read = getattr(t, "read", None)
    if isinstance(read, (int, float)):
        return float(read)
    return default if default is not None else DEFAULT_BUDGET


def _marking(transport: Any, is_async: bool) -> Any:
    """Wrap a transport so an attempt's error tells whether the response headers had arrived (see
    :data:`HEADERS_RECEIVED`). Nothing else: no state of its own, nothing on the way back."""
    import httpx2

    if is_async:
        class AsyncMarking(httpx2.AsyncBaseTransport):
            async def handle_async_request(self, request: Any) -> Any:
                cell = request.extensions.get(HEADERS_RECEIVED)
                if cell is None:
                    cell = request.extensions[HEADERS_RECEIVED] = [False]
                else:
                    cell[0] = False  # a redirect's request: not answered yet
                response = await transport.handle_async_request(request)
                cell[0] = True
                return response

            async def aclose(self) -> None:
                await transport.aclose()

        return AsyncMarking()

    class Marking(httpx2.BaseTransport):
        def handle_request(self, request: Any) -> Any:
            cell = request.extensions.get(HEADERS_RECEIVED)
            if cell is None:
                cell = request.extensions[HEADERS_RECEIVED] = [False]
            else:
                cell[0] = False
            response = transport.handle_request(request)
            cell[0] = True
            return response

        def close(self) -> None:
            transport.close()

    return Marking()


def _headers_received(exc: BaseException) -> bool:
    """Whether the request that ``exc`` (an ``anthropic.APIConnectionError``) is about had its response headers
    in (a request that never reached the transport had not)."""
    extensions = getattr(getattr(exc, "request", None), "extensions", None)
    cell = extensions.get(HEADERS_RECEIVED) if isinstance(extensions, dict) else None
    return bool(cell and cell[0])


def __getattr__(name: str) -> Any:
    """``NoEndpointAvailableError``: an ``anthropic.APIConnectionError`` subclass, made on first use."""
    if name == "NoEndpointAvailableError":
        return _no_endpoint_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NO_ENDPOINT: list[type] = []


def _no_endpoint_error() -> type:
    if not _NO_ENDPOINT:
        import anthropic

        class NoEndpointAvailableError(ClaudeFoundryError, anthropic.APIConnectionError):
            """Every endpoint serving the deployment has its circuit breaker open (or is rate limited)."""

        NoEndpointAvailableError.__module__ = __name__
        _NO_ENDPOINT.append(NoEndpointAvailableError)
    return _NO_ENDPOINT[0]


class FailoverRuntime:
    """Clients that send each call to the first healthy endpoint (runtime) serving its deployment.

    ``runtimes``: :class:`FoundryRuntime` objects in order of preference (e.g. one stack per region).
    ``breaker``: :class:`CircuitBreaker` settings (one breaker per endpoint). ``timeout``: each attempt's and
    the call's budget when the call does not set one (default: the runtimes' ``timeout``, else 600 s).
    ``transport`` / ``async_transport``: an ``httpx2`` transport for every endpoint (tests); by default each
    endpoint gets the SDK's default transport trusting its runtime's ``ca_bundle``.
    """

    def __init__(self, runtimes: Sequence[FoundryRuntime], *, breaker: CircuitBreaker | None = None,
                 timeout: float | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 async_sleep: Callable[[float], Any] = asyncio.sleep,
                 transport: Any = None, async_transport: Any = None) -> None:
        if not runtimes:
            raise ValueError("FailoverRuntime needs at least one runtime")
        self.breaker = breaker or CircuitBreaker()
        self.timeout = timeout
        self._clock, self._sleep, self._async_sleep = clock, sleep, async_sleep
        self._transport, self._async_transport = transport, async_transport
        self._endpoints: list[_Endpoint] = []
        seen: dict[str, int] = {}
        for rt in runtimes:
            name = rt.resource or rt.base_url
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}#{seen[name]}"
            self._endpoints.append(_Endpoint(rt, name, _Breaker(self.breaker, clock)))
        self._lock = threading.Lock()

    @classmethod
    def from_key_vault(cls, vault_url: str | None = None, *, breaker: CircuitBreaker | None = None,
                       timeout: float | None = None, **runtime_kwargs: Any) -> FailoverRuntime:
        """Every account of one stack, in its order of preference, from its Key Vault contract (one account for a
        one-account stack): ``FoundryRuntime.from_key_vault(vault_url, **runtime_kwargs).accounts()``. The
        runtimes' ``timeout`` is ``timeout`` too."""
        from claude_foundry._client.runtime import FoundryRuntime

        runtime = FoundryRuntime.from_key_vault(vault_url, timeout=timeout, **runtime_kwargs)
        return cls(runtime.accounts(), breaker=breaker, timeout=timeout)

    def __repr__(self) -> str:
        return f"FailoverRuntime(endpoints={[e.name for e in self._endpoints]!r})"

    @property
    def endpoints(self) -> list[str]:
        return [e.name for e in self._endpoints]

    @property
    def runtimes(self) -> list[FoundryRuntime]:
        """The endpoints' runtimes, in order of preference."""
        return [e.runtime for e in self._endpoints]

    @property
    def deployments(self) -> list[str]:
        names: set[str] = set()
        for e in self._endpoints:
            names.update(e.runtime.deployments)
        return sorted(names)

    # -- counters --

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint (resource name): ``served`` (calls it answered), ``failed`` (attempts that failed
        over or ended the call with a failover-class error), ``failovers`` (calls moved away from it),
        ``breaker`` (closed, open, half_open), ``base_url``."""
        out: dict[str, dict[str, Any]] = {}
        for e in self._endpoints:
            with e.lock:
                out[e.name] = {"served": e.served, "failed": e.failed, "failovers": e.failovers,
                               "breaker": e.breaker.current_state(), "base_url": e.runtime.base_url}
        return out

    @property
    def failovers(self) -> int:
        return sum(e.failovers for e in self._endpoints)

    def reset_stats(self) -> None:
        for e in self._endpoints:
            with e.lock:
                e.served = e.failed = e.failovers = 0

    # -- clients --

    def _check(self, deployment: str | None) -> None:
        if deployment is None or any(e.serves(deployment) for e in self._endpoints):
            return
        from claude_foundry._client.runtime import UnknownDeploymentError

        raise UnknownDeploymentError(deployment, self.deployments, "any failover endpoint")

    def _inner(self, e: _Endpoint, is_async: bool) -> Any:
        key = (is_async, self.timeout)
        client = e.clients.get(key)  # made once per endpoint and kind; close() swaps the whole dict
        if client is not None:
            return client
        import anthropic
        import httpx2
        from anthropic import DEFAULT_CONNECTION_LIMITS

        rt = e.runtime
        verify: Any = ssl_context(rt.ca_bundle) if rt.ca_bundle else True
        where = _http.origin(rt.base_url)  # this endpoint's client sends only there, and follows no redirect
        if is_async:
            base = self._async_transport or httpx2.AsyncHTTPTransport(verify=verify, limits=DEFAULT_CONNECTION_LIMITS)
            http = _http.build_client(anthropic.DefaultAsyncHttpxClient, where, is_async=True,
                                      transport=_marking(base, True))
            client = rt.async_client(max_retries=0, timeout=self.timeout, http_client=http)
        else:
            base = self._transport or httpx2.HTTPTransport(verify=verify, limits=DEFAULT_CONNECTION_LIMITS)
            http = _http.build_client(anthropic.DefaultHttpxClient, where, is_async=False,
                                      transport=_marking(base, False))
            client = rt.client(max_retries=0, timeout=self.timeout, http_client=http)
        with e.lock:
            return e.clients.setdefault(key, client)

    def _outer_kwargs(self, deployment: str | None) -> dict[str, Any]:
        self._check(deployment)
        install_log_redaction()
        first = self._endpoints[0].runtime
        kwargs: dict[str, Any] = {"base_url": first.base_url + "/", "max_retries": 0,
                                  # never called: the failover middleware sends through the endpoints' clients
                                  "azure_ad_token_provider": _never}
        t = self.timeout if self.timeout is not None else first.timeout
        if t is not None:
            kwargs["timeout"] = t
        return kwargs

    def client(self, deployment: str | None = None) -> anthropic.AnthropicFoundry:
        """An ``anthropic.AnthropicFoundry`` whose calls fail over across the endpoints."""
        import anthropic

        return anthropic.AnthropicFoundry(middleware=[_FailoverMiddleware(self)], **self._outer_kwargs(deployment))

    def async_client(self, deployment: str | None = None) -> anthropic.AsyncAnthropicFoundry:
        """An ``anthropic.AsyncAnthropicFoundry`` whose calls fail over across the endpoints."""
        import anthropic

        kwargs = self._outer_kwargs(deployment)
        kwargs["azure_ad_token_provider"] = _anever
        return anthropic.AsyncAnthropicFoundry(middleware=[_FailoverMiddleware(self)], **kwargs)

    def close(self) -> None:
        """Close the endpoints' sync clients (async ones: :meth:`aclose`)."""
        for e in self._endpoints:
            with e.lock:
                sync = [c for (is_async, _), c in e.clients.items() if not is_async]
                e.clients = {k: v for k, v in e.clients.items() if k[0]}
            for c in sync:
                c.close()

    async def aclose(self) -> None:
        for e in self._endpoints:
            with e.lock:
                clients = list(e.clients.items())
                e.clients = {}
            for (is_async, _), c in clients:
                if is_async:
                    await c.close()
                else:
                    c.close()

    def __enter__(self) -> FailoverRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the failover loop --

    def _candidates(self, model: str | None) -> list[_Endpoint]:
        cands = [e for e in self._endpoints if e.serves(model)]
        if not cands:
            self._check(model)
        return cands

    def _outcome(self, e: _Endpoint, response: Any, exc: BaseException | None) -> tuple[str, float | None]:
        """``done`` (return/raise as is), or ``next`` with the retry-after of a 429."""
        if exc is not None:
            import anthropic

            if not isinstance(exc, anthropic.APIConnectionError) or _headers_received(exc):
                return "done", None  # the headers were in: the request may have been processed
            return "next", None
        status = response.status_code
        if status in FAILOVER_STATUSES or status >= 500:
            return "next", _http.retry_after(response.http_response.headers) if status == 429 else None
        return "done", None

    def _record_failure(self, e: _Endpoint, what: str, retry_after: float | None, throttled: bool) -> None:
        e.count("failed")
        was = e.breaker.state
        traced = _telemetry.enabled()
        if traced:
            _telemetry.event(_telemetry.EVENT_ATTEMPT_FAILED, {"claude_foundry.endpoint": e.name,
                                                              "claude_foundry.failure": what})
        if e.breaker.failure(retry_after, throttled=throttled):
            if traced:
                _telemetry.event(_telemetry.EVENT_BREAKER, {"claude_foundry.endpoint": e.name,
                                                           "claude_foundry.breaker.state": OPEN,
                                                           "claude_foundry.breaker.was": was})
            if was == HALF_OPEN:
                log.info("circuit breaker for endpoint %s re-opened: the half-open probe failed (%s)", e.name, what)
            else:
                log.warning("circuit breaker for endpoint %s opened after %d consecutive failure(s) (last: %s)",
                            e.name, e.breaker.consecutive, what)

    @staticmethod
    def _moved(prev: tuple[Any, BaseException | None, _Endpoint, str], to: _Endpoint) -> None:
        prev[2].count("failovers")
        if _telemetry.enabled():
            _telemetry.event(_telemetry.EVENT_FAILOVER, {"claude_foundry.endpoint.from": prev[2].name,
                                                        "claude_foundry.endpoint.to": to.name,
                                                        "claude_foundry.failure": prev[3]})
        log.info("failover: endpoint %s failed (%s); trying endpoint %s", prev[2].name, prev[3], to.name)

    @staticmethod
    def _describe(response: Any, exc: BaseException | None) -> str:
        if exc is not None:
            cause = exc.__cause__
            return f"{type(exc).__name__}" + (f" ({type(cause).__name__})" if cause is not None else "")
        ra = _http.retry_after(response.http_response.headers)
        return f"HTTP {response.status_code}" + (f", retry-after {ra:g}s" if ra is not None else "")

    def _plan(self, cands: list[_Endpoint], tried: set[int], ignore_retry_after: bool) -> _Endpoint | None:
        for i, e in enumerate(cands):
            if i in tried:
                continue
            if e.breaker.acquire(ignore_retry_after=ignore_retry_after):
                tried.add(i)
                return e
        return None

    def _give_up(self, request: Any, cands: list[_Endpoint]) -> BaseException:
        import httpx2

        url = cands[0].runtime.base_url + str(request.url)
        names = ", ".join(f"{e.name} ({e.breaker.current_state()})" for e in cands)
        error: BaseException = _no_endpoint_error()(message=f"no endpoint available for this call: {names}",
                                                    request=httpx2.Request(request.method, url))
        return error

    def _attempts(self, request: Any, model: str | None, start: float,
                  made: tuple[_Endpoint, Any, BaseException | None] | None = None,
                  ) -> Generator[tuple[str, Any], Any, Any]:
        """The failover loop, shared by the sync and async paths: it yields what to do — ``("call", endpoint)``
        (answered with ``(response, exc)``), ``("sleep", seconds)``, ``("close", response)`` — and returns the
        response to hand back (or raises the error to surface). ``made``: ``(endpoint, response, exc)`` of the
        attempt :meth:`handle` already made at the preferred endpoint (the first candidate), judged first."""
        cands = self._candidates(model)
        tried: set[int] = set()
        limited: list[tuple[int, float]] = []
        last: tuple[Any, BaseException | None, _Endpoint, str] | None = None
        waited = False
        e: _Endpoint | None
        while True:
            if made is not None:
                e, response, exc = made
                made = None
                tried.add(0)
            else:
                e = self._plan(cands, tried, ignore_retry_after=False)
                if e is None and not waited and limited:
                    # only 429s left: wait out the shortest retry-after if it fits the budget
                    idx, ra = min(limited, key=lambda x: x[1])
                    if self._clock() - start + ra <= _budget(request, self.timeout):
                        waited = True
                        log.info("every endpoint is rate limited; waiting %.3gs (retry-after) for %s", ra,
                                 cands[idx].name)
                        yield ("sleep", ra)
                        tried.discard(idx)
                        limited = []
                        e = self._plan(cands, tried, ignore_retry_after=True)
                        if e is not None and last is not None:
                            if last[0] is not None:
                                yield ("close", last[0])
                            last = None
                if e is None:
                    if last is None:
                        raise self._give_up(request, cands)
                    response, exc = last[0], last[1]
                    if exc is not None:
                        raise exc
                    return response
                if last is not None:
                    self._moved(last, e)
                    if last[0] is not None:
                        yield ("close", last[0])
                response, exc = yield ("call", e)
            verdict, retry_after = self._outcome(e, response, exc)
            if verdict == "done":
                self._settle(e, response, exc)
                if exc is not None:
                    raise exc
                return response
            what = self._describe(response, exc)
            self._record_failure(e, what, retry_after, response is not None and response.status_code == 429)
            if retry_after is not None:
                limited.append((cands.index(e), retry_after))
            last = (response, exc, e, what)

    def _call(self, e: _Endpoint, request: Any) -> tuple[Any, BaseException | None]:
        """One attempt at ``e`` through its own client: ``(response, None)`` or ``(None, error)``."""
        try:
            return _sdk.send(self._inner(e, False), request), None
        except Exception as err:
            return None, err

    async def _call_async(self, e: _Endpoint, request: Any) -> tuple[Any, BaseException | None]:
        try:
            return await _sdk.send_async(self._inner(e, True), request), None
        except Exception as err:
            return None, err

    # The healthy path of ``handle`` / ``handle_async`` (the preferred endpoint serves the model, its breaker is
    # closed, it answers without a failover-class status) is written out flat: on a real call each Python step
    # there costs several times what it does in a tight loop (the caches are cold once the response is in).
    # Anything else goes on in the loop (:meth:`_attempts`), with the attempt already made.

    def _first_ready(self, model: str | None) -> _Endpoint | None:
        """The preferred endpoint when it serves ``model`` and its breaker lets the call through, else None."""
        e = self._endpoints[0]
        b = e.breaker
        if ((not e.deployments or model is None or model in e.deployments)  # e.serves(model)
                and ((b.state == CLOSED and not b.not_before) or b.acquire())):
            return e
        return None

    @staticmethod
    def _served_first(e: _Endpoint, response: Any) -> bool:
        """Settle a call the preferred endpoint answered: True (counted, breaker reset) unless it must fail over."""
        status = response.http_response.status_code
        if status >= 500 or status in FAILOVER_STATUSES:
            return False
        b = e.breaker
        if b.state != CLOSED or b.consecutive or b.not_before or b.probing:
            _breaker_closed(e)
        with e.lock:
            e.served += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("endpoint %s served the call (HTTP %s)", e.name, status)
        return True

    def handle(self, request: Any, call_next: Any) -> Any:
        if _telemetry.enabled() and _telemetry.ACTIVE.get() is None:  # one check per call while off
            return _telemetry.traced(self.handle, request, call_next, failover=self)
        model = _model_of(request)
        start = self._clock()
        made: tuple[_Endpoint, Any, BaseException | None] | None = None
        e = self._first_ready(model)
        if e is not None:
            try:
                response = _sdk.send(e.clients.get((False, self.timeout)) or self._inner(e, False), request)
            except Exception as err:
                made = (e, None, err)
            else:
                if self._served_first(e, response):
                    return response
                made = (e, response, None)
        steps = self._attempts(request, model, start, made)
        reply: Any = None
        while True:
            try:
                op, arg = steps.send(reply)
            except StopIteration as done:
                return done.value
            reply = None
            if op == "sleep":
                self._sleep(arg)
            elif op == "close":
                arg.http_response.close()
            else:
                reply = self._call(arg, request)

    async def handle_async(self, request: Any, call_next: Any) -> Any:
        if _telemetry.enabled() and _telemetry.ACTIVE.get() is None:
            return await _telemetry.traced_async(self.handle_async, request, call_next, failover=self)
        model = _model_of(request)
        start = self._clock()
        made: tuple[_Endpoint, Any, BaseException | None] | None = None
        e = self._first_ready(model)
        if e is not None:
            try:
                client = e.clients.get((True, self.timeout)) or self._inner(e, True)
                response = await _sdk.send_async(client, request)
            except Exception as err:
                made = (e, None, err)
            else:
                if self._served_first(e, response):
                    return response
                made = (e, response, None)
        steps = self._attempts(request, model, start, made)
        reply: Any = None
        while True:
            try:
                op, arg = steps.send(reply)
            except StopIteration as done:
                return done.value
            reply = None
            if op == "sleep":
                await self._async_sleep(arg)
            elif op == "close":
                await arg.http_response.aclose()
            else:
                reply = await self._call_async(arg, request)

    def _served(self, e: _Endpoint, response: Any) -> None:
        _breaker_closed(e)  # it answered (2xx or a 4xx that is the caller's): the endpoint is up
        e.count_served()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("endpoint %s served the call (HTTP %s)", e.name, response.status_code)

    def _settle(self, e: _Endpoint, response: Any, exc: BaseException | None) -> None:
        if exc is None:
            self._served(e, response)
        else:
            e.breaker.release()


def _breaker_closed(e: _Endpoint) -> None:
    """The endpoint answered: its breaker closes (an event on the traced call when it was not closed)."""
    was = e.breaker.current_state()
    e.breaker.success()
    if was != CLOSED and _telemetry.enabled():
        _telemetry.event(_telemetry.EVENT_BREAKER, {"claude_foundry.endpoint": e.name,
                                                   "claude_foundry.breaker.state": CLOSED,
                                                   "claude_foundry.breaker.was": was})


def _model_of(request: Any) -> str | None:
    """The request's ``model``: straight from the JSON body when it is there (the hot path), else as
    :func:`_request_model` finds it."""
    body = request.options.json_data
    model = body.get("model") if type(body) is dict else None
    return model if type(model) is str else _request_model(request)


def _never() -> str:  # pragma: no cover - the outer client never sends
    raise RuntimeError("the failover client sends through its endpoints' clients")


async def _anever() -> str:  # pragma: no cover
    raise RuntimeError("the failover client sends through its endpoints' clients")


def _middleware_class() -> type:
    from anthropic import Middleware

    class FailoverMiddleware(Middleware):
        def __init__(self, runtime: FailoverRuntime) -> None:
            self.runtime = runtime
            # the SDK calls ``middleware.handle`` / ``handle_async``: straight to the runtime's, one call less per
            # call (the methods below say what they are, and are what the SDK's checks look at)
            self.handle = runtime.handle  # type: ignore[method-assign]  # on purpose: see the comment above
            self.handle_async = runtime.handle_async  # type: ignore[method-assign]  # as above

        def handle(self, request: Any, call_next: Any) -> Any:
            return self.runtime.handle(request, call_next)

        async def handle_async(self, request: Any, call_next: Any) -> Any:
            return await self.runtime.handle_async(request, call_next)

    return FailoverMiddleware


_MW: list[type] = []


def _FailoverMiddleware(runtime: FailoverRuntime) -> Any:
    """The SDK middleware (its class made once, on first use: importing this module does not import anthropic)."""
    if not _MW:
        _MW.append(_middleware_class())
    return _MW[0](runtime)
