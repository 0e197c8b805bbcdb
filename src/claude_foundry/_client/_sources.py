"""Where a runtime's contract comes from: the environment, an exported JSON file, or Key Vault.

Key Vault reads go through one :class:`VaultSource` per vault and secret prefix, cached per process
(thread-safe); the runtime keeps the source to re-read the key secret after a 401.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claude_foundry import _contract as c
from claude_foundry import _jsontext as jsontext
from claude_foundry._errors import OperationFailed, Parameter, UserError

#: Seconds one Key Vault secret read may take, retries included (connect and read timeouts of each attempt,
#: and azure-core's retry budget); also the connect/read timeouts of the default credential's token requests.
DEFAULT_VAULT_TIMEOUT = 30.0
#: Attempts after the first for one Key Vault read (azure-core retries connection errors, 408, 429, 5xx),
#: always within the read's timeout. azure-core's own default is 10 with exponential backoff (minutes).
VAULT_RETRY_TOTAL = 2


class RuntimeConfigError(UserError):
    """The contract cannot be built or used as asked (missing variables, exclusive settings, bad file)."""


class VaultTimeoutError(OperationFailed):
    """Key Vault (or the token endpoint it sent us to) did not answer a secret read in time."""


def check_timeout(value: float | None, what: str) -> float | None:
    """``value`` when it is None or a finite number of seconds > 0, else :class:`RuntimeConfigError`."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise RuntimeConfigError(f"{what} must be a number of seconds (got {value!r})") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise RuntimeConfigError(f"{what} must be a finite number of seconds > 0 (got {value!r})")
    return seconds


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (never its path, query or user info)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "") if parts.scheme else (host or "(no origin)")


def require_https(base_url: str) -> None:
    """Credentials (key or token) only ever go over HTTPS: :class:`RuntimeConfigError` otherwise."""
    scheme = urlsplit(base_url).scheme.lower()
    if scheme != "https":
        raise RuntimeConfigError(
            f"the Foundry endpoint {origin_of(base_url)} is not an https:// URL: refusing to send the API key or "
            "Entra ID token over it (fix the contract's endpoint secret, ANTHROPIC_FOUNDRY_BASE_URL or base_url)")


