"""The client runtime: from a stack's contract to ready ``anthropic`` clients for its deployments.

Light on purpose: imports neither Pulumi nor the sandbox. Typical use::

    from claude_foundry.client.runtime import FoundryRuntime

    rt = FoundryRuntime.from_key_vault("https://my-vault.vault.azure.net")   # one Key Vault read, cached
    client = rt.client("sonnet-prod")                     # anthropic.AnthropicFoundry
    msg = client.messages.create(model="sonnet-prod", max_tokens=64, messages=[...])
    # or: rt.messages_create("sonnet-prod", max_tokens=64, messages=[...])

Where the contract comes from:

* Key Vault (:func:`contract_from_key_vault`): the secrets named by :class:`contract.SecretNames`. Read at
  most once per process and vault/prefix (thread-safe cache); when a key-authenticated call answers 401 the
  key secret alone is re-read once and the call retried once, so a key rotation is invisible to callers.
* Environment (:func:`contract_from_env`): ``ANTHROPIC_FOUNDRY_API_KEY`` plus ``ANTHROPIC_FOUNDRY_RESOURCE``
  or ``ANTHROPIC_FOUNDRY_BASE_URL`` (exclusive), deployments from ``CLAUDE_FOUNDRY_DEPLOYMENTS``.
* An exported JSON file (:func:`contract_from_json`), the shape of ``Contract.public_json()``; never a key.

The key never appears in a ``repr``, a message of this module or a log line it writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from claude_foundry import contract as c
from claude_foundry.errors import UserError

if TYPE_CHECKING:  # pragma: no cover
    import anthropic

log = logging.getLogger(__name__)

AuthChoice = Literal["auto", "key", "entra"]

#: Minimum seconds between two re-reads of the key secret triggered by 401 answers (a wrong key that is not
#: being rotated must not turn every call into a Key Vault read).
__all__ = [
    "KEY_REREAD_MIN_INTERVAL",
    "FoundryRuntime",
    "RuntimeConfigError",
    "UnknownDeploymentError",
    "clear_contract_cache",
    "contract_from_env",
    "contract_from_json",
    "contract_from_key_vault",
    "default_credential",
    "load_runtime",
    "parse_deployments",
    "ssl_context",
]

KEY_REREAD_MIN_INTERVAL = 2.0


class RuntimeConfigError(UserError):
    """The contract cannot be built or used as asked (missing variables, exclusive settings, bad file)."""


class UnknownDeploymentError(RuntimeConfigError, LookupError):
    """A deployment name that this stack does not have. Raised before any network call."""

    def __init__(self, name: str, known: list[str], resource: str = "") -> None:
        self.name = name
        self.known = sorted(known)
        where = f" on resource {resource!r}" if resource else ""
        listing = ", ".join(self.known) if self.known else "(none)"
        super().__init__(f"unknown deployment {name!r}{where}; known deployments: {listing}")

    def __str__(self) -> str:  # LookupError would otherwise quote the message like a KeyError
        return str(self.args[0])


# --- Contract sources -----------------------------------------------------------------------------


def _resource_from_base_url(base_url: str) -> str:
    """Best effort: the account name in a Foundry base URL (standard host or the sandbox's path form)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    m = re.match(r"^([a-z0-9-]+)\.services\.ai\.azure\.com$", host, re.IGNORECASE)
    if m:
        return m.group(1)
    m = re.search(r"/foundry/([^/]+)/anthropic/?$", parts.path)
    return m.group(1) if m else ""


def parse_deployments(text: str | None) -> dict[str, c.DeploymentInfo]:
    """``CLAUDE_FOUNDRY_DEPLOYMENTS``: a JSON deployment map, or comma-separated names (models unknown)."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            return c.load_deployment_map(text)
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeConfigError(f"{c.ENV_DEPLOYMENTS} is not a valid deployment map: {exc}") from None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return {n: c.DeploymentInfo(model="", version="", family="") for n in names}


def contract_from_env(environ: Mapping[str, str] | None = None) -> c.Contract:
    """Build a contract from the variables the anthropic SDK reads, plus ``CLAUDE_FOUNDRY_DEPLOYMENTS``.

    Without ``ANTHROPIC_FOUNDRY_API_KEY`` the contract is an Entra ID one.
    """
    env = os.environ if environ is None else environ
    resource = (env.get(c.ENV_RESOURCE) or "").strip()
    base_url = (env.get(c.ENV_BASE_URL) or "").strip()
    if resource and base_url:
        raise RuntimeConfigError(
            f"{c.ENV_RESOURCE} and {c.ENV_BASE_URL} are mutually exclusive (the SDK refuses both); unset one"
        )
    if not resource and not base_url:
        raise RuntimeConfigError(f"set {c.ENV_RESOURCE} (account name) or {c.ENV_BASE_URL} (full base URL)")
    if resource:
        base_url = c.foundry_base_url(resource)
    else:
        base_url = base_url.rstrip("/")
        resource = _resource_from_base_url(base_url)
    key = env.get(c.ENV_API_KEY) or None
    return c.Contract(
        resource=resource,
        base_url=base_url,
        deployments=parse_deployments(env.get(c.ENV_DEPLOYMENTS)),
        auth_mode=c.AUTH_MODE_KEY if key else c.AUTH_MODE_ENTRA,
        api_key=key,
    )


def contract_from_json(source: str | Path | Mapping[str, Any]) -> c.Contract:
    """Load an exported contract (``Contract.public_json()`` shape) from a file path or a mapping.

    The file never holds a key: use key auth by passing ``api_key`` to :class:`FoundryRuntime` (or set
    ``ANTHROPIC_FOUNDRY_API_KEY``; :meth:`FoundryRuntime.from_json` does that), or Entra ID.
    """
    if isinstance(source, Mapping):
        data: Any = dict(source)
        origin = "contract JSON"
    else:
        origin = str(source)
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RuntimeConfigError(f"contract file not found: {origin}") from None
        except (OSError, ValueError) as exc:
            raise RuntimeConfigError(f"cannot read contract file {origin}: {exc}") from None
    if not isinstance(data, dict) or "base_url" not in data:
        raise RuntimeConfigError(
            f"{origin}: expected an object with resource, base_url, auth_mode, deployments")
    if "api_key" in data:
        raise RuntimeConfigError(f"{origin}: holds an api_key; exported contracts must never contain the key")
    try:
        raw = data.get("deployments") or {}
        deployments = {str(k): c.DeploymentInfo.from_json(v) for k, v in raw.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RuntimeConfigError(f"{origin}: bad deployments entry: {exc}") from None
    base_url = str(data["base_url"]).rstrip("/")
    return c.Contract(
        resource=str(data.get("resource") or _resource_from_base_url(base_url)),
        base_url=base_url,
        deployments=deployments,
        auth_mode=str(data.get("auth_mode") or c.AUTH_MODE_KEY),
    )


def default_credential(ca_bundle: str | None = None) -> Any:
    """``DefaultAzureCredential`` (imported lazily)."""
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {}
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    return DefaultAzureCredential(**kwargs)


def _secret_client(vault_url: str, credential: Any, ca_bundle: str | None) -> Any:
    from azure.keyvault.secrets import SecretClient

    kwargs: dict[str, Any] = {}
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    return SecretClient(vault_url, credential, **kwargs)


def _get_secret(client: Any, name: str, *, required: bool) -> str | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        value = client.get_secret(name).value
    except ResourceNotFoundError:
        if required:
            raise RuntimeConfigError(
                f"Key Vault secret {name!r} not found in {client.vault_url}: wrong vault or secret prefix, "
                "or the stack has not been deployed"
            ) from None
        return None
    return value


class _VaultSource:
    """Reads one stack's secrets from one vault; counts its round trips (secret reads)."""

    def __init__(self, vault_url: str, prefix: str, credential: Any, ca_bundle: str | None) -> None:
        self.vault_url = vault_url.rstrip("/")
        self.names = c.SecretNames(prefix)
        self._client = _secret_client(self.vault_url, credential, ca_bundle)
        self.contract_loads = 0
        self.key_reads = 0

    def load(self) -> c.Contract:
        names = self.names
        # The first read does the Key Vault challenge dance; the others then run in parallel.
        endpoint = _get_secret(self._client, names.endpoint, required=True)
        rest = (names.resource, names.deployments, names.auth_mode, names.api_key)
        with ThreadPoolExecutor(max_workers=len(rest)) as pool:
            futures = [pool.submit(_get_secret, self._client, n, required=n != names.api_key) for n in rest]
            resource, deployments, auth_mode, api_key = (f.result() for f in futures)
        self.contract_loads += 1
        try:
            deployment_map = c.load_deployment_map(deployments or "{}")
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeConfigError(
                f"Key Vault secret {names.deployments!r} is not a deployment map: {exc}") from None
        return c.Contract(
            resource=resource or "",
            base_url=(endpoint or "").rstrip("/"),
            deployments=deployment_map,
            auth_mode=(auth_mode or c.AUTH_MODE_KEY).strip(),
            api_key=api_key or None,
        )

    def read_key(self) -> str | None:
        self.key_reads += 1
        return _get_secret(self._client, self.names.api_key, required=False)

    def close(self) -> None:
        self._client.close()


_CACHE_LOCK = threading.Lock()
_CONTRACT_CACHE: dict[tuple[str, str], c.Contract] = {}
_SOURCE_CACHE: dict[tuple[str, str], _VaultSource] = {}
_LOAD_LOCKS: dict[tuple[str, str], threading.Lock] = {}


def clear_contract_cache() -> None:
    """Forget every contract read from Key Vault in this process (tests, long-lived tools)."""
    with _CACHE_LOCK:
        sources = list(_SOURCE_CACHE.values())
        _CONTRACT_CACHE.clear()
        _SOURCE_CACHE.clear()
        _LOAD_LOCKS.clear()
    for source in sources:
        source.close()


def _vault_key(vault_url: str, prefix: str) -> tuple[str, str]:
    return (vault_url.rstrip("/").lower(), prefix)


def _load_from_vault(
    vault_url: str, prefix: str, credential: Any, ca_bundle: str | None, use_cache: bool
) -> tuple[c.Contract, _VaultSource]:
    key = _vault_key(vault_url, prefix)
    if not use_cache:
        source = _VaultSource(vault_url, prefix, credential, ca_bundle)
        try:
            return source.load(), source
        except BaseException:
            source.close()
            raise
    with _CACHE_LOCK:
        lock = _LOAD_LOCKS.setdefault(key, threading.Lock())
    with lock:  # one load per vault/prefix even when many threads ask at once
        with _CACHE_LOCK:
            if key in _CONTRACT_CACHE:
                return _CONTRACT_CACHE[key], _SOURCE_CACHE[key]
        source = _VaultSource(vault_url, prefix, credential, ca_bundle)
        try:
            loaded = source.load()
        except BaseException:
            source.close()
            raise
        with _CACHE_LOCK:
            _CONTRACT_CACHE[key] = loaded
            _SOURCE_CACHE[key] = source
        return loaded, source


def contract_from_key_vault(
    vault_url: str,
    *,
    prefix: str = c.DEFAULT_SECRET_PREFIX,
    credential: Any = None,
    ca_bundle: str | None = None,
    use_cache: bool = True,
) -> c.Contract:
    """Read a stack's contract from Key Vault (cached per process, vault and prefix)."""
    ca = ca_bundle or os.environ.get(c.ENV_CA_BUNDLE) or None
    cred = credential if credential is not None else default_credential(ca)
    loaded, source = _load_from_vault(vault_url, prefix, cred, ca, use_cache)
    if not use_cache:
        source.close()
    return loaded


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


class _KeyHolder:
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
        return f"<_KeyHolder key={'set' if self._key else 'unset'} rereads={self.rereads}>"

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


def _build_middleware(runtime: FoundryRuntime) -> Any:
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


class _RedactKeys(logging.Filter):
    """Scrubs known keys from the anthropic SDK's debug log (it logs request options, headers included)."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keys:
            message = record.getMessage()
            if any(k in message for k in self.keys):
                for k in self.keys:
                    message = message.replace(k, "***")
                record.msg, record.args = message, None
        return True


_REDACT = _RedactKeys()
_REDACT_LOCK = threading.Lock()


def _remember_key_for_redaction(key: str | None) -> None:
    if not key:
        return
    with _REDACT_LOCK:
        if not _REDACT.keys:
            logging.getLogger("anthropic._base_client").addFilter(_REDACT)
        _REDACT.keys.add(key)


# --- The runtime ----------------------------------------------------------------------------------


class FoundryRuntime:
    """Clients for one Foundry resource (one stack), from its :class:`contract.Contract`.

    ``auth``: ``"auto"`` uses the key when the contract has one, else Entra ID; ``"key"`` or ``"entra"``
    force one. Entra ID uses ``credential`` (default ``DefaultAzureCredential``) and ``token_scope`` (default
    ``CLAUDE_FOUNDRY_TOKEN_SCOPE`` or ``contract.DEFAULT_TOKEN_SCOPE``). ``ca_bundle`` (default
    ``CLAUDE_FOUNDRY_CA_BUNDLE``) adds a CA for the local sandbox; verification is never disabled.
    """

    def __init__(
        self,
        contract: c.Contract,
        *,
        auth: AuthChoice = "auto",
        credential: Any = None,
        token_scope: str | None = None,
        ca_bundle: str | None = None,
        timeout: float | None = None,
        key_reader: Callable[[], str | None] | None = None,
        _vault_source: _VaultSource | None = None,
    ) -> None:
        if auth not in ("auto", "key", "entra"):
            raise RuntimeConfigError(f"auth must be auto, key or entra (got {auth!r})")
        if not contract.base_url:
            raise RuntimeConfigError("the contract has no base URL (endpoint)")
        self._contract = contract
        if auth == "auto":
            auth = "key" if contract.api_key else "entra"
        if auth == "key" and not contract.api_key:
            hint = " (the stack disables local auth: auth-mode is entra)" \
                if contract.auth_mode == c.AUTH_MODE_ENTRA else ""
            raise RuntimeConfigError(
                f"key auth asked for but the contract has no API key{hint}; use Entra ID")
        self.auth: Literal["key", "entra"] = auth
        self._credential = credential
        self.token_scope = token_scope or os.environ.get(c.ENV_TOKEN_SCOPE) or c.DEFAULT_TOKEN_SCOPE
        self.ca_bundle = ca_bundle or os.environ.get(c.ENV_CA_BUNDLE) or None
        self.timeout = timeout
        self._vault_source = _vault_source
        if key_reader is None and _vault_source is not None:
            key_reader = _vault_source.read_key
        self._keys = _KeyHolder(contract.api_key if auth == "key" else None, key_reader, self._on_new_key)
        _remember_key_for_redaction(contract.api_key)
        self._token_provider: Callable[[], str] | None = None
        self._shared_client: anthropic.AnthropicFoundry | None = None
        self._owns_source = False
        self._lock = threading.Lock()

    # -- constructors --

    @classmethod
    def from_key_vault(
        cls,
        vault_url: str | None = None,
        *,
        prefix: str | None = None,
        credential: Any = None,
        ca_bundle: str | None = None,
        auth: AuthChoice = "auto",
        token_scope: str | None = None,
        timeout: float | None = None,
        use_cache: bool = True,
    ) -> FoundryRuntime:
        """Contract from Key Vault (``vault_url`` default ``CLAUDE_FOUNDRY_VAULT_URL``, ``prefix`` default
        ``CLAUDE_FOUNDRY_SECRET_PREFIX`` or ``claude-foundry``). The same credential serves Entra ID calls."""
        vault_url = vault_url or os.environ.get(c.ENV_VAULT_URL)
        if not vault_url:
            raise RuntimeConfigError(f"no Key Vault URL: pass vault_url or set {c.ENV_VAULT_URL}")
        prefix = prefix or os.environ.get(c.ENV_SECRET_PREFIX) or c.DEFAULT_SECRET_PREFIX
        ca = ca_bundle or os.environ.get(c.ENV_CA_BUNDLE) or None
        cred = credential if credential is not None else default_credential(ca)
        contract, source = _load_from_vault(vault_url, prefix, cred, ca, use_cache)
        runtime = cls(contract, auth=auth, credential=cred, token_scope=token_scope, ca_bundle=ca,
                      timeout=timeout, _vault_source=source)
        runtime._owns_source = not use_cache
        return runtime

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> FoundryRuntime:
        """Contract from ``ANTHROPIC_FOUNDRY_*`` and ``CLAUDE_FOUNDRY_DEPLOYMENTS``."""
        return cls(contract_from_env(environ), **kwargs)

    @classmethod
    def from_json(cls, source: str | Path | Mapping[str, Any], *, api_key: str | None = None,
                  **kwargs: Any) -> FoundryRuntime:
        """Contract from an exported JSON file; the key (if any) from ``api_key`` or
        ``ANTHROPIC_FOUNDRY_API_KEY``."""
        contract = contract_from_json(source)
        key = api_key or os.environ.get(c.ENV_API_KEY) or None
        if key:
            contract = dataclasses.replace(contract, api_key=key)
        return cls(contract, **kwargs)

    @classmethod
    def from_environment(cls, **kwargs: Any) -> FoundryRuntime:
        """Key Vault when ``CLAUDE_FOUNDRY_VAULT_URL`` is set, else the ``ANTHROPIC_FOUNDRY_*`` variables."""
        if os.environ.get(c.ENV_VAULT_URL):
            return cls.from_key_vault(**kwargs)
        return cls.from_env(**kwargs)

    # -- facts --

    @property
    def contract(self) -> c.Contract:
        """The contract, with the key currently in use."""
        key = self._keys.current
        if key and key != self._contract.api_key:
            return dataclasses.replace(self._contract, api_key=key)
        return self._contract

    @property
    def resource(self) -> str:
        return self._contract.resource

    @property
    def base_url(self) -> str:
        return self._contract.base_url

    @property
    def deployments(self) -> dict[str, c.DeploymentInfo]:
        return dict(self._contract.deployments)

    @property
    def uses_key(self) -> bool:
        return self.auth == "key"

    @property
    def key_vault_round_trips(self) -> int:
        """Contract loads plus key re-reads made by this runtime's vault source (0 without Key Vault)."""
        src = self._vault_source
        return 0 if src is None else src.contract_loads + src.key_reads

    @property
    def key_rereads(self) -> int:
        return self._keys.rereads

    def __repr__(self) -> str:
        return (f"FoundryRuntime(resource={self.resource!r}, base_url={self.base_url!r}, auth={self.auth!r}, "
                f"deployments={sorted(self._contract.deployments)!r})")

    __str__ = __repr__

    def deployment(self, name: str) -> c.DeploymentInfo | None:
        """The deployment's info; :class:`UnknownDeploymentError` when the map is known and lacks it.

        A contract without a deployment map (env vars without ``CLAUDE_FOUNDRY_DEPLOYMENTS``) accepts any
        name.
        """
        deps = self._contract.deployments
        if not deps:
            return None
        if name not in deps:
            raise UnknownDeploymentError(name, list(deps), self.resource)
        return deps[name]

    # -- clients --

    def _on_new_key(self, key: str) -> None:
        _remember_key_for_redaction(key)
        src = self._vault_source
        if src is None:
            return
        vkey = _vault_key(src.vault_url, src.names.prefix)
        with _CACHE_LOCK:
            cached = _CONTRACT_CACHE.get(vkey)
            if cached is not None:
                _CONTRACT_CACHE[vkey] = dataclasses.replace(cached, api_key=key)

    def token_provider(self) -> Callable[[], str]:
        """A bearer token provider for ``token_scope`` (``azure.identity.get_bearer_token_provider``)."""
        with self._lock:
            if self._token_provider is None:
                from azure.identity import get_bearer_token_provider

                if self._credential is None:
                    self._credential = default_credential(self.ca_bundle)
                self._token_provider = get_bearer_token_provider(self._credential, self.token_scope)
            return self._token_provider

    def _client_kwargs(self, max_retries: int | None, timeout: float | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"base_url": self.base_url + "/"}
        if max_retries is not None:
            kwargs["max_retries"] = max_retries
        t = timeout if timeout is not None else self.timeout
        if t is not None:
            kwargs["timeout"] = t
        return kwargs

    def _sdk_kwargs(self, deployment: str | None, max_retries: int | None, timeout: float | None,
                    http_client: Any, default_http_client: Any) -> dict[str, Any]:
        """What the sync and async clients share: the deployment check, retries and timeout, the HTTP
        client (the caller's, or the SDK's default trusting ``ca_bundle``), and the key with key auth."""
        if deployment is not None:
            self.deployment(deployment)
        kwargs = self._client_kwargs(max_retries, timeout)
        if http_client is not None:
            kwargs["http_client"] = http_client
        elif self.ca_bundle:
            kwargs["http_client"] = default_http_client(verify=ssl_context(self.ca_bundle))
        if self.uses_key:
            kwargs["api_key"] = self._keys.current
        return kwargs

    def client(self, deployment: str | None = None, *, max_retries: int | None = None,
               timeout: float | None = None, http_client: Any = None) -> anthropic.AnthropicFoundry:
        """A synchronous ``anthropic.AnthropicFoundry`` for this resource.

        ``deployment`` is checked up front (pass it as ``model=`` to ``messages.create``); every call's
        ``model`` is checked again before it is sent. ``http_client`` (an ``httpx2.Client``, e.g. with a
        proxy) replaces the default one built with ``ca_bundle``.
        """
        import anthropic

        kwargs = self._sdk_kwargs(deployment, max_retries, timeout, http_client, anthropic.DefaultHttpxClient)
        if not self.uses_key:
            kwargs["azure_ad_token_provider"] = self.token_provider()
        return anthropic.AnthropicFoundry(middleware=[_build_middleware(self)], **kwargs)

    def async_client(
        self, deployment: str | None = None, *, max_retries: int | None = None,
        timeout: float | None = None, http_client: Any = None,
    ) -> anthropic.AsyncAnthropicFoundry:
        """An ``anthropic.AsyncAnthropicFoundry`` for this resource (same checks as :meth:`client`)."""
        import anthropic

        kwargs = self._sdk_kwargs(deployment, max_retries, timeout, http_client,
                                  anthropic.DefaultAsyncHttpxClient)
        if not self.uses_key:
            provider = self.token_provider()

            async def async_provider() -> str:
                return await asyncio.to_thread(provider)

            kwargs["azure_ad_token_provider"] = async_provider
        return anthropic.AsyncAnthropicFoundry(middleware=[_build_middleware(self)], **kwargs)

    def _default_client(self) -> anthropic.AnthropicFoundry:
        existing = self._shared_client
        if existing is None:
            existing = self.client()
            with self._lock:
                if self._shared_client is None:
                    self._shared_client = existing
                existing = self._shared_client
        return existing

    def close(self) -> None:
        """Close the shared client of :meth:`messages_create` (and an uncached Key Vault source).

        Clients returned by :meth:`client` / :meth:`async_client` belong to the caller (``with`` / ``close()``).
        """
        with self._lock:
            shared, self._shared_client = self._shared_client, None
        if shared is not None:
            shared.close()
        if self._owns_source and self._vault_source is not None:
            self._vault_source.close()

    def __enter__(self) -> FoundryRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def messages_create(self, deployment: str, **kwargs: Any) -> Any:
        """``messages.create(model=deployment, ...)`` on a shared synchronous client."""
        self.deployment(deployment)
        return self._default_client().messages.create(model=deployment, **kwargs)


def load_runtime(
    *,
    vault_url: str | None = None,
    prefix: str | None = None,
    contract_file: str | Path | None = None,
    **kwargs: Any,
) -> FoundryRuntime:
    """One entry point: a contract file, else Key Vault (argument or ``CLAUDE_FOUNDRY_VAULT_URL``), else the
    ``ANTHROPIC_FOUNDRY_*`` variables."""
    if contract_file:
        return FoundryRuntime.from_json(contract_file, **kwargs)
    if vault_url or os.environ.get(c.ENV_VAULT_URL):
        return FoundryRuntime.from_key_vault(vault_url, prefix=prefix, **kwargs)
    return FoundryRuntime.from_env(**kwargs)
