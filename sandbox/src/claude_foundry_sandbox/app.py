"""The Starlette application: routes for Entra ID, ARM, Key Vault, Foundry and the admin API."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from claude_foundry_sandbox import bodies, caching, foundry, identity, keyvault
from claude_foundry_sandbox.arm import ArmApi, cloud_metadata
from claude_foundry_sandbox.faults import FaultBook, FaultSpec
from claude_foundry_sandbox.state import ALL_ROLE_IDS, State, parse_today

ALL_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]
#: the largest request body read on ARM, Key Vault, Entra ID and the admin API (their bodies are a few KB)
MAX_BODY_BYTES = 1 << 20
#: the largest request body read on the Foundry endpoint (a Messages request: ~4 MB holds a 1M-token prompt)
MAX_FOUNDRY_BODY_BYTES = 8 << 20
ADMIN_PREFIX = "/_sandbox"


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
    try:
        body = bodies.parse_json(raw)
    except bodies.JsonError as exc:
        return _arm_error(400, "InvalidRequestContent", "The request content was invalid and could not be "
                          f"deserialized: {exc}.")
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


# --- request body limit ----------------------------------------------------------------------------


def body_limit_of(path: str) -> int:
    return MAX_FOUNDRY_BODY_BYTES if path.startswith("/foundry/") else MAX_BODY_BYTES


def _too_large(path: str, limit: int) -> Response:
    """413 in the shape of the service at ``path``."""
    message = f"The request body is larger than the sandbox accepts here ({limit} bytes)."
    if path.startswith("/foundry/"):
        return foundry.error(413, message)
    if path.endswith("/oauth2/v2.0/token"):
        return JSONResponse({"error": "invalid_request", "error_description": message}, status_code=413)
    return _arm_error(413, "RequestEntityTooLarge", message)


def _declared_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    """ASGI middleware: no route reads a request body over its limit (``body_limit_of``). A declared
    ``Content-Length`` over it is refused unread; any other body is read here with a running count, refused as
    soon as it passes the limit, and handed to the app whole. The refusal is a 413 in the service's error shape;
    the server discards the rest of the body as it arrives, without keeping it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = body_limit_of(path)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _too_large(path, limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(path, limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> dict[str, Any]:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


# --- admin -----------------------------------------------------------------------------------------

Handler = Callable[[Request], Awaitable[Response]]


def _admin(handler: Handler) -> Handler:
    """Admin routes answer only a request carrying the run's admin token (``Authorization: Bearer``)."""

    async def guarded(request: Request) -> Response:
        expected: str = request.app.state.admin_token
        given = identity.bearer_from(request)
        if given is None:
            return JSONResponse({"error": {"code": "AuthenticationFailed", "message":
                                 "The admin API needs 'Authorization: Bearer <admin_token>' (the connection "
                                 "file's admin_token)."}}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="claude-foundry-sandbox-admin"'})
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return JSONResponse({"error": {"code": "AuthorizationFailed",
                                           "message": "The admin token is not this sandbox's."}}, status_code=403)
        return await handler(request)

    return guarded



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
    data = bodies.parse_json(await request.body(), empty={})
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
            if "inside_networks" in data:  # the callers' virtual networks (ids), as Sandbox.set_inside_network
                nets = data["inside_networks"]
                if not isinstance(nets, list) or not all(isinstance(n, str) and n.startswith("/subscriptions/")
                                                         for n in nets):
                    raise ValueError("inside_networks must be a list of virtual network ids")
                with state.lock:
                    state.inside_networks = {n.lower().rstrip("/") for n in nets}
            if "today" in data:  # the model lifecycle's date (null: the real one), to move past a retirement
                today = parse_today(data["today"])
                with state.lock:
                    state.today = today
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": {"code": "BadRequest", "message": str(exc)}}, status_code=400)
    return JSONResponse({"provisioning_delay": state.provisioning_delay,
                         "inside_networks": sorted(state.inside_networks),
                         "today": state.today_date().isoformat(), "today_injected": state.today is not None})


async def not_found(request: Request) -> Response:
    return _arm_error(404, "NotFound", f"The sandbox serves nothing at {request.url.path}.")


def build_app(state: State, faults: FaultBook, admin_token: str) -> Starlette:
    """The sandbox's app; the admin routes (``/_sandbox/...``) need ``admin_token``, every body is capped."""
    if not admin_token:
        raise ValueError("the admin API needs a non-empty admin token")
    routes = [
        Route(f"{ADMIN_PREFIX}/state", _admin(admin_state), methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/principals", _admin(admin_principals), methods=["POST"]),
        Route(f"{ADMIN_PREFIX}/faults", _admin(admin_faults), methods=["GET", "POST", "DELETE"]),
        Route(f"{ADMIN_PREFIX}/settings", _admin(admin_settings), methods=["GET", "POST"]),
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
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit)])
    app.state.sandbox_state = state
    app.state.sandbox_faults = faults
    app.state.sandbox_prompt_cache = caching.PromptCache()
    app.state.admin_token = admin_token
    return app
