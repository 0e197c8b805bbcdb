"""The Python recipes of docs/clients.md (python_clients_check.py, run by the pinned clients in .clients/py-venv)
against a stack whose deployments are aliases, configured only by `claude-foundry env --with-key --write` (key
recipes) or `env` without the key plus the developer's Azure credential (Entra ID recipes). Each asserts on what the
API answered: the model behind the deployment, the sandbox's text, the stop reason, and the streamed text."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.clients

ROOT = Path(__file__).resolve().parents[2]
PY_VENV = ROOT / ".clients" / "py-venv"
PYTHON = PY_VENV / "bin" / "python"
SCRIPT = Path(__file__).with_name("python_clients_check.py")
LITELLM_CONFIG = ROOT / "examples" / "clients" / "litellm-config.yaml"
GREETING = "Hello from the claude-foundry sandbox."
MODEL = "claude-sonnet-4-6"  # behind team-chat (conftest.ALIAS_DEPLOYMENTS)
KEY_RECIPES = ("anthropic_key", "agent_sdk_key", "litellm_sdk", "litellm_proxy_config", "langchain_key",
               "langchain_plain_key", "pydantic_ai_key")
ENTRA_RECIPES = ("anthropic_entra", "agent_sdk_entra", "langchain_entra", "pydantic_ai_entra")


def skip_reason() -> str | None:
    if not (PYTHON.is_file() and (PY_VENV / "installed-lock.txt").is_file()):
        log = ROOT / ".clients" / "py-install.log"
        why = f"; the last install failed, see {log.relative_to(ROOT)}" if log.is_file() else ""
        return (f"the Python clients are not installed in {PY_VENV.relative_to(ROOT)}: run "
                f"scripts/install_python_clients (it needs the package registry once; scripts/test runs it){why}")
    return None


def _run(env: dict[str, str], recipes: tuple[str, ...], cwd: Path, timed: Any, what: str) -> dict[str, Any]:
    with timed(f"python_clients_check.py ({what}: {len(recipes)} recipes)"):
        proc = subprocess.run([str(PYTHON), str(SCRIPT), *recipes], env=env, cwd=cwd,  # noqa: S603
                              capture_output=True, text=True, timeout=300, check=False)
    return {"proc": proc, **(json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout else {})}


@pytest.fixture(scope="module")
def key_results(alias_stack, tmp_path_factory, timed) -> dict[str, Any]:
    if skip_reason():
        pytest.skip(skip_reason())
    home = tmp_path_factory.mktemp("py-home")
    # only what `env --with-key` wrote, HOME, PATH, and where the proxy's config file is
    env = {**alias_stack.env, "HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "LITELLM_CONFIG": str(LITELLM_CONFIG), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = _run(env, KEY_RECIPES, home, timed, "key")
    proc = out.pop("proc")
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def entra_results(alias_stack, client_sandbox, tmp_path_factory, timed) -> dict[str, Any]:
    if skip_reason():
        pytest.skip(skip_reason())
    from claude_foundry import _contract as c

    home = tmp_path_factory.mktemp("py-entra-home")
    conn = client_sandbox.connection
    # `env` without --with-key (what an Entra ID developer has), plus the developer's Azure credential
    env = {k: v for k, v in alias_stack.env.items() if k != c.ENV_API_KEY}
    env.update({"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "AZURE_TENANT_ID": conn["tenant_id"], "AZURE_CLIENT_ID": conn["client_id"],
                "AZURE_CLIENT_SECRET": conn["client_secret"], "AZURE_AUTHORITY_HOST": conn["authority"]})
    out = _run(env, ENTRA_RECIPES, home, timed, "Entra ID")
    proc = out.pop("proc")
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    assert conn["client_secret"] not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _assert_answer(result: dict[str, Any], *, streamed: bool = True, model: str | None = MODEL) -> None:
    assert "error" not in result, result
    if model is not None:
        assert result["model"] == model
    assert result["text"].startswith(GREETING)
    if streamed and "streamed" in result:
        assert result["streamed"] == result["text"]


@pytest.mark.parametrize("recipe", ["anthropic_key", "pydantic_ai_key", "langchain_key"])
def test_sdk_recipes_answer_with_the_key(key_results, recipe):
    _assert_answer(key_results[recipe])
    assert key_results[recipe]["stop_reason"] in ("end_turn", "stop")


@pytest.mark.parametrize("recipe", ["anthropic_entra", "pydantic_ai_entra", "langchain_entra"])
def test_sdk_recipes_answer_with_entra_id(entra_results, recipe):
    _assert_answer(entra_results[recipe])


def test_litellm_sdk_anthropic_route_with_api_base(key_results):
    r = key_results["litellm_sdk"]
    assert "error" not in r, r
    assert r["model"] in (MODEL, "team-chat")  # LiteLLM reports the response's model, or the name it was given
    assert r["text"].startswith(GREETING)
    assert r["stop_reason"] == "stop"  # LiteLLM maps end_turn to OpenAI's stop
    assert r["streamed"] == r["text"]


def test_litellm_proxy_config_model_list(key_results):
    r = key_results["litellm_proxy_config"]
    assert "error" not in r, r
    assert r["text"].startswith(GREETING)


def test_langchain_plain_api_key_sends_the_key_as_bearer(key_results):
    """ChatAnthropic(api_key=...) alone sends the key as Authorization: Bearer (anthropic >= 2). Reports disagree on
    whether Foundry accepts that; the sandbox does, as Microsoft's portal sample implies (docs/sandbox.md). The
    recipe above (x-api-key, no Authorization) does not depend on the answer."""
    r = key_results["langchain_plain_key"]
    assert "error" not in r, r
    assert r["model"] == MODEL


@pytest.mark.parametrize(("which", "results"), [("agent_sdk_key", "key_results"),
                                                ("agent_sdk_entra", "entra_results")])
def test_claude_agent_sdk_answers(request, which, results):
    r = request.getfixturevalue(results)[which]
    assert "error" not in r, r
    assert r["is_error"] is False
    assert GREETING in r["text"]
    assert r["models"]
