"""Smoke test: does every deployment of a stack answer, right now, with the model the stack declares?

One tiny Messages call per deployment, all deployments concurrently (bounded). A stack with several accounts
(contract version 2) is smoked on every account at once, each account's own deployments through its own client
(one connection pool per endpoint), each result naming the account. The SDK's own retries are off
(``max_retries=0``); this module retries only what it understands:

* 404 while a new deployment propagates, within ``propagation_timeout`` (polling with backoff);
* 429, honouring ``retry-after`` / ``retry-after-ms``, within ``rate_limit_timeout``;
* with Entra ID auth, a 401/403 that says the principal lacks the data action (a role assignment made by the
  deploy that has not reached the data plane yet), within ``role_propagation_timeout``, with progress lines.

Everything else fails at once, with a diagnosis a platform engineer can act on and the ``request-id`` /
``apim-request-id`` to quote to support. A missing ``request-id`` / ``apim-request-id`` (Foundry does not
document them as guaranteed) is a warning on a passing deployment, not a failure. Use it from the CLI
(``claude-foundry smoke``), from Python (:func:`run_smoke`) or from pytest
(:mod:`claude_foundry.pytest_plugin`).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_foundry import _contract as c
from claude_foundry import _files as files
from claude_foundry._azure import arm
from claude_foundry._client import _http
from claude_foundry._client._middleware import redirect_words
from claude_foundry._client._redact import printable, redact

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from claude_foundry._client.runtime import FoundryRuntime

DEFAULT_CONCURRENCY = 32
DEFAULT_MAX_TOKENS = 16
DEFAULT_PROPAGATION_TIMEOUT = 120.0
DEFAULT_RATE_LIMIT_TIMEOUT = 60.0
#: Azure documents up to 10 minutes for a role assignment to take effect, usually 1-5: five minutes covers the
#: usual wait after a first deploy without holding a CI job ten minutes on a role that is really missing.
DEFAULT_ROLE_PROPAGATION_TIMEOUT = 300.0
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Seconds past a call's timeout after which a smoke attempt is cancelled outright (the HTTP hooks of
#: :mod:`._http` end a late answer first, at the timeout, with words saying what was late).
DEADLINE_GRACE = 1.0
DEFAULT_POLL_INTERVAL = 2.0
MAX_POLL_INTERVAL = 15.0
DEFAULT_PROMPT = "Reply with the single word: pong"

# Categories (stable strings: reports and JUnit failure types use them).
OK = "ok"
AUTH = "unauthorized"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
RATE_LIMITED = "rate_limited"
SERVER_ERROR = "server_error"
HTTP_ERROR = "http_error"
TIMEOUT = "timeout"
TLS = "tls"
DNS = "dns"
CONNECTION = "connection"
MALFORMED = "malformed_response"
STREAM_INTERRUPTED = "stream_interrupted"
CHECK_FAILED = "check_failed"
CONFIG = "config"
REDIRECT = "redirect"
TOO_LARGE = "response_too_large"


@dataclass
class DeploymentResult:
    """The outcome for one deployment. Never holds a key or a token."""

    name: str
    model: str = ""  # the model the stack declares for this deployment ("" when unknown)
    passed: bool = False
    category: str = ""
    diagnosis: str = ""
    status: int | None = None  # HTTP status of the last attempt (None: no HTTP answer)
    request_id: str | None = None
    apim_request_id: str | None = None
    duration_s: float = 0.0
    attempts: int = 0
    response_model: str | None = None
    stream_checked: bool = False
    warnings: list[str] = field(default_factory=list)  # on a passing deployment: worth a look, not a failure
    account: str = ""  # the stack's name for the account that served it (contract.PRIMARY_ACCOUNT for foundry:)
    resource: str = ""  # that account's name ("" when unknown)
    region: str = ""  # that account's Azure region ("" when the contract does not say)
    # the tokens the answers reported (their ``usage``), summed over the plain and the streamed call: what Azure
    # Monitor's InputTokens / OutputTokens count for this deployment (``claude-foundry usage``)
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def note(self) -> str:
        """The diagnosis with the warnings, for tables and log lines."""
        return "; ".join([*([self.diagnosis] if self.diagnosis else []), *(f"warning: {w}" for w in self.warnings)])

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration_s"] = round(self.duration_s, 3)
        return out


@dataclass
class SmokeAccount:
    """One account a smoke run called: the stack's name for it, its resource, region, endpoint and auth."""

    account: str
    resource: str
    base_url: str
    region: str = ""
    auth: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SmokeReport:
    """Every deployment's result. ``resource`` / ``base_url`` / ``auth`` are the first account's; ``accounts``
    lists every account called (the first first), and each result names its account: with more than one, the
    renderings (:meth:`summary`, :meth:`to_junit`, the CLI's) name the account per row."""

    resource: str
    base_url: str
    auth: str
    results: list[DeploymentResult] = field(default_factory=list)
    duration_s: float = 0.0
    accounts: list[SmokeAccount] = field(default_factory=list)

    @property
    def account_names(self) -> list[str]:
        """The stack's names of the accounts in this report, in order (from ``accounts``, else the results)."""
        if self.accounts:
            return [a.account for a in self.accounts]
        return list(dict.fromkeys(r.account for r in self.results if r.account))

    @property
    def multi_account(self) -> bool:
        return len(self.account_names) > 1

    def where(self) -> str:
        """What was tested, in words: the account (resource name, else endpoint), or ``N accounts (a, b)``."""
        names = self.account_names
        return f"{len(names)} accounts ({', '.join(names)})" if len(names) > 1 else (self.resource or self.base_url)

    def _row_name(self, r: DeploymentResult) -> str:
        return f"{r.name} on {r.account}" if self.multi_account and r.account else r.name

    @property
    def passed(self) -> bool:
        """True when there was at least one deployment and every one passed."""
        return bool(self.results) and all(r.passed for r in self.results)

    @property
    def failures(self) -> list[DeploymentResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        ok = sum(r.passed for r in self.results)
        warned = [r for r in self.results if r.passed and r.warnings]
        lines = [f"{ok}/{len(self.results)} deployments passed on {self.where()}"
                 + (f" ({len(warned)} with warnings)" if warned else "")]
        lines += [f"- {self._row_name(r)}: {r.diagnosis}" for r in self.failures]
        lines += [f"- {self._row_name(r)}: warning: {w}" for r in warned for w in r.warnings]
        return "\n".join(printable(line) for line in lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "base_url": self.base_url,
            "auth": self.auth,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 3),
            "accounts": [a.to_json() for a in self.accounts],
            "deployments": [r.to_json() for r in self.results],
        }

    def write_json(self, path: str | Path) -> None:
        files.write_file(path, json.dumps(self.to_json(), indent=2) + "\n")

    def to_junit(self) -> ET.Element:
        """The JUnit tree; every attribute and text is XML 1.0-safe (:func:`xml_safe`)."""
        suite = self._junit_tree()
        for el in suite.iter():
            el.attrib = {k: xml_safe(v) for k, v in el.attrib.items()}
            if el.text:
                el.text = xml_safe(el.text)
        return suite

    def _junit_tree(self) -> ET.Element:
        suite = ET.Element("testsuite", {
            "name": "claude-foundry smoke",
            "tests": str(len(self.results)),
            "failures": str(len(self.failures)),
            "errors": "0",
            "skipped": "0",
            "time": f"{self.duration_s:.3f}",
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (("resource", self.resource), ("base_url", self.base_url), ("auth", self.auth)):
            ET.SubElement(props, "property", {"name": name, "value": value})
        several = self.multi_account  # wording only: a one-account report reads as it always did
        if several:
            ET.SubElement(props, "property", {"name": "accounts", "value": ",".join(self.account_names)})
        for r in self.results:  # one testcase per (account, deployment): the classname names the account
            classname = f"claude_foundry.smoke.{r.resource or self.resource or 'foundry'}"
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": r.name,
                                                     "time": f"{r.duration_s:.3f}"})
            if not r.passed:
                failure = ET.SubElement(case, "failure", {"message": r.diagnosis, "type": r.category})
                failure.text = r.diagnosis
            out = ET.SubElement(case, "system-out")
            where = f"account={r.account} resource={r.resource} region={r.region or '-'} " if several else ""
            out.text = (where + f"model={r.model} status={r.status} attempts={r.attempts} "
                        f"request-id={r.request_id} apim-request-id={r.apim_request_id}"
                        + "".join(f"\nwarning: {w}" for w in r.warnings))
        return suite

    def write_junit(self, path: str | Path) -> None:
        root = self.to_junit()
        ET.indent(ET.ElementTree(root))
        files.write_file(path, ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")



#: What XML 1.0 forbids even escaped: C0 controls but tab, LF and CR; surrogates; U+FFFE, U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot carry shown as ``\\xNN`` / ``\\uNNNN`` (a service error may
    quote control characters; ElementTree would write them raw and the report would not parse)."""
    return _XML_FORBIDDEN.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                              else f"\\u{ord(m.group()):04x}", text)


# --- diagnosis ------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    """What a diagnosis may mention about the target."""

    resource: str
    base_url: str
    auth: str  # "key" | "entra"
    auth_mode: str  # the stack's declared auth-mode
    token_scope: str
    key_secret: str | None  # the Key Vault secret the key came from, when it did
    timeout: float
    account: str = ""  # the stack's name for the account
    region: str = ""  # its Azure region ("" when the contract does not say)
    #: the run covers several accounts: the words then say which account's endpoint answered (wording only: a
    #: one-account run's words are as they always were)
    several: bool = False
    from_stack: bool = False  # the deployment names came from the stack file (per account)

    @property
    def tag(self) -> str:
        """`` (sweden, swedencentral)`` after an account's name when several accounts are smoked, else ""."""
        if not self.several:
            return ""
        return f" ({self.account}, {self.region})" if self.region else f" ({self.account})"

    @property
    def who(self) -> str:
        """``Foundry account 'name'`` (with :attr:`tag`)."""
        return f"Foundry account '{self.resource}'{self.tag}"

    @property
    def service(self) -> str:
        """Who answered, for the words: ``Foundry`` (one account), else :attr:`who`."""
        return self.who if self.several else "Foundry"

    @property
    def on(self) -> str:
        """`` on Foundry account 'name' (key, region)`` when several accounts are smoked, else ""."""
        return f" on {self.who}" if self.several else ""


