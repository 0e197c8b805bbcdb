"""The sandbox's own exposure: the admin API needs the run's token, request bodies are capped before they are
read, it listens on 127.0.0.1 only, and every file holding a secret is 0600 whatever was there before."""

from __future__ import annotations

import json
import socket
import ssl
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from claude_foundry_sandbox import Sandbox, SandboxConfig
from claude_foundry_sandbox.app import MAX_BODY_BYTES, MAX_FOUNDRY_BODY_BYTES
from claude_foundry_sandbox.certs import CA_CERT_FILE, CA_KEY_FILE, LEAF_KEY_FILE

pytestmark = pytest.mark.e2e

ADMIN_ROUTES = [("GET", "/state"), ("POST", "/principals"), ("GET", "/faults"), ("POST", "/faults"),
                ("DELETE", "/faults"), ("GET", "/settings"), ("POST", "/settings")]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the admin token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_missing_or_wrong_token(sandbox, ssl_context, method, route):
    url = sandbox.connection["admin_url"] + route
    body = {"account": "*", "status": 503} if route == "/faults" else {"provisioning_delay": 99}
    content = json.dumps(body) if method == "POST" else None
    before = (sandbox.faults.summary(), sandbox.provisioning_delay, len(sandbox.state.principals))
    missing = httpx.request(method, url, content=content, verify=ssl_context)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationFailed"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    for wrong in (sandbox.admin_token[:-1], sandbox.connection["client_secret"], "x" * 43):
        r = httpx.request(method, url, content=content, headers={"Authorization": f"Bearer {wrong}"},
                          verify=ssl_context)
        assert r.status_code == 403, wrong
    assert (sandbox.faults.summary(), sandbox.provisioning_delay, len(sandbox.state.principals)) == before


def test_admin_token_is_in_the_connection_and_new_each_run(sandbox, ssl_context, tmp_path):
    conn = sandbox.connection
    assert conn["admin_token"] == sandbox.admin_token
    assert len(conn["admin_token"]) >= 40
    written = json.loads(sandbox.write_connection_file(tmp_path / "conn.json").read_text())
    assert written["admin_token"] == sandbox.admin_token
    r = httpx.get(conn["admin_url"] + "/settings", headers={"Authorization": f"Bearer {conn['admin_token']}"},
                  verify=ssl_context)
    assert r.status_code == 200
    with Sandbox(SandboxConfig()) as other:
        assert other.admin_token != sandbox.admin_token
        other_ctx = ssl.create_default_context(cafile=str(other.ca_bundle))
        assert httpx.get(other.connection["admin_url"] + "/state", headers=sandbox.admin_headers,
                         verify=other_ctx).status_code == 403
        assert httpx.get(other.connection["admin_url"] + "/state", headers=other.admin_headers,
                         verify=other_ctx).status_code == 200


# --- the body limit ----------------------------------------------------------------------------------


def test_oversized_bodies_get_413_in_each_services_shape(sandbox, ssl_context, connection):
    big = b"{" + b" " * MAX_BODY_BYTES + b"}"
    sub = connection["subscription_id"]
    arm = httpx.put(f"{connection['arm_endpoint']}/subscriptions/{sub}/resourcegroups/rg-big?api-version=2021-04-01",
                    content=big, verify=ssl_context)
    assert arm.status_code == 413
    assert arm.json()["error"]["code"] == "RequestEntityTooLarge"
    kv = httpx.put(connection["key_vault_url_template"].format(vault="big") + "secrets/s?api-version=7.4",
                   content=big, verify=ssl_context)
    assert kv.status_code == 413
    assert kv.json()["error"]["code"] == "RequestEntityTooLarge"
    token = httpx.post(f"{connection['authority']}/{connection['tenant_id']}/oauth2/v2.0/token",
                       content=b"grant_type=client_credentials&scope=" + b"x" * MAX_BODY_BYTES,
                       headers={"content-type": "application/x-www-form-urlencoded"}, verify=ssl_context)
    assert token.status_code == 413
    assert token.json()["error"] == "invalid_request"
    admin = httpx.post(connection["admin_url"] + "/faults", content=big, headers=sandbox.admin_headers,
                       verify=ssl_context)
    assert admin.status_code == 413
    assert admin.json()["error"]["code"] == "RequestEntityTooLarge"
    # the connection stays usable: the rest of the refused body was discarded, not read into a request
    with httpx.Client(verify=ssl_context) as client:
        assert client.post(connection["admin_url"] + "/faults", content=big,
                           headers=sandbox.admin_headers).status_code == 413
        assert client.get(connection["admin_url"] + "/settings", headers=sandbox.admin_headers).status_code == 200


