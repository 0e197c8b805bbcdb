"""The tests' shared fakes of the Foundry Messages endpoint (``from fakes import ...`` in any tier: pytest puts
``tests/`` on ``sys.path`` for ``tests/conftest.py``).

* Answers: :func:`message`, :func:`sse` / :func:`sse_events`, :func:`error_body` — built by the sandbox's own
  builder (:mod:`claude_foundry_sandbox.messages_api`, shapes from Anthropic's API reference and the SDK's types),
  so a fake answers exactly as the sandbox does; :func:`answer` / :func:`error` make the ``httpx2.Response``.
* :class:`FakeTransport`: one recording fake transport for ``httpx2`` (the HTTP library the anthropic SDK and so the
  runtime use; not ``httpx``): every request and what it got (:attr:`FakeTransport.calls`), answered from a queue
  of answers, then a handler (default: :func:`answer`). Sync and async clients alike.
* :class:`FakeFoundry`: a :class:`FakeTransport` that checks keys as Foundry does (one valid key per host, a 401
  otherwise; a bearer token passes) and lets a test put a fault in front of a host.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from claude_foundry_sandbox import messages_api as api
from claude_foundry_sandbox.foundry import INVALID_KEY
from claude_foundry_sandbox.messages_api import error_body, stream_events, usage

__all__ = ["MODEL", "Call", "FakeFoundry", "FakeTransport", "answer", "error", "error_body", "message", "sse",
           "sse_events", "stream_events", "usage"]

MODEL = "claude-sonnet-4-6"
#: The id of every fake answer (a test reads it back from spans and results).
MESSAGE_ID = "msg_1"


def message(model: str = MODEL, text: str | None = "pong", *, id: str = MESSAGE_ID,
            input_tokens: int = 5, output_tokens: int = 2, usage: Mapping[str, Any] | None = None,
            **fields: Any) -> dict[str, Any]:
    """A Messages response body: one text block (none when ``text`` is empty), ``usage`` from the token counts
    (or the ``usage`` given, its missing fields 0); ``fields``: ``stop_reason``, ``stop_sequence``, ``content``."""
    content = fields.pop("content", [api.text_block(text)] if text else [])
    counts = dict(usage) if usage is not None else {"input_tokens": input_tokens, "output_tokens": output_tokens}
    return api.message(model, content, id=id, usage=counts, **fields)


def sse_events(model: str = MODEL, text: str | None = "pong", **kwargs: Any) -> list[str]:
    """Each event of the stream of :func:`message` (``model``, ``text``, ``kwargs``) as its text, in order."""
    return [api.sse(event, data).decode() for event, data in stream_events(message(model, text, **kwargs))]


def sse(model: str = MODEL, text: str | None = "pong", **kwargs: Any) -> str:
    """The whole ``text/event-stream`` body of :func:`message`."""
    return "".join(sse_events(model, text, **kwargs))


def _body(request: httpx2.Request) -> dict[str, Any]:
    try:
        data = json.loads(request.content or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def answer(request: httpx2.Request, *, model: str | None = None, text: str | None = "pong",
           headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx2.Response:
    """A 200 for a Messages request: the event stream when the body asks ``stream``, else the JSON body. ``model``
    defaults to the request's (a deployment name, as Foundry answers it); ``headers`` default to a request id."""
    chosen = model or str(_body(request).get("model") or MODEL)
    head = {"request-id": "req_1"} if headers is None else dict(headers)
    if _body(request).get("stream"):
        return httpx2.Response(200, text=sse(chosen, text, **kwargs),
                               headers={**head, "content-type": "text/event-stream"})
    return httpx2.Response(200, json=message(chosen, text, **kwargs), headers=head)


def error(status: int, message: str = "injected", *, type: str | None = None,
          code: str | None = None, headers: Mapping[str, str] | None = None) -> httpx2.Response:
    """An error answer with the API's error body (:func:`error_body`)."""
    return httpx2.Response(status, json=error_body(type or status, message, code=code), headers=dict(headers or {}))