def _host(base_url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    return f"{parts.hostname}:{parts.port}" if parts.port else (parts.hostname or base_url)


def _error_of(body: Any) -> dict[str, Any]:
    err = body.get("error", body) if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def _error_detail(body: Any) -> str:
    err = _error_of(body)
    code, msg = err.get("code") or err.get("type"), err.get("message")
    text = " ".join(str(x) for x in (code, msg) if x)
    return f" (service said: {text[:200]})" if text else ""


_RBAC_MARKERS = ("permissiondenied", "lacks the required data action", "does not have access",
                 "does not have permission", "not authorized to perform", "authorizationfailed")
_NETWORK_MARKERS = ("network", "firewall", "private endpoint", "public access", "ip address")


def _error_code(body: Any) -> str:
    return str(_error_of(body).get("code") or "")


def _error_text(body: Any) -> str:
    err = _error_of(body)
    return " ".join(str(err.get(k) or "") for k in ("code", "type", "message")).lower()


#: What Azure says to a caller outside a resource's network (Foundry's gateway; Key Vault's inner error codes).
_OUTSIDE_MARKERS = ("public access is disabled", "configure private endpoint", "virtual network/firewall rules",
                    "public network access is disabled", "approved private link", "client address is not authorized",
                    "forbiddenbyconnection", "forbiddenbyfirewall")


def outside_network(status: int | None, body: Any = None) -> bool:
    """Is this 403 Azure's answer to a caller outside the resource's network (public network access disabled, or a
    firewall without this address) rather than a missing role? ``body``: the error body, or its text."""
    text = body.lower() if isinstance(body, str) else _error_text(body)
    return status == 403 and any(m in text for m in _OUTSIDE_MARKERS)


def outside_network_words(what: str) -> str:
    """The diagnosis of :func:`outside_network`, for ``what`` (e.g. "Foundry account 'x'", "Key Vault y")."""
    return (f"outside the network: {what} refuses callers from here (public network access disabled, or its "
            "firewall does not list this address). This is the network, not a role. Run from inside its virtual "
            "network (a self-hosted CI runner in the VNet or a peered one, resolving the privatelink DNS zones), or "
            "allow this runner's public address for the run (see docs/networking.md)")


def rbac_denied(status: int, auth: str, body: Any = None) -> bool:
    """Could a role assignment that has not reached the data plane yet explain this answer? With Entra ID: a 403
    that is not a network rule, or a 401 that names a missing permission (``PermissionDenied``)."""
    if auth != "entra" or status not in (401, 403):
        return False
    text = _error_text(body)
    if any(m in text for m in _NETWORK_MARKERS):
        return False
    return status == 403 or any(m in text for m in _RBAC_MARKERS)


def diagnose_status(status: int, ctx: _Ctx, deployment: str, *, attempts: int = 1, waited: float = 0.0,
                    body: Any = None) -> tuple[str, str]:
    """(category, words) for an HTTP error status."""
    detail = _error_detail(body)
    account_scope = f".../providers/{arm.COGNITIVE_SERVICES_NAMESPACE}/accounts/{ctx.resource or '<account>'}"
    lacks_role = (f"lacks the data-plane role 'Cognitive Services User' or 'Azure AI User' on {ctx.who} "
                  f"(assign it at scope {account_scope}, or its resource group; role assignments "
                  "take a few minutes to apply)")
    if status == 401:
        if ctx.auth == "entra" and rbac_denied(status, ctx.auth, body):
            return AUTH, "401 Unauthorized (permission denied): the Entra ID principal " + lacks_role + detail
        if ctx.auth == "entra":
            return AUTH, (
                f"401 Unauthorized{ctx.on}: the Entra ID token was refused. It was requested for scope "
                f"{ctx.token_scope}; "
                f"try {c.TOKEN_SCOPE_AI_AZURE if ctx.token_scope != c.TOKEN_SCOPE_AI_AZURE else c.DEFAULT_TOKEN_SCOPE}"
                " (--token-scope), and check that the credential belongs to the account's tenant" + detail)
        if ctx.auth_mode == c.AUTH_MODE_ENTRA:
            return AUTH, (
                f"401 Unauthorized{ctx.on}: the API key was refused, and this stack disables local (key) auth "
                "(auth-mode=entra, disableLocalAuth=true): keys never work here; use Entra ID (--entra) with a "
                "principal holding Cognitive Services User or Azure AI User" + detail)
        where = (f" (the runtime re-read Key Vault secret {ctx.key_secret!r} once and still got 401: re-sync it "
                 "with the account's current key1)") if ctx.key_secret else \
            f" (check {c.ENV_API_KEY} against the account's current key1/key2)"
        return AUTH, (
            f"401 Unauthorized{ctx.on}: the API key is wrong or was rotated" + where +
            ", or local (key) auth is disabled on the account (disableLocalAuth=true); then use Entra ID" + detail)
    if outside_network(status, body):  # still the "forbidden" category (a stable string); the words say which 403
        return FORBIDDEN, "403 Forbidden, " + outside_network_words(ctx.who) + detail
    if status == 403:
        return FORBIDDEN, (
            "403 Forbidden: the caller " + lacks_role + "; with keys, check the account's network rules "
            "(public network access / IP firewall)" + detail)
    if status == 404:
        path_hint = "" if ctx.base_url.rstrip("/").endswith("/anthropic") else \
            f" The base URL {ctx.base_url} does not end in /anthropic: that is the likely cause."
        return NOT_FOUND, (
            f"404 Not Found after {attempts} attempt(s) over {waited:.0f}s: deployment '{deployment}' is not on "
            f"resource '{ctx.resource}'{ctx.tag} (or did not finish propagating), or the endpoint path is wrong "
            f"(must be https://<resource>.services.ai.azure.com/anthropic/v1/messages).{path_hint}" + detail)
    if status == 429:
        return RATE_LIMITED, (
            f"429 Too Many Requests{ctx.on} after {attempts} attempt(s) over {waited:.0f}s: the deployment's quota/"
            f"capacity (tokens per minute, TPM) is exhausted; raise '{deployment}''s capacity or the "
            "subscription's quota for the model, or spread the load" + detail)
    if status >= 500:
        return SERVER_ERROR, (
            f"{status} server error from {ctx.service}: a service-side failure, not your configuration; retry "
            "later and quote the request-id and apim-request-id to support" + detail)
    return HTTP_ERROR, f"HTTP {status} from {ctx.service}: unexpected answer" + detail


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


_DNS_MARKERS = ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                "temporary failure in name resolution", "no address associated", "name resolution")