def test_foundry_takes_a_large_messages_request_and_refuses_a_larger_one(claude_account, cs_client, ssl_context):
    key = cs_client.accounts.list_keys(claude_account["resource_group"], claude_account["account"]).key1
    url = claude_account["base_url"] + "/v1/messages"
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}

    def messages(size: int) -> bytes:
        return json.dumps({"model": claude_account["deployment"], "max_tokens": 16,
                           "messages": [{"role": "user", "content": "a" * size}]}).encode()

    ok = httpx.post(url, content=messages(2 * MAX_BODY_BYTES), headers=headers, verify=ssl_context, timeout=30)
    assert ok.status_code == 200, ok.text
    too_big = httpx.post(url, content=messages(MAX_FOUNDRY_BODY_BYTES), headers=headers, verify=ssl_context,
                         timeout=30)
    assert too_big.status_code == 413
    body = too_big.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "request_too_large"


def test_a_streamed_body_is_refused_without_being_held(sandbox, ssl_context):
    """No Content-Length (chunked): the running count refuses it after the limit; memory stays flat."""
    chunk = b" " * 65536
    total = 32 * 1024 * 1024

    def stream() -> Iterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        r = httpx.post(sandbox.connection["admin_url"] + "/faults", content=stream(), headers=sandbox.admin_headers,
                       verify=ssl_context, timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 413
    assert peak < 3 * MAX_BODY_BYTES + total // 8, f"peak {peak} bytes while streaming {total}"


# --- loopback only -----------------------------------------------------------------------------------


def test_listens_on_127_0_0_1_only(sandbox):
    for key in ("arm_endpoint", "authority", "admin_url"):
        assert httpx.URL(sandbox.connection[key]).host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=2):
        pass
    # bound to all interfaces it would answer on any address; on 127.0.0.1 only, 127.0.0.2 is refused
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", sandbox.port), timeout=2):
        pass


# --- 0600 files --------------------------------------------------------------------------------------


