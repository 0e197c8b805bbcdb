"""The client runtime's hardening (no network beyond 127.0.0.1): credentials never logged, every network call
bounded, no credentials over plain http, finite numeric flags, interrupted streams named, JUnit always XML."""

from __future__ import annotations

import json
import logging
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry._client import _redact, smoke
from claude_foundry._client import runtime as rt
from claude_foundry.cli import exit_code
from claude_foundry_sandbox.testing import silent_server
from fakes import FakeTransport, answer, sse_events

KEY = "hardening-unit-key-0123456789abcdef"
TOKEN = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzIn0."
         "c2lnbmF0dXJlLW9mLXRoZS1oYXJkZW5pbmctdG9rZW4")
BASE = "https://acct.services.ai.azure.com/anthropic"
MODEL = "claude-sonnet-4-6"
SDK_LOGGERS = ("anthropic", "anthropic._base_client", "httpx2", "httpcore2.http11", "httpx", "httpcore",
               "azure.core.pipeline.policies.http_logging_policy", "azure.identity", "msal", "urllib3")


pytestmark = pytest.mark.usefixtures("clean_runtime_env")  # tests/conftest.py


class StaticToken:
    """A credential that hands out ``TOKEN`` (or sleeps ``delay`` first)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        time.sleep(self.delay)
        from azure.core.credentials import AccessToken

        return AccessToken(TOKEN, int(time.time()) + 3600)

    def get_token_info(self, *scopes: str, **kwargs: object) -> object:
        time.sleep(self.delay)
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(TOKEN, int(time.time()) + 3600)


def contract(base_url: str = BASE, key: str | None = KEY) -> c.Contract:
    return c.Contract(resource="acct", base_url=base_url, auth_mode=c.AUTH_MODE_KEY if key else c.AUTH_MODE_ENTRA,
                      api_key=key, deployments={"a": c.DeploymentInfo(model=MODEL, version="1", family="sonnet")})


# --- 1. credentials never reach a log line ------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"Request options: {{'method': 'post', 'headers': {{'Authorization': 'Bearer {TOKEN}'}}}}",
    f"{{'headers': {{'x-api-key': '{KEY}', 'api-key': '{KEY}'}}}}",
    f"[(b'authorization', b'Bearer {TOKEN}'), (b'host', b'acct')]",
    f"Authorization: Bearer {TOKEN}\napi-key: {KEY}",
    f'{{"access_token": "{TOKEN}", "client_secret": "{KEY}"}}',
    f"grant_type=client_credentials&client_secret={KEY}&scope=x",
    f"token {TOKEN} in a sentence",
])
def test_redact_text_masks_header_values_tokens_and_secrets(text: str) -> None:
    clean = _redact.redact_text(text)
    assert TOKEN not in clean
    assert KEY not in clean
    assert _redact.MASK in clean


def test_redact_text_keeps_what_is_not_a_credential() -> None:
    challenge = "'www-authenticate': 'Bearer authorization=\"https://login/tenant\", resource=\"https://kv\"'"
    assert _redact.redact_text(challenge) == challenge
    line = 'HTTP Request: POST https://acct/anthropic/v1/messages "HTTP/1.1 200 OK"'
    assert _redact.redact_text(line) == line


def _all_sdk_loggers_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def test_entra_bearer_token_is_not_in_the_sdk_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    _all_sdk_loggers_at_debug(caplog)
    runtime = rt.FoundryRuntime(contract(key=None), credential=StaticToken())
    transport = FakeTransport()
    client = runtime.client(http_client=transport.client())
    client.messages.create(model="a", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    (sent,) = transport.requests
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"  # the token went on the wire ...
    assert "Request options" in caplog.text  # ... the SDK logged the request's headers ...
    assert TOKEN not in caplog.text  # ... without it
    assert TOKEN[:30] not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_key_headers_are_not_in_the_sdk_debug_log(caplog: pytest.LogCaptureFixture) -> None:
    _all_sdk_loggers_at_debug(caplog)
    runtime = rt.FoundryRuntime(contract())
    client = runtime.client(http_client=FakeTransport().client())
    client.messages.create(model="a", max_tokens=8, messages=[{"role": "user", "content": "hi"}],
                           extra_headers={"Authorization": "Bearer a-token-the-runtime-never-saw-0123",
                                          "Ocp-Apim-Subscription-Key": "a-key-the-runtime-never-saw-0123"})
    assert "Request options" in caplog.text
    assert KEY not in caplog.text
    assert "a-token-the-runtime-never-saw-0123" not in caplog.text  # header values, not only known keys
    assert "a-key-the-runtime-never-saw-0123" not in caplog.text


def test_the_cli_installs_the_filter_at_start() -> None:
    for name in SDK_LOGGERS:
        logging.getLogger(name).removeFilter(_redact._REDACT)
    _redact._SEEN_LOGGERS = -1
    cli.main(["schema"])
    assert all(_redact._REDACT in logging.getLogger(n).filters for n in SDK_LOGGERS)


def test_a_traceback_in_a_log_record_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    _all_sdk_loggers_at_debug(caplog)
    _redact.install_log_redaction()
    try:
        raise RuntimeError(f"sent Authorization: Bearer {TOKEN}")
    except RuntimeError:
        logging.getLogger("anthropic._base_client").debug("Encountered Exception", exc_info=True)
    assert "Encountered Exception" in caplog.text
    assert TOKEN not in caplog.text


# --- 2. every network call is bounded -----------------------------------------------------------------


@pytest.fixture(name="silent_server")
def _silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers (:func:`claude_foundry_sandbox.testing.silent_server`)."""
    with silent_server() as url:
        yield url