def diagnose_exception(exc: BaseException, ctx: _Ctx) -> tuple[str, str]:
    """(category, words) for a failure without an HTTP answer (or with an unreadable one)."""
    import anthropic

    from claude_foundry._client.runtime import StreamInterruptedError, TokenTimeoutError

    host = _host(ctx.base_url) + (f" (Foundry account '{ctx.resource}', {ctx.tag.strip()[1:-1]})" if ctx.several
                                  else "")
    chain = _chain(exc)
    text = " | ".join(str(e) for e in chain).lower()
    if isinstance(exc, StreamInterruptedError):
        return STREAM_INTERRUPTED, (
            f"stream interrupted: the event stream from {host} broke off before message_stop ({exc.message}): a "
            "proxy or load balancer with a short idle or body timeout, or a service-side failure mid-answer; retry, "
            "and quote the request-id to support if it persists")
    bound = next((e for e in chain if isinstance(e, _http.ResponseBoundError)), None)
    if isinstance(bound, _http.CallDeadlineError):
        return TIMEOUT, (
            f"deadline: {bound} from {host}; the call's whole answer (headers and body) must arrive within "
            f"--timeout: a body dripped slowly or never ending, a proxy holding the connection open, or the service "
            "hangs mid-answer")
    if bound is not None:
        return TOO_LARGE, (f"{bound}: the answer was cut off (a proxy or gateway in between, or a misbehaving "
                           "service; a Messages answer is far smaller)")
    refused = next((e for e in chain if isinstance(e, _http.CrossOriginRequestError)), None)
    if refused is not None:
        return REDIRECT, f"{refused}; the key or token is never sent elsewhere"
    token_timeout = next((e for e in chain if isinstance(e, TokenTimeoutError)), None)
    if token_timeout is not None:
        return TIMEOUT, f"no Entra ID token{ctx.on}: {token_timeout}; Foundry itself was not called"
    if isinstance(exc, anthropic.APITimeoutError) or any(isinstance(e, TimeoutError) for e in chain):
        return TIMEOUT, (
            f"timed out after {ctx.timeout:.0f}s without an answer from {host}: the service is slow or hangs, or a "
            "proxy/firewall drops the connection; retry, and raise --timeout only if the service is known slow")
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "certificate_verify_failed" in text \
            or "certificate verify failed" in text:
        return TLS, (
            f"TLS certificate verification failed for {host}: the server's certificate is not trusted by this "
            "machine (a TLS-inspecting proxy needs its CA in the trust store; for the local sandbox pass "
            "--ca-bundle)")
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return TLS, f"TLS handshake with {host} failed: {type(exc).__name__}; check proxies and TLS interception"
    if any(isinstance(e, socket.gaierror) for e in chain) or any(m in text for m in _DNS_MARKERS):
        return DNS, (
            f"DNS lookup of {host} failed: the resource name is wrong, the account has no custom subdomain, or a "
            "private endpoint's DNS zone is not reachable from here")
    if isinstance(exc, anthropic.APIConnectionError) or any(isinstance(e, OSError) for e in chain):
        return CONNECTION, (
            f"could not connect to {host} (refused, reset or unreachable): check network access to the account "
            "(public network access, private endpoint, firewall, proxy)")
    if isinstance(exc, anthropic.APIResponseValidationError | json.JSONDecodeError | ValueError):
        return MALFORMED, (f"{ctx.service} answered but the body is not a valid Messages "
                           "API response: a proxy or gateway in between may have rewritten it")
    return CHECK_FAILED, f"unexpected {type(exc).__name__} while calling the deployment{ctx.on}"


