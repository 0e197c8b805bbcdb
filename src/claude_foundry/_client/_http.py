"""The one adapter between the runtime and its HTTP library (``httpx2``, what the anthropic SDK is built on):
where a Foundry call may go, and how much of an answer (bytes, seconds) it takes.

* **Credentials stay at their origin.** Every client the runtime builds has ``follow_redirects=False``, and the
  runtime's middleware sets the request option ``follow_redirects=False`` on every call (so a caller's own
  ``http_client`` does not follow either): a 3xx comes back to the caller as an error status, never followed, so
  the ``x-api-key`` / ``api-key`` / ``Authorization`` headers are never re-sent elsewhere. The request hook
  refuses, before anything is sent, a request that is not ``https://`` or (on the runtime's own clients) that is
  not for the endpoint's origin: :class:`CrossOriginRequestError`. Foundry's Messages API never redirects.
* **Every call bounded.** The request hook stamps a deadline (the call's timeout, counted from the request's start:
  a total, not per read); the response hook lowers the body's read timeout to what is left and wraps the body so
  that it ends with :class:`CallDeadlineError` when the deadline passes between two chunks, or with
  :class:`ResponseTooLargeError` past :data:`MAX_RESPONSE_BYTES` (a 2xx) or :data:`MAX_ERROR_BODY_BYTES` (any
  other status), or when one line of an event stream exceeds :data:`MAX_EVENT_LINE_BYTES`. An event stream is
  handed on in whole lines, so the SDK's event parser (which concatenates the pieces of an event) stays linear
  in the bytes received.
* **No secret in an answer's text.** Response header values, and error (non-2xx) bodies whole, are redacted
  (:func:`._redact.redact`: key and token shapes, and every key in use) before the SDK reads them, so neither
  an exception's message nor ``exc.body`` nor a report carries a key that a service echoed.

These are httpx event hooks (a public httpx API), installed on the clients the runtime builds and added to a
caller's ``http_client`` (:func:`install`). ``tests/unit/test_http_bounds.py`` pins what this module relies on.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from claude_foundry import _contract as c
from claude_foundry._client._redact import redact
from claude_foundry._errors import ClaudeFoundryError

#: Largest 2xx answer (body or whole event stream) a call takes, in bytes. A Messages answer of 128K output tokens
#: is well under 2 MiB; the event stream of one a few times that. ``CLAUDE_FOUNDRY_MAX_RESPONSE_BYTES`` overrides.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Largest error (non-2xx) body a call takes: Foundry's error bodies are a few hundred bytes.
MAX_ERROR_BODY_BYTES = 1024 * 1024
#: Longest line of an event stream (one ``data:`` line carries one event of a few hundred bytes).
MAX_EVENT_LINE_BYTES = 1024 * 1024

#: The request extension holding a call's deadline (``time.monotonic()`` seconds), shared by its redirect hops.
_DEADLINE = "claude_foundry.deadline"
_MARK = "_claude_foundry_guard"


def max_response_bytes() -> int:
    """:data:`MAX_RESPONSE_BYTES`, or ``CLAUDE_FOUNDRY_MAX_RESPONSE_BYTES`` when set (a positive integer; anything
    else is a :class:`~claude_foundry._errors` ``RuntimeConfigError`` naming the variable)."""
    raw = os.environ.get(c.ENV_MAX_RESPONSE_BYTES)
    if raw is None or raw.strip() == "":
        return MAX_RESPONSE_BYTES
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1 or value > 2**40:
        from claude_foundry._client._sources import RuntimeConfigError

        raise RuntimeConfigError(f"{c.ENV_MAX_RESPONSE_BYTES} must be a whole number of bytes between 1 and 2**40 "
                                 f"(got {raw[:40]!r})")
    return value


def origin(url: Any) -> str:
    """``scheme://host[:port]`` of ``url``: never its user info, path or query (which may carry a secret)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "") if parts.scheme else "(not a URL)"


#: A ``retry-after`` longer than this is taken as no advice at all (the caller's own backoff applies).
MAX_RETRY_AFTER = 86400.0


