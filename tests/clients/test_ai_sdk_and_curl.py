"""docs/clients.md's Vercel AI SDK recipe (`createAnthropic({baseURL: CLAUDE_FOUNDRY_BASE_URL + '/v1'})`, the
pinned npm release) and its curl recipe (as Microsoft documents it), against a stack whose deployments are aliases,
configured only by `claude-foundry env` (with the key, or without it plus an Entra ID token)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.clients

SCRIPT = Path(__file__).with_name("ai_sdk_check.mjs")
GREETING = "Hello from the claude-foundry sandbox."
MODEL = "claude-sonnet-4-6"
SCOPE = "https://cognitiveservices.azure.com/.default"


def _token(client_sandbox: Any) -> str:
    from azure.identity import ClientSecretCredential

    conn = client_sandbox.connection
    with ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                authority=conn["authority"], disable_instance_discovery=True,
                                connection_verify=conn["ca_bundle"]) as cred:
        return str(cred.get_token(SCOPE).token)


def _env(alias_stack: Any, home: Path, *, entra_token: str | None = None) -> dict[str, str]:
    from claude_foundry import _contract as c

    env = {k: v for k, v in alias_stack.env.items() if not (entra_token and k == c.ENV_API_KEY)}
    env.update({"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if entra_token:
        env["FOUNDRY_TEST_ENTRA_TOKEN"] = entra_token
    return env


@pytest.mark.parametrize("auth", ["key", "entra"])
def test_vercel_ai_sdk_generates_and_streams(node_clients_dir, alias_stack, client_sandbox, tmp_path, timed, auth):
    token = _token(client_sandbox) if auth == "entra" else None
    env = {**_env(alias_stack, tmp_path, entra_token=token),
           "AI_SDK_REQUIRE_FROM": str(node_clients_dir / "package.json")}  # where to resolve the packages from
    node = shutil.which("node") or "node"
    with timed(f"node ai_sdk_check.mjs ({auth})"):
        proc = subprocess.run([node, str(SCRIPT)], env=env, cwd=tmp_path, capture_output=True,  # noqa: S603
                              text=True, timeout=60, check=False)
    alias_stack.assert_no_secret(proc.stdout, proc.stderr)
    if token:
        assert token not in proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert "error" not in r, r
    assert r["generate"]["text"].startswith(GREETING)
    assert r["generate"]["finishReason"] == "stop"
    assert r["generate"]["model"] == MODEL
    assert r["stream"]["text"] == r["generate"]["text"]


def _curl(env: dict[str, str], cwd: Path, auth_header: str) -> dict[str, Any]:
    """docs/clients.md's curl, run by bash with only env's variables; the secret header comes from a file
    (`-H @file`), not the command line. Returns status and body."""
    header_file = cwd / "auth-header"
    header_file.write_text(auth_header + "\n", encoding="utf-8")
    header_file.chmod(0o600)
    script = ('curl -sS --max-time 30 -w "\\n%{http_code}" -X POST "$CLAUDE_FOUNDRY_BASE_URL/v1/messages" '
              '--cacert "$SSL_CERT_FILE" -H @auth-header -H "anthropic-version: 2023-06-01" '
              '-H "content-type: application/json" '
              '-d "{\\"model\\": \\"$ANTHROPIC_DEFAULT_SONNET_MODEL\\", \\"max_tokens\\": 64, '
              '\\"messages\\": [{\\"role\\": \\"user\\", \\"content\\": \\"Say hi\\"}]}"')
    proc = subprocess.run(["bash", "-c", script], env=env, cwd=cwd, capture_output=True,  # noqa: S603, S607
                          text=True, timeout=60, check=False)
    header_file.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    body, _, status = proc.stdout.rpartition("\n")
    return {"status": int(status), "body": json.loads(body), "out": proc.stdout + proc.stderr}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not on PATH")
@pytest.mark.parametrize("auth", ["key", "entra"])
def test_curl_as_microsoft_documents_it(alias_stack, client_sandbox, tmp_path, auth):
    token = _token(client_sandbox) if auth == "entra" else None
    env = _env(alias_stack, tmp_path, entra_token=token)
    header = f"Authorization: Bearer {token}" if token else f"x-api-key: {alias_stack.key}"
    r = _curl(env, tmp_path, header)
    alias_stack.assert_no_secret(r["out"])
    assert r["status"] == 200, r["body"]
    assert r["body"]["type"] == "message"
    assert r["body"]["model"] == MODEL
    assert r["body"]["content"][0]["text"].startswith(GREETING)
    assert r["body"]["stop_reason"] == "end_turn"