def _model_matches(expected: str, got: str | None) -> bool:
    if not expected:
        return True
    if not got:
        return False
    return got == expected or bool(re.fullmatch(re.escape(expected) + r"-\d{8}", got))


# --- one deployment -------------------------------------------------------------------------------


class PropagationLog:
    """Progress lines while callers wait out role assignment propagation: one when a wait starts, then at most
    one per ``gap`` seconds whoever is waiting (a dozen over a whole timeout), and one when nobody waits any
    more. ``emit`` None: silent."""

    def __init__(self, emit: Callable[[str], None] | None, what: str, timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.emit, self.what, self.timeout, self.clock = emit, what, timeout, clock
        self.gap = max(10.0, timeout / 10)
        self.waiting: set[str] = set()
        self.since: float | None = None
        self.last = float("-inf")
        self.outcomes = {True: 0, False: 0}

    def denied(self, key: str, why: str) -> None:
        """``key`` was denied (``why``: e.g. ``403 PermissionDenied``) and will be retried."""
        self.waiting.add(key)
        now = self.clock()
        if self.since is None:
            self.since, self.last, self.outcomes = now, float("-inf"), {True: 0, False: 0}
        if self.emit is not None and now - self.last >= self.gap:
            self.last = now
            names = sorted(self.waiting)
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            self.emit(f"waiting for role assignment propagation on {self.what}: {shown} answered {why}; retrying "
                      f"for up to {self.timeout:.0f}s ({now - self.since:.0f}s so far)")

    def done(self, key: str, *, granted: bool = True) -> None:
        """``key`` stopped waiting: access arrived (``granted``) or the timeout is spent."""
        if key not in self.waiting:
            return
        self.waiting.discard(key)
        self.outcomes[granted] += 1
        if not self.waiting and self.since is not None:
            took, self.since = self.clock() - self.since, None
            if self.emit is not None:
                ok, denied = self.outcomes[True], self.outcomes[False]
                self.emit(f"role assignment wait on {self.what} over after {took:.0f}s: "
                          + ", ".join(x for x in (f"{ok} granted" if ok else "",
                                                  f"{denied} still denied" if denied else "") if x))


@dataclass
class _Options:
    max_tokens: int
    prompt: str
    propagation_timeout: float
    rate_limit_timeout: float
    poll_interval: float
    stream: bool
    role_propagation_timeout: float = 0.0
    waits: PropagationLog = field(default_factory=lambda: PropagationLog(None, "", 0.0))
    run_start: float = field(default_factory=time.monotonic)


@dataclass
class _Answer:
    """What the checks look at, from a message or a collected stream."""

    model: str | None = None
    text: str = ""
    input_tokens: int | None = None
    output_tokens: int = 0
    stopped: bool = True

    @classmethod
    def from_message(cls, msg: Any) -> _Answer:
        blocks = getattr(msg, "content", None) or []
        text = "".join(getattr(b, "text", "") or "" for b in blocks if getattr(b, "type", "") == "text")
        usage = getattr(msg, "usage", None)
        return cls(model=getattr(msg, "model", None), text=text,
                   input_tokens=getattr(usage, "input_tokens", None) if usage is not None else None,
                   output_tokens=(getattr(usage, "output_tokens", 0) or 0) if usage is not None else 0)


_NO_STOP = "stream interrupted: the stream ended without message_stop"


def _check_answer(ans: _Answer, expected_model: str) -> list[str]:
    problems = []
    if not ans.text.strip():
        problems.append("the answer has no text content")
    if ans.input_tokens is None or not ans.output_tokens:
        problems.append("the answer has no token usage")
    if not ans.stopped:
        problems.append(_NO_STOP)
    got = ans.model
    if not _model_matches(expected_model, got):
        problems.append(f"the answer came from model {got!r}, but the stack declares {expected_model!r} for this "
                        "deployment: the deployment points at another model (redeploy it, or fix the stack)")
    return problems


async def _call_once(client: Any, name: str, opts: _Options, *, stream: bool) -> tuple[Any, Any]:
    """One attempt: (parsed message or collected stream summary, httpx2 response)."""
    kwargs = {"model": name, "max_tokens": opts.max_tokens,
              "messages": [{"role": "user", "content": opts.prompt}]}
    if not stream:
        raw = await client.messages.with_raw_response.create(**kwargs)
        return _Answer.from_message(await raw.parse()), raw.http_response
    raw = await client.messages.with_raw_response.create(stream=True, **kwargs)
    events = await raw.parse()
    return await _collect_stream(events), raw.http_response


async def _collect_stream(events: Any) -> _Answer:
    out = _Answer(stopped=False)
    text: list[str] = []  # joined once: linear in the deltas received
    async for ev in events:
        kind = getattr(ev, "type", "")
        if kind == "message_start":
            out.model = ev.message.model
            out.input_tokens = ev.message.usage.input_tokens
            out.output_tokens = ev.message.usage.output_tokens or 0
        elif kind == "content_block_delta" and getattr(ev.delta, "type", "") == "text_delta":
            text.append(ev.delta.text)
        elif kind == "message_delta" and ev.usage is not None:
            out.output_tokens = ev.usage.output_tokens or out.output_tokens
        elif kind == "message_stop":
            out.stopped = True
    out.text = "".join(text)
    return out


async def _attempt_with_policy(client: Any, res: DeploymentResult, opts: _Options, ctx: _Ctx,
                               *, stream: bool) -> Any:
    """Run one logical call with the smoke retry policy; fills ``res``; returns the message or None."""
    import anthropic

    start = opts.run_start  # the retry windows are the run's, not each deployment's: thousands of deployments
    interval = opts.poll_interval  # that 404 or 429 wait them out once, not one after another
    denied_since: float | None = None  # first RBAC denial of this call
    denials = 0
    while True:
        res.attempts += 1
        try:
            # the whole attempt is bounded (the HTTP hooks end a dripped or endless answer first, with words)
            msg, http = await asyncio.wait_for(_call_once(client, res.name, opts, stream=stream),
                                               ctx.timeout + DEADLINE_GRACE)
        except anthropic.APIStatusError as exc:
            headers = exc.response.headers
            res.status = exc.status_code
            res.request_id = headers.get("request-id") or res.request_id
            res.apim_request_id = headers.get("apim-request-id") or res.apim_request_id
            waited = time.monotonic() - start
            if 300 <= exc.status_code < 400:  # never followed (the key would go with it): a failure, with words
                opts.waits.done(res.name)
                res.category = REDIRECT
                res.diagnosis = (f"{ctx.who}: " if ctx.several else "") + redirect_words(
                    exc.status_code, _http.origin(ctx.base_url), _http.redirect_target(exc.response))
                return None
            body = exc.body if isinstance(exc.body, dict) else None
            if rbac_denied(exc.status_code, ctx.auth, body):
                denials += 1
                denied_since = time.monotonic() if denied_since is None else denied_since
                denied_for = time.monotonic() - denied_since
                if denied_for + interval <= opts.role_propagation_timeout:
                    opts.waits.denied(res.name, f"{exc.status_code} {_error_code(body)}".strip())
                    await asyncio.sleep(interval)
                    interval = min(interval * 1.5, MAX_POLL_INTERVAL)
                    continue
                opts.waits.done(res.name, granted=False)
                res.category, res.diagnosis = diagnose_status(exc.status_code, ctx, res.name, body=body)
                if denials > 1:
                    res.diagnosis += (f"; still denied after {denials} attempts over {denied_for:.0f}s of waiting "
                                      "for role assignment propagation (Azure can take up to 10 minutes: raise "
                                      "--role-propagation-timeout if the assignment is that new)")
                return None
            opts.waits.done(res.name)
            if exc.status_code == 404 and waited + interval <= opts.propagation_timeout:
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, MAX_POLL_INTERVAL)
                continue
            if exc.status_code == 429:
                delay = _http.retry_after(headers)
                delay = min(interval, MAX_POLL_INTERVAL) if delay is None else delay
                if waited + delay <= opts.rate_limit_timeout:
                    await asyncio.sleep(delay)
                    interval = min(interval * 1.5, MAX_POLL_INTERVAL)
                    continue
            res.category, res.diagnosis = diagnose_status(exc.status_code, ctx, res.name, attempts=res.attempts,
                                                          waited=waited, body=body)
            return None
        except Exception as exc:  # no usable HTTP answer: named by kind, never retried
            opts.waits.done(res.name)
            response = getattr(exc, "response", None)
            if response is not None:
                res.status = response.status_code
                res.request_id = response.headers.get("request-id") or res.request_id
                res.apim_request_id = response.headers.get("apim-request-id") or res.apim_request_id
            res.category, res.diagnosis = diagnose_exception(exc, ctx)
            return None
        opts.waits.done(res.name)
        res.status = http.status_code
        res.request_id = http.headers.get("request-id")
        res.apim_request_id = http.headers.get("apim-request-id")
        return msg


