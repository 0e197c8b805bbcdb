"""How a client reaches Azure or the local sandbox: credential, ARM endpoint, CA bundle, and how long it waits.

The sandbox writes a connection file (``claude-foundry sandbox --connection-file FILE``); this module turns
it into the standard Azure SDK arguments. Against real Azure, :func:`azure_target` uses
``DefaultAzureCredential`` and the public cloud endpoints. Light: no Pulumi, no sandbox imports.

Every SDK client made from a :class:`Target` is bounded (docs/operations.md, "Timeouts"): ``connect_timeout``
to connect, ``read_timeout`` of silence while waiting for an answer, at most ``retry_total`` retries with at most
``retry_backoff_max`` between two (a ``Retry-After`` longer than that is cut to it), and ``call_timeout`` for one
call with its retries (:func:`policy_types`). A call that runs out raises
:class:`~claude_foundry._azure.errors.NoAnswer` naming the service, its endpoint and the request.
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from claude_foundry import _contract as contract
from claude_foundry._errors import Parameter, UserError

ARM_ENDPOINT = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
CONNECTION_KEYS = ("arm_endpoint", "authority", "tenant_id", "client_id", "client_secret", "principal_id",
                   "subscription_id", "ca_bundle", "foundry_base_url_template")

#: Seconds to open a connection (TCP and TLS) to ARM, Key Vault or the token endpoint.
CONNECT_TIMEOUT = 10.0
#: Seconds of silence while waiting for (the next part of) an answer.
READ_TIMEOUT = 60.0
#: Retries of one failed call (throttling, 5xx, network); azure-core's own default is 10.
RETRY_TOTAL = 3
#: Seconds at most between two retries, a server's ``Retry-After`` included (azure-core: 120, Retry-After uncut).
RETRY_BACKOFF_MAX = 30.0
#: Seconds at most for one call with its retries (azure-core's RetryPolicy ``timeout``; its default is 7 days).
CALL_TIMEOUT = 300.0
#: Seconds to wait for an ARM long-running operation (a poller) to finish: ARM's own guidance is that one may
#: take up to 30 minutes before a client should give up.
OPERATION_TIMEOUT = 1800.0


@functools.cache
def policy_types() -> tuple[type, type]:
    """``(BoundedRetryPolicy, NameTheService)``, made on first use so that importing this module (and so every
    CLI command's parser) stays free of azure-core.

    * ``BoundedRetryPolicy``: azure-core's retry policy with a server's ``Retry-After`` cut to
      ``retry_backoff_max``: a throttling answer asking for an hour does not make a call wait an hour;
    * ``NameTheService``: outside the retry policy, a call whose bounds ran out becomes
      :class:`~claude_foundry._azure.errors.NoAnswer` naming the service, its endpoint, the request (method and
      path only) and the bounds."""
    from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError
    from azure.core.pipeline.policies import HTTPPolicy, RetryPolicy

    from claude_foundry._azure.errors import NoAnswer

    class BoundedRetryPolicy(RetryPolicy):
        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, self.backoff_max)

    class NameTheService(HTTPPolicy):
        def __init__(self, service: str, endpoint: str, bounds: str) -> None:
            super().__init__()
            self.service = service
            self.endpoint = endpoint.rstrip("/")
            self.bounds = bounds

        def send(self, request: Any) -> Any:
            try:
                return self.next.send(request)
            except (ServiceRequestTimeoutError, ServiceResponseTimeoutError) as exc:
                http = request.http_request
                path = urlsplit(str(http.url)).path or "/"
                raise NoAnswer(f"{self.service} at {self.endpoint} did not answer {http.method} {path} within "
                               f"{self.bounds}; check the network, proxy and the service's health, then run the "
                               "command again", error=exc) from exc

    return BoundedRetryPolicy, NameTheService


@dataclass(frozen=True)
class Target:
    """Where management and data-plane calls go, and with which credential."""

    credential: Any
    subscription_id: str
    arm_endpoint: str = ARM_ENDPOINT
    ca_bundle: str | None = None  # only for the local sandbox
    foundry_base_url_template: str = contract.FOUNDRY_BASE_URL_TEMPLATE
    tenant_id: str | None = None
    principal_id: str | None = None  # object id of the caller, when known
    is_sandbox: bool = False
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    retry_total: int = RETRY_TOTAL
    retry_backoff_max: float = RETRY_BACKOFF_MAX
    call_timeout: float = CALL_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "call_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"Target.{name} must be a finite number of seconds > 0, not {value!r}")
        if not (isinstance(self.retry_backoff_max, int | float) and math.isfinite(self.retry_backoff_max)
                and self.retry_backoff_max >= 0):
            raise ValueError(f"Target.retry_backoff_max must be finite and >= 0, not {self.retry_backoff_max!r}")
        if not (isinstance(self.retry_total, int) and 0 <= self.retry_total <= 20):
            raise ValueError(f"Target.retry_total must be an integer 0-20, not {self.retry_total!r}")

    def bounds(self) -> str:
        """The client bounds in words (for messages)."""
        return (f"{self.connect_timeout:g} s to connect, {self.read_timeout:g} s to read, {self.retry_total} "
                f"retries, {self.call_timeout:g} s in all")

    def client_kwargs(self, service: str, endpoint: str) -> dict[str, Any]:
        """The bounds every SDK client made here gets: transport timeouts, a fresh retry policy, and the
        policy naming ``service`` when they run out."""
        bounded_retry, name_the_service = policy_types()
        retry = {"retry_total": self.retry_total, "retry_backoff_max": self.retry_backoff_max}
        kwargs: dict[str, Any] = {
            "connection_timeout": self.connect_timeout, "read_timeout": self.read_timeout,
            # the settings too, for a client that builds its own retry policy from them
            **retry, "retry_policy": bounded_retry(**retry, timeout=self.call_timeout),
            "per_call_policies": [name_the_service(service, endpoint, self.bounds())],
        }
        if self.ca_bundle:
            kwargs["connection_verify"] = self.ca_bundle
        return kwargs

    def close(self) -> None:
        """Close the credential's HTTP session (the SDK clients made here are closed by their users)."""
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mgmt_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any ``azure-mgmt-*`` client: endpoint, scope, CA bundle and the bounds."""
        return {"base_url": self.arm_endpoint, "credential_scopes": [ARM_SCOPE],
                **self.client_kwargs("ARM", self.arm_endpoint)}

    def data_kwargs(self, endpoint: str = "") -> dict[str, Any]:
        """Keyword arguments for data-plane clients such as ``SecretClient`` (``endpoint``: the vault URL, for
        messages): CA bundle and the bounds."""
        return self.client_kwargs("Key Vault", endpoint or "the vault")

    def resource_client(self) -> Any:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    def cognitive_client(self) -> Any:
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

        return CognitiveServicesManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    def secret_client(self, vault_url: str) -> Any:
        from azure.keyvault.secrets import SecretClient

        return SecretClient(vault_url, self.credential, **self.data_kwargs(vault_url))


def read_connection_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: sandbox connection file not found (start one with "
                        "`claude-foundry sandbox --connection-file FILE`)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a sandbox connection file ({exc.__class__.__name__})") from None
    missing = [k for k in CONNECTION_KEYS if k not in data]
    if not isinstance(data, dict) or missing:
        raise UserError(f"{path}: not a sandbox connection file; missing: {', '.join(missing)}")
    return data


def sandbox_credential(connection: dict[str, Any]) -> Any:
    """A ``ClientSecretCredential`` against the sandbox's own token endpoint, trusting only its CA."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(
        connection["tenant_id"], connection["client_id"], connection["client_secret"],
        authority=connection["authority"], disable_instance_discovery=True,
        connection_verify=connection["ca_bundle"], connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
    )