def test_a_hanging_key_vault_read_is_bounded_and_named(silent_server: str) -> None:
    start = time.monotonic()
    with pytest.raises(rt.VaultTimeoutError) as caught:
        rt.FoundryRuntime.from_key_vault(silent_server, credential=StaticToken(), vault_timeout=1.5)
    took = time.monotonic() - start
    assert took < 6, took  # azure-core's defaults: 300 s read timeout, 10 retries
    words = str(caught.value)
    assert silent_server in words
    assert "did not answer within 1.5s" in words
    assert words.endswith("raise the Key Vault timeout (vault_timeout)")  # the library's parameter ...
    assert "claude-foundry-endpoint" in words
    assert exit_code(caught.value) == 1


def test_smoke_timeout_bounds_the_contract_read(silent_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.monotonic()
    code = cli.main(["smoke", "--vault-url", silent_server, "--timeout", "1.5", "--role-propagation-timeout", "0"])
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 1
    assert took < 8, took
    assert f"Key Vault {silent_server} did not answer within 1.5s" in err
    assert "raise the Key Vault timeout (--vault-timeout)" in err  # ... the CLI's flag
    assert "Traceback" not in err


def test_vault_timeout_flag_overrides_timeout(silent_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["smoke", "--vault-url", silent_server, "--timeout", "60", "--vault-timeout", "1"])
    assert code == 1
    assert "did not answer within 1s" in capsys.readouterr().err


def test_a_hanging_token_request_is_bounded_and_named() -> None:
    runtime = rt.FoundryRuntime(contract(key=None), credential=StaticToken(delay=5), timeout=0.5)
    client = runtime.client(http_client=FakeTransport().client())
    start = time.monotonic()
    with pytest.raises(rt.TokenTimeoutError, match=r"StaticToken, scope .* did not answer within 0.5s"):
        client.messages.create(model="a", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert time.monotonic() - start < 3


def test_smoke_names_a_token_timeout() -> None:
    runtime = rt.FoundryRuntime(contract(key=None), credential=StaticToken(delay=5))
    start = time.monotonic()
    report = smoke.run_smoke(runtime, timeout=0.5, http_client=FakeTransport().async_client())
    assert time.monotonic() - start < 4
    (res,) = report.results
    assert res.category == smoke.TIMEOUT
    assert "no Entra ID token" in res.diagnosis
    assert "StaticToken" in res.diagnosis


# --- 3. no credentials over plain http ----------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, None], ids=["key", "entra"])
@pytest.mark.parametrize("url", ["http://acct.services.ai.azure.com/anthropic", "http://127.0.0.1:8080/anthropic",
                                 "HTTP://user:pw@acct.example/anthropic", "ftp://acct/anthropic"])
def test_non_https_endpoints_are_refused(url: str, key: str | None) -> None:
    with pytest.raises(rt.RuntimeConfigError, match="not an https:// URL") as caught:
        rt.FoundryRuntime(contract(url, key), credential=StaticToken())
    words = str(caught.value)
    assert KEY not in words
    assert "pw" not in words
    assert "/anthropic" not in words


def test_non_https_from_env_and_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(c.ENV_API_KEY, KEY)
    monkeypatch.setenv(c.ENV_BASE_URL, "http://acct.example:8080/anthropic")
    with pytest.raises(rt.RuntimeConfigError, match=r"http://acct.example:8080 is not an https:// URL"):
        rt.FoundryRuntime.from_env()
    assert cli.main(["smoke", "--deployments", "a"]) == 2
    err = capsys.readouterr().err
    assert "http://acct.example:8080 is not an https:// URL" in err
    assert KEY not in err


# --- 4. numeric flags are finite and in range ---------------------------------------------------------


@pytest.mark.parametrize("flag", ["--timeout", "--vault-timeout", "--propagation-timeout", "--rate-limit-timeout",
                                  "--role-propagation-timeout", "--poll-interval"])
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e309", "-1", "1e12"])
def test_smoke_float_flags_refuse_nan_infinity_and_out_of_range(flag: str, value: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkey_key = {c.ENV_API_KEY: KEY}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in monkey_key.items():
            mp.setenv(k, v)
        code = cli.main(["smoke", "--resource", "acct", "--deployments", "a", f"{flag}={value}"])
    err = capsys.readouterr().err
    assert code == 2, (flag, value, err)
    assert flag in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kw", ["timeout", "propagation_timeout", "rate_limit_timeout", "poll_interval",
                                "role_propagation_timeout"])
def test_run_smoke_refuses_nan(kw: str) -> None:
    with pytest.raises(ValueError, match=kw):
        smoke.run_smoke(rt.FoundryRuntime(contract()), **{kw: float("nan")})


def test_runtime_refuses_a_nan_timeout() -> None:
    with pytest.raises(rt.RuntimeConfigError, match="timeout"):
        rt.FoundryRuntime(contract(), timeout=float("nan"))
    with pytest.raises(rt.RuntimeConfigError, match="timeout"):
        rt.FoundryRuntime(contract()).client(timeout=float("inf"))


# --- 5. an interrupted stream is named, and raised as the SDK's error ----------------------------------


class CutStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """The first ``keep`` events of a stream, then the connection breaks (``cut``) or the body just ends."""

    def __init__(self, keep: int, cut: bool = True) -> None:
        self.chunks = [e.encode() for e in sse_events(MODEL)[:keep]]
        self.cut = cut

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.cut:
            raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")

    async def __aiter__(self):  # type: ignore[override]
        for chunk in self.chunks:
            yield chunk
        if self.cut:
            raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


def stream_answer(keep: int, cut: bool = True):
    def cut_stream(request: httpx2.Request) -> httpx2.Response:
        if not json.loads(request.content).get("stream"):
            return answer(request, model=MODEL, headers={"request-id": "r", "apim-request-id": "a"})
        return httpx2.Response(200, headers={"content-type": "text/event-stream", "request-id": "r"},
                               stream=CutStream(keep, cut))

    return cut_stream


#: the events up to the first text delta (message_start, content_block_start, ping, content_block_delta)
FIRST_TEXT = 4


@pytest.mark.parametrize(("keep", "cut"), [(FIRST_TEXT, True), (FIRST_TEXT, False), (0, False), (0, True)])
def test_sync_stream_cut_raises_the_sdk_error(keep: int, cut: bool) -> None:
    runtime = rt.FoundryRuntime(contract())
    client = runtime.client(http_client=FakeTransport(stream_answer(keep, cut)).client())
    with pytest.raises(anthropic.APIConnectionError, match="stream interrupted") as caught, \
            client.messages.stream(model="a", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()  # was: a bare AssertionError (no message_start) or httpx2.RemoteProtocolError
    assert isinstance(caught.value, rt.StreamInterruptedError)


def test_a_whole_stream_passes_the_guard() -> None:
    runtime = rt.FoundryRuntime(contract())
    client = runtime.client(http_client=FakeTransport(stream_answer(99, cut=False)).client())
    with client.messages.stream(model="a", max_tokens=8, messages=[{"role": "user", "content": "hi"}]) as s:
        assert s.get_final_text() == "pong"


@pytest.mark.parametrize(("keep", "cut"), [(FIRST_TEXT, True), (FIRST_TEXT + 1, False)])
def test_smoke_reports_stream_interrupted(keep: int, cut: bool) -> None:
    runtime = rt.FoundryRuntime(contract())
    report = smoke.run_smoke(runtime, stream=True, http_client=FakeTransport(stream_answer(keep, cut)).async_client())
    (res,) = report.results
    assert not res.passed
    assert res.category == smoke.STREAM_INTERRUPTED == "stream_interrupted"
    assert "stream interrupted" in res.diagnosis


# --- 6. the JUnit report stays XML --------------------------------------------------------------------


def test_junit_with_control_characters_parses(tmp_path) -> None:
    nasty = "service said: " + "".join(chr(i) for i in range(0x20)) + "\ud800\ufffe end"
    report = smoke.SmokeReport(resource="acct\x07", base_url=BASE, auth="key", results=[
        smoke.DeploymentResult(name="a\x1b[31m", model=MODEL, category=smoke.SERVER_ERROR, diagnosis=nasty,
                               warnings=["w\x00"]),
    ])
    path = tmp_path / "r.xml"
    report.write_junit(path)
    root = ET.parse(path).getroot()  # noqa: S314 (our own file)  # was: ParseError (not well-formed: invalid token)
    failure = root.find("testcase/failure")
    assert failure is not None
    for escaped in ("\\x00", "\\x08", "\\x1f", "\\ud800", "\\ufffe"):
        assert escaped in failure.text
    assert "\t\n" in failure.text.replace("\r", "")  # tab, LF (and CR) are XML's own
    assert root.find("testcase").get("name") == "a\\x1b[31m"
    ET.fromstring(ET.tostring(report.to_junit()))  # noqa: S314