async def _smoke_one(runtime: FoundryRuntime, client: Any, name: str, opts: _Options, ctx: _Ctx,
                     sem: asyncio.Semaphore) -> DeploymentResult:
    from claude_foundry._client.runtime import UnknownDeploymentError

    info = runtime.deployments.get(name)
    res = DeploymentResult(name=name, model=info.model if info else "", account=runtime.account,
                           resource=runtime.resource, region=runtime.region)
    async with sem:
        start = time.monotonic()
        try:
            runtime.deployment(name)
            msg = await _attempt_with_policy(client, res, opts, ctx, stream=False)
            if msg is not None:
                problems = _check_answer(msg, res.model)
                res.response_model = msg.model
                res.input_tokens += msg.input_tokens or 0
                res.output_tokens += msg.output_tokens
                missing = [h for h, v in (("request-id", res.request_id), ("apim-request-id", res.apim_request_id))
                           if not v]
                if missing:
                    res.warnings.append(f"the answer has no {' or '.join(missing)} header: Foundry does not "
                                        "document them as guaranteed, but a proxy or gateway in between may strip "
                                        "them, and support needs one to trace a call")
                if not problems and opts.stream:
                    smsg = await _attempt_with_policy(client, res, opts, ctx, stream=True)
                    if smsg is None:
                        res.diagnosis = "streaming call: " + res.diagnosis
                    else:
                        res.stream_checked = True
                        res.input_tokens += smsg.input_tokens or 0
                        res.output_tokens += smsg.output_tokens
                        problems += [f"streaming call: {p}" for p in _check_answer(smsg, res.model)]
                if res.category == "" and problems:
                    interrupted = any(_NO_STOP in p for p in problems)
                    res.category = STREAM_INTERRUPTED if interrupted else CHECK_FAILED
                    res.diagnosis = (f"{ctx.who}: " if ctx.several else "") + "; ".join(problems)
                elif res.category == "":
                    res.passed, res.category = True, OK
                    res.diagnosis = "answered" + (" (and streamed)" if res.stream_checked else "")
        except UnknownDeploymentError as exc:
            res.category, res.diagnosis = CONFIG, str(exc)
            if ctx.several and ctx.from_stack:
                region = f" ({ctx.region})" if ctx.region else ""
                res.diagnosis += (f"; the stack file says its {ctx.account} account{region} serves it: the "
                                  "contract in Key Vault is not the stack's (did a deploy publish it? pulumi up "
                                  "writes the contract)")
        finally:
            res.duration_s = time.monotonic() - start
    return res


