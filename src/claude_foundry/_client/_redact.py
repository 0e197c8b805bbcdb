"""Keeps Foundry keys and Entra ID tokens out of logs, reports, terminal output and exceptions: the one place
text is redacted (:func:`redact`, :func:`redact_text`) and made inert for a terminal (:func:`printable`).

Where it is applied: every log record of the SDKs' loggers (the filter below); every error (non-2xx) body and
every response header value a Foundry call receives, before the SDK builds an exception from it
(:mod:`._http`); every text field of a smoke result before any report, table or annotation is made
(:mod:`.smoke`).

:class:`_RedactKeys` is a ``logging.Filter`` that rewrites a record's message (and its formatted traceback)
before any handler sees it: the values of credential headers (``Authorization``, ``Proxy-Authorization``,
``api-key``, ``x-api-key``, ``Ocp-Apim-Subscription-Key``) in the shapes the SDKs log them (dict reprs,
``(b'name', b'value')`` tuples, ``Name: value`` lines), ``Bearer <token>`` anywhere, JWTs, token/secret
fields of OAuth bodies, and every key a runtime has used in this process.

A logger filter only sees the records created on that very logger (not its children's), so
:func:`install_log_redaction` puts it on each logger that logs requests at DEBUG with the installed SDKs
(:data:`SDK_LOGGERS`: the anthropic SDK's ``Request options`` holds the auth headers; httpx/httpcore,
azure-core's HTTP logging and network-trace policies, azure-identity, msal, urllib3) and on every logger of
those families that exists when it runs. The runtime installs it whenever it is used, the CLI at start.
"""

from __future__ import annotations

import logging
import re
import threading

#: Loggers that log requests or responses at DEBUG (checked against anthropic 2.14, httpx2/httpcore2 2.16,
#: azure-core 1.41, azure-identity 1.27, msal 1.39).
SDK_LOGGERS = (
    "anthropic", "anthropic._base_client", "anthropic._response", "anthropic._streaming",
    "anthropic.lib.middleware", "anthropic.lib.foundry",
    "httpx", "httpx2", "httpcore", "httpcore2",
    *(f"{p}.{m}" for p in ("httpcore", "httpcore2") for m in ("connection", "http11", "http2", "proxy", "socks")),
    "azure", "azure.core.pipeline.policies.http_logging_policy", "azure.core.pipeline.policies._universal",
    "azure.core.pipeline.transport._requests_basic", "azure.identity", "azure.identity._internal.get_token_mixin",
    "azure.identity._internal.decorators", "azure.keyvault.secrets",
    "msal", "msal.application", "msal.token_cache", "msal.oauth2cli.oauth2", "msal.oauth2cli.oidc",
    "urllib3", "urllib3.connectionpool",
    "claude_foundry",
)
#: Every existing logger under these prefixes gets the filter too.
SDK_LOGGER_PREFIXES = ("anthropic", "httpx", "httpcore", "azure", "msal", "urllib3", "claude_foundry")

MASK = "***"
_HEADERS = r"(?:proxy-)?authorization|x-api-key|api-key|ocp-apim-subscription-key|x-ms-authorization-auxiliary"
_FIELDS = r"access_token|refresh_token|id_token|client_secret|client_assertion|assertion|api_key|apikey"
_PATTERNS = (
    # 'Authorization': 'Bearer x'   "api-key": "x"   (b'authorization', b'Bearer x')   Headers({'x-api-key': 'x'})
    re.compile(rf"""(?i)(b?(['"])(?:{_HEADERS})\2\s*[:,]\s*b?)(['"])(?:(?!\3).)*\3"""),
    # Authorization: Bearer x   api-key=x
    re.compile(rf"""(?i)(\b(?:{_HEADERS})\s*[:=]\s*)(?!['"])((?:bearer|basic|sharedkey)\s+)?[^\s'",;&}}\]]+"""),
    # "access_token": "x"   client_secret=x
    re.compile(rf"""(?i)(\b(?:{_FIELDS})(['"]?)\s*[:=]\s*)(['"]?)(?!\*+\3)[^\s'",;&}}\]]+\3"""),
)
#: Bare key shapes: an Azure AI Services key (32 hex digits, or the newer 84 characters) standing alone.
_KEY_SHAPES = re.compile(r"(?<![\w-])(?:[0-9a-fA-F]{32}|[A-Za-z0-9]{84})(?![\w-])")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[\w\-.~+/]{16,}=*(?![\w\-.~+/=])")
_JWT = re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*")


