"""The one place that touches what the anthropic SDK and its HTTP library (``httpx2``) do not publish.

Everything else in ``claude_foundry`` uses their public surface: the ``middleware=`` option and its
``(request, call_next)`` handlers, ``DefaultHttpxClient``, ``DEFAULT_CONNECTION_LIMITS``, the exception classes,
httpx's transports and event hooks. Two things have no public form, so they live here, each behind a function
that says what it needs and fails with :class:`SdkChangedError` (naming the SDK's version) when a release removes
it — and ``tests/unit/test_sdk_adapter.py`` pins both against the installed versions, so an SDK change fails that
test by name before it reaches a user:

* :func:`send` / :func:`send_async`: hand a middleware's request to *another* client's middleware chain and
  transport. ``FailoverRuntime`` sends one call through the client of whichever endpoint is ready; the SDK keeps a
  client's prebuilt chain in ``_middleware_chain`` (anthropic 2.x, ``SyncAPIClient`` / ``AsyncAPIClient``).
* :func:`body_in_memory`: whether an ``httpx2.Response`` already holds its whole body (a mock transport's answer)
  rather than a stream still to be read; httpx keeps the read body in ``_content``.
"""

from __future__ import annotations

from typing import Any

from claude_foundry._errors import ClaudeFoundryError


class SdkChangedError(ClaudeFoundryError, RuntimeError):
    """The installed anthropic SDK (or httpx2) no longer has what :mod:`._sdk` relies on."""


def _chain(client: Any) -> Any:
    if not hasattr(client, "_middleware_chain"):
        import anthropic

        raise SdkChangedError(f"anthropic {anthropic.__version__}: a client has no middleware chain "
                              "(`_middleware_chain`) to send a failover attempt through; claude-foundry needs an "
                              "update for this SDK version")
    chain = client._middleware_chain
    if not callable(chain):  # the SDK builds no chain for a client without middleware
        raise TypeError("send() needs a client built with middleware= (every runtime client has the runtime's)")
    return chain


def send(client: Any, request: Any) -> Any:
    """Send a middleware's ``request`` through ``client`` (an ``anthropic.AnthropicFoundry``): its own
    middleware, base URL, credentials and transport; its answer (an SDK response) or its exception."""
    return _chain(client)(request)


async def send_async(client: Any, request: Any) -> Any:
    """:func:`send` for an ``anthropic.AsyncAnthropicFoundry``."""
    return await _chain(client)(request)


def body_in_memory(response: Any) -> bool:
    """True when the ``httpx2.Response`` was built with its whole body (nothing left to stream)."""
    return hasattr(response, "_content")
