"""How a runtime's clients send requests: the shared key holder, the middleware that checks the deployment
and re-reads the key once on 401, and the request helpers (key headers, the model of a request, the TLS
context trusting an extra CA)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from claude_foundry.client.runtime import FoundryRuntime

#: The runtime's logger (the name users configure), also for the key re-reads made here.
log = logging.getLogger("claude_foundry.client.runtime")

#: Minimum seconds between two re-reads of the key secret triggered by 401 answers (a wrong key that is not
#: being rotated must not turn every call into a Key Vault read).
KEY_REREAD_MIN_INTERVAL = 2.0


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


def _with_key(request: Any, key: str) -> Any:
    headers = dict(request.headers)
    headers["x-api-key"] = key
    headers["api-key"] = key
    return request.copy(headers=headers)


def _request_model(request: Any) -> str | None:
    body = request.json
    if isinstance(body, Mapping):
        model = body.get("model")
        return model if isinstance(model, str) else None
    return None


def build_middleware(runtime: FoundryRuntime) -> Any:
    from anthropic import Middleware

    class FoundryRuntimeMiddleware(Middleware):
        """Checks the deployment name before sending; with key auth sends the current key and, on 401,
        re-reads the key once (coalesced across calls) and retries the attempt once."""

        def _pre(self, request: Any) -> Any:
            model = _request_model(request)
            if model is not None:
                runtime.deployment(model)  # raises UnknownDeploymentError, no network
            key = runtime._keys.current if runtime.uses_key else None
            return (_with_key(request, key) if key else request), key

        def handle(self, request: Any, call_next: Any) -> Any:
            request, key = self._pre(request)
            response = call_next(request)
            if key and response.status_code == 401 and runtime._keys.can_refresh:
                new = runtime._keys.refresh(key)
                if new:
                    response.http_response.close()
                    response = call_next(_with_key(request, new))
            return response

        async def handle_async(self, request: Any, call_next: Any) -> Any:
            request, key = self._pre(request)
            response = await call_next(request)
            if key and response.status_code == 401 and runtime._keys.can_refresh:
                new = await asyncio.to_thread(runtime._keys.refresh, key)
                if new:
                    await response.http_response.aclose()
                    response = await call_next(_with_key(request, new))
            return response

    return FoundryRuntimeMiddleware()
