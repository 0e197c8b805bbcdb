"""Entra ID stand-in: OpenID configuration and the client-credentials token endpoint.

Tokens are JWT-shaped (header.payload.signature) and signed with HMAC-SHA256 under a key only the
sandbox holds, so the sandbox can tell its own tokens from forged ones. They carry ``aud`` (from the
requested scope), ``oid``, ``tid``, ``appid``, ``iat``, ``nbf`` and ``exp``. Tokens are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse

from claude_foundry import _contract as contract
from claude_foundry_sandbox import bodies
from claude_foundry_sandbox.state import State

TOKEN_LIFETIME = 3600
ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
KEY_VAULT_AUDIENCES = ("https://vault.azure.net",)
FOUNDRY_AUDIENCES = tuple(s[: -len("/.default")] for s in contract.TOKEN_SCOPES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def norm_audience(aud: str) -> str:
    return aud.rstrip("/").lower()


def kv_resource(state: State) -> str:
    """The audience Key Vault tokens carry in the sandbox (see ``keyvault``'s docstring for why)."""
    port = state.origin.rsplit(":", 1)[-1]
    return f"https://0.0.1:{port}"


def accepted_audiences(state: State) -> set[str]:
    return {norm_audience(a) for a in (*ARM_AUDIENCES, *KEY_VAULT_AUDIENCES, *FOUNDRY_AUDIENCES, state.origin,
                                       kv_resource(state))}


def issue_token(state: State, principal: dict[str, Any], audience: str) -> tuple[str, int]:
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": "claude-foundry-sandbox"}
    claims = {
        "aud": audience,
        "iss": f"{state.origin}/{state.tenant_id}/v2.0",
        "iat": now,
        "nbf": now - 5,
        "exp": now + TOKEN_LIFETIME,
        "oid": principal["object_id"],
        "sub": principal["object_id"],
        "tid": state.tenant_id,
        "appid": principal["client_id"],
        "azp": principal["client_id"],
        "idtyp": "app",
        "ver": "2.0",
        "uti": secrets.token_urlsafe(12),
    }
    signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(state.token_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}", TOKEN_LIFETIME


class TokenError(Exception):
    """A bearer token the sandbox does not accept; the message never contains the token."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def verify_token(state: State, token: str, audiences: set[str] | None = None) -> dict[str, Any]:
    """Claims of a valid sandbox token, else ``TokenError``. ``audiences``: normalised allowed audiences."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("InvalidAuthenticationToken", "The access token is not a valid JWT.")
    signing_input = f"{parts[0]}.{parts[1]}"
    expected = hmac.new(state.token_key, signing_input.encode(), hashlib.sha256).digest()
    try:
        sig = _unb64(parts[2])
    except ValueError:
        raise TokenError("InvalidAuthenticationToken", "The access token is not a valid JWT.") from None
    if not hmac.compare_digest(sig, expected):  # the signature first: claims are parsed only when ours
        raise TokenError("InvalidAuthenticationToken", "The access token has an invalid signature.")
    try:
        claims = bodies.parse_json(_unb64(parts[1]))
    except ValueError:
        raise TokenError("InvalidAuthenticationToken", "The access token is not a valid JWT.") from None
    if not isinstance(claims, dict):
        raise TokenError("InvalidAuthenticationToken", "The access token is not a valid JWT.")
    now = time.time()
    if claims.get("exp", 0) < now:
        raise TokenError("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than "
                         "current UTC time.")
    if claims.get("tid") != state.tenant_id:
        raise TokenError("InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer.")
    if audiences is not None and norm_audience(str(claims.get("aud", ""))) not in audiences:
        raise TokenError("InvalidAuthenticationTokenAudience",
                         "The access token has been obtained for wrong audience or resource "
                         f"'{claims.get('aud')}'.")
    if state.principal_by_object_id(str(claims.get("oid", ""))) is None:
        raise TokenError("InvalidAuthenticationToken", "The access token's principal does not exist.")
    return claims


def bearer_from(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def _aad_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    return JSONResponse({
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
    }, status_code=status)


def openid_configuration(request: Request) -> JSONResponse:
    state: State = request.app.state.sandbox_state
    tenant = request.path_params["tenant"]
    if tenant not in (state.tenant_id, "organizations", "common"):
        return _aad_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
    base = f"{state.origin}/{state.tenant_id}"
    return JSONResponse({
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "issuer": f"{base}/v2.0",
        "jwks_uri": f"{base}/discovery/v2.0/keys",
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "tenant_region_scope": None,
        "cloud_instance_name": "sandbox.local",
    })


async def token(request: Request) -> JSONResponse:
    state: State = request.app.state.sandbox_state
    tenant = request.path_params["tenant"]
    if tenant != state.tenant_id:
        return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    raw = await request.body()
    try:
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        form = {}
    grant = form.get("grant_type")
    if grant != "client_credentials":
        return _aad_error(400, "unsupported_grant_type", 70003,
                          "The sandbox supports only the client_credentials grant.")
    client_id = str(form.get("client_id", ""))
    client_secret = str(form.get("client_secret", ""))
    principal = state.principals.get(client_id)
    if principal is None:
        return _aad_error(400, "unauthorized_client", 700016,
                          f"Application with identifier '{client_id}' was not found in the directory.")
    if not client_secret or not hmac.compare_digest(client_secret.encode(),
                                                    principal["client_secret"].encode()):
        return _aad_error(401, "invalid_client", 7000215,
                          "Invalid client secret provided. Ensure the secret being sent in the request is "
                          f"the client secret value, not the client secret ID, for a secret added to app "
                          f"'{client_id}'.")
    scopes = [s for s in str(form.get("scope", "")).split() if s.endswith("/.default")]
    if len(scopes) != 1:
        return _aad_error(400, "invalid_scope", 1002012,
                          "The provided value for scope is not valid. Client credential flows must have a "
                          "scope value with /.default suffixed to the resource identifier.")
    resource = scopes[0][: -len("/.default")]
    if norm_audience(resource) not in accepted_audiences(state):
        return _aad_error(400, "invalid_resource", 500011,
                          f"The resource principal named {resource} was not found in the tenant.")
    access_token, lifetime = issue_token(state, principal, resource)
    return JSONResponse({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                         "access_token": access_token},
                        headers={"cache-control": "no-store", "pragma": "no-cache"})
