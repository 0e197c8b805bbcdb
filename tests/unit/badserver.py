"""A misbehaving endpoint on 127.0.0.1 over real HTTPS (or plain HTTP): each test says how it answers
(``behaviour``), and the server records every request's path and headers (``seen``), so a test can assert what
arrived where. Behaviours write raw HTTP/1.1, so bodies can drip, never end, or hold no newline."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from claude_foundry_sandbox.certs import make_certificates
from fakes import error_body, sse_events

Behaviour = Callable[[BaseHTTPRequestHandler], None]


class BadServer:
    def __init__(self, url: str, stop: threading.Event) -> None:
        self.url = url
        self.seen: list[dict[str, Any]] = []
        self.behaviour: Behaviour = lambda h: json_answer(h, 404, error_body(404, "Resource not found"))
        self.stop = stop


class _Server(ThreadingHTTPServer):
    request_queue_size = 64
    daemon_threads = True


def _handler(bad: BadServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            bad.seen.append({"method": self.command, "path": self.path,
                             "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            with contextlib.suppress(OSError):
                bad.behaviour(self)
            self.close_connection = True

        do_POST = do_GET = _any

    return Handler


@contextlib.contextmanager
def bad_server(cert_dir: Path, *, tls: bool = True) -> Iterator[BadServer]:
    stop = threading.Event()
    srv = _Server(("127.0.0.1", 0), BaseHTTPRequestHandler)
    scheme = "https" if tls else "http"
    bad = BadServer(f"{scheme}://127.0.0.1:{srv.server_address[1]}", stop)
    srv.RequestHandlerClass = _handler(bad)
    if tls:
        certs = make_certificates(cert_dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(certs.cert_file), str(certs.key_file))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield bad
    finally:
        stop.set()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def ca_bundle(cert_dir: Path) -> str:
    return str(make_certificates(cert_dir).ca_bundle)


# --- behaviours --------------------------------------------------------------------------------------


def _head(h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
    h.send_response(status)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("connection", "close")
    h.end_headers()


def json_answer(h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    raw = json.dumps(body).encode()
    _head(h, status, {"content-type": "application/json", "content-length": str(len(raw)), **(headers or {})})
    h.wfile.write(raw)


def redirect(status: int, location: str) -> Behaviour:
    def answer(h: BaseHTTPRequestHandler) -> None:
        _head(h, status, {"location": location, "content-length": "0"})

    return answer


def _forever(h: BaseHTTPRequestHandler, head: bytes, piece: bytes, *, interval: float = 0.0,
             content_type: str = "application/json", stop: threading.Event) -> None:
    """Headers, ``head``, then ``piece`` again and again (chunked) until the client goes or the test ends."""
    _head(h, 200, {"content-type": content_type, "transfer-encoding": "chunked"})

    def chunk(data: bytes) -> None:
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()

    chunk(head)
    deadline = time.monotonic() + 60
    while not stop.is_set() and time.monotonic() < deadline:
        chunk(piece)
        if interval:
            time.sleep(interval)


def drip(server: BadServer, interval: float = 0.5) -> Behaviour:
    """A JSON body announced whole (content-length), sent a byte every ``interval`` seconds."""
    def answer(h: BaseHTTPRequestHandler) -> None:
        _head(h, 200, {"content-type": "application/json", "content-length": "100000"})
        deadline = time.monotonic() + 60
        while not server.stop.is_set() and time.monotonic() < deadline:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(interval)

    return answer


def endless_json(server: BadServer) -> Behaviour:
    return lambda h: _forever(h, b'{"id": "m", "type": "message", "content": [{"type": "text", "text": "',
                              b"x" * 16384, stop=server.stop)


def endless_events(server: BadServer) -> Behaviour:
    """An event stream that starts like a Messages stream and then pings forever."""
    head = sse_events()[0].encode()  # message_start
    ping = b'event: ping\ndata: {"type": "ping"}\n\n' * 200
    return lambda h: _forever(h, head, ping, content_type="text/event-stream", stop=server.stop)


def no_newlines(server: BadServer) -> Behaviour:
    """An event stream whose first line never ends."""
    return lambda h: _forever(h, b"data: {\"type\": \"message_start\", \"pad\": \"", b"y" * 16384,
                              content_type="text/event-stream", stop=server.stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
