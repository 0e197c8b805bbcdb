"""One describer of Azure failures: an SDK exception or an ARM error body in words a platform engineer acts
on: status, code and message, never a request body, header or token."""

from __future__ import annotations

from typing import Any

AUTH_ADVICE = ("Log in (`az login`, or azure/login with OIDC in CI) or set AZURE_CLIENT_ID / AZURE_TENANT_ID / "
               "AZURE_CLIENT_SECRET; for the local sandbox pass --sandbox CONNECTION_FILE")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def describe_azure(exc: BaseException) -> str | None:
    """An Azure SDK failure in words (None: not an Azure SDK error)."""
    try:
        from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
    except ImportError:  # pragma: no cover - azure-core comes with azure-identity
        return None
    if isinstance(exc, ClientAuthenticationError):
        return f"Azure authentication failed: {_first_line(exc)}. {AUTH_ADVICE}"
    if isinstance(exc, ServiceRequestError):
        return f"cannot reach Azure: {_first_line(exc)} (network, proxy or DNS)"
    if isinstance(exc, HttpResponseError):
        err = getattr(exc, "error", None)
        code = getattr(err, "code", None) or getattr(exc, "reason", None) or "Error"
        message = getattr(err, "message", None) or _first_line(exc)
        status = getattr(exc, "status_code", None)
        return f"{status} {code}: {message}" if status else f"{code}: {message}"
    return None


def describe(exc: BaseException) -> str:
    """Any failure of an Azure call in words (falls back to the exception's class and first line)."""
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