def _mask_quoted(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(3)}{MASK}{m.group(3)}"


def _mask_unquoted(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(2) or ''}{MASK}"


def _mask_field(m: re.Match[str]) -> str:
    return f"{m.group(1)}{m.group(3)}{MASK}{m.group(3)}"


def redact(text: str) -> str:
    """``text`` masked for key and token shapes and for every key a runtime of this process has used."""
    return redact_text(text, frozenset(_REDACT.keys))


#: C0 and C1 controls, DEL and the Unicode line/paragraph separators and bidirectional overrides: what a terminal
#: (or a CI log viewer) may act on instead of showing.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, newlines: bool = False) -> str:
    """``text`` redacted (:func:`redact`) with control and escape characters shown as ``\\xNN`` / ``\\uNNNN``
    (ESC never reaches a terminal raw); tab kept; LF kept only with ``newlines``, else shown as ``\\n``."""
    text = redact(text)
    if not newlines and "\n" in text:
        text = text.replace("\n", "\\n")
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                         else f"\\u{ord(m.group()):04x}", text)


def redact_text(text: str, keys: frozenset[str] | set[str] = frozenset()) -> str:
    """``text`` with credential header values, bearer tokens, JWTs, token fields and ``keys`` masked."""
    for k in keys:
        if k in text:
            text = text.replace(k, MASK)
    if len(text) >= 32:
        text = _KEY_SHAPES.sub(MASK, text)
    low = text.lower()
    if any(w in low for w in ("auth", "key", "bearer", "token", "secret", "assertion", "eyj")):
        quoted, unquoted, fields = _PATTERNS
        text = quoted.sub(_mask_quoted, text)
        text = unquoted.sub(_mask_unquoted, text)
        text = fields.sub(_mask_field, text)
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
        text = _JWT.sub(MASK, text)
    return text


class _RedactKeys(logging.Filter):
    """Masks credentials in every record it sees (see the module docstring); never drops a record."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it, with nothing of ours in it
            return True
        keys = frozenset(self.keys)
        clean = redact_text(message, keys)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text, keys)
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, keys)
        return True


_REDACT = _RedactKeys()
_REDACT_LOCK = threading.Lock()
_SEEN_LOGGERS = -1


def install_log_redaction() -> None:
    """Put the filter on :data:`SDK_LOGGERS` and on every existing logger of :data:`SDK_LOGGER_PREFIXES`
    (idempotent; cheap when no logger was created since the last call)."""
    global _SEEN_LOGGERS
    manager = logging.Logger.manager
    with _REDACT_LOCK:
        if len(manager.loggerDict) == _SEEN_LOGGERS:
            return
        names = set(SDK_LOGGERS)
        names.update(n for n in list(manager.loggerDict)
                     if n.split(".", 1)[0] in SDK_LOGGER_PREFIXES or n.startswith(SDK_LOGGER_PREFIXES))
        for name in names:
            logger = logging.getLogger(name)
            if _REDACT not in logger.filters:
                logger.addFilter(_REDACT)
        _SEEN_LOGGERS = len(manager.loggerDict)


def remember_key_for_redaction(key: str | None) -> None:
    """Scrub ``key`` from the SDKs' logs from now on (and make sure the filter is installed)."""
    if key:
        with _REDACT_LOCK:
            _REDACT.keys.add(key)
    install_log_redaction()