# --- which account smokes what ----------------------------------------------------------------------


@dataclass
class _Job:
    """One account's part of a run: its runtime (None: the stack file names it, the contract does not), the
    deployment names to call, and results decided before any call."""

    account: str
    runtime: FoundryRuntime | None
    names: list[str] = field(default_factory=list)
    decided: list[DeploymentResult] = field(default_factory=list)
    note: str = ""  # a warning for each of its results


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{what} must be a list of deployment names (got {type(value).__name__})")
    return list(value)


def _serves(runtime: FoundryRuntime, name: str) -> bool:
    deps = runtime.deployments
    return not deps or name in deps  # a contract without a deployment map accepts any name


def _accounts_of(runtime: FoundryRuntime) -> list[FoundryRuntime]:
    accounts = getattr(runtime, "accounts", None)
    return list(accounts()) if callable(accounts) else [runtime]


def _plan(runtime: FoundryRuntime,
          deployments: Sequence[str] | Mapping[str, Sequence[str]] | None) -> tuple[list[_Job], bool]:
    """(one job per account with something to call or report, the first first; whether the names are the stack
    file's per account)."""
    runtimes = _accounts_of(runtime)
    first = runtimes[0]
    if isinstance(deployments, Mapping):  # per account, from the stack file: each must serve its names
        expected = {str(k): _names(v, f"deployments[{k!r}]") for k, v in deployments.items()}
        jobs = []
        for r in runtimes:
            if r.account in expected:
                jobs.append(_Job(r.account, r, expected[r.account]))
            else:  # a contract account the stack file does not name: smoked, and said
                jobs.append(_Job(r.account, r, sorted(r.deployments),
                                 note=f"account {r.account} ({r.resource}) is in the contract read from Key Vault "
                                      "but not in the stack file: clients may fail over to an account the stack "
                                      "no longer has (re-deploy to publish the stack's contract)"))
        listed = ", ".join(r.account for r in runtimes)
        for key, names in expected.items():
            if any(r.account == key for r in runtimes):
                continue
            words = (f"the stack file names account {key!r}, but the contract read from Key Vault does not "
                     f"(its accounts: {listed}): the contract was not published by a deploy of this stack yet "
                     "(pulumi up writes <prefix>-accounts), or --prefix / --stack point at another stack")
            jobs.append(_Job(key, None, decided=[DeploymentResult(name=n, account=key, category=CONFIG,
                                                                  diagnosis=words) for n in names]))
        return [j for j in jobs if j.names or j.decided], True
    if deployments is not None:
        names = _names(deployments, "deployments")
        if len(runtimes) == 1:  # its own calls say which names it does not serve, as they always did
            return [_Job(first.account, first, names)], False
        jobs = [_Job(r.account, r, [n for n in names if _serves(r, n)]) for r in runtimes]
        nowhere = [n for n in names if not any(_serves(r, n) for r in runtimes)]
        if nowhere:
            known = "; ".join(f"{r.account}: {', '.join(sorted(r.deployments)) or '(none)'}" for r in runtimes)
            jobs[0].decided = [DeploymentResult(name=n, account=first.account, resource=first.resource,
                                                region=first.region, category=CONFIG,
                                                diagnosis=f"unknown deployment {n!r}: no account of the stack "
                                                          f"serves it; known deployments: {known}")
                               for n in nowhere]
        return [j for j in jobs if j.names or j.decided], False
    return [_Job(r.account, r, sorted(r.deployments)) for r in runtimes], False