Handler = Callable[[httpx2.Request], httpx2.Response]
#: What a queued answer may be: a response, a status (its :func:`error`), an exception to raise, or a handler.
Answer = httpx2.Response | int | BaseException | Handler


@dataclass
class Call:
    """One request the transport saw and what it answered: ``status``, or ``error`` (the exception's class name)."""

    request: httpx2.Request
    status: int | None = None
    error: str | None = None

    @property
    def outcome(self) -> int | str:
        """The status, or the name of the exception raised instead."""
        return self.status if self.status is not None else str(self.error)

    @property
    def body(self) -> dict[str, Any]:
        """The request's JSON body (``{}`` when it has none)."""
        return _body(self.request)

    @property
    def api_key(self) -> str | None:
        """The ``x-api-key`` sent."""
        return self.request.headers.get("x-api-key")


class FakeTransport(httpx2.MockTransport):
    """Records each request (:attr:`calls`, :attr:`requests`) and answers it from :attr:`queue` while it holds
    answers, then with :attr:`handler` (default :func:`answer`). A handler returning ``None`` passes the request on
    to :meth:`default` (a subclass's own answer)."""

    def __init__(self, handler: Callable[[httpx2.Request], httpx2.Response | None] | None = None,
                 queue: Iterable[Answer] = ()) -> None:
        self.calls: list[Call] = []
        self.queue: deque[Answer] = deque(queue)
        self.answerer = handler
        super().__init__(self._answer)

    def default(self, request: httpx2.Request) -> httpx2.Response:
        return answer(request)

    def _respond(self, request: httpx2.Request) -> httpx2.Response:
        step: Any = self.queue.popleft() if self.queue else self.answerer
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, int):
            return error(step)
        if isinstance(step, httpx2.Response):
            return step
        got = step(request) if step is not None else None
        return got if got is not None else self.default(request)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        call = Call(request)
        self.calls.append(call)
        try:
            response = self._respond(request)
        except Exception as exc:
            call.error = type(exc).__name__
            raise
        call.status = response.status_code
        return response

    @property
    def requests(self) -> list[httpx2.Request]:
        return [c.request for c in self.calls]

    @property
    def outcomes(self) -> list[int | str]:
        """What each call got, in order: its status or the exception's class name."""
        return [c.outcome for c in self.calls]

    def client(self, **kwargs: Any) -> httpx2.Client:
        return httpx2.Client(transport=self, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=self, **kwargs)


class FakeFoundry(FakeTransport):
    """Foundry's Claude endpoint for the hosts of ``keys`` (host -> the key it accepts; a plain string: that key on
    any host): ``x-api-key`` must be the host's key (a 401 in Foundry's words otherwise), a bearer token passes.
    ``faults[host]`` answers first (``None``: answer normally); :meth:`reply` is the answer of a valid call."""

    def __init__(self, keys: str | Mapping[str, str]) -> None:
        self.keys = keys
        self.faults: dict[str, Handler | Callable[[httpx2.Request], httpx2.Response | None]] = {}
        super().__init__(self._fault)

    def key_of(self, host: str) -> str | None:
        return self.keys if isinstance(self.keys, str) else self.keys.get(host)

    def _fault(self, request: httpx2.Request) -> httpx2.Response | None:
        fault = self.faults.get(request.url.host)
        return fault(request) if fault is not None else None

    def default(self, request: httpx2.Request) -> httpx2.Response:
        if "authorization" not in request.headers \
                and request.headers.get("x-api-key") != self.key_of(request.url.host):
            return error(401, INVALID_KEY, code="401", headers={"apim-request-id": "apim-1"})
        return self.reply(request)

    def reply(self, request: httpx2.Request) -> httpx2.Response:
        return answer(request, headers={"request-id": "req_1", "apim-request-id": "apim-1"})
