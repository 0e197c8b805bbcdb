"""Claude Code for a team: the managed settings ``claude-foundry env --format claude-code-managed`` generates drive the
real binary (the pinned npm release) to the stack on the sandbox with Entra ID and no key anywhere.

Claude Code reads ``managed-settings.json`` only from its system-wide directory (/etc/claude-code on Linux; the
binary of 2.1.332 has no override outside Anthropic's own builds), which a test cannot write. So the generated file
is handed to the binary with ``--settings FILE``, the settings mechanism it supports for one session: the same
JSON, one level lower in precedence. The developer's credential is what each laptop has: an Entra ID token for the
Foundry scope in ``ANTHROPIC_FOUNDRY_AUTH_TOKEN`` (here from the sandbox's token endpoint; on a laptop the Azure SDK's
default chain after ``az login`` does the same without the variable, which the sandbox cannot model: Claude Code's
credential cannot turn off instance discovery)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from claude_foundry import _contract as c
from claude_foundry import cli

pytestmark = pytest.mark.clients

TIMEOUT = 120
SANDBOX_GREETING = "Hello from the claude-foundry sandbox."


@pytest.fixture(scope="module")
def managed_settings(alias_stack, tmp_path_factory):
    path = tmp_path_factory.mktemp("managed") / "managed-settings.json"
    assert cli.main(["env", "--stack", str(alias_stack.stack_file), "--sandbox", str(alias_stack.connection_file),
                     "--format", "claude-code-managed", "--write", str(path)]) == 0
    return path


def _token_for(client_sandbox, alias_stack, name, *, role):
    from azure.identity import ClientSecretCredential

    conn = json.loads(alias_stack.connection_file.read_text(encoding="utf-8"))
    account = next(a for a in client_sandbox.state.accounts() if a["name"] == alias_stack.account)
    principal = client_sandbox.add_principal(name, roles=[(role, account["id"])] if role else [])
    credential = ClientSecretCredential(conn["tenant_id"], principal["client_id"], principal["client_secret"],
                                        authority=conn["authority"], disable_instance_discovery=True,
                                        connection_verify=conn["ca_bundle"])
    return credential.get_token(c.DEFAULT_TOKEN_SCOPE).token


def _claude(node_clients_dir, settings, token, cwd):
    claude = node_clients_dir / "node_modules" / ".bin" / "claude"
    env = {"HOME": str(cwd / "home"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "ANTHROPIC_FOUNDRY_AUTH_TOKEN": token}
    (cwd / "home").mkdir(exist_ok=True)
    return subprocess.run([str(claude), "-p", "Say hi", "--max-turns", "1", "--settings", str(settings)],  # noqa: S603
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_managed_settings_hold_no_key(managed_settings, alias_stack):
    text = managed_settings.read_text(encoding="utf-8")
    alias_stack.assert_no_secret(text)
    env = json.loads(text)["env"]
    assert env["CLAUDE_CODE_USE_FOUNDRY"] == "1"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "team-chat"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "quick"
    assert not {"ANTHROPIC_FOUNDRY_API_KEY", "ANTHROPIC_FOUNDRY_AUTH_TOKEN"} & set(env)


def test_managed_settings_drive_claude_code_with_entra_and_no_key(node_clients_dir, managed_settings, alias_stack,
                                                                  client_sandbox, tmp_path, timed):
    token = _token_for(client_sandbox, alias_stack, "team-developer", role="cognitive-services-user")
    before = len(client_sandbox.faults.answers(alias_stack.account))
    with timed("claude -p --settings managed-settings.json (Entra token, no key)"):
        proc = _claude(node_clients_dir, managed_settings, token, tmp_path)
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    assert token not in proc.stdout + proc.stderr
    answers = client_sandbox.faults.answers(alias_stack.account)[before:]
    assert proc.returncode == 0, f"claude exited {proc.returncode}: {proc.stderr[-2000:]}"
    assert SANDBOX_GREETING in proc.stdout
    assert "Deployment team-chat (" in proc.stdout  # the managed pin
    assert answers, "Claude Code never reached the sandbox's Foundry endpoint"
    assert all(a["status"] == 200 for a in answers), answers


def test_a_developer_outside_the_group_is_refused(node_clients_dir, managed_settings, alias_stack, client_sandbox,
                                                  tmp_path, timed):
    """Offboarding: a principal with no caller role (removed from the Entra group access.claude_users names) gets
    no answer with the same settings — the token, not anything in the file, is what lets a developer in."""
    token = _token_for(client_sandbox, alias_stack, "former-developer", role=None)
    with timed("claude -p --settings managed-settings.json (token without a role)"):
        proc = _claude(node_clients_dir, managed_settings, token, tmp_path)
    assert token not in proc.stdout + proc.stderr
    assert SANDBOX_GREETING not in proc.stdout
    assert proc.returncode != 0
