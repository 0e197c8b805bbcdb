"""Claude Code (`claude -p`, the pinned npm release) against a stack whose deployments are aliases, configured
only by `claude-foundry env --with-key` (plus HOME and PATH): it answers on the first request, with no 400 to
fall back from, because `env` told it which capabilities the model behind each deployment has."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.clients

TIMEOUT = 120
SANDBOX_GREETING = "Hello from the claude-foundry sandbox."


def _claude(node_clients_dir, env, cwd, *args):
    claude = node_clients_dir / "node_modules" / ".bin" / "claude"
    return subprocess.run([str(claude), "-p", "Say hi", "--max-turns", "1", *args],  # noqa: S603
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_env_tells_claude_code_what_each_alias_supports(alias_stack):
    env = alias_stack.env
    assert env["CLAUDE_CODE_USE_FOUNDRY"] == "1"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "team-chat"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "quick"
    # claude-sonnet-4-6: adaptive and budgeted thinking, effort low..max (no xhigh), no mid-conversation system
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL_SUPPORTED_CAPABILITIES"] == \
        "effort,max_effort,thinking,adaptive_thinking,interleaved_thinking"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL_SUPPORTED_CAPABILITIES"] == "thinking,interleaved_thinking"
    assert env["NODE_EXTRA_CA_CERTS"]
    assert "ANTHROPIC_FOUNDRY_API_KEY" in env


@pytest.mark.parametrize(("flags", "deployment"), [((), "team-chat"), (("--model", "haiku"), "quick")],
                         ids=["default-sonnet", "haiku-alias"])
def test_claude_code_answers_on_the_first_request(node_clients_dir, alias_stack, client_sandbox, client_env,
                                                  tmp_path, timed, flags, deployment):
    before = len(client_sandbox.faults.answers(alias_stack.account))
    with timed(f"claude -p {' '.join(flags) or '(default model)'}"):
        proc = _claude(node_clients_dir, client_env, tmp_path, *flags)
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    answers = client_sandbox.faults.answers(alias_stack.account)[before:]
    assert proc.returncode == 0, f"claude exited {proc.returncode}: {proc.stderr[-2000:]}"
    assert SANDBOX_GREETING in proc.stdout
    assert f"Deployment {deployment} (" in proc.stdout
    assert answers, "Claude Code never reached the sandbox's Foundry endpoint"
    refused = [a for a in answers if a["status"] != 200]
    assert not refused, f"Claude Code needed fallbacks: {refused}"
    assert {a["deployment"] for a in answers} <= set(alias_stack.deployments)
    assert "doesn't recognize the model" not in proc.stderr  # CLAUDE_CODE_MAX_CONTEXT_TOKENS from env


def test_without_capabilities_claude_code_falls_back_from_the_api_wording(node_clients_dir, alias_stack,
                                                                            client_sandbox, client_env, tmp_path,
                                                                            timed):
    """Against real Foundry an unknown deployment name makes Claude Code assume the newest model; the API's own
    wording lets it fall back. The sandbox answers with that wording, so this works too (after 400s)."""
    env = {k: v for k, v in client_env.items() if not k.endswith("_SUPPORTED_CAPABILITIES")}
    before = len(client_sandbox.faults.answers(alias_stack.account))
    with timed("claude -p without _SUPPORTED_CAPABILITIES (fallbacks)"):
        proc = _claude(node_clients_dir, env, tmp_path)
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    assert proc.returncode == 0, f"claude exited {proc.returncode}: {proc.stderr[-2000:]}"
    assert SANDBOX_GREETING in proc.stdout
    answers = client_sandbox.faults.answers(alias_stack.account)[before:]
    assert answers[-1]["status"] == 200
    # Claude Code assumed the mid-conversation system role, was refused with the API's wording, fell back
    assert {"status": 400, "message": "role 'system' is not supported on this model"} in \
        [{"status": a["status"], "message": a["message"]} for a in answers]