def _resource_from_base_url(base_url: str) -> str:
    """Best effort: the account name in a Foundry base URL (standard host or the sandbox's path form)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    m = re.match(r"^([a-z0-9-]+)\.services\.ai\.azure\.com$", host, re.IGNORECASE)
    if m:
        return m.group(1)
    m = re.search(r"/foundry/([^/]+)/anthropic/?$", parts.path)
    return m.group(1) if m else ""


#: The largest exported contract file read (``--contract``, ``FoundryRuntime.from_json``); one is a few KB.
MAX_CONTRACT_FILE_BYTES = 1_000_000


def checked_endpoint(url: Any, where: str) -> str:
    """``url`` when :func:`contract.check_endpoint` accepts it, else :class:`RuntimeConfigError` naming ``where``
    (the secret, variable or file it came from)."""
    try:
        return c.check_endpoint(url)
    except ValueError as exc:
        shown = ""
        if isinstance(url, str) and url.isascii() and url.isprintable() and " " not in url:
            try:
                shown = origin_of(url) + " "  # scheme://host[:port]: never user info, path or query
            except ValueError:
                shown = ""
        raise RuntimeConfigError(f"{where}: the endpoint {shown}{exc}") from None


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
        try:
            c.check_resource_name(resource)
        except ValueError as exc:
            raise RuntimeConfigError(f"{c.ENV_RESOURCE}: {exc}") from None
        base_url = c.foundry_base_url(resource)
    else:
        base_url = checked_endpoint(base_url, c.ENV_BASE_URL)
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
    """Load an exported contract (``Contract.public_json()`` shape) from a file path or a mapping: the stack's
    first account's, when the file lists several (see :func:`stack_from_json`).

    The file never holds a key: use key auth by passing ``api_key`` to :class:`FoundryRuntime` (or set
    ``ANTHROPIC_FOUNDRY_API_KEY``; :meth:`FoundryRuntime.from_json` does that), or Entra ID.
    """
    return stack_from_json(source).first


def stack_from_json(source: str | Path | Mapping[str, Any]) -> c.StackContract:
    """Every account of an exported contract: the first account's fields at the top (what a version 1 reader
    reads), plus, for a stack with several accounts, ``accounts`` (:meth:`contract.StackContract.public_json`
    entries)."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
        origin = "contract JSON"
    else:
        origin = str(source)
        try:
            with open(source, "rb") as fh:
                raw = fh.read(MAX_CONTRACT_FILE_BYTES + 1)
        except FileNotFoundError:
            raise RuntimeConfigError(f"contract file not found: {origin}") from None
        except OSError as exc:
            raise RuntimeConfigError(f"cannot read contract file {origin}: {exc.strerror or type(exc).__name__}") \
                from None
        if len(raw) > MAX_CONTRACT_FILE_BYTES:
            raise RuntimeConfigError(f"contract file {origin}: larger than {MAX_CONTRACT_FILE_BYTES:,} bytes")
        try:
            data = jsontext.loads(raw, max_depth=c.MAX_CONTRACT_DEPTH)
        except ValueError as exc:
            raise RuntimeConfigError(f"cannot read contract file {origin}: {exc}") from None
    if not isinstance(data, dict) or "base_url" not in data:
        raise RuntimeConfigError(
            f"{origin}: expected an object with resource, base_url, auth_mode, deployments")
    if "api_key" in data or any(isinstance(a, dict) and "api_key" in a for a in data.get("accounts") or ()):
        raise RuntimeConfigError(f"{origin}: holds an api_key; exported contracts must never contain the key")
    try:
        deployments = c.deployment_map_from_data(data.get("deployments") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RuntimeConfigError(f"{origin}: bad deployments entry: {exc}") from None
    base_url = checked_endpoint(data["base_url"], f"{origin}: base_url")
    v1 = c.Contract(  # the top-level fields: the account a version 1 reader reads
        resource=str(data.get("resource") or _resource_from_base_url(base_url)),
        base_url=base_url,
        deployments=deployments,
        auth_mode=str(data.get("auth_mode") or c.AUTH_MODE_KEY),
        region=str(data.get("region") or ""),
    )
    if not data.get("accounts"):
        return c.StackContract((v1,))
    try:
        listed, _ = c.accounts_from_data({"version": data.get("version", c.CONTRACT_VERSION),
                                          "accounts": data["accounts"]})
        top = str(data.get("account") or c.PRIMARY_ACCOUNT)  # the account the top-level fields describe
        first = [a for a in listed if a.account == top] or [dataclasses.replace(v1, account=top)]
        return c.StackContract((*first, *(a for a in listed if a.account != top)), version=c.CONTRACT_VERSION)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeConfigError(f"{origin}: bad accounts list: {exc}") from None


def default_credential(ca_bundle: str | None = None, timeout: float | None = DEFAULT_VAULT_TIMEOUT) -> Any:
    """``DefaultAzureCredential`` (imported lazily); its token requests time out after ``timeout`` seconds
    (connect and read; azure-identity passes them to each credential's HTTP pipeline)."""
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {}
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    if timeout is not None:
        kwargs.update(connection_timeout=timeout, read_timeout=timeout)
    return DefaultAzureCredential(**kwargs)


def _secret_client(vault_url: str, credential: Any, ca_bundle: str | None, timeout: float) -> Any:
    """A ``SecretClient`` whose every read is bounded: connect and read timeouts of ``timeout`` seconds and at
    most :data:`VAULT_RETRY_TOTAL` retries within ``timeout`` (azure-core's absolute retry timeout)."""
    from azure.keyvault.secrets import SecretClient

    kwargs: dict[str, Any] = {"connection_timeout": timeout, "read_timeout": timeout,
                              "retry_total": VAULT_RETRY_TOTAL, "retry_backoff_max": min(timeout / 4, 8.0),
                              "timeout": timeout,
                              # a redirect is never followed: azure-core's RedirectPolicy keeps the bearer token on a
                              # same-host redirect, also to http://
                              "permit_redirects": False}
    if ca_bundle:
        kwargs["connection_verify"] = ca_bundle
    return SecretClient(vault_url, credential, **kwargs)


def _get_secret(client: Any, name: str, *, required: bool, timeout: float = DEFAULT_VAULT_TIMEOUT) -> str | None:
    from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError, ServiceResponseError

    try:
        value = client.get_secret(name).value
    except (ServiceRequestError, ServiceResponseError) as exc:
        timed_out = "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower() \
            or "timeout" in str(exc).lower()
        what = f"did not answer within {timeout:g}s" if timed_out else f"could not be reached ({type(exc).__name__})"
        raise VaultTimeoutError(
            f"Key Vault {origin_of(client.vault_url)} {what} reading secret {name!r}: check network access to the "
            "vault (firewall, private endpoint, proxy), or raise the Key Vault timeout (", Parameter("vault_timeout"),
            ")") from None
    except ResourceNotFoundError:
        if required:
            raise RuntimeConfigError(
                f"Key Vault secret {name!r} not found in {client.vault_url}: wrong vault or secret prefix, "
                "or the stack has not been deployed"
            ) from None
        return None
    return str(value) if value is not None else None


class VaultSource:
    """Reads one stack's secrets from one vault; counts its round trips (secret reads).

    A stack with several accounts (contract version 2) also holds ``<prefix>-accounts``: :meth:`load_stack` then
    returns every account, each with its key read from its own secret."""

    def __init__(self, vault_url: str, prefix: str, credential: Any, ca_bundle: str | None,
                 timeout: float = DEFAULT_VAULT_TIMEOUT) -> None:
        self.vault_url = vault_url.rstrip("/")
        self.names = c.SecretNames(prefix)
        self.timeout = timeout
        self._client = _secret_client(self.vault_url, credential, ca_bundle, timeout)
        self._key_secrets: dict[str, str] = {}  # account -> its key secret (from the accounts document)
        self.contract_loads = 0
        self.key_reads = 0
        self.map_reads = 0

    def _read_many(self, names: list[str], required: set[str]) -> list[str | None]:
        if not names:
            return []
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            futures = [pool.submit(_get_secret, self._client, n, required=n in required, timeout=self.timeout)
                       for n in names]
            return [f.result() for f in futures]

    def load(self) -> c.Contract:
        """The stack's first account's contract (what a version 1 reader reads)."""
        return self.load_stack().first

    def load_stack(self) -> c.StackContract:
        names = self.names
        # The first read does the Key Vault challenge dance; the others then run in parallel.
        endpoint = _get_secret(self._client, names.endpoint, required=True, timeout=self.timeout)
        resource, deployments, auth_mode, api_key, accounts = self._read_many(
            [names.resource, names.deployments, names.auth_mode, names.api_key, names.accounts],
            {names.resource, names.deployments, names.auth_mode})
        self.contract_loads += 1
        try:
            deployment_map = c.load_deployment_map(deployments or "{}")
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeConfigError(
                f"Key Vault secret {names.deployments!r} is not a deployment map: {exc}") from None
        base_url = checked_endpoint(endpoint, f"Key Vault secret {names.endpoint!r}")
        if resource:
            try:
                c.check_resource_name(resource)
            except ValueError as exc:
                raise RuntimeConfigError(f"Key Vault secret {names.resource!r}: {exc}") from None
        mode = (auth_mode or c.AUTH_MODE_KEY).strip()
        if mode not in (c.AUTH_MODE_KEY, c.AUTH_MODE_ENTRA):
            raise RuntimeConfigError(f"Key Vault secret {names.auth_mode!r}: expected {c.AUTH_MODE_KEY!r} or "
                                     f"{c.AUTH_MODE_ENTRA!r}")
        v1 = c.Contract(  # the version 1 secrets: the stack's first account, its key and map included
            resource=resource or "",
            base_url=base_url,
            deployments=deployment_map,
            auth_mode=mode,
            api_key=api_key or None,
        )
        if not accounts:
            return c.StackContract((v1,))
        try:
            listed, key_secrets = c.load_accounts(accounts)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RuntimeConfigError(f"Key Vault secret {names.accounts!r} is not an accounts document: {exc}") \
                from None
        self._key_secrets = key_secrets
        # the first account as the version 1 secrets hold it, with the region only the document has; every other
        # account from the document, with the key of its own secret
        region = next((a.region for a in listed if not c.account_label(a.account)), "")
        others = [a for a in listed if c.account_label(a.account)]
        keyed = [a.account for a in others if a.account in key_secrets]
        keys = dict(zip(keyed, self._read_many([key_secrets[k] for k in keyed], set()), strict=True))
        others = [dataclasses.replace(a, api_key=keys.get(a.account) or None) for a in others]
        try:
            return c.StackContract((dataclasses.replace(v1, region=region), *others),
                                   version=c.CONTRACT_VERSION)
        except ValueError as exc:
            raise RuntimeConfigError(f"Key Vault secret {names.accounts!r}: {exc}") from None

    def read_deployments(self, account: str = c.PRIMARY_ACCOUNT) -> dict[str, c.DeploymentInfo]:
        """``account``'s deployment map as the vault holds it now (one bounded secret read): the stack's first
        account's from ``<prefix>-deployments`` (:func:`~claude_foundry._contract.account_label`), another account's
        from ``<prefix>-accounts``. :class:`RuntimeConfigError` when
        the secret is missing or not a map."""
        self.map_reads += 1
        if not c.account_label(account):
            text = _get_secret(self._client, self.names.deployments, required=True, timeout=self.timeout)
            try:
                return c.load_deployment_map(text or "{}")
            except (ValueError, KeyError, TypeError) as exc:
                raise RuntimeConfigError(
                    f"Key Vault secret {self.names.deployments!r} is not a deployment map: {exc}") from None
        text = _get_secret(self._client, self.names.accounts, required=True, timeout=self.timeout)
        try:
            listed, _ = c.load_accounts(text or "")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RuntimeConfigError(f"Key Vault secret {self.names.accounts!r} is not an accounts document: "
                                     f"{exc}") from None
        for a in listed:
            if a.account == account:
                return dict(a.deployments)
        raise RuntimeConfigError(f"Key Vault secret {self.names.accounts!r} no longer lists account {account!r}")

    def key_secret(self, account: str = c.PRIMARY_ACCOUNT) -> str:
        """The secret holding ``account``'s key."""
        return self._key_secrets.get(account) or self.names.api_key_of(account)

    def read_key(self, account: str = c.PRIMARY_ACCOUNT) -> str | None:
        self.key_reads += 1
        return _get_secret(self._client, self.key_secret(account), required=False, timeout=self.timeout)

    def close(self) -> None:
        self._client.close()


_CACHE_LOCK = threading.Lock()
_CONTRACT_CACHE: dict[tuple[str, str], c.StackContract] = {}
_SOURCE_CACHE: dict[tuple[str, str], VaultSource] = {}
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


def load_from_vault(
    vault_url: str, prefix: str, credential: Any, ca_bundle: str | None, use_cache: bool,
    timeout: float = DEFAULT_VAULT_TIMEOUT,
) -> tuple[c.StackContract, VaultSource]:
    key = _vault_key(vault_url, prefix)
    if not use_cache:
        source = VaultSource(vault_url, prefix, credential, ca_bundle, timeout)
        try:
            return source.load_stack(), source
        except BaseException:
            source.close()
            raise
    with _CACHE_LOCK:
        lock = _LOAD_LOCKS.setdefault(key, threading.Lock())
    with lock:  # one load per vault/prefix even when many threads ask at once
        with _CACHE_LOCK:
            if key in _CONTRACT_CACHE:
                return _CONTRACT_CACHE[key], _SOURCE_CACHE[key]
        source = VaultSource(vault_url, prefix, credential, ca_bundle, timeout)
        try:
            loaded = source.load_stack()
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
    vault_timeout: float = DEFAULT_VAULT_TIMEOUT,
) -> c.Contract:
    """Read a stack's contract from Key Vault (cached per process, vault and prefix); each secret read is
    bounded by ``vault_timeout`` seconds (:class:`VaultTimeoutError` names the vault and the secret)."""
    timeout = check_timeout(vault_timeout, "vault_timeout") or DEFAULT_VAULT_TIMEOUT
    ca = ca_bundle or os.environ.get(c.ENV_CA_BUNDLE) or None
    cred = credential if credential is not None else default_credential(ca, timeout)
    loaded, source = load_from_vault(vault_url, prefix, cred, ca, use_cache, timeout)
    if not use_cache:
        source.close()
    return loaded.first


