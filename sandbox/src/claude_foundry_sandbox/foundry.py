"""The Claude endpoint of a Foundry resource: ``POST /foundry/{resource}/anthropic/v1/messages``.

``{resource}`` is the account's custom subdomain (``https://{resource}.services.ai.azure.com/anthropic`` on
Azure). Key auth (``x-api-key``, or the key as ``Authorization: Bearer``; ``api-key`` alone is refused as Foundry
refuses it) is checked against the account's current keys, then ``anthropic-version`` is required; Entra ID auth
(``Authorization: Bearer <token>``) needs a token for one of the two Foundry scopes and a caller role
(``arm.CLAUDE_CALLER_ROLES``) on the account, its resource group or subscription. Each request is checked
against the capabilities the catalogue gives the model behind the deployment (mid-conversation system role,
thinking modes, effort levels, maximum output), with the API's error wording. The answer is a canned,
deterministic Messages API response (or SSE stream) whose ``model`` is the deployment's model: a ``tool_use``
block built from the tool's ``input_schema`` when ``tool_choice`` forces a tool or, under ``auto``, the user asks
for one by name (:func:`asked_for_tool`), JSON satisfying ``output_config.format``, else text; ``usage`` reports
prompt caching (:mod:`claude_foundry_sandbox.caching`).
``POST .../v1/messages/count_tokens`` answers ``{"input_tokens": n}``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from claude_foundry._azure import arm as arm_facts
from claude_foundry._catalogue import EFFORT_LEVELS, THINKING_MODES, Capabilities
from claude_foundry_sandbox import bodies, caching, identity, messages_api, traffic
from claude_foundry_sandbox import state as st
from claude_foundry_sandbox.faults import MAX_HANG, FaultBook, FaultSpec, fault_names
from claude_foundry_sandbox.state import State

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
    all_headers = {**_headers(), **(headers or {})}
    return JSONResponse(messages_api.error_body(err_type or status, message, code=code,
                                                request_id=all_headers["request-id"]),
                        status_code=status, headers=all_headers)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _last_user(messages: list[Any]) -> dict[str, Any]:
    return next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {})


def _tool_results(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
        if isinstance(content, list) else []


def _tool_name_of(messages: list[Any], tool_use_id: Any) -> str:
    for m in reversed(messages):
        content = m.get("content") if isinstance(m, dict) and m.get("role") == "assistant" else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_use" and block.get("id") == tool_use_id:
                return str(block.get("name", "tool"))
    return "tool"


def _result_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    return content if isinstance(content, str) else _text_of(content)


def _short(text: str, limit: int = 120) -> str:
    snippet = " ".join(text.split())
    return snippet if len(snippet) <= limit else snippet[:limit - 3] + "..."


def _reply_text(deployment: str, model: str, messages: list[Any]) -> str:
    last = _last_user(messages)
    results = _tool_results(last)
    if results:  # the turn after a tool_use: answer from what the tools returned
        said = "; ".join(f"{_tool_name_of(messages, r.get('tool_use_id'))} returned \"{_short(_result_text(r))}\""
                         for r in results)
        return (f"Hello from the claude-foundry sandbox. Deployment {deployment} ({model}) received "
                f"{len(messages)} message(s); {said}")
    snippet = _short(_text_of(last.get("content")))
    return (f"Hello from the claude-foundry sandbox. Deployment {deployment} ({model}) received "
            f"{len(messages)} message(s); the last one said: \"{snippet}\"")


# --- request validation, per model -------------------------------------------------------------------
#
# The wording of each message is the Anthropic API's own where it is known from public error reports (see
# docs/sandbox.md, "What the Foundry endpoint checks"); Claude Code recognises several of them and falls back
# (mid-conversation system role, thinking type, effort). The rest is canned and marked so in the docs.

#: Top-level fields of ``POST /v1/messages`` (anthropic SDK 2.x ``MessageCreateParams`` and the beta
#: ``MessageCreateParams``, plus the sampling parameters older models take).
MESSAGES_FIELDS = frozenset({
    "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature", "top_p",
    "top_k", "tools", "tool_choice", "thinking", "output_config", "output_format", "service_tier", "container",
    "context_management", "mcp_servers", "cache_control", "inference_geo", "speed", "diagnostics",
    "user_profile_id", "workspace_id", "compaction", "fallbacks", "fallback_credit_token", "billing_policy",
    "thread"})
#: Top-level fields of ``POST /v1/messages/count_tokens`` (``MessageCountTokensParams`` and its beta).
COUNT_TOKENS_FIELDS = frozenset({
    "model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "output_format",
    "cache_control", "speed", "context_management", "mcp_servers", "user_profile_id", "workspace_id"})
OUTPUT_CONFIG_FIELDS = frozenset({"effort", "format"})
THINKING_BUDGET_MIN = 1024
FORCED_TOOL_CHOICES = ("any", "tool")
ROLE_SYSTEM_UNSUPPORTED = "role 'system' is not supported on this model"


class RequestProblem(Exception):
    """A 400 ``invalid_request_error`` with the API's wording."""


