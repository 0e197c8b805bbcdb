"""The TypeScript `@anthropic-ai/foundry-sdk` (the pinned npm release) against a stack deployed to the sandbox,
configured only by `claude-foundry env --with-key` (plus HOME and PATH): create, stream, a forced tool (plain and
streamed), count tokens, and a 404 for an unknown deployment."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.clients

SCRIPT = Path(__file__).with_name("foundry_sdk_check.mjs")


@pytest.fixture(scope="module")
def sdk_results(node_clients_dir, alias_stack, tmp_path_factory, timed):
    from dotenv_file import parse_dotenv

    home = tmp_path_factory.mktemp("ts-home")
    import os

    env = {**parse_dotenv(alias_stack.env_file.read_text()), "HOME": str(home), "PATH": os.environ["PATH"],
           # where to resolve the package from (not configuration of the client)
           "FOUNDRY_SDK_REQUIRE_FROM": str(node_clients_dir / "package.json")}
    node = shutil.which("node") or "node"
    with timed("node foundry_sdk_check.mjs (6 calls)"):
        proc = subprocess.run([node, str(SCRIPT)], env=env, cwd=home, capture_output=True, text=True,  # noqa: S603
                              timeout=60, check=False)
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_create(sdk_results):
    r = sdk_results["create"]
    assert r["model"] == "claude-sonnet-4-6"
    assert r["type"] == "text"
    assert r["text"].startswith("Hello from the claude-foundry sandbox.")
    assert r["stop_reason"] == "end_turn"
    assert r["output_tokens"] > 0


def test_stream_in_the_api_order(sdk_results):
    r = sdk_results["stream"]
    assert r["text"] == r["final_text"] == sdk_results["create"]["text"]
    events = r["events"]  # the SDK drops `ping` (the raw order, ping included, is checked in tests/e2e)
    assert events[:2] == ["message_start", "content_block_start"]
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(events[2:-3]) == {"content_block_delta"}


@pytest.mark.parametrize("which", ["forced_tool", "forced_tool_stream"])
def test_forced_tool_returns_a_tool_use_block_from_the_schema(sdk_results, which):
    r = sdk_results[which]
    assert r["stop_reason"] == "tool_use"
    [block] = r["content"]
    assert block["type"] == "tool_use"
    assert block["name"] == "get_weather"
    assert block["id"].startswith("toolu_")
    assert block["input"]["unit"] in ("celsius", "fahrenheit")
    assert len(block["input"]["city"]) >= 2
    assert 1 <= block["input"]["days"] <= 7


def test_count_tokens(sdk_results):
    assert sdk_results["count_tokens"]["input_tokens"] > 0
    assert set(sdk_results["count_tokens"]) == {"input_tokens"}


def test_unknown_deployment_is_404(sdk_results):
    r = sdk_results["unknown_deployment"]
    assert r["status"] == 404
    assert r["name"] == "NotFoundError"
    assert r["body"]["type"] == "error"
    assert r["body"]["error"]["type"] == "not_found_error"
    assert r["body"]["error"]["code"] == "DeploymentNotFound"