def retry_after(headers: Any) -> float | None:
    """Seconds a 429 or 5xx answer asks the caller to wait: ``retry-after-ms`` (Azure's, milliseconds) first, then
    ``retry-after`` as seconds or as an HTTP date (RFC 9110 10.2.3). A date in the past is 0; anything that is not a
    finite number or a date, or longer than :data:`MAX_RETRY_AFTER`, is ``None``. The one parser of the header:
    smoke and the failover runtime both use it."""
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        text = str(value).strip()
        try:
            seconds = float(text) * scale
        except ValueError:
            if name == "retry-after-ms":
                continue
            import email.utils

            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:  # RFC 9110 dates are GMT; a zone-less one is read as such
                import datetime as dt

                when = when.replace(tzinfo=dt.timezone.utc)
            seconds = when.timestamp() - time.time()
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, inf
            continue
        if seconds > MAX_RETRY_AFTER:
            return None
        return max(0.0, seconds)
    return None


def redirect_target(response: Any) -> str:
    """The origin a 3xx answer points to (its ``location`` resolved against the request), or words saying it has
    none. Never the path or query."""
    location = response.headers.get("location")
    if not location:
        return "no location header"
    try:
        return origin(urljoin(str(response.request.url), location.strip()))
    except ValueError:
        return "an unparsable location"


class ResponseBoundError(ClaudeFoundryError):
    """An answer that exceeded a bound; ``where`` is the origin that sent it, ``received`` the bytes taken."""

    def __init__(self, message: str, where: str, received: int) -> None:
        super().__init__(message)
        self.where, self.received = where, received


class ResponseTooLargeError(ResponseBoundError):
    """The answer (or one line of its event stream) was larger than the maximum response size."""


class CallDeadlineError(ResponseBoundError, TimeoutError):
    """The whole call (headers and body) took longer than its timeout."""

    def __init__(self, message: str, where: str, received: int, timeout: float) -> None:
        super().__init__(message, where, received)
        self.timeout = timeout


class CrossOriginRequestError(ClaudeFoundryError):
    """A request for another origin than the endpoint's, or over plain http: refused before it was sent."""


def _total(request: Any) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    values = [v for v in timeouts.values() if isinstance(v, int | float) and not isinstance(v, bool) and v > 0]
    return max(values) if values else None


def _check_request(request: Any, allowed: str | None) -> None:
    url = request.url
    if url.scheme != "https":
        raise CrossOriginRequestError(f"refused to send a request to {origin(url)}: credentials go only over https")
    if allowed is not None and origin(url) != allowed:
        raise CrossOriginRequestError(f"refused to send a request to {origin(url)}: this client sends only to "
                                      f"{allowed}")
    if _DEADLINE not in request.extensions:
        total = _total(request)
        if total is not None:
            request.extensions[_DEADLINE] = (time.monotonic() + total, total)
    # bytes received are bounded; ask for no compression so that they are the bytes parsed, too
    request.headers["accept-encoding"] = "identity"


