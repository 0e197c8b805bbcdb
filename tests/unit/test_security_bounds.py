"""Issue 20, classes 1-4, against a misbehaving endpoint on 127.0.0.1 over real HTTPS (tests/unit/badserver.py):
credentials stay at their origin (redirects of every code are never followed), no secret in any output, every
call bounded in time and memory, data is data (never markup, never raw escapes). See docs/security.md."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
from badserver import (
    BadServer,
    bad_server,
    ca_bundle,
    drip,
    endless_events,
    endless_json,
    json_answer,
    no_newlines,
    redirect,
)

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry._client import _http, _redact, smoke
from claude_foundry._client import runtime as rt
from claude_foundry._client.failover import FailoverRuntime
from fakes import error_body, message

KEY = "k" * 12 + "-issue20-unit-key-" + "0123456789"  # no key shape: only knowing the key masks it
MODEL = "claude-sonnet-4-6"
CRED_HEADERS = ("x-api-key", "api-key", "authorization")
REDIRECTS = (301, 302, 303, 307, 308)


pytestmark = pytest.mark.usefixtures("clean_runtime_env")  # tests/conftest.py


@pytest.fixture(scope="module")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("badserver-ca")


@pytest.fixture
def endpoint(cert_dir: Path) -> Iterator[BadServer]:
    with bad_server(cert_dir) as srv:
        yield srv


@pytest.fixture
def elsewhere(cert_dir: Path) -> Iterator[BadServer]:
    """A second https origin (another port), recording what arrives."""
    with bad_server(cert_dir) as srv:
        srv.behaviour = lambda h: json_answer(h, 200, message())
        yield srv


@pytest.fixture
def plain(cert_dir: Path) -> Iterator[BadServer]:
    """A plain-http origin on the same host, recording what arrives."""
    with bad_server(cert_dir, tls=False) as srv:
        srv.behaviour = lambda h: json_answer(h, 200, message())
        yield srv


def contract(base: str, key: str | None = KEY, deployments: tuple[str, ...] = ("a",)) -> c.Contract:
    return c.Contract(resource="acct", base_url=base + "/anthropic",
                      auth_mode=c.AUTH_MODE_KEY if key else c.AUTH_MODE_ENTRA, api_key=key,
                      deployments={d: c.DeploymentInfo(model=MODEL, version="1", family="sonnet")
                                   for d in deployments})


class StaticToken:
    TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJpc3N1ZTIwIn0.c2lnbmF0dXJlLWlzc3VlMjA"

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        from azure.core.credentials import AccessToken

        return AccessToken(self.TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, **kwargs: object) -> object:
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(self.TOKEN, int(time.time()) + 3600)


def smoke_cli(base: str, cert_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture[str], *extra: str, deployments: str = "a") -> dict[str, Any]:
    """``claude-foundry smoke`` with every output on: (exit code, stdout, stderr, JSON report, JUnit report)."""
    monkeypatch.setenv(c.ENV_API_KEY, KEY)
    rj, rx = tmp_path / "r.json", tmp_path / "r.xml"
    code = cli.main(["smoke", "--base-url", base + "/anthropic", "--deployments", deployments, "--ca-bundle",
                     ca_bundle(cert_dir), "--role-propagation-timeout", "0", "--format", "github",
                     "--report-json", str(rj), "--report-junit", str(rx), *extra])
    out = capsys.readouterr()
    return {"code": code, "stdout": out.out, "stderr": out.err,
            "json": json.loads(rj.read_text()) if rj.exists() else None,
            "junit": rx.read_text() if rx.exists() else None}


# --- 1. credentials stay at their origin ---------------------------------------------------------------


@pytest.mark.parametrize("status", REDIRECTS)
@pytest.mark.parametrize("where", ["cross-origin", "same-host-http"])
def test_smoke_never_follows_a_redirect(status: int, where: str, endpoint: BadServer, elsewhere: BadServer,
                                        plain: BadServer, cert_dir: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    target = elsewhere if where == "cross-origin" else plain
    endpoint.behaviour = redirect(status, target.url + "/anthropic/v1/messages?token=query-secret")
    out = smoke_cli(endpoint.url, cert_dir, tmp_path, monkeypatch, capsys)
    assert target.seen == []  # nothing at all reached the other origin: no key, no body
    assert len(endpoint.seen) == 1
    assert endpoint.seen[0]["headers"]["x-api-key"] == KEY  # the key went to its own origin only
    assert out["code"] == 1  # a failure, never a pass
    (res,) = out["json"]["deployments"]
    assert res["passed"] is False
    assert res["category"] == smoke.REDIRECT
    assert res["status"] == status
    assert target.url in res["diagnosis"]  # names the target's origin ...
    assert "query-secret" not in json.dumps(out)  # ... never its query


def test_runtime_and_failover_never_follow_a_redirect(endpoint: BadServer, elsewhere: BadServer,
                                                      cert_dir: Path) -> None:
    endpoint.behaviour = redirect(307, elsewhere.url + "/anthropic/v1/messages")
    ca = ca_bundle(cert_dir)
    runtime = rt.FoundryRuntime(contract(endpoint.url), ca_bundle=ca, timeout=5)
    args = {"model": "a", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(rt.RedirectRefusedError) as err:
        runtime.client().messages.create(**args)
    assert err.value.status_code == 307
    with pytest.raises(rt.RedirectRefusedError):  # a caller's client that follows redirects does not here
        runtime.client(http_client=anthropic.DefaultHttpxClient(verify=rt.ssl_context(ca),
                                                                follow_redirects=True)).messages.create(**args)
    entra = rt.FoundryRuntime(contract(endpoint.url, key=None), credential=StaticToken(), ca_bundle=ca, timeout=5)
    with pytest.raises(rt.RedirectRefusedError):
        entra.client().messages.create(**args)
    other = rt.FoundryRuntime(contract(endpoint.url), ca_bundle=ca, timeout=5)
    with pytest.raises(rt.RedirectRefusedError), FailoverRuntime([runtime, other]) as fo:
        fo.client().messages.create(**args)
    assert elsewhere.seen == []
    assert [s["headers"].get("authorization") for s in endpoint.seen if "authorization" in s["headers"]] == [
        f"Bearer {StaticToken.TOKEN}"]


def test_a_request_for_another_origin_is_refused_before_it_is_sent() -> None:
    hooks = _http.hooks("https://acct.services.ai.azure.com", is_async=False)
    for url in ("https://evil.example/anthropic/v1/messages", "http://acct.services.ai.azure.com/anthropic"):
        with pytest.raises(_http.CrossOriginRequestError):
            hooks["request"][0](httpx2.Request("POST", url, headers={"x-api-key": KEY}))
    hooks["request"][0](httpx2.Request("POST", "https://acct.services.ai.azure.com/anthropic/v1/messages"))


def test_key_vault_reads_follow_no_redirect() -> None:
    from azure.core.pipeline.policies import RedirectPolicy

    from claude_foundry._client import _sources

    client = _sources._secret_client("https://kv.vault.azure.net", StaticToken(), None, 5.0)
    # pinned: where azure-core 1.4x keeps a generated client's pipeline policies (RedirectPolicy.allow is public)
    policies = client._client._client._pipeline._impl_policies
    redirects = [p for p in policies if isinstance(p, RedirectPolicy)]
    assert len(redirects) == 1
    assert redirects[0].allow is False


# --- 2. no secret in any output ----------------------------------------------------------------------


def echo_key(status: int) -> Any:
    def answer(h: Any) -> None:
        sent = h.headers.get("x-api-key", "")
        json_answer(h, status, error_body("api_error", f"bad key {sent} (api-key: {sent})"),
                    headers={"request-id": f"req-{sent}", "x-echo": sent})

    return answer


@pytest.mark.parametrize("status", [401, 500])
def test_a_service_echoing_the_key_never_puts_it_in_any_output(status: int, endpoint: BadServer, cert_dir: Path,
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    endpoint.behaviour = echo_key(status)
    out = smoke_cli(endpoint.url, cert_dir, tmp_path, monkeypatch, capsys, "--timeout", "5")
    assert endpoint.seen[0]["headers"]["x-api-key"] == KEY  # the server did get (and echo) it
    assert out["code"] == 1
    (res,) = out["json"]["deployments"]
    assert res["status"] == status
    assert res["request_id"] == f"req-{_redact.MASK}"
    assert "::error" in out["stderr"]
    for name in ("stdout", "stderr", "junit"):
        assert KEY not in out[name], name
    assert KEY not in json.dumps(out["json"])
    ET.fromstring(out["junit"])  # noqa: S314 (our own report)
    runtime = rt.FoundryRuntime(contract(endpoint.url), ca_bundle=ca_bundle(cert_dir), timeout=5)
    with pytest.raises(anthropic.APIStatusError) as err:
        runtime.client(max_retries=0).messages.create(model="a", max_tokens=8,
                                                      messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == status
    assert KEY not in str(err.value)
    assert KEY not in json.dumps(err.value.body)
    assert KEY not in str(dict(err.value.response.headers))


# --- 3. every call bounded in time and memory -------------------------------------------------------


@pytest.mark.parametrize(("kind", "stream", "category", "words"), [
    ("drip", False, smoke.TIMEOUT, "did not complete within 2s"),
    ("endless-json", False, smoke.TOO_LARGE, "maximum response size"),
    ("endless-events", True, smoke.TOO_LARGE, "maximum response size"),
    ("no-newlines", True, smoke.TOO_LARGE, "without a line break"),
])
def test_smoke_ends_a_misbehaving_answer_within_its_timeout(kind: str, stream: bool, category: str, words: str,
                                                           endpoint: BadServer, cert_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    behaviours = {"drip": drip(endpoint, 0.3), "endless-json": endless_json(endpoint),
                  "endless-events": endless_events(endpoint), "no-newlines": no_newlines(endpoint)}
    if stream:  # the plain call must pass first: it answers well, the stream then misbehaves
        bad = behaviours[kind]
        endpoint.behaviour = lambda h: (bad if json.loads(h_body(endpoint)).get("stream")
                                        else lambda x: json_answer(x, 200, message()))(h)
    else:
        endpoint.behaviour = behaviours[kind]
    # The answer cap: 4 MiB, above the 1 MiB line cap that "no-newlines" must meet first; for the endless stream
    # 256 KiB (far above the well-formed answer before it), so the SDK parses the pings up to the cap well inside the
    # timeout on a loaded CI machine (4 MiB of 33-byte events took longer than 2 s there).
    cap = 256 * 1024 if kind == "endless-events" else 4 * 1024 * 1024
    monkeypatch.setenv(c.ENV_MAX_RESPONSE_BYTES, str(cap))
    start = time.monotonic()
    out = smoke_cli(endpoint.url, cert_dir, tmp_path, monkeypatch, capsys, "--timeout", "2",
                    *(["--stream"] if stream else []))
    took = time.monotonic() - start
    assert took < 2 + 2.5, took  # the stated timeout (plus the one-second drip and start-up)
    assert out["code"] == 1
    (res,) = out["json"]["deployments"]
    assert res["category"] == category, res
    assert words in res["diagnosis"]
    assert "could not connect" not in res["diagnosis"]


def h_body(server: BadServer) -> bytes:
    return server.seen[-1]["body"] or b"{}"


def test_runtime_call_is_bounded_in_time_and_memory(endpoint: BadServer, cert_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = rt.FoundryRuntime(contract(endpoint.url), ca_bundle=ca_bundle(cert_dir), timeout=1.5)
    args = {"model": "a", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    endpoint.behaviour = drip(endpoint, 0.2)
    start = time.monotonic()
    with pytest.raises(anthropic.APIConnectionError) as err:
        runtime.client(max_retries=0).messages.create(**args)
    assert time.monotonic() - start < 1.5 + 1.0
    assert isinstance(err.value.__cause__, _http.CallDeadlineError)
    endpoint.behaviour = endless_json(endpoint)
    monkeypatch.setenv(c.ENV_MAX_RESPONSE_BYTES, str(2 * 1024 * 1024))
    runtime = rt.FoundryRuntime(contract(endpoint.url), ca_bundle=ca_bundle(cert_dir), timeout=30)
    tracemalloc.start()
    try:
        with pytest.raises(anthropic.APIConnectionError) as err:
            runtime.client(max_retries=0).messages.create(**args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(err.value.__cause__, _http.ResponseTooLargeError)
    assert peak < 16 * 1024 * 1024, peak


def test_event_parsing_is_linear_in_the_bytes_received() -> None:
    from claude_foundry._client._middleware import _EventWatch

    def feed(n: int) -> float:
        watch = _EventWatch()
        start = time.perf_counter()
        for _ in range(n):
            watch.feed(b"z" * 1024)  # one line that never ends
        return time.perf_counter() - start

    # the best of three runs of each size: a loaded machine can pause any single run, never all three
    small, big = min(feed(500) for _ in range(3)), min(feed(4000) for _ in range(3))
    assert big < small * 8 * 4, (small, big)  # 8x the bytes: about 8x the time, not 64x


def test_the_max_response_size_variable_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(c.ENV_MAX_RESPONSE_BYTES, "lots")
    with pytest.raises(rt.RuntimeConfigError, match=c.ENV_MAX_RESPONSE_BYTES):
        _http.max_response_bytes()
    monkeypatch.setenv(c.ENV_MAX_RESPONSE_BYTES, "1024")
    assert _http.max_response_bytes() == 1024


def test_thousands_of_404s_share_one_propagation_window(endpoint: BadServer, cert_dir: Path) -> None:
    endpoint.behaviour = lambda h: json_answer(h, 404, error_body(404, "no such deployment", code="DeploymentNotFound"))
    names = tuple(f"d{i}" for i in range(40))
    runtime = rt.FoundryRuntime(contract(endpoint.url, deployments=names), ca_bundle=ca_bundle(cert_dir))
    start = time.monotonic()
    report = smoke.run_smoke(runtime, concurrency=4, propagation_timeout=1.0, poll_interval=0.3, timeout=5)
    took = time.monotonic() - start
    assert {r.category for r in report.results} == {smoke.NOT_FOUND}
    # per deployment windows would take 40/4 x 1 s; one window for the run: about 1 s plus the calls
    assert took < 6, took


# --- 4. data is data ------------------------------------------------------------------------------


def test_markup_and_escapes_in_names_and_messages(endpoint: BadServer, cert_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    endpoint.behaviour = lambda h: json_answer(h, 500, error_body(
        500, "failed at [/v1/messages] [bold red]x[/] \x1b]0;owned\x07 \x1b[2J\x9b"))
    monkeypatch.setenv("COLUMNS", "200")
    out = smoke_cli(endpoint.url, cert_dir, tmp_path, monkeypatch, capsys, "--timeout", "5",
                    deployments="fast[/]")
    assert out["code"] == 1  # not a crash (rich's MarkupError) ...
    assert out["json"] is not None  # ... and the reports were written
    assert out["junit"] is not None
    (res,) = out["json"]["deployments"]
    assert res["name"] == "fast[/]"
    shown = out["stdout"] + out["stderr"]
    assert "fast[/]" in shown
    assert "[/v1/messages]" in shown
    assert "\x1b" not in shown
    assert "\x9b" not in shown
    assert "\x07" not in shown
    assert "\\x1b" in shown


def test_reports_are_written_when_printing_fails(endpoint: BadServer, cert_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    endpoint.behaviour = lambda h: json_answer(h, 200, message())

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("stdout is gone")

    from claude_foundry.cli import _smoke as smoke_command

    monkeypatch.setattr(smoke_command, "render_report", broken)
    with pytest.raises(OSError, match="stdout is gone"):
        smoke_cli(endpoint.url, cert_dir, tmp_path, monkeypatch, capsys, "--timeout", "5")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True
    assert (tmp_path / "r.xml").exists()


def test_printable_shows_controls_and_redacts() -> None:
    _redact.remember_key_for_redaction(KEY)
    text = _redact.printable(f"a\x1b[31mb\x9bc\u202ed\nkey={KEY} {KEY}")
    assert text == "a\\x1b[31mb\\x9bc\\u202ed\\nkey=*** ***"
    assert os.linesep not in _redact.printable("x\ny")
