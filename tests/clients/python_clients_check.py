"""The Python recipes of docs/clients.md, run by the client venv (.clients/py-venv) against a stack, configured only
by the environment `claude-foundry env` printed (plus, for the Entra ID recipes, the developer's Azure credential in
AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET / AZURE_AUTHORITY_HOST; against Azure that is
DefaultAzureCredential's login). Usage: python python_clients_check.py RECIPE... ; prints one JSON object, recipe ->
what the API answered (model, text, stop reason, streamed text) or {"error": type, "status": HTTP status}. Never
prints the key or a token.

Every client is told to retry nothing (max_retries=0 or its equivalent): a refusal shows on the first request.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

PROMPT = "Say hi"
MAX_TOKENS = 64
SCOPE = "https://cognitiveservices.azure.com/.default"  # docs/clients.md: or https://ai.azure.com/.default


def base_url() -> str:
    return os.environ["CLAUDE_FOUNDRY_BASE_URL"]  # .../anthropic, on Azure and on the sandbox


def deployment() -> str:
    return os.environ["ANTHROPIC_DEFAULT_SONNET_MODEL"]


def key() -> str:
    return os.environ["ANTHROPIC_FOUNDRY_API_KEY"]


def credential() -> Any:
    """Against Azure: DefaultAzureCredential(). The sandbox's authority is not a known cloud: instance discovery off."""
    from azure.identity import ClientSecretCredential

    return ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                                  os.environ["AZURE_CLIENT_SECRET"], authority=os.environ["AZURE_AUTHORITY_HOST"],
                                  disable_instance_discovery=True)


def token() -> str:
    return str(credential().get_token(SCOPE).token)


def _message(msg: Any) -> dict[str, Any]:
    return {"model": msg.model, "stop_reason": msg.stop_reason,
            "text": "".join(b.text for b in msg.content if b.type == "text")}


# --- the anthropic SDK ------------------------------------------------------------------------------------------

def anthropic_key() -> dict[str, Any]:
    from anthropic import AnthropicFoundry

    client = AnthropicFoundry(max_retries=0)  # ANTHROPIC_FOUNDRY_API_KEY and _RESOURCE or _BASE_URL from env
    out = _message(client.messages.create(model=deployment(), max_tokens=MAX_TOKENS,
                                          messages=[{"role": "user", "content": PROMPT}]))
    with client.messages.stream(model=deployment(), max_tokens=MAX_TOKENS,
                                messages=[{"role": "user", "content": PROMPT}]) as stream:
        out["streamed"] = "".join(stream.text_stream)
    return out


def anthropic_entra() -> dict[str, Any]:
    from anthropic import AnthropicFoundry
    from azure.identity import get_bearer_token_provider

    client = AnthropicFoundry(azure_ad_token_provider=get_bearer_token_provider(credential(), SCOPE), max_retries=0)
    return _message(client.messages.create(model=deployment(), max_tokens=MAX_TOKENS,
                                           messages=[{"role": "user", "content": PROMPT}]))


# --- claude-agent-sdk (drives its bundled Claude Code, which reads CLAUDE_CODE_USE_FOUNDRY and the rest) ---------

def _agent(extra_env: dict[str, str]) -> dict[str, Any]:
    from claude_agent_sdk import AssistantMessage, ClaudeAgentOptions, ResultMessage, TextBlock, query

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {"text": "", "models": []}
        options = ClaudeAgentOptions(max_turns=1, env=extra_env, allowed_tools=[])
        async for message in query(prompt=PROMPT, options=options):
            if isinstance(message, AssistantMessage):
                out["models"].append(message.model)
                out["text"] += "".join(b.text for b in message.content if isinstance(b, TextBlock))
            elif isinstance(message, ResultMessage):
                out["is_error"] = message.is_error
                out["result"] = message.result
        return out

    return asyncio.run(run())


def agent_sdk_key() -> dict[str, Any]:
    return _agent({})


def agent_sdk_entra() -> dict[str, Any]:
    # Claude Code >= 2.1.203 takes an Entra ID token in ANTHROPIC_FOUNDRY_AUTH_TOKEN (no key on the machine)
    return _agent({"ANTHROPIC_FOUNDRY_AUTH_TOKEN": token()})


# --- LiteLLM ----------------------------------------------------------------------------------------------------

def litellm_sdk() -> dict[str, Any]:
    import litellm

    messages = [{"role": "user", "content": PROMPT}]
    # anthropic/<deployment> with api_base: LiteLLM's Anthropic handler, whatever the deployment is called
    r = litellm.completion(model=f"anthropic/{deployment()}", api_base=base_url(), api_key=key(),
                           messages=messages, max_tokens=MAX_TOKENS, num_retries=0)
    out = {"model": r.model, "stop_reason": r.choices[0].finish_reason, "text": r.choices[0].message.content}
    chunks = litellm.completion(model=f"anthropic/{deployment()}", api_base=base_url(), api_key=key(),
                                messages=messages, max_tokens=MAX_TOKENS, num_retries=0, stream=True)
    out["streamed"] = "".join(c.choices[0].delta.content or "" for c in chunks)
    return out


