"""The Starlette application: routes for Entra ID, ARM, Key Vault, Foundry and the admin API."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claude_foundry.sandbox import foundry, identity, keyvault
from claude_foundry.sandbox.arm import ArmApi, cloud_metadata
from claude_foundry.sandbox.faults import FaultBook, FaultSpec
from claude_foundry.sandbox.state import ALL_ROLE_IDS, State

ALL_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]


def _arm_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"x-ms-request-id": str(uuid.uuid4())})


def _missing_api_version() -> JSONResponse:
    return _arm_error(400, "MissingApiVersionParameter",
                      "The api-version query parameter (?api-version=) is required for all requests.")


async def arm_endpoint(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    api_version = request.query_params.get("api-version")
    if not api_version:
        return _missing_api_version()
    token = identity.bearer_from(request)
    if token is None:
        return _arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    arm_audiences = {identity.norm_audience(a) for a in (*identity.ARM_AUDIENCES, state.origin)}
    try:
        claims = identity.verify_token(state, token, arm_audiences)
    except identity.TokenError as exc:
        return _arm_error(401, exc.code, str(exc))
    raw = await request.body()
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            return _arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be "
                              "deserialized.")
    with state.lock:
        state.tick()
        reply = ArmApi(state).handle(request.method, request.url.path, api_version, body, str(claims["oid"]),
                                     dict(request.query_params))
    headers = {"x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4()),
               **reply.headers}
    if reply.body is None or request.method == "HEAD":
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


async def metadata_endpoints(request: Request) -> Response:
    """``GET /metadata/endpoints?api-version=...``: the cloud metadata document (no token, as in Azure)."""
    state: State = request.app.state.sandbox_state
    api_version = request.query_params.get("api-version")
    if not api_version:
        return _missing_api_version()
    return JSONResponse(cloud_metadata(state.origin, api_version))


# --- admin -----------------------------------------------------------------------------------------


def add_principal(state: State, display_name: str | None = None,
                  roles: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Create a principal (client id + secret + object id) and grant it ``roles`` [(role, scope)]."""
    for role, _scope in roles or []:
        if role not in ALL_ROLE_IDS and len(role) != 36:
            raise ValueError(f"unknown role {role!r}; known: {', '.join(sorted(ALL_ROLE_IDS))} (or a role GUID)")
    principal = state.add_principal(display_name)
    for role, scope in roles or []:
        state.add_role_assignment(scope, principal["object_id"], role)
    return {**principal, "tenant_id": state.tenant_id, "principal_id": principal["object_id"]}


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a JSON object is required")
    return data


async def admin_state(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    faults: FaultBook = request.app.state.sandbox_faults
    return JSONResponse({**state.summary(), "faults": faults.summary()})


async def admin_principals(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    try:
        data = await _json_body(request)
        roles = [(str(r["role"]), str(r["scope"])) for r in data.get("roles") or []]
        principal = add_principal(state, data.get("display_name"), roles)
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": {"code": "BadRequest", "message": str(exc)}}, status_code=400)
    return JSONResponse(principal, status_code=201)


async def admin_faults(request: Request) -> Response:
    faults: FaultBook = request.app.state.sandbox_faults
    if request.method == "GET":
        return JSONResponse({"value": faults.summary()})
    if request.method == "DELETE":
        faults.clear(request.query_params.get("account"), request.query_params.get("deployment"))
        return Response(status_code=204)
    try:
        data = await _json_body(request)
        items = data.get("faults", [data])
        parsed = []
        for item in items:
            item = dict(item)
            account, deployment = str(item.pop("account")), str(item.pop("deployment", "*"))
            parsed.append((account, deployment, FaultSpec.from_json(item)))
    except (ValueError, KeyError, TypeError) as exc:
        return JSONResponse({"error": {"code": "BadRequest", "message": f"bad fault: {exc}"}}, status_code=400)
    for account, deployment, spec in parsed:
        faults.set(account, deployment, spec)
    return JSONResponse({"value": faults.summary()}, status_code=201)


async def admin_settings(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    if request.method == "POST":
        try:
            data = await _json_body(request)
            if "provisioning_delay" in data:
                delay = float(data["provisioning_delay"])
                if delay < 0:
                    raise ValueError("provisioning_delay must be >= 0")
                state.provisioning_delay = delay
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": {"code": "BadRequest", "message": str(exc)}}, status_code=400)
    return JSONResponse({"provisioning_delay": state.provisioning_delay})


async def not_found(request: Request) -> Response:
    return _arm_error(404, "NotFound", f"The sandbox serves nothing at {request.url.path}.")


def build_app(state: State, faults: FaultBook) -> Starlette:
    routes = [
        Route("/_sandbox/state", admin_state, methods=["GET"]),
        Route("/_sandbox/principals", admin_principals, methods=["POST"]),
        Route("/_sandbox/faults", admin_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/settings", admin_settings, methods=["GET", "POST"]),
        Route("/subscriptions", arm_endpoint, methods=ALL_METHODS),
        Route("/subscriptions/{rest:path}", arm_endpoint, methods=ALL_METHODS),
        Route("/tenants", arm_endpoint, methods=ALL_METHODS),
        Route("/metadata/endpoints", metadata_endpoints, methods=["GET"]),
        Route("/kv/{vault}/{rest:path}", keyvault.endpoint, methods=ALL_METHODS),
        Route("/foundry/{resource}/anthropic/{rest:path}", foundry.endpoint, methods=ALL_METHODS),
        Route("/{tenant}/v2.0/.well-known/openid-configuration", identity.openid_configuration, methods=["GET"]),
        Route("/{tenant}/oauth2/v2.0/token", identity.token, methods=["POST"]),
        Route("/{rest:path}", not_found, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)
    app.state.sandbox_state = state
    app.state.sandbox_faults = faults
    return app