def _wrap_response(response: Any, max_bytes: int) -> None:
    import httpx2

    request = response.request
    where = origin(request.url)
    deadline: float | None
    total: float  # read only where deadline is set, which sets it too
    deadline, total = request.extensions.get(_DEADLINE) or (None, 0.0)
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CallDeadlineError(f"no complete answer from {where} within {total:g}s", where, 0, total)
        timeouts = dict(request.extensions.get("timeout") or {})
        read = timeouts.get("read")
        timeouts["read"] = left if read is None else min(read, left)
        request.extensions["timeout"] = timeouts  # read when the body's first read starts
    for name, value in list(response.headers.items()):  # a header echoing the key never reaches a report
        clean = redact(value)
        if clean != value:
            response.headers[name] = clean
    ok = 200 <= response.status_code < 300
    limit = max_bytes if ok else min(max_bytes, MAX_ERROR_BODY_BYTES)
    events = ok and "text/event-stream" in response.headers.get("content-type", "")
    inner = response.stream

    class Bounded(httpx2.SyncByteStream, httpx2.AsyncByteStream):
        def __init__(self) -> None:
            self.received = 0
            self.pending: list[bytes] = []  # the start of an event-stream line not ended yet
            self.pending_len = 0

        def take(self, chunk: bytes) -> bytes:
            self.received += len(chunk)
            if self.received > limit:
                raise ResponseTooLargeError(
                    f"the answer from {where} exceeded the maximum response size of {limit} bytes "
                    f"({'' if ok else 'an error body; '}{c.ENV_MAX_RESPONSE_BYTES})", where, self.received)
            if deadline is not None and time.monotonic() > deadline:
                raise CallDeadlineError(f"the answer from {where} did not complete within {total:g}s "
                                        f"({self.received} bytes received)", where, self.received, total)
            if not ok:  # an error body is kept whole (it is small) and handed on redacted, at its end
                self.pending.append(chunk)
                return b""
            if not events:
                return chunk
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
            if cut < 0:
                self.pending.append(chunk)
                self.pending_len += len(chunk)
                if self.pending_len > MAX_EVENT_LINE_BYTES:
                    raise ResponseTooLargeError(
                        f"a line of the event stream from {where} exceeded {MAX_EVENT_LINE_BYTES} bytes without "
                        "a line break (not a Messages event stream)", where, self.received)
                return b""
            head = chunk[:cut + 1]
            if self.pending:
                head = b"".join([*self.pending, head])
            rest = chunk[cut + 1:]
            self.pending, self.pending_len = ([rest], len(rest)) if rest else ([], 0)
            return head

        def rest(self) -> bytes:
            out, self.pending, self.pending_len = b"".join(self.pending), [], 0
            if not ok and out:
                text = out.decode("utf-8", "replace")
                clean = redact(text)
                if clean != text:
                    out = clean.encode("utf-8")
            return out

        def __iter__(self) -> Any:
            for chunk in inner:
                out = self.take(chunk)
                if out:
                    yield out
            tail = self.rest()
            if tail:
                yield tail

        async def __aiter__(self) -> Any:
            async for chunk in inner:
                out = self.take(chunk)
                if out:
                    yield out
            tail = self.rest()
            if tail:
                yield tail

        def close(self) -> None:
            inner.close()

        async def aclose(self) -> None:
            await inner.aclose()

    response.stream = Bounded()


def hooks(allowed_origin: str | None, *, is_async: bool, max_bytes: int | None = None) -> dict[str, list[Any]]:
    """The ``event_hooks`` of a client that sends only to ``allowed_origin`` (None: any https origin)."""
    limit = max_bytes if max_bytes is not None else max_response_bytes()

    if is_async:
        async def on_request_async(request: Any) -> None:
            _check_request(request, allowed_origin)

        async def on_response_async(response: Any) -> None:
            _wrap_response(response, limit)

        setattr(on_request_async, _MARK, True)
        return {"request": [on_request_async], "response": [on_response_async]}

    def on_request(request: Any) -> None:
        _check_request(request, allowed_origin)

    def on_response(response: Any) -> None:
        _wrap_response(response, limit)

    setattr(on_request, _MARK, True)
    return {"request": [on_request], "response": [on_response]}


def build_client(factory: Any, allowed_origin: str | None, *, is_async: bool, **kwargs: Any) -> Any:
    """``factory(**kwargs)`` (the SDK's ``DefaultHttpxClient`` / ``DefaultAsyncHttpxClient``) that follows no
    redirect and carries the hooks."""
    return factory(follow_redirects=False, event_hooks=hooks(allowed_origin, is_async=is_async), **kwargs)


def install(http_client: Any, *, is_async: bool) -> Any:
    """Add the hooks (any https origin: the client may serve several endpoints) to a caller's ``http_client``
    once, and turn its redirect following off; returns it."""
    current = http_client.event_hooks
    if not any(getattr(h, _MARK, False) for h in current.get("request", [])):
        extra = hooks(None, is_async=is_async)
        http_client.event_hooks = {"request": [*current.get("request", []), *extra["request"]],
                                   "response": [*current.get("response", []), *extra["response"]]}
    http_client.follow_redirects = False
    return http_client
