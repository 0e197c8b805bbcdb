"""How a runtime's clients send requests: the shared key holder, the middleware that checks the deployment
and re-reads the key once on 401, and the request helpers (key headers, the model of a request, the TLS
context trusting an extra CA)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import re
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from claude_foundry._client import _sdk, _telemetry
from claude_foundry._errors import ClaudeFoundryError

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry._client.runtime import FoundryRuntime

#: The runtime's logger (the name users configure), also for the key re-reads made here.
log = logging.getLogger("claude_foundry._client.runtime")

#: Minimum seconds between two re-reads of the key secret triggered by 401 answers (a wrong key that is not
#: being rotated must not turn every call into a Key Vault read).
KEY_REREAD_MIN_INTERVAL = 2.0
#: Minimum seconds between two re-reads of the deployment map triggered by 404 answers (coalesced across calls).
MAP_REREAD_MIN_INTERVAL = 1.0


#: Seconds a token request may take when the runtime has no ``timeout`` (the SDK's own default is 10 minutes).
DEFAULT_TOKEN_TIMEOUT = 60.0


class TokenTimeoutError(ClaudeFoundryError, TimeoutError):
    """The credential did not produce an Entra ID token in time (its token endpoint hangs or is unreachable)."""

    def __init__(self, credential: str, scope: str, timeout: float) -> None:
        self.credential, self.scope, self.timeout = credential, scope, timeout
        super().__init__(f"the Entra ID token request ({credential}, scope {scope}) did not answer within "
                         f"{timeout:g}s: the token endpoint (login.microsoftonline.com, the managed identity "
                         "endpoint, or the Azure CLI) hangs or is unreachable from here")


_TOKEN_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="claude-foundry-token")


def bounded_token_provider(provider: Callable[[], str], timeout: float, credential: str,
                           scope: str) -> Callable[[], str]:
    """``provider`` with a deadline: :class:`TokenTimeoutError` after ``timeout`` seconds (the request itself
    goes on in a worker thread until the credential's own timeouts end it)."""

    def bounded() -> str:
        future = _TOKEN_POOL.submit(provider)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            raise TokenTimeoutError(credential, scope, timeout) from None

    return bounded


def async_bounded_token_provider(provider: Callable[[], str], timeout: float, credential: str,
                                 scope: str) -> Callable[[], Any]:
    """The async form of :func:`bounded_token_provider` (the request runs in the token worker pool, not the
    event loop's default executor, so a hanging credential does not hold ``asyncio.run`` at exit)."""

    async def bounded() -> str:
        try:
            return await asyncio.wait_for(asyncio.wrap_future(_TOKEN_POOL.submit(provider)), timeout)
        except asyncio.TimeoutError:
            raise TokenTimeoutError(credential, scope, timeout) from None

    return bounded


_STREAM_ERROR: list[type] = []


def stream_interrupted_error() -> type:
    """``StreamInterruptedError``, an ``anthropic.APIConnectionError`` subclass (made once, lazily): the event
    stream of a Messages call broke off (connection cut, or the stream ended before ``message_stop``)."""
    if not _STREAM_ERROR:
        import anthropic

        class StreamInterruptedError(ClaudeFoundryError, anthropic.APIConnectionError):
            """The Messages event stream broke off before ``message_stop``."""

        StreamInterruptedError.__module__ = "claude_foundry._client.runtime"
        _STREAM_ERROR.append(StreamInterruptedError)
    return _STREAM_ERROR[0]


_REDIRECT_ERROR: list[type] = []


def redirect_refused_error() -> type:
    """``RedirectRefusedError``, an ``anthropic.APIStatusError`` subclass (made once, lazily): the endpoint
    answered a 3xx, which the runtime never follows (the key or token would go with it)."""
    if not _REDIRECT_ERROR:
        import anthropic

        class RedirectRefusedError(ClaudeFoundryError, anthropic.APIStatusError):
            """The endpoint answered with a redirect; it was not followed."""

        RedirectRefusedError.__module__ = "claude_foundry._client.runtime"
        _REDIRECT_ERROR.append(RedirectRefusedError)
    return _REDIRECT_ERROR[0]


def redirect_words(status: int, source: str, target: str) -> str:
    """What a redirect from ``source`` to ``target`` (origins only: never a path or query) means."""
    return (f"{status} redirect from {source} to {target}, not followed: Foundry's Messages API never redirects, "
            "and the key or token is never sent to another origin or over http; a proxy or gateway in between "
            "answered, or the base URL is wrong (it must be https://<resource>.services.ai.azure.com/anthropic)")


def _refuse_redirect(http: Any) -> BaseException:
    from claude_foundry._client._http import origin, redirect_target

    words = redirect_words(http.status_code, origin(http.request.url), redirect_target(http))
    error: BaseException = redirect_refused_error()(words, response=http, body=None)
    return error


_TERMINAL_EVENTS = (b"message_stop", b"error")
#: How much of an event-stream line the watch looks at (``event: <name>`` or ``data: {"type": "<name>"``).
_LINE_PREFIX = 256
_DATA_TYPE = re.compile(rb'^data:\s*\{\s*"type"\s*:\s*"([A-Za-z_]+)"')


class _EventWatch:
    """Watches SSE lines for the terminal event; says what is wrong when the stream ends without it."""

    def __init__(self) -> None:
        self.partial = b""
        self.events = 0
        self.terminal = False

    def feed(self, chunk: bytes) -> None:
        """Linear in the bytes fed: of a line not ended yet only its first :data:`_LINE_PREFIX` bytes are kept
        (all that is matched), so a stream without newlines is not copied over and over."""
        if self.terminal:
            return
        lines = (self.partial + chunk).split(b"\n")
        self.partial = lines.pop()[:_LINE_PREFIX]
        for line in lines:
            line = line.rstrip(b"\r")
            name = line[6:].strip() if line.startswith(b"event:") else None
            if name is None:
                m = _DATA_TYPE.match(line)
                name = m.group(1) if m else None
            if name is not None:
                self.events += 1
                if name in _TERMINAL_EVENTS:
                    self.terminal = True
                    return

    def problem(self) -> str | None:
        if self.terminal:
            return None
        self.feed(b"\n")
        if self.terminal:
            return None
        return (f"stream interrupted: the event stream ended after {self.events} event(s) without message_stop"
                if self.events else "stream interrupted: the response has no Messages events (malformed stream)")


def _interrupted(request: Any, message: str, cause: BaseException | None = None) -> BaseException:
    import anthropic
    import httpx2

    if isinstance(cause, httpx2.TimeoutException):
        return anthropic.APITimeoutError(request=request)
    error: BaseException = stream_interrupted_error()(message=message, request=request)
    return error


def _guard_stream(response: Any) -> None:
    """Make a Messages event stream fail as the SDK fails (an ``APIConnectionError`` subclass) when it breaks
    off, instead of a transport exception or the SDK's ``AssertionError`` on a stream without events."""
    http = response.http_response
    if http.status_code != 200 or "text/event-stream" not in http.headers.get("content-type", ""):
        return  # not an event stream (the middleware checks this much inline before calling)
    import httpx2

    request = http.request
    if _sdk.body_in_memory(http):  # already in memory (a mock transport): check it whole
        watch = _EventWatch()
        watch.feed(http.content)
        problem = watch.problem()
        if problem:
            raise _interrupted(request, problem)
        return
    if http.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return  # compressed bytes: leave the checks to the SDK
    inner = http.stream
    watch = _EventWatch()

    def broken(exc: Exception) -> BaseException:
        return _interrupted(request, f"stream interrupted: {type(exc).__name__}: the connection broke off after "
                            f"{watch.events} event(s)", exc)

    def check_end() -> None:
        problem = watch.problem()
        if problem:
            raise _interrupted(request, problem)

    class GuardedStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in inner:
                    watch.feed(chunk)
                    yield chunk
            except httpx2.TransportError as exc:
                raise broken(exc) from exc
            check_end()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in inner:
                    watch.feed(chunk)
                    yield chunk
            except httpx2.TransportError as exc:
                raise broken(exc) from exc
            check_end()

        def close(self) -> None:
            inner.close()

        async def aclose(self) -> None:
            await inner.aclose()

    http.stream = GuardedStream()


_SSL_LOCK = threading.Lock()
_SSL_CONTEXTS: dict[str, ssl.SSLContext] = {}


def ssl_context(ca_bundle: str) -> ssl.SSLContext:
    """The system trust store plus ``ca_bundle`` (verification stays on), cached per bundle path."""
    with _SSL_LOCK:
        ctx = _SSL_CONTEXTS.get(ca_bundle)
        if ctx is None:
            ctx = ssl.create_default_context()
            ctx.load_verify_locations(cafile=ca_bundle)
            _SSL_CONTEXTS[ca_bundle] = ctx
        return ctx


# --- Key holder and the middleware that uses it ---------------------------------------------------


class KeyHolder:
    """The current key, shared by every client of one runtime; re-reads it on 401 (coalesced)."""

    def __init__(self, key: str | None, reader: Callable[[], str | None] | None,
                 on_new_key: Callable[[str], None] | None = None) -> None:
        self._key = key
        self._reader = reader
        self._on_new_key = on_new_key
        self._lock = threading.Lock()
        self._last_read = float("-inf")
        self.rereads = 0

    def __repr__(self) -> str:
        return f"<KeyHolder key={'set' if self._key else 'unset'} rereads={self.rereads}>"

    @property
    def current(self) -> str | None:
        return self._key

    @property
    def can_refresh(self) -> bool:
        return self._reader is not None

    def refresh(self, stale: str) -> str | None:
        """A fresh key to retry with after ``stale`` was refused, or None when there is none."""
        if self._reader is None:
            return None
        with self._lock:
            if self._key and self._key != stale:
                return self._key  # another call already re-read it
            now = time.monotonic()
            if now - self._last_read < KEY_REREAD_MIN_INTERVAL:
                return None
            self._last_read = now
            self.rereads += 1
            try:
                new = self._reader()
            except Exception as exc:  # the caller gets the 401; say why the re-read did not help
                log.warning("re-reading the Foundry key after a 401 failed: %s", type(exc).__name__)
                return None
            if not new or new == stale:
                log.info("Foundry answered 401; the key secret is unchanged")
                return None
            self._key = new
            log.info("Foundry answered 401; re-read the rotated key from Key Vault, retrying once")
        if self._on_new_key is not None:
            self._on_new_key(new)
        return new


#: Request header names that carry the key (lower case, str or bytes).
_KEY_HEADERS = frozenset({"x-api-key", "api-key", b"x-api-key", b"api-key"})
#: Header names seen on requests that are no key header (a call's header names are nearly always the same few:
#: one set lookup instead of lower-casing each name on every call). Bounded.
_NOT_KEY_HEADERS: set[Any] = set()
_NOT_KEY_HEADERS_MAX = 512


def _carries_key_header(request: Any) -> bool:
    """Whether the request's own headers (``extra_headers``) name a key header (any case)."""
    headers = request.options.headers
    if not headers or (type(headers) is not dict and not isinstance(headers, Mapping)):  # NOT_GIVEN / empty
        return False
    if _NOT_KEY_HEADERS.issuperset(headers):
        return False
    for name in headers:
        if isinstance(name, (str, bytes)) and name.lower() in _KEY_HEADERS:
            return True
    if len(_NOT_KEY_HEADERS) < _NOT_KEY_HEADERS_MAX:
        _NOT_KEY_HEADERS.update(headers)
    return False


def _with_options(request: Any, **update: Any) -> Any:
    """A new request whose options differ by ``update`` (``headers`` or ``json_data``). The SDK's
    ``APIRequest.copy`` deep-copies the whole JSON body (the messages) on every call; the options are copied
    shallowly here and the rest is shared (nothing mutates it). Falls back to ``copy`` if the SDK's request type
    changes shape."""
    try:
        options = request.options.model_copy(update=update)
        return type(request)(options=options, cast_to=request.cast_to, stream=request.stream,
                             stream_cls=request.stream_cls, retries_taken=request.retries_taken)
    except (AttributeError, TypeError):
        return request.copy(**update)


def _with_key(request: Any, key: str) -> Any:
    """``request`` sending ``key`` (``x-api-key`` and ``api-key``): the same request when it already does."""
    if request.headers.get("x-api-key") == key and request.headers.get("api-key", key) == key:
        return request
    return _with_options(request, headers={**request.headers, "x-api-key": key, "api-key": key})


def _with_model(request: Any, name: str) -> Any:
    """``request`` with the body's ``model`` set to ``name`` (the physical deployment of a moved logical name).
    A new request: the caller's body and options are shared by failover attempts and never changed."""
    return _with_options(request, json_data={**request.options.json_data, "model": name})


def _request_model(request: Any) -> str | None:
    """The ``model`` of a request's JSON body (None without one); reads the body, never copies or parses it."""
    body = request.options.json_data  # what ``request.json`` returns, without the property call
    if type(body) is dict or isinstance(body, Mapping):
        model = body.get("model")
        return model if isinstance(model, str) else None
    return None


def _sent_key(response: Any) -> str | None:
    """The key an answered request actually carried."""
    try:
        key: str | None = response.http_response.request.headers.get("x-api-key")
        return key
    except AttributeError:  # pragma: no cover - an unusual response object
        return None


def _after_not_found(runtime: FoundryRuntime, logical: str, sent: str | None) -> str | None:
    """A call for ``logical`` (sent as ``sent``) answered 404: re-read the deployment map (at most one read per
    :data:`MAP_REREAD_MIN_INTERVAL`, whoever asks) and return the name to retry with when the logical name now
    maps to another deployment; None otherwise (the 404 goes back to the caller as it came)."""
    try:
        runtime.refresh_deployments(min_interval=MAP_REREAD_MIN_INTERVAL)
        wire = runtime.wire_name(logical)
    except Exception as exc:  # the vault did not answer, or the name left the map: the caller gets the 404
        log.warning("after a 404, re-reading the deployment map did not help (%s)", type(exc).__name__)
        return None
    if wire == sent:
        return None
    log.info("deployment %s moved to %s; retrying once", logical, wire)
    return wire


def _moved_event(runtime: FoundryRuntime, logical: str, wire: str) -> None:
    if _telemetry.enabled():
        _telemetry.event(_telemetry.EVENT_DEPLOYMENT_MOVED, {
            _telemetry.DEPLOYMENT: wire, "claude_foundry.logical": logical, _telemetry.ACCOUNT: runtime.account})


def _reread_event(runtime: FoundryRuntime) -> None:
    if _telemetry.enabled():
        _telemetry.event(_telemetry.EVENT_KEY_REREAD, {_telemetry.ACCOUNT: runtime.account})


def build_middleware(runtime: FoundryRuntime) -> Any:
    """The middleware of one client of ``runtime`` (built by :meth:`FoundryRuntime.client` right after the
    client's own ``api_key``, the runtime's current key, was chosen)."""
    from anthropic import Middleware

    keys = runtime._keys
    uses_key = runtime.uses_key  # fixed when the runtime is made
    follows = runtime.follows_moves

    class FoundryRuntimeMiddleware(Middleware):
        """Checks the deployment name before sending; with key auth sends the current key and, on 401,
        re-reads the key once (coalesced across calls) and retries the attempt once; guards event streams
        (:func:`_guard_stream`).

        The client already sends the key it was made with (``built``): while that is the current key and
        the call adds no key header of its own, the request goes out as is (no copy of its options). After a
        rotation the current key is put on each request; if a 401 shows that the client sent some other key,
        the key is put on every request from then on.

        This runs on every call: it does as little as it can there (on a real call each Python step costs
        several times what it does in a tight loop, the caches being cold)."""

        def __init__(self) -> None:
            self.built = keys.current if uses_key else None

        def _stale(self, response: Any, key: str, injected: bool) -> str:
            """The refused key: the one put on the request, else the one the client itself sent."""
            if injected:
                return key
            sent = _sent_key(response)
            if sent and sent != key:
                self.built = None  # this client (or a copy of it) sends another key: set it on every call
                return sent
            return key

        def _prepare(self, request: Any) -> tuple[Any, str | None, bool]:
            """Before sending: the deployment check and the name on the wire (:meth:`FoundryRuntime.wire_name`),
            and the key put on the request when the client was built with another one or the call carries its
            own. (request, key, whether it was put)."""
            options = request.options
            # never follow a redirect, whatever the HTTP client's own setting (a caller's client may follow):
            # the SDK passes this request option to httpx2's send (this attempt's own copy of the options)
            options.follow_redirects = False
            body = options.json_data
            model = body.get("model") if type(body) is dict else _request_model(request)
            if isinstance(model, str):
                wire = runtime.wire_name(model)  # raises UnknownDeploymentError, no network
                if wire != model:  # a moved logical name: the physical deployment goes on the wire
                    request = _with_model(request, wire)
            key = keys._key if uses_key else None
            injected = False
            if key:
                headers = request.options.headers  # the call's own: replaced if they carry a key
                if key != self.built or (headers and not (type(headers) is dict and _NOT_KEY_HEADERS.issuperset(
                        headers)) and _carries_key_header(request)):
                    request, injected = _with_key(request, key), True
            return request, key, injected

        def handle(self, request: Any, call_next: Any) -> Any:
            if _telemetry.enabled() and _telemetry.ACTIVE.get() is None:  # one check per call while off
                return _telemetry.traced(self.handle, request, call_next, runtime=runtime)
            logical = _request_model(request)
            request, key, injected = self._prepare(request)
            response = call_next(request)
            http = response.http_response
            if http.status_code == 404 and logical is not None and follows:
                again = _after_not_found(runtime, logical, _request_model(request))
                if again is not None:
                    _moved_event(runtime, logical, again)
                    http.close()
                    request = _with_model(request, again)
                    response = call_next(request)
                    http = response.http_response
            if key and http.status_code == 401 and keys.can_refresh:
                new = keys.refresh(self._stale(response, key, injected))
                if new:
                    _reread_event(runtime)
                    http.close()
                    response = call_next(_with_key(request, new))
                    http = response.http_response
            if 300 <= http.status_code < 400:
                http.close()
                raise _refuse_redirect(http)
            if http.status_code == 200 and "text/event-stream" in http.headers.get("content-type", ""):
                _guard_stream(response)
            return response

        async def handle_async(self, request: Any, call_next: Any) -> Any:
            if _telemetry.enabled() and _telemetry.ACTIVE.get() is None:
                return await _telemetry.traced_async(self.handle_async, request, call_next, runtime=runtime)
            logical = _request_model(request)
            request, key, injected = self._prepare(request)
            response = await call_next(request)
            http = response.http_response
            if http.status_code == 404 and logical is not None and follows:
                again = await asyncio.to_thread(_after_not_found, runtime, logical, _request_model(request))
                if again is not None:
                    _moved_event(runtime, logical, again)
                    await http.aclose()
                    request = _with_model(request, again)
                    response = await call_next(request)
                    http = response.http_response
            if key and http.status_code == 401 and keys.can_refresh:
                new = await asyncio.to_thread(keys.refresh, self._stale(response, key, injected))
                if new:
                    _reread_event(runtime)
                    await http.aclose()
                    response = await call_next(_with_key(request, new))
                    http = response.http_response
            if 300 <= http.status_code < 400:
                await http.aclose()
                raise _refuse_redirect(http)
            if http.status_code == 200 and "text/event-stream" in http.headers.get("content-type", ""):
                _guard_stream(response)
            return response

    return FoundryRuntimeMiddleware()