def litellm_proxy_config() -> dict[str, Any]:
    """The proxy's config.yaml (examples/clients/litellm-config.yaml): its model_list, as the proxy hands it to a
    Router (os.environ/ references resolved from the environment)."""
    import yaml
    from litellm import Router

    with open(os.environ["LITELLM_CONFIG"], encoding="utf-8") as f:
        config = yaml.safe_load(f)
    router = Router(model_list=config["model_list"], num_retries=0)
    r = router.completion(model="claude-sonnet", messages=[{"role": "user", "content": PROMPT}],
                          max_tokens=MAX_TOKENS)
    return {"model": r.model, "stop_reason": r.choices[0].finish_reason, "text": r.choices[0].message.content}


# --- LangChain --------------------------------------------------------------------------------------------------

def _langchain(**auth: Any) -> dict[str, Any]:
    from langchain_anthropic import ChatAnthropic

    llm = ChatAnthropic(model=deployment(), base_url=base_url(), max_tokens=MAX_TOKENS, max_retries=0, **auth)
    msg = llm.invoke(PROMPT)
    streamed = "".join(str(chunk.content if isinstance(chunk.content, str) else
                           "".join(b.get("text", "") for b in chunk.content if isinstance(b, dict)))
                       for chunk in llm.stream(PROMPT))
    return {"model": msg.response_metadata.get("model"), "stop_reason": msg.response_metadata.get("stop_reason"),
            "text": msg.text if isinstance(msg.text, str) else msg.text(), "streamed": streamed}


def langchain_key() -> dict[str, Any]:
    # anthropic >= 2 sends api_key as `Authorization: Bearer`: send the key as x-api-key and drop that header
    from anthropic import omit

    return _langchain(api_key="unused", default_headers={"x-api-key": key()},
                      model_kwargs={"extra_headers": {"Authorization": omit}})


def langchain_entra() -> dict[str, Any]:
    return _langchain(default_headers={"Authorization": f"Bearer {token()}"})


def langchain_plain_key() -> dict[str, Any]:
    """api_key alone (anthropic >= 2 sends it as Authorization: Bearer): disputed on Foundry, see docs/clients.md."""
    return _langchain(api_key=key())


# --- Pydantic AI ------------------------------------------------------------------------------------------------

def _pydantic_ai(client: Any) -> dict[str, Any]:
    from pydantic_ai import Agent
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    agent = Agent(AnthropicModel(deployment(), provider=AnthropicProvider(anthropic_client=client)))
    result = agent.run_sync(PROMPT, model_settings={"max_tokens": MAX_TOKENS})
    response = result.all_messages()[-1]
    return {"model": response.model_name, "text": result.output,
            "stop_reason": (response.provider_details or {}).get("finish_reason")}


def pydantic_ai_key() -> dict[str, Any]:
    from anthropic import AsyncAnthropicFoundry

    return _pydantic_ai(AsyncAnthropicFoundry(max_retries=0))


def pydantic_ai_entra() -> dict[str, Any]:
    from anthropic import AsyncAnthropicFoundry
    from azure.identity.aio import ClientSecretCredential, get_bearer_token_provider

    cred = ClientSecretCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"],
                                  os.environ["AZURE_CLIENT_SECRET"], authority=os.environ["AZURE_AUTHORITY_HOST"],
                                  disable_instance_discovery=True)
    return _pydantic_ai(AsyncAnthropicFoundry(azure_ad_token_provider=get_bearer_token_provider(cred, SCOPE),
                                              max_retries=0))


RECIPES: dict[str, Callable[[], dict[str, Any]]] = {
    f.__name__: f for f in (anthropic_key, anthropic_entra, agent_sdk_key, agent_sdk_entra, litellm_sdk,
                            litellm_proxy_config, langchain_key, langchain_entra, langchain_plain_key,
                            pydantic_ai_key, pydantic_ai_entra)}


def _failure(exc: BaseException) -> dict[str, Any]:
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    message = str(exc)[:500]
    for secret in (os.environ.get("ANTHROPIC_FOUNDRY_API_KEY"), os.environ.get("AZURE_CLIENT_SECRET")):
        if secret:
            message = message.replace(secret, "<redacted>")
    return {"error": type(exc).__name__, "status": status, "message": message}


def main(names: list[str]) -> int:
    out: dict[str, Any] = {}
    stdout, sys.stdout = sys.stdout, sys.stderr  # what the libraries print goes to stderr; stdout is the JSON
    try:
        for name in names:
            try:
                out[name] = RECIPES[name]()
            except Exception as exc:  # reported as data; the test asserts on it
                out[name] = _failure(exc)
    finally:
        sys.stdout = stdout
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(RECIPES)))