# --- entry points ---------------------------------------------------------------------------------


async def run_smoke_async(
    runtime: FoundryRuntime,
    deployments: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    prompt: str = DEFAULT_PROMPT,
    propagation_timeout: float = DEFAULT_PROPAGATION_TIMEOUT,
    rate_limit_timeout: float = DEFAULT_RATE_LIMIT_TIMEOUT,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float = DEFAULT_REQUEST_TIMEOUT,
    stream: bool = False,
    http_client: Any = None,
    role_propagation_timeout: float = DEFAULT_ROLE_PROPAGATION_TIMEOUT,
    progress: Callable[[str], None] | None = None,
) -> SmokeReport:
    """Smoke-test every account of the runtime's stack (:meth:`FoundryRuntime.accounts`, the first first), all
    at once, each through its own client (one connection pool per endpoint, ``concurrency`` calls at once in
    all), each with its own key (re-read after a 401) and its own role-propagation wait.

    ``deployments``: None, every account's own deployments (its contract's); a list of names, each account the
    ones it serves (a name no account serves fails on the first); a mapping of account (the stack's name for
    it) -> names, what the stack file says each account serves: a name missing from that account's contract, or an
    account missing from the contract, fails for that account. ``http_client``: an ``httpx2.AsyncClient`` the
    accounts' clients share (closed at the end). ``progress`` gets the lines of a role-propagation wait (e.g.
    ``print``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    for what, value in (("propagation_timeout", propagation_timeout), ("rate_limit_timeout", rate_limit_timeout),
                        ("role_propagation_timeout", role_propagation_timeout), ("poll_interval", poll_interval),
                        ("timeout", timeout)):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number of seconds (got {value!r})")
        if value < 0:
            raise ValueError(f"{what} must not be negative (got {value!r})")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    jobs, from_stack = _plan(runtime, deployments)
    several = len(jobs) > 1  # wording only: a one-account run's diagnoses read as they always did
    report = SmokeReport(resource=runtime.resource, base_url=runtime.base_url, auth=runtime.auth)
    for job in jobs:
        r = job.runtime
        report.accounts.append(SmokeAccount(job.account, r.resource, r.base_url, r.region, r.auth) if r is not None
                               else SmokeAccount(job.account, "", "", "", ""))
    import anthropic  # noqa: F401  (its first import takes seconds; not the deployments' time)

    sem = asyncio.Semaphore(concurrency)

    async def one_account(r: FoundryRuntime, names: list[str], client: Any) -> list[DeploymentResult]:
        src = getattr(r, "_vault_source", None)
        ctx = _Ctx(resource=r.resource, base_url=r.base_url, auth=r.auth, auth_mode=r.contract.auth_mode,
                   token_scope=r.token_scope,
                   key_secret=src.key_secret(r.account) if src is not None and r.uses_key else None,
                   timeout=timeout, account=r.account, region=r.region, several=several,
                   from_stack=from_stack)
        opts = _Options(run_start=start, max_tokens=max_tokens, prompt=prompt,
                        propagation_timeout=propagation_timeout,
                        rate_limit_timeout=rate_limit_timeout, poll_interval=poll_interval, stream=stream,
                        role_propagation_timeout=role_propagation_timeout,
                        waits=PropagationLog(progress, f"Foundry account '{r.resource or r.base_url}'{ctx.tag}",
                                             role_propagation_timeout))
        return list(await asyncio.gather(*(_smoke_one(r, client, n, opts, ctx, sem) for n in names)))

    start = time.monotonic()
    clients: list[Any] = []
    try:
        work: list[Coroutine[Any, Any, list[DeploymentResult]] | None] = []
        for job in jobs:
            if job.runtime is None or not job.names:
                work.append(None)
                continue
            client = job.runtime.async_client(max_retries=0, timeout=timeout, http_client=http_client)
            clients.append(client)
            work.append(one_account(job.runtime, job.names, client))
        done = iter(await asyncio.gather(*(w for w in work if w is not None)))
        for job, w in zip(jobs, work, strict=True):
            results = (next(done) if w is not None else []) + job.decided
            for res in results:
                if job.note and res.passed:
                    res.warnings.append(job.note)
                elif job.note:
                    res.diagnosis += f"; {job.note}"
            report.results += results
    finally:
        for client in clients:
            await client.close()
    for res in report.results:
        _scrub(res)
    report.duration_s = time.monotonic() - start
    return report


def _scrub(res: DeploymentResult) -> None:
    """Every text of a result redacted (:func:`._redact.redact`: a service may echo the key) before any report,
    table or annotation is made of it. Control characters stay (JSON escapes them; :func:`xml_safe` and
    :func:`._redact.printable` show them) so that a name still matches its contract."""
    for f in ("name", "model", "diagnosis", "request_id", "apim_request_id", "response_model", "account",
              "resource", "region"):
        value = getattr(res, f)
        if isinstance(value, str) and value:
            setattr(res, f, redact(value))
    res.warnings = [redact(w) for w in res.warnings]


def run_smoke(runtime: FoundryRuntime, deployments: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
              **kwargs: Any) -> SmokeReport:
    """Synchronous :func:`run_smoke_async` (for scripts and pytest suites)."""
    return asyncio.run(run_smoke_async(runtime, deployments, **kwargs))


def assert_smoke_passed(report: SmokeReport) -> None:
    """``AssertionError`` with every failed deployment's diagnosis, for test suites."""
    if not report.passed:
        raise AssertionError(report.summary() if report.results else "no deployments to smoke-test")


__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_ROLE_PROPAGATION_TIMEOUT",
    "STREAM_INTERRUPTED",
    "DeploymentResult",
    "PropagationLog",
    "SmokeAccount",
    "SmokeReport",
    "assert_smoke_passed",
    "diagnose_exception",
    "diagnose_status",
    "outside_network",
    "outside_network_words",
    "rbac_denied",
    "run_smoke",
    "run_smoke_async",
    "xml_safe",
]
