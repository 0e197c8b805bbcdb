"""One describer of Azure failures: an SDK exception or an ARM error body in words a platform engineer acts
on: status, code and message, never a request body, header or token."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from claude_foundry._errors import ClaudeFoundryError, UserError

AUTH_ADVICE = ("Log in (`az login`, or azure/login with OIDC in CI) or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
               "AZURE_CLIENT_SECRET; for the local sandbox pass --sandbox CONNECTION_FILE")


#: How to get a credential ``DefaultAzureCredential`` can use (the CLI's words when there is none).
LOGIN_STEPS = ("`az login` (then `az account set --subscription ID`); or set the variables "
                "DefaultAzureCredential reads: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a service "
                "principal), or AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity); "
                "in GitHub Actions azure/login with OIDC; for the local sandbox pass --sandbox CONNECTION_FILE")
LOGIN_ADVICE = f"get one: {LOGIN_STEPS}"


class NoCredential(UserError):
    """No Azure credential could get a token (none is set up, or the one there was refused): one message, exit 2.
    Never carries the token."""


def credential_problem(exc: BaseException) -> str:
    """A credential failure (``ClientAuthenticationError``, raised while getting a token or answered 401 by ARM)
    in words: what happened, with the SDK's first line (which names the credential type)."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is None:  # the credential chain itself: nothing to get a token with
        return f"no Azure credential is available ({_first_line(exc)})"
    return f"Azure refused the credential ({status}: {_first_line(exc)})"


def no_credential(exc: BaseException) -> NoCredential:
    """A credential failure as one plain :class:`NoCredential`: what happened and how to get a credential."""
    return NoCredential(f"{credential_problem(exc)}; {LOGIN_ADVICE}")


class NoAnswer(ClaudeFoundryError, ServiceResponseError):
    """A service (ARM, Key Vault) that did not answer within the client's timeouts, retries included.

    Raised by the pipeline policy ``NameTheService`` (:func:`claude_foundry._azure.target.policy_types`); its
    message names the service, its endpoint, the request (method and path, never a query, header or body) and
    the bounds that ran out. An ``AzureError`` still, so code catching the SDK's network errors catches it too."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def describe_azure(exc: BaseException) -> str | None:
    """An Azure SDK failure in words (None: not an Azure SDK error)."""
    if isinstance(exc, NoAnswer):
        return str(exc)
    if isinstance(exc, ClientAuthenticationError):
        return f"Azure authentication failed: {_first_line(exc)}. {AUTH_ADVICE}"
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach Azure: {_first_line(exc)} (network, proxy or DNS)"
    if isinstance(exc, ServiceResponseError):
        return f"Azure's answer broke off: {_first_line(exc)} (network or proxy); run the command again"
    if isinstance(exc, HttpResponseError):
        err = getattr(exc, "error", None)
        code = getattr(err, "code", None) or getattr(exc, "reason", None) or "Error"
        message = getattr(err, "message", None) or _first_line(exc)
        status = getattr(exc, "status_code", None)
        return f"{status} {code}: {message}" if status else f"{code}: {message}"
    return None


def describe(exc: BaseException) -> str:
    """Any failure of an Azure call in words (falls back to the exception's class and first line)."""
    if isinstance(exc, UserError):  # our own errors are words already
        return str(exc)
    return describe_azure(exc) or f"{exc.__class__.__name__}: {_first_line(exc)}"


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an Azure SDK error, if it has one."""
    return getattr(exc, "status_code", None)


def arm_error_text(status: int, data: Any) -> str:
    """``status code: message`` from an ARM error body (``{"error": {"code", "message"}}``)."""
    err = (data or {}).get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return f"{status} {err.get('code', 'Error')}: {err.get('message', '')}".strip()
    return f"HTTP {status}"