def remember_new_key(source: VaultSource, key: str, account: str = c.PRIMARY_ACCOUNT) -> None:
    """A re-read key replaces ``account``'s in the cached contract of ``source``'s vault and prefix."""
    vkey = _vault_key(source.vault_url, source.names.prefix)
    with _CACHE_LOCK:
        cached = _CONTRACT_CACHE.get(vkey)
        if cached is not None:
            _CONTRACT_CACHE[vkey] = dataclasses.replace(cached, accounts=tuple(
                dataclasses.replace(a, api_key=key) if a.account == account else a for a in cached.accounts))


def remember_new_map(source: VaultSource, deployments: dict[str, c.DeploymentInfo],
                     account: str = c.PRIMARY_ACCOUNT) -> None:
    """A re-read deployment map replaces ``account``'s in the cached contract of ``source``'s vault and prefix
    (so a runtime made later in the process starts from it)."""
    vkey = _vault_key(source.vault_url, source.names.prefix)
    with _CACHE_LOCK:
        cached = _CONTRACT_CACHE.get(vkey)
        if cached is not None:
            _CONTRACT_CACHE[vkey] = dataclasses.replace(cached, accounts=tuple(
                dataclasses.replace(a, deployments=dict(deployments)) if a.account == account else a
                for a in cached.accounts))