def _quoted_or(values: Any) -> str:
    items = [f"'{v}'" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dict_or_empty(value: object) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a request's optional object field)."""
    return value if isinstance(value, dict) else {}


def _list_or_empty(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _check_fields(body: dict[str, Any], known: frozenset[str]) -> None:
    for key in sorted(body):
        if key not in known:
            raise RequestProblem(f"{key}: Extra inputs are not permitted")


def _content_empty(content: Any) -> bool:
    return content == "" or content == [] or content is None


def _check_messages(messages: Any, caps: Capabilities) -> None:
    if not isinstance(messages, list):
        raise RequestProblem("messages: Input should be a valid list" if messages is not None
                             else "messages: Field required")
    if not messages:
        raise RequestProblem("messages: at least one message is required")
    last = len(messages) - 1
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise RequestProblem(f"messages.{i}: Input should be a valid dictionary")
        role = m.get("role")
        if role == "system":
            if not caps.mid_conversation_system:
                raise RequestProblem(ROLE_SYSTEM_UNSUPPORTED)
        elif role not in ("user", "assistant"):
            raise RequestProblem(f"messages.{i}.role: Input should be 'user' or 'assistant'" if role is not None
                                 else f"messages.{i}.role: Field required")
        if "content" not in m:
            raise RequestProblem(f"messages.{i}.content: Field required")
        content = m["content"]
        if _content_empty(content) and not (i == last and role == "assistant"):
            raise RequestProblem(f"messages.{i}: all messages must have non-empty content except for the "
                                 "optional final assistant message")
        if isinstance(content, list):
            for j, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise RequestProblem(f"messages.{i}.content.{j}.type: Field required")
                if block["type"] == "text" and block.get("text") == "":
                    raise RequestProblem("messages: text content blocks must be non-empty")
        elif not isinstance(content, str):
            raise RequestProblem(f"messages.{i}.content: Input should be a valid string or a valid list")


def _check_thinking(body: dict[str, Any], caps: Capabilities, *, count_only: bool) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    if not isinstance(thinking, dict) or "type" not in thinking:
        raise RequestProblem("thinking.type: Field required")
    kind = thinking["type"]
    if kind not in THINKING_MODES:
        raise RequestProblem(f"thinking.type: Input should be {_quoted_or(THINKING_MODES)}")
    if kind == "adaptive" and "adaptive" not in caps.thinking:
        raise RequestProblem("adaptive thinking is not supported on this model")
    if kind == "enabled":
        if "enabled" not in caps.thinking:
            hint = (' Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
                    if "adaptive" in caps.thinking else "")
            raise RequestProblem(f'"thinking.type.enabled" is not supported for this model.{hint}')
        budget = thinking.get("budget_tokens")
        if not _is_int(budget):
            raise RequestProblem("thinking.enabled.budget_tokens: Field required" if budget is None
                                 else "thinking.enabled.budget_tokens: Input should be a valid integer")
        if budget < THINKING_BUDGET_MIN:
            raise RequestProblem(f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                                 f"{THINKING_BUDGET_MIN}")
        if not count_only and _is_int(body.get("max_tokens")) and body["max_tokens"] <= budget:
            raise RequestProblem("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                                 "documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                 "extended-thinking#max-tokens-and-context-window-size")
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and choice.get("type") in FORCED_TOOL_CHOICES:
            raise RequestProblem("Thinking may not be enabled when tool_choice forces tool use.")
    if kind == "disabled" and "disabled" not in caps.thinking:
        raise RequestProblem('"thinking.type.disabled" is not supported for this model. Use '
                             '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.')


def _check_output_config(body: dict[str, Any], caps: Capabilities) -> None:
    config = body.get("output_config")
    if config is None:
        return
    if not isinstance(config, dict):
        raise RequestProblem("output_config: Input should be a valid dictionary")
    _check_fields({f"output_config.{k}": v for k, v in config.items()},
                  frozenset(f"output_config.{k}" for k in OUTPUT_CONFIG_FIELDS))
    effort = config.get("effort")
    if effort is not None:
        if effort not in EFFORT_LEVELS:
            raise RequestProblem(f"output_config.effort: Input should be {_quoted_or(EFFORT_LEVELS)}")
        if not caps.effort:
            raise RequestProblem("This model does not support the effort parameter.")
        if effort not in caps.effort:
            raise RequestProblem(f"output_config.effort: \"{effort}\" is not supported by this model; supported "
                                 f"values: {', '.join(caps.effort)}")
    _json_schema_of(body)  # validates output_config.format


def _json_schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of ``output_config.format`` (or the older beta ``output_format``), else None."""
    config = _dict_or_empty(body.get("output_config"))
    for where, fmt in (("output_config.format", config.get("format")), ("output_format", body.get("output_format"))):
        if fmt is None:
            continue
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            raise RequestProblem(f"{where}.type: Input should be 'json_schema'")
        if not isinstance(fmt.get("schema"), dict):
            raise RequestProblem(f"{where}.schema: Field required")
        return fmt["schema"]
    return None


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise RequestProblem("tools: Input should be a valid list")
        for i, tool in enumerate(tools):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                raise RequestProblem(f"tools.{i}.name: Field required")
            if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
                raise RequestProblem(f"tools.{i}.custom.input_schema: Field required")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise RequestProblem("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] in FORCED_TOOL_CHOICES and not tools:
        raise RequestProblem(f"tool_choice.type: \"{choice['type']}\" requires at least one tool in `tools`")
    if choice["type"] == "tool":
        if not isinstance(choice.get("name"), str):
            raise RequestProblem("tool_choice.tool.name: Field required")
        if choice["name"] not in {t.get("name") for t in tools or ()}:
            raise RequestProblem(f"tool_choice.name: tool \"{choice['name']}\" is not one of the tools in `tools`")


def check_request(body: Any, model: str, caps: Capabilities, *, count_only: bool = False) -> None:
    """Raise :class:`RequestProblem` for what the API refuses on this model (``caps`` from the catalogue)."""
    if not isinstance(body, dict):
        raise RequestProblem("The request body must be a JSON object.")
    _check_fields(body, COUNT_TOKENS_FIELDS if count_only else MESSAGES_FIELDS)
    _check_messages(body.get("messages"), caps)
    if not count_only:
        mt = body.get("max_tokens")
        if mt is None:
            raise RequestProblem("max_tokens: Field required")
        if not _is_int(mt):
            raise RequestProblem("max_tokens: Input should be a valid integer")
        if mt < 1:
            raise RequestProblem("max_tokens: Input should be greater than or equal to 1")
        if caps.max_output is not None and mt > caps.max_output:
            raise RequestProblem(f"max_tokens: {mt} > {caps.max_output}, which is the maximum allowed number of "
                                 f"output tokens for {model}")
        temperature = body.get("temperature")
        if temperature is not None and (not _is_number(temperature) or not 0.0 <= temperature <= 1.0):
            raise RequestProblem("temperature: range: 0..1")
    _check_tools(body)
    try:
        caching.check(body)
    except caching.CacheControlProblem as exc:
        raise RequestProblem(str(exc)) from None
    _check_thinking(body, caps, count_only=count_only)
    _check_output_config(body, caps)


# --- answers built from schemas ----------------------------------------------------------------------

_STRING_FORMATS = {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00Z",
                   "email": "sandbox@example.com", "uri": "https://example.com/", "url": "https://example.com/",
                   "uuid": "00000000-0000-4000-8000-000000000000", "hostname": "example.com",
                   "ipv4": "192.0.2.1", "ipv6": "2001:db8::1"}


def instance_of(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A value that satisfies ``schema`` (JSON Schema, the subset tool ``input_schema`` and structured outputs
    use): ``$ref``, ``const``, ``enum``, ``anyOf``/``oneOf``/``allOf``, types, every property, bounds, lengths."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 12:
        return None if depth > 12 else "sandbox"
    if isinstance(schema.get("$ref"), str):
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) and part else target
        return instance_of(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [o for o in schema[key] if not (isinstance(o, dict) and o.get("type") == "null")]
            return instance_of((options or schema[key])[0], root, depth + 1)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = instance_of(part, root, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
            else:
                return value
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = _dict_or_empty(schema.get("properties"))
        return {name: instance_of(sub, root, depth + 1) for name, sub in props.items()}
    if kind == "array":
        prefix = _list_or_empty(schema.get("prefixItems"))
        count = max(int(schema.get("minItems", 1)), len(prefix))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        items = [instance_of(p, root, depth + 1) for p in prefix]
        items += [instance_of(schema.get("items", {}), root, depth + 1) for _ in range(count - len(items))]
        return items[:count]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        number: float = 0 if low is None else low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema
                                                       else 0)
        if high is not None and number > high:
            number = high
        step = schema.get("multipleOf")
        if _is_number(step) and step > 0:
            number = math.ceil(number / step) * step
        return int(number) if kind == "integer" else float(number)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRING_FORMATS.get(str(schema.get("format")), "sandbox")
    low_len, high_len = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < low_len:
        text = text + "x" * (low_len - len(text))
    if _is_int(high_len):
        text = text[:high_len]
    return text


def _matches_key(value: str, account: dict[str, Any]) -> bool:
    keys = account["_sb"]["keys"]
    return any(hmac.compare_digest(value.encode(), k.encode()) for k in (keys["key1"], keys["key2"]))


#: Foundry's answer to a key it does not take (FACTS.md; anthropic-sdk-python#1661 quotes it for a request that
#: carried ``api-key`` alone).
INVALID_KEY = DEFAULT_FAULT_MESSAGES[401]


def _authenticate(request: Request, state: State, account: dict[str, Any]) -> JSONResponse | None:
    """Foundry's authentication, as the sandbox models it (docs/sandbox.md, "Authentication"):

    * ``x-api-key: <key>`` — the primary header (``AnthropicFoundry`` sends it, with ``api-key`` beside it);
    * ``Authorization: Bearer <key>`` — an account key sent as a bearer token, what the plain ``anthropic.Anthropic``
      client of anthropic 2.x sends. Accepted: Microsoft's own portal sample for the ``/anthropic`` route sends the key
      as ``Authorization: Bearer`` (quoted in Open-WebUI-Functions#97), and two clients fixed their Foundry support by
      switching to it (NousResearch/hermes-agent#28084, agentjido/req_llm#411, both merged after testing on Foundry);
    * ``Authorization: Bearer <Entra ID token>`` for one of the two Foundry audiences, with a caller role;
    * ``api-key`` alone is refused 401 with Foundry's wording (anthropic-sdk-python#1661: anthropic 0.107.0 sent
      only ``api-key`` and every Foundry request failed until it sent ``x-api-key`` again).
    """
    token = identity.bearer_from(request)
    if token is not None and _matches_key(token, account):
        if account.get("properties", {}).get("disableLocalAuth"):
            return error(401, "Key based authentication is disabled for this resource.",
                         code="AuthenticationTypeDisabled")
        return None
    if token is not None:
        try:
            claims = identity.verify_token(state, token, {identity.norm_audience(a)
                                                          for a in identity.FOUNDRY_AUDIENCES})
        except identity.TokenError as exc:
            return error(401, f"Unauthorized. Access token is missing, invalid, audience is incorrect "
                              f"(https://cognitiveservices.azure.com or https://ai.azure.com), or have expired. "
                              f"({exc.code})", code="401")
        oid = str(claims["oid"])
        if not state.roles_of(oid, account["id"], data_plane=True) & st.FOUNDRY_CALLER_ROLES:
            roles = " or ".join(arm_facts.ROLE_NAMES[r] for r in arm_facts.CLAUDE_CALLER_ROLES)
            return error(403, f"The principal `{oid}` lacks the required data action "
                              f"`Microsoft.CognitiveServices/accounts/AIServices/anthropic/messages/action` to "
                              f"perform `POST /anthropic/v1/messages` on resource '{account['id']}'. Assign "
                              f"{roles} on the resource, its resource group or subscription.",
                         code="PermissionDenied")
        return None
    key = request.headers.get("x-api-key")
    if not key:
        if request.headers.get("api-key"):
            return error(401, INVALID_KEY, code="401")
        return error(401, "Access denied due to missing subscription key. Make sure to include subscription key "
                          "when making requests to an API.", code="401")
    if account.get("properties", {}).get("disableLocalAuth"):
        return error(401, "Key based authentication is disabled for this resource.",
                     code="AuthenticationTypeDisabled")
    if not _matches_key(key, account):
        return error(401, INVALID_KEY, code="401")
    return None


#: The Messages API refuses a request without ``anthropic-version`` with this 400 ``invalid_request_error``
#: (the API's body, quoted in envoyproxy/ai-gateway#1909 (2026-03) and PipedreamHQ/pipedream#9697). Foundry serves
#: Anthropic's API behind Azure's gateway, so the sandbox answers it after authentication. No public report quotes
#: Foundry itself; the API's wording is the best source there is.
VERSION_REQUIRED = "anthropic-version: header is required"


def _check_version(request: Request) -> JSONResponse | None:
    version = request.headers.get("anthropic-version")
    if version is None or not version.strip():
        return error(400, VERSION_REQUIRED)
    if "," in version:  # a header sent twice, joined (reported in decolua/9router#1475 with this wording)
        return error(400, f'anthropic-version: "{version}" is not a valid version')
    return None


#: What Azure's gateway answers a caller outside the network of an account with ``publicNetworkAccess: Disabled``
#: (before any authentication; Azure's error shape, not the Messages API's). Wording: Azure support's Japan blog
#: "Azure AI Search から Azure OpenAI Service へ可能な限りセキュアに接続したい" (2024, updated 2025) quotes
#: ``{"error":{"code":"403","message": "Public access is disabled. Please configure private endpoint."}}``.
PUBLIC_ACCESS_DISABLED = "Public access is disabled. Please configure private endpoint."


def not_reachable() -> JSONResponse:
    """The 403 a caller outside the network gets: the sandbox's callers are outside every network unless the sandbox
    is told they are inside one (``Sandbox.set_inside_network``) that holds the account's private endpoint."""
    return JSONResponse({"error": {"code": "403", "message": PUBLIC_ACCESS_DISABLED}}, status_code=403,
                        headers=_headers())


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool ``tool_choice`` forces (``{"type": "tool", "name"}``, or the first tool for ``any``), else None."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") not in FORCED_TOOL_CHOICES:
        return None
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    if choice["type"] == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    return tools[0] if tools else None


#: Text Claude Code (and agents like it) put into user turns for the model, not from the user: never a request.
_REMINDER = re.compile(r"<system-reminder>.*?</system-reminder>", re.S | re.I)


def asked_for_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool the sandbox calls under ``tool_choice: auto`` (or no ``tool_choice``) — the rule in docs/sandbox.md:
    the last user message is text (not a ``tool_result`` turn) and asks for a tool by name with *use*, *call*,
    *run* or *invoke* (``use the get_weather tool``, ``call get_weather``; case-insensitive, the name as a whole
    word, `` `backticks` `` allowed). The first such tool in ``tools`` order. Never with ``tool_choice: none``."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "auto":
        return None
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and isinstance(t.get("name"), str)]
    last = _last_user(body.get("messages") or [])
    if not tools or not last or _tool_results(last):
        return None
    text = _REMINDER.sub(" ", _text_of(last.get("content")))
    for tool in tools:
        name = re.escape(tool["name"])
        if re.search(rf"\b(?:use|call|run|invoke)\s+(?:the\s+)?`?{name}`?(?![\w-])", text, re.I):
            return tool
    return None


def _message(body: dict[str, Any], deployment: dict[str, Any],
             cache: caching.CacheUsage | None = None) -> dict[str, Any]:
    """The canned Messages response: a thinking block when budgeted thinking is on, then a ``tool_use`` block
    built from the input_schema of the tool ``tool_choice`` forces or the user asked for (:func:`asked_for_tool`),
    or JSON satisfying ``output_config.format``, or text. ``usage`` reports ``cache`` (prompt caching)."""
    model = deployment["properties"]["model"]["name"]
    budget = body["max_tokens"]
    content: list[dict[str, Any]] = []
    used = 0
    thinking = _dict_or_empty(body.get("thinking"))
    if thinking.get("type") == "enabled":
        thought = "The sandbox does not think; this thinking block is canned."
        content.append({"type": "thinking", "thinking": thought, "signature": "sbx_sig_" + secrets.token_hex(16)})
        used += len(messages_api.words(thought))
    stop_reason, stop_sequence = "end_turn", None
    tool = _forced_tool(body) or asked_for_tool(body)
    if tool is not None:
        tool_input = instance_of(tool.get("input_schema") or {"type": "object"})
        content.append({"type": "tool_use", "id": "toolu_sbx_" + secrets.token_hex(12), "name": tool["name"],
                        "input": tool_input if isinstance(tool_input, dict) else {}})
        used += _estimate_tokens(json.dumps(tool_input))
        stop_reason = "tool_use"
    else:
        schema = _json_schema_of(body)
        if schema is not None:
            text = json.dumps(instance_of(schema), separators=(", ", ": "))
        else:
            text = _reply_text(deployment["name"], model, body["messages"])
            for seq in body.get("stop_sequences") or []:
                if isinstance(seq, str) and seq and seq in text:
                    text, stop_reason, stop_sequence = text.split(seq, 1)[0], "stop_sequence", seq
                    break
        words = messages_api.words(text)
        room = max(0, budget - used)
        if len(words) > room:
            words, stop_reason, stop_sequence = words[:room], "max_tokens", None
        content.append({"type": "text", "text": "".join(words)})
        used += len(words)
    return messages_api.message(model, content, stop_reason=stop_reason, stop_sequence=stop_sequence,
                                usage={**caching.usage_fields(count_input_tokens(body), cache or caching.CacheUsage()),
                                       "output_tokens": max(1, used), "service_tier": "standard"})


def count_input_tokens(body: dict[str, Any]) -> int:
    """A deterministic estimate (four characters a token) of the prompt: system, messages and tools."""
    system = body.get("system")
    parts = [_text_of(system) if not isinstance(system, str) else system]
    parts += [_text_of(m.get("content")) for m in body.get("messages") or () if isinstance(m, dict)]
    if body.get("tools"):
        parts.append(json.dumps(body["tools"]))
    return _estimate_tokens(" ".join(parts))


async def _stream(msg: dict[str, Any]) -> AsyncIterator[bytes]:
    """``msg`` as the API streams it (:func:`claude_foundry_sandbox.messages_api.stream_events`), yielding to the
    event loop between events."""
    for event, data in messages_api.stream_events(msg):
        yield messages_api.sse(event, data)
        await asyncio.sleep(0)


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


ROUTES = {"v1/messages": False, "v1/messages/count_tokens": True}  # path -> count_tokens


def _served(state: State, account: dict[str, Any], deployment: dict[str, Any], status: int, started: float,
            usage: dict[str, Any] | None = None) -> None:
    """Count one answer of a deployment in the sandbox's traffic (its Azure Monitor metrics and its cost)."""
    with state.lock:
        traffic.record(state.traffic, account_id=account["id"], deployment=deployment["name"],
                       model=str(deployment["properties"]["model"]["name"]), status=status, usage=usage,
                       latency_ms=(time.monotonic() - started) * 1000)
        state.save()


async def endpoint(request: Request) -> Response:
    started = time.monotonic()
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
    if rest not in ROUTES or request.method != "POST":
        return error(404, "Resource not found", code="404")
    count_only = ROUTES[rest]
    if str(account.get("properties", {}).get("publicNetworkAccess", "")).lower() == "disabled" \
            and not state.reached_privately(account["id"]):
        return not_reachable()
    denied = _authenticate(request, state, account) or _check_version(request)
    if denied is not None:
        return denied
    raw = await request.body()
    try:
        body = bodies.parse_json(raw)
    except bodies.JsonError as exc:
        return error(400, f"The request body is not valid JSON: {exc}.")
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return error(400, "model: Field required")
    with state.lock:
        deployment = next((d for d in state.deployments_of(account["id"].lower())
                           if d["name"].lower() == body["model"].lower()
                           and d.get("properties", {}).get("provisioningState") == "Succeeded"), None)
        model = deployment["properties"]["model"]["name"] if deployment else ""
        info = state.catalogue.model(model) if deployment else None
        version = str(deployment["properties"]["model"].get("version") or "") if deployment else ""
        retired = info is not None and info.stage_of(version, state.today_date()) == "retired"
    if retired and deployment is not None:  # (retired implies a deployment; said for the type checker)
        # A retired model's deployment stops answering. Microsoft: "deployments of a retired model always return
        # error responses" (MicrosoftDocs model-retirements.md, status and text unpublished); Anthropic's API
        # answers a retired model 404 not_found_error "model: <the name sent>" (reported in spring-ai#2387,
        # home-assistant/core#163831). The sandbox answers the latter; Foundry's own text for it is unverified.
        faults.record_answer(account["name"], deployment["name"], rest, 404, "retired")
        _served(state, account, deployment, 404, started)
        return error(404, f"model: {body['model']}")
    if deployment is None:
        return error(404, "The API deployment for this resource does not exist. If you created the deployment "
                          "within the last 5 minutes, please wait a moment and try again.",
                     code="DeploymentNotFound")
    spec = faults.draw(fault_names(account), deployment["name"])
    if spec is not None:
        faulted = await _apply_fault(spec)
        if faulted is not None:
            faults.record_answer(account["name"], deployment["name"], rest, faulted.status_code, "fault")
            _served(state, account, deployment, faulted.status_code, started)
            return faulted
    try:
        check_request(body, model, info.capabilities if info else Capabilities(), count_only=count_only)
    except RequestProblem as exc:
        faults.record_answer(account["name"], deployment["name"], rest, 400, str(exc))
        _served(state, account, deployment, 400, started)
        return error(400, str(exc))
    faults.record_answer(account["name"], deployment["name"], rest, 200)
    if count_only:
        _served(state, account, deployment, 200, started)
        return JSONResponse({"input_tokens": count_input_tokens(body)}, headers=_headers())
    prompt_cache: caching.PromptCache | None = getattr(request.app.state, "sandbox_prompt_cache", None)
    cache = prompt_cache.use(f"{account['id'].lower()}/{deployment['name'].lower()}", body, model,
                             count_input_tokens(body)) if prompt_cache is not None else None
    msg = _message(body, deployment, cache)
    _served(state, account, deployment, 200, started, msg["usage"])
    if body.get("stream"):
        return StreamingResponse(_stream(msg), media_type="text/event-stream",
                                 headers={**_headers(), "cache-control": "no-cache"})
    return JSONResponse(msg, headers=_headers())
