"""The client runtime: from a stack's contract to ready ``anthropic`` clients for its deployments.

Light on purpose: imports neither Pulumi nor the sandbox. Typical use::

    from claude_foundry._client.runtime import FoundryRuntime

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

The pieces live in private modules: :mod:`._sources` (contract sources, the Key Vault cache),
:mod:`._middleware` (key holder, 401 re-read middleware, request helpers) and :mod:`._redact` (log
redaction); this module re-exports their public names.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from claude_foundry import _contract as c
from claude_foundry._client import _http, _sources
from claude_foundry._client._middleware import (
    DEFAULT_TOKEN_TIMEOUT,
    KEY_REREAD_MIN_INTERVAL,
    MAP_REREAD_MIN_INTERVAL,
    KeyHolder,
    TokenTimeoutError,
    async_bounded_token_provider,
    bounded_token_provider,
    build_middleware,
    redirect_refused_error,
    ssl_context,
    stream_interrupted_error,
)
from claude_foundry._client._redact import install_log_redaction, remember_key_for_redaction
from claude_foundry._client._sources import (
    DEFAULT_VAULT_TIMEOUT,
    RuntimeConfigError,
    VaultSource,
    VaultTimeoutError,
    check_timeout,
    clear_contract_cache,
    contract_from_env,
    contract_from_json,
    contract_from_key_vault,
    default_credential,
    parse_deployments,
    require_https,
)

if TYPE_CHECKING:  # pragma: no cover
    import anthropic

AuthChoice = Literal["auto", "key", "entra"]

log = logging.getLogger(__name__)

#: Seconds between two re-reads of the deployment map by a runtime whose contract came from Key Vault: a move to
#: a successor model (docs/lifecycle.md, "Moving a deployment") reaches running processes within this time. The
#: re-read runs in a background thread (a call never waits for it); a move's drain must be longer than this.
DEFAULT_MAP_REFRESH_INTERVAL = 30.0

__all__ = [
    "DEFAULT_MAP_REFRESH_INTERVAL",
    "DEFAULT_TOKEN_TIMEOUT",
    "DEFAULT_VAULT_TIMEOUT",
    "KEY_REREAD_MIN_INTERVAL",
    "MAP_REREAD_MIN_INTERVAL",
    "FoundryRuntime",
    "RedirectRefusedError",  # noqa: F822 (module __getattr__: made on first use)
    "RuntimeConfigError",
    "StreamInterruptedError",  # noqa: F822 (module __getattr__: made on first use)
    "TokenTimeoutError",
    "UnknownDeploymentError",
    "VaultTimeoutError",
    "clear_contract_cache",
    "contract_from_env",
    "contract_from_json",
    "contract_from_key_vault",
    "default_credential",
    "install_log_redaction",
    "load_runtime",
    "parse_deployments",
    "ssl_context",
]


def __getattr__(name: str) -> Any:
    """``StreamInterruptedError``: an ``anthropic.APIConnectionError`` subclass; ``RedirectRefusedError`` (an
    ``anthropic.APIStatusError``: the endpoint answered a 3xx, never followed); made on first use (so that
    importing this module does not import anthropic)."""
    if name == "StreamInterruptedError":
        return stream_interrupted_error()
    if name == "RedirectRefusedError":
        return redirect_refused_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


# --- The runtime ----------------------------------------------------------------------------------


def _no_token() -> str:  # pragma: no cover - replaced by token_provider() before any use
    raise RuntimeConfigError("no token provider yet")


def _default_credential(ca_bundle: str | None, timeout: float | None) -> Any:
    """``_sources.default_credential`` (looked up at call time, so tests can replace it), with ``timeout``
    only when it is not the default one."""
    if timeout is None or timeout == DEFAULT_VAULT_TIMEOUT:
        return _sources.default_credential(ca_bundle)
    return _sources.default_credential(ca_bundle, timeout)


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
        map_refresh_interval: float | None = DEFAULT_MAP_REFRESH_INTERVAL,
        map_reader: Callable[[], dict[str, c.DeploymentInfo]] | None = None,
        _vault_source: VaultSource | None = None,
        _stack: c.StackContract | None = None,
    ) -> None:
        if auth not in ("auto", "key", "entra"):
            raise RuntimeConfigError(f"auth must be auto, key or entra (got {auth!r})")
        if not contract.base_url:
            raise RuntimeConfigError("the contract has no base URL (endpoint)")
        require_https(contract.base_url)  # never a key or token over plain http, whatever the contract says
        self._contract = contract
        self._stack = _stack if _stack is not None else c.StackContract((contract,))
        self._auth_choice: AuthChoice = auth
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
        self.timeout = check_timeout(timeout, "timeout")
        self._vault_source = _vault_source
        if key_reader is None and _vault_source is not None:
            account = contract.account

            def key_reader() -> str | None:
                return _vault_source.read_key(account)
        self._keys = KeyHolder(contract.api_key if auth == "key" else None, key_reader, self._on_new_key)
        if map_reader is None and _vault_source is not None:
            map_account = contract.account

            def map_reader() -> dict[str, c.DeploymentInfo]:
                return _vault_source.read_deployments(map_account)
        self._map_reader = map_reader
        self.map_refresh_interval = check_timeout(map_refresh_interval or None, "map_refresh_interval")
        self._map_read_lock = threading.Lock()  # one re-read at a time; others wait and find it fresh
        self._map_state_lock = threading.Lock()
        self._map_refreshing = False
        self._map_last_read = -math.inf  # the first 404 always re-reads
        self._map_next = (time.monotonic() + self.map_refresh_interval
                          if map_reader is not None and self.map_refresh_interval else math.inf)
        self.map_rereads = 0
        for known in self._stack.accounts:  # every key of the stack, whichever account this runtime serves
            remember_key_for_redaction(known.api_key)
        remember_key_for_redaction(contract.api_key)
        self._token_provider: Callable[[], str] | None = None
        self._raw_token_provider: Callable[[], str] = _no_token
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
        vault_timeout: float = DEFAULT_VAULT_TIMEOUT,
        map_refresh_interval: float | None = DEFAULT_MAP_REFRESH_INTERVAL,
    ) -> FoundryRuntime:
        """Contract from Key Vault (``vault_url`` default ``CLAUDE_FOUNDRY_VAULT_URL``, ``prefix`` default
        ``CLAUDE_FOUNDRY_SECRET_PREFIX`` or ``claude-foundry``). The same credential serves Entra ID calls.

        Each secret read (and each token request of the default credential) is bounded by ``vault_timeout``
        seconds, retries included: :class:`VaultTimeoutError` names the vault and the secret that did not
        answer.

        The deployment map is re-read every ``map_refresh_interval`` seconds (in the background; None: never) and
        after a 404, so a deployment moved to a successor model is followed without a restart."""
        vault_url = vault_url or os.environ.get(c.ENV_VAULT_URL)
        if not vault_url:
            raise RuntimeConfigError(f"no Key Vault URL: pass vault_url or set {c.ENV_VAULT_URL}")
        prefix = prefix or os.environ.get(c.ENV_SECRET_PREFIX) or c.DEFAULT_SECRET_PREFIX
        ca = ca_bundle or os.environ.get(c.ENV_CA_BUNDLE) or None
        vt = check_timeout(vault_timeout, "vault_timeout") or DEFAULT_VAULT_TIMEOUT
        cred = credential if credential is not None else _default_credential(ca, vt)
        stack, source = _sources.load_from_vault(vault_url, prefix, cred, ca, use_cache, vt)
        runtime = cls(stack.first, auth=auth, credential=cred, token_scope=token_scope, ca_bundle=ca,
                      timeout=timeout, map_refresh_interval=map_refresh_interval, _vault_source=source,
                      _stack=stack)
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
        stack = _sources.stack_from_json(source)
        contract = stack.first
        key = api_key or os.environ.get(c.ENV_API_KEY) or None
        if key:
            contract = dataclasses.replace(contract, api_key=key)
        return cls(contract, _stack=stack, **kwargs)

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
    def region(self) -> str:
        """The account's Azure region ("" when the contract does not say: a one-account stack)."""
        return self._contract.region

    @property
    def account(self) -> str:
        """The stack's name for this runtime's account (:data:`~claude_foundry._contract.PRIMARY_ACCOUNT` for
        ``foundry:``)."""
        return self._contract.account

    @property
    def stack(self) -> c.StackContract:
        """Every account of the stack this runtime's contract came from (just this one for a one-account stack,
        env variables or a version 1 file), this runtime's with the key currently in use."""
        mine = self.contract
        return dataclasses.replace(self._stack, accounts=tuple(
            mine if a.account == mine.account else a for a in self._stack.accounts))

    def accounts(self) -> list[FoundryRuntime]:
        """One runtime per account of the stack, in order of preference, this one first (for
        :class:`FailoverRuntime`, or to smoke-test each). They share this runtime's auth choice, credential, token
        scope, CA bundle and timeout; each re-reads its own key secret after a 401."""
        out: list[FoundryRuntime] = [self]
        for acct in self._stack.accounts:
            if acct.account == self._contract.account:
                continue
            out.append(type(self)(acct, auth=self._auth_choice, credential=self._credential,
                                  token_scope=self.token_scope, ca_bundle=self.ca_bundle, timeout=self.timeout,
                                  map_refresh_interval=self.map_refresh_interval,
                                  _vault_source=self._vault_source, _stack=self._stack))
        return out

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
        where = f", region={self.region!r}" if self.region else ""
        return (f"FoundryRuntime(resource={self.resource!r}, base_url={self.base_url!r}{where}, auth={self.auth!r}, "
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

    def wire_name(self, name: str) -> str:
        """The deployment name sent on the wire for the logical name ``name``: the physical deployment its map
        entry names after a move (``deployment``), else ``name``. :class:`UnknownDeploymentError` as
        :meth:`deployment`. Starts the periodic background re-read of the map when it is due."""
        if time.monotonic() >= self._map_next:
            self._refresh_in_background()
        deps = self._contract.deployments
        if not deps:
            return name
        info = deps.get(name)
        if info is None:
            raise UnknownDeploymentError(name, list(deps), self.resource)
        return info.deployment or name

    @property
    def follows_moves(self) -> bool:
        """Whether this runtime re-reads its deployment map (its contract came from Key Vault)."""
        return self._map_reader is not None

    def refresh_deployments(self, *, min_interval: float = 0.0) -> bool:
        """Re-read the deployment map now (one bounded Key Vault read); True when it changed. Concurrent callers
        wait for one read; with ``min_interval`` a read younger than that is taken as fresh. Errors propagate
        (:class:`VaultTimeoutError`, :class:`RuntimeConfigError`); the map in use stays as it was."""
        if self._map_reader is None:
            return False
        with self._map_read_lock:
            now = time.monotonic()
            if min_interval and now - self._map_last_read < min_interval:
                return False
            self._map_last_read = now
            if self.map_refresh_interval:
                self._map_next = now + self.map_refresh_interval
            self.map_rereads += 1
            new = self._map_reader()
            old = self._contract.deployments
            if new == old:
                return False
            moved = sorted(n for n in new if n in old and new[n].physical(n) != old[n].physical(n))
            self._contract = dataclasses.replace(self._contract, deployments=dict(new))
        log.info("deployment map of %s re-read: %d deployment(s)%s", self.resource or self.account, len(new),
                 f"; moved: {', '.join(moved)}" if moved else "")
        if self._vault_source is not None:
            _sources.remember_new_map(self._vault_source, new, self._contract.account)
        return True

    def _refresh_in_background(self) -> None:
        with self._map_state_lock:
            if self._map_refreshing or time.monotonic() < self._map_next:
                return
            self._map_refreshing = True
        threading.Thread(target=self._background_refresh, name="claude-foundry-map-refresh", daemon=True).start()

    def _background_refresh(self) -> None:
        try:
            self.refresh_deployments()
        except Exception as exc:  # a call never fails because of it: the map in use stays, the next try is later
            with self._map_state_lock:
                if self.map_refresh_interval:
                    self._map_next = time.monotonic() + self.map_refresh_interval
            log.warning("re-reading the deployment map from Key Vault failed (%s); keeping the current one",
                        type(exc).__name__)
        finally:
            with self._map_state_lock:
                self._map_refreshing = False

    # -- clients --

    def _on_new_key(self, key: str) -> None:
        remember_key_for_redaction(key)
        if self._vault_source is not None:
            _sources.remember_new_key(self._vault_source, key, self._contract.account)

    def token_provider(self) -> Callable[[], str]:
        """A bearer token provider for ``token_scope`` (``azure.identity.get_bearer_token_provider``).

        Each token request is bounded (the runtime's ``timeout``, else :data:`DEFAULT_TOKEN_TIMEOUT`):
        a credential that does not answer raises :class:`TokenTimeoutError` naming it and the scope."""
        with self._lock:
            if self._token_provider is None:
                from azure.identity import get_bearer_token_provider

                if self._credential is None:
                    self._credential = _default_credential(self.ca_bundle, self.timeout)
                self._raw_token_provider = get_bearer_token_provider(self._credential, self.token_scope)
                self._token_provider = bounded_token_provider(
                    self._raw_token_provider, self.timeout or DEFAULT_TOKEN_TIMEOUT,
                    type(self._credential).__name__, self.token_scope)
            return self._token_provider

    def _client_kwargs(self, max_retries: int | None, timeout: float | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"base_url": self.base_url + "/"}
        if max_retries is not None:
            kwargs["max_retries"] = max_retries
        t = check_timeout(timeout, "timeout") if timeout is not None else self.timeout
        if t is not None:
            kwargs["timeout"] = t
        return kwargs

    def _sdk_kwargs(self, deployment: str | None, max_retries: int | None, timeout: float | None,
                    http_client: Any, default_http_client: Any, *, is_async: bool) -> dict[str, Any]:
        """What the sync and async clients share: the deployment check, retries and timeout, the HTTP
        client (the caller's, or the SDK's default trusting ``ca_bundle``; either way following no redirect and
        bounded in time and size: :mod:`._http`), and the key with key auth."""
        if deployment is not None:
            self.deployment(deployment)
        install_log_redaction()  # the SDK's loggers exist now (anthropic is imported)
        kwargs = self._client_kwargs(max_retries, timeout)
        if http_client is not None:  # the caller's: it follows no redirect, and its answers are bounded
            kwargs["http_client"] = _http.install(http_client, is_async=is_async)
        else:  # never the SDK's own default: that one follows redirects (and re-sends the key there)
            verify: Any = ssl_context(self.ca_bundle) if self.ca_bundle else True
            kwargs["http_client"] = _http.build_client(default_http_client, _http.origin(self.base_url),
                                                       is_async=is_async, verify=verify)
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

        kwargs = self._sdk_kwargs(deployment, max_retries, timeout, http_client, anthropic.DefaultHttpxClient,
                                  is_async=False)
        if not self.uses_key:
            kwargs["azure_ad_token_provider"] = self.token_provider()
        return anthropic.AnthropicFoundry(middleware=[build_middleware(self)], **kwargs)

    def async_client(
        self, deployment: str | None = None, *, max_retries: int | None = None,
        timeout: float | None = None, http_client: Any = None,
    ) -> anthropic.AsyncAnthropicFoundry:
        """An ``anthropic.AsyncAnthropicFoundry`` for this resource (same checks as :meth:`client`)."""
        import anthropic

        kwargs = self._sdk_kwargs(deployment, max_retries, timeout, http_client,
                                  anthropic.DefaultAsyncHttpxClient, is_async=True)
        if not self.uses_key:
            self.token_provider()
            kwargs["azure_ad_token_provider"] = async_bounded_token_provider(
                self._raw_token_provider, timeout or self.timeout or DEFAULT_TOKEN_TIMEOUT,
                type(self._credential).__name__, self.token_scope)
        return anthropic.AsyncAnthropicFoundry(middleware=[build_middleware(self)], **kwargs)

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