def sandbox_target(connection: dict[str, Any] | str | Path) -> Target:
    """A :class:`Target` for the local sandbox, from its connection file (path or parsed dict)."""
    data = connection if isinstance(connection, dict) else read_connection_file(connection)
    return Target(credential=sandbox_credential(data), subscription_id=data["subscription_id"],
                  arm_endpoint=data["arm_endpoint"].rstrip("/"), ca_bundle=data["ca_bundle"],
                  foundry_base_url_template=data["foundry_base_url_template"], tenant_id=data["tenant_id"],
                  principal_id=data["principal_id"], is_sandbox=True)


def default_credential() -> Any:
    """``DefaultAzureCredential``, its failure warnings kept off the terminal: when it finds no credential it logs
    every credential it tried as a WARNING, which Python prints to stderr when nobody configured logging; the
    command says it once, in its own words (:func:`claude_foundry._azure.errors.no_credential`). A logging set-up
    of the application's own still receives them."""
    import logging

    from azure.identity import DefaultAzureCredential

    identity_log = logging.getLogger("azure.identity")
    if not any(isinstance(h, logging.NullHandler) for h in identity_log.handlers):
        identity_log.addHandler(logging.NullHandler())
    return DefaultAzureCredential()


def subscription_from_env(subscription_id: str | None = None) -> str | None:
    """``subscription_id``, else ``$AZURE_SUBSCRIPTION_ID``, else ``$ARM_SUBSCRIPTION_ID`` (None: none set)."""
    return subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID") or os.environ.get("ARM_SUBSCRIPTION_ID") \
        or None


def azure_target(subscription_id: str | None = None) -> Target:
    """A :class:`Target` for real Azure with ``DefaultAzureCredential``."""
    sub = subscription_from_env(subscription_id)
    if not sub:
        raise UserError("no subscription: pass ", Parameter("subscription_id"), " or set AZURE_SUBSCRIPTION_ID")
    return Target(credential=default_credential(), subscription_id=sub)


#: Seconds ``arm_login`` waits for a token (DefaultAzureCredential tries several sources, the Azure CLI's own
#: bound is 10 s).
LOGIN_TIMEOUT = 20.0


@dataclass(frozen=True)
class Login:
    """Whether a credential could get a token for ARM. ``problem``: ``""`` (it could), ``no-credential`` (none
    available, or refused), ``unreachable`` (the token endpoint could not be reached) or ``timeout``; ``detail``:
    the failure in words. Never holds the token."""

    ok: bool
    problem: str = ""
    detail: str = ""
    expires_on: int | None = None


def arm_login(credential: Any, timeout: float = LOGIN_TIMEOUT) -> Login:
    """Try to get a token for ARM (``https://management.azure.com/.default``) with ``credential``, waiting at most
    ``timeout`` seconds (the attempt runs in a daemon thread: a credential stuck past the bound is left behind,
    not waited for). The token itself is dropped here."""
    import threading

    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError

    from claude_foundry._azure.errors import credential_problem, describe

    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"the login timeout must be a finite number of seconds > 0, not {timeout!r}")
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["expires_on"] = int(credential.get_token(ARM_SCOPE).expires_on)
        except Exception as exc:  # reported as data below
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="claude-foundry-arm-login", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return Login(False, "timeout", f"no token for ARM within {timeout:g} s (network, proxy, or a login that "
                                       "waits for input)")
    exc = outcome.get("error")
    if exc is None:
        return Login(True, expires_on=outcome.get("expires_on"))
    if isinstance(exc, ClientAuthenticationError):
        return Login(False, "no-credential", credential_problem(exc))
    if isinstance(exc, ServiceRequestError):
        return Login(False, "unreachable", describe(exc))
    return Login(False, "no-credential", describe(exc))