def _plant(path: Path, text: str = "planted\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o644)
    assert _mode(path) == 0o644


def test_a_preexisting_0644_connection_file_becomes_0600(sandbox, tmp_path):
    conn = tmp_path / "conn.json"
    _plant(conn)
    sandbox.write_connection_file(conn)
    assert _mode(conn) == 0o600
    assert json.loads(conn.read_text())["client_secret"] == sandbox.connection["client_secret"]
    assert [p.name for p in tmp_path.iterdir()] == ["conn.json"]  # no temporary file left behind


def test_preexisting_0644_key_files_become_0600(tmp_path):
    state_dir = tmp_path / "state"
    _plant(state_dir / CA_KEY_FILE)  # not a key: the sandbox makes a new CA and writes its key here
    _plant(state_dir / LEAF_KEY_FILE)
    with Sandbox(SandboxConfig(state_dir=state_dir)):
        assert _mode(state_dir / CA_KEY_FILE) == 0o600
        assert _mode(state_dir / LEAF_KEY_FILE) == 0o600
        assert b"PRIVATE KEY" in (state_dir / CA_KEY_FILE).read_bytes()
    # a reused CA whose key was left readable by others is made owner-only; the certificate stays public
    (state_dir / CA_KEY_FILE).chmod(0o644)
    (state_dir / LEAF_KEY_FILE).chmod(0o644)
    ca_before = (state_dir / CA_CERT_FILE).read_bytes()
    with Sandbox(SandboxConfig(state_dir=state_dir)):
        assert (state_dir / CA_CERT_FILE).read_bytes() == ca_before
        assert _mode(state_dir / CA_KEY_FILE) == 0o600
        assert _mode(state_dir / LEAF_KEY_FILE) == 0o600


def test_a_preexisting_0644_persist_file_becomes_0600(tmp_path):
    persist = tmp_path / "state.json"
    with Sandbox(SandboxConfig(state_dir=tmp_path / "run", persist_file=persist)) as sb:
        secret = sb.connection["client_secret"]
    persist.chmod(0o644)
    with Sandbox(SandboxConfig(state_dir=tmp_path / "run", persist_file=persist)) as sb:
        assert sb.connection["client_secret"] == secret
        assert _mode(persist) == 0o600
        sb.add_principal("another")
        sb.state.save()
        assert _mode(persist) == 0o600
    assert _mode(persist) == 0o600


DEEP = b"[" * 100_000 + b"]" * 100_000  # Python's json recurses once a level: a RecursionError past ~1,000


def _forged_token(claims: bytes) -> str:
    import base64

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    return f"{header}.{b64(claims)}.{b64(b'not-a-signature')}"


def test_deeply_nested_json_gets_a_400_in_each_services_shape(sandbox, ssl_context, connection, credential,
                                                               claude_account, cs_client):
    """Issue 20, class 9: a body nested 100,000 deep is a 400 in the shape of the service it was sent to (ARM,
    Key Vault, the Foundry endpoint, the admin API), never a 500; the sandbox still answers afterwards."""
    sub = connection["subscription_id"]
    arm_token = credential.get_token(connection["arm_scope"]).token
    arm = httpx.put(f"{connection['arm_endpoint']}/subscriptions/{sub}/resourcegroups/rg-deep?api-version=2021-04-01",
                    content=DEEP, headers={"authorization": f"Bearer {arm_token}"}, verify=ssl_context, timeout=30)
    assert arm.status_code == 400, arm.text[:300]
    assert arm.json()["error"]["code"] == "InvalidRequestContent"
    assert "nested more than 64" in arm.json()["error"]["message"]

    kv_token = credential.get_token(connection["key_vault_scope"]).token
    kv = httpx.put(connection["key_vault_url_template"].format(vault="deep") + "secrets/s?api-version=7.4",
                   content=DEEP, headers={"authorization": f"Bearer {kv_token}"}, verify=ssl_context, timeout=30)
    assert kv.status_code == 400, kv.text[:300]
    assert kv.json()["error"]["code"] == "BadParameter"

    key = cs_client.accounts.list_keys(claude_account["resource_group"], claude_account["account"]).key1
    foundry = httpx.post(claude_account["base_url"] + "/v1/messages", content=DEEP, verify=ssl_context, timeout=30,
                         headers={"x-api-key": key, "anthropic-version": "2023-06-01",
                                  "content-type": "application/json"})
    assert foundry.status_code == 400, foundry.text[:300]
    assert foundry.json()["type"] == "error"
    assert foundry.json()["error"]["type"] == "invalid_request_error"

    admin = httpx.post(connection["admin_url"] + "/faults", content=DEEP, headers=sandbox.admin_headers,
                       verify=ssl_context, timeout=30)
    assert admin.status_code == 400, admin.text[:300]
    assert "nested more than" in admin.json()["error"]["message"]

    # Entra ID: a bearer token whose claims nest deep is an invalid token (401 in ARM's shape), not a 500
    forged = _forged_token(b"{\"a\":" * 1500 + b"1" + b"}" * 1500)  # past the recursion limit, within h11 header cap
    bad = httpx.get(f"{connection['arm_endpoint']}/subscriptions/{sub}/resourcegroups?api-version=2021-04-01",
                    headers={"authorization": f"Bearer {forged}"}, verify=ssl_context, timeout=30)
    assert bad.status_code == 401, bad.text[:300]
    assert bad.json()["error"]["code"] == "InvalidAuthenticationToken"

    ok = httpx.get(f"{connection['arm_endpoint']}/subscriptions/{sub}/resourcegroups?api-version=2021-04-01",
                   headers={"authorization": f"Bearer {arm_token}"}, verify=ssl_context, timeout=30)
    assert ok.status_code == 200
