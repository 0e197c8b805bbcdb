"""The Claude endpoint of a Foundry resource: ``POST /foundry/{resource}/anthropic/v1/messages``.

``{resource}`` is the account's custom subdomain (``https://{resource}.services.ai.azure.com/anthropic`` on
Azure). Key auth (``api-key`` or ``x-api-key``) is checked against the account's current keys; Entra ID auth
(``Authorization: Bearer``) needs a token for one of the two Foundry scopes and a caller role
(``arm.CLAUDE_CALLER_ROLES``) on the account, its resource group or subscription. The answer is a canned,
deterministic Messages API response (or SSE stream) whose ``model`` is the deployment's model.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import re
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from claude_foundry.azure import arm as arm_facts
from claude_foundry.sandbox import identity
from claude_foundry.sandbox import state as st
from claude_foundry.sandbox.faults import MAX_HANG, FaultBook, FaultSpec
from claude_foundry.sandbox.state import State

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 408: "timeout_error", 409: "invalid_request_error",
               413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 502: "api_error",
               503: "api_error", 504: "timeout_error", 529: "overloaded_error"}
DEFAULT_FAULT_MESSAGES = {
    401: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
         "for an active subscription and use a correct regional API endpoint for your resource.",
    403: "The principal lacks the required data action to perform this operation.",
    404: "Resource not found",
    429: "Requests to the Anthropic Messages API have exceeded the token rate limit of your current deployment. "
         "Please retry after the number of seconds given in retry-after.",
    500: "The server had an error while processing your request.",
    503: "The service is temporarily unavailable. Please try again later.",
    529: "Overloaded",
}


def _headers() -> dict[str, str]:
    return {"request-id": "req_sbx_" + secrets.token_hex(12), "apim-request-id": str(uuid.uuid4()),
            "x-ms-region": "sandbox", "x-content-type-options": "nosniff"}


def error(status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None,
          err_type: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": err_type or ERROR_TYPES.get(status, "api_error"), "message": message}
    if code:
        body["code"] = code
    return JSONResponse({"type": "error", "error": body}, status_code=status, headers={**_headers(), **(headers or {})})


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _reply_text(deployment: str, model: str, messages: list[Any]) -> str:
    last = ""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            last = _text_of(m.get("content"))
            break
    snippet = " ".join(last.split())
    if len(snippet) > 120:
        snippet = snippet[:117] + "..."
    return (f"Hello from the claude-foundry sandbox. Deployment {deployment} ({model}) received "
            f"{len(messages)} message(s); the last one said: \"{snippet}\"")


def _validate(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return "messages: at least one message is required"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or "content" not in m:
            return f"messages.{i}: each message needs a role (user or assistant) and content"
    mt = body.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        return "max_tokens: Field required (an integer >= 1)"
    return None


def _authenticate(request: Request, state: State, account: dict[str, Any]) -> JSONResponse | None:
    token = identity.bearer_from(request)
    if token is not None:
        try:
            claims = identity.verify_token(state, token, {identity.norm_audience(a)
                                                          for a in identity.FOUNDRY_AUDIENCES})
        except identity.TokenError as exc:
            return error(401, f"Unauthorized. Access token is missing, invalid, audience is incorrect "
                              f"(https://cognitiveservices.azure.com or https://ai.azure.com), or have expired. "
                              f"({exc.code})", code="401")
        oid = str(claims["oid"])
        if not state.roles_of(oid, account["id"]) & st.FOUNDRY_CALLER_ROLES:
            roles = " or ".join(arm_facts.ROLE_NAMES[r] for r in arm_facts.CLAUDE_CALLER_ROLES)
            return error(403, f"The principal `{oid}` lacks the required data action "
                              f"`Microsoft.CognitiveServices/accounts/AIServices/anthropic/messages/action` to "
                              f"perform `POST /anthropic/v1/messages` on resource '{account['id']}'. Assign "
                              f"{roles} on the resource, its resource group or subscription.",
                         code="PermissionDenied")
        return None
    key = request.headers.get("api-key") or request.headers.get("x-api-key")
    if not key:
        return error(401, "Access denied due to missing subscription key. Make sure to include subscription key "
                          "when making requests to an API.", code="401")
    if account.get("properties", {}).get("disableLocalAuth"):
        return error(401, "Key based authentication is disabled for this resource.",
                     code="AuthenticationTypeDisabled")
    keys = account["_sb"]["keys"]
    if not any(hmac.compare_digest(key.encode(), k.encode()) for k in (keys["key1"], keys["key2"])):
        return error(401, DEFAULT_FAULT_MESSAGES[401], code="401")
    return None


def _message(body: dict[str, Any], deployment: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    model = deployment["properties"]["model"]["name"]
    text = _reply_text(deployment["name"], model, body["messages"])
    stop_reason, stop_sequence = "end_turn", None
    for seq in body.get("stop_sequences") or []:
        if isinstance(seq, str) and seq and seq in text:
            text, stop_reason, stop_sequence = text.split(seq, 1)[0], "stop_sequence", seq
            break
    words = re.findall(r"\S+\s*", text) or [""]
    if len(words) > body["max_tokens"]:
        words, stop_reason, stop_sequence = words[: body["max_tokens"]], "max_tokens", None
    prompt = _text_of(body.get("system")) + " ".join(_text_of(m.get("content")) for m in body["messages"])
    msg = {
        "id": "msg_sbx_" + secrets.token_hex(12),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(words)}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": _estimate_tokens(prompt), "output_tokens": len(words),
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }
    return msg, words


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _stream(msg: dict[str, Any], words: list[str]) -> AsyncIterator[bytes]:
    start = {**msg, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**msg["usage"], "output_tokens": 1}}
    yield _sse("message_start", {"type": "message_start", "message": start})
    yield _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                       "content_block": {"type": "text", "text": ""}})
    yield _sse("ping", {"type": "ping"})
    for w in words:
        yield _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": w}})
        await asyncio.sleep(0)
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse("message_delta", {"type": "message_delta",
                                 "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"]},
                                 "usage": {"output_tokens": msg["usage"]["output_tokens"]}})
    yield _sse("message_stop", {"type": "message_stop"})


async def _apply_fault(spec: FaultSpec) -> Response | None:
    if spec.latency:
        await asyncio.sleep(spec.latency)
    if spec.hang is not None:
        await asyncio.sleep(min(spec.hang, MAX_HANG))
        return error(504, spec.message or "The sandbox held this request (hang fault) and gave up.")
    if spec.status is not None:
        headers: dict[str, str] = {}
        if spec.retry_after is not None:
            headers["retry-after"] = str(max(0, math.ceil(spec.retry_after)))
            headers["retry-after-ms"] = str(int(spec.retry_after * 1000))
        return error(spec.status, spec.message or DEFAULT_FAULT_MESSAGES.get(spec.status, "Injected fault."),
                     headers=headers, code=str(spec.status))
    if spec.malformed:
        return Response(b'{"id": "msg_sbx_truncated", "type": "message", "content": [{"type": "te',
                        status_code=200, media_type="application/json", headers=_headers())
    return None


async def endpoint(request: Request) -> Response:
    state: State = request.app.state.sandbox_state
    faults: FaultBook = request.app.state.sandbox_faults
    resource = request.path_params["resource"]
    rest = request.path_params["rest"].strip("/")
    with state.lock:
        state.tick()
        account = state.account_by_subdomain(resource)
        account = {**account, "_sb": dict(account["_sb"])} if account else None
    if account is None or account.get("properties", {}).get("provisioningState") not in ("Succeeded", "Updating"):
        return error(404, "Resource not found", code="404")
    if rest != "v1/messages" or request.method != "POST":
        return error(404, "Resource not found", code="404")
    denied = _authenticate(request, state, account)
    if denied is not None:
        return denied
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return error(400, "The request body is not valid JSON.")
    problem = _validate(body)
    if problem:
        return error(400, problem)
    with state.lock:
        deployment = next((d for d in state.deployments_of(account["id"].lower())
                           if d["name"].lower() == body["model"].lower()
                           and d.get("properties", {}).get("provisioningState") == "Succeeded"), None)
    if deployment is None:
        return error(404, "The API deployment for this resource does not exist. If you created the deployment "
                          "within the last 5 minutes, please wait a moment and try again.",
                     code="DeploymentNotFound")
    spec = faults.draw((account["name"], account["properties"].get("customSubDomainName", "")), deployment["name"])
    if spec is not None:
        faulted = await _apply_fault(spec)
        if faulted is not None:
            return faulted
    msg, words = _message(body, deployment)
    if body.get("stream"):
        return StreamingResponse(_stream(msg, words), media_type="text/event-stream",
                                 headers={**_headers(), "cache-control": "no-cache"})
    return JSONResponse(msg, headers=_headers())
