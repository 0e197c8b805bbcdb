"""``claude-foundry sandbox`` runs until SIGTERM and writes the connection file."""

from __future__ import annotations

import json
import re
import signal
import ssl
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from claude_foundry.cli import main

pytestmark = pytest.mark.e2e


def _start(tmp_path, *flags: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """``claude-foundry sandbox`` as a subprocess, once it has written its connection file."""
    conn_file = tmp_path / "conn.json"
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "claude_foundry.cli", "sandbox", "--connection-file", str(conn_file),
         "--state-dir", str(tmp_path / "state"), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not conn_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _out, err = proc.communicate(timeout=20)
            pytest.fail(f"no connection file: {err}")
        time.sleep(0.05)
    return proc, json.loads(conn_file.read_text())


def test_cli_serves_and_stops(tmp_path):
    conn_file = tmp_path / "conn.json"
    proc, conn = _start(tmp_path, "--persist", str(tmp_path / "state.json"))
    try:
        assert {"arm_endpoint", "authority", "tenant_id", "client_id", "client_secret", "principal_id",
                "subscription_id", "ca_bundle", "foundry_base_url_template", "key_vault_url_template"} <= set(conn)
        assert conn_file.stat().st_mode & 0o077 == 0
        from azure.identity import ClientSecretCredential

        with ClientSecretCredential(conn["tenant_id"], conn["client_id"], conn["client_secret"],
                                    authority=conn["authority"], disable_instance_discovery=True,
                                    connection_verify=conn["ca_bundle"]) as cred:
            assert cred.get_token("https://management.azure.com/.default").token
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert conn["client_secret"] not in out + err


def test_cli_bad_flags(tmp_path, capsys):
    assert main(["sandbox", "--seed", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "seed.yaml"
    bad.write_text("nonsense: 1\n", encoding="utf-8")
    assert main(["sandbox", "--seed", str(bad), "--state-dir", str(tmp_path / "s")]) == 2
    assert "unknown seed key" in capsys.readouterr().err


def test_cli_access_log(tmp_path):
    """``--access-log``: one line per request (method, path with only api-version of the query, status,
    duration), and no header, body or other query value — the secret, the token, a marked header."""
    proc, conn = _start(tmp_path, "--access-log")
    marker = "header-value-must-not-be-logged"
    try:
        origin, sub = conn["arm_endpoint"], conn["subscription_id"]
        with httpx.Client(verify=ssl.create_default_context(cafile=conn["ca_bundle"])) as http:
            tok = http.post(f"{origin}/{conn['tenant_id']}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": conn["client_id"],
                "client_secret": conn["client_secret"], "scope": conn["arm_scope"]})
            token = tok.json()["access_token"]
            got = http.get(f"{origin}/subscriptions/{sub}/resourcegroups",
                           params={"api-version": "2022-12-01", "$filter": "query-value-must-not-be-logged"},
                           headers={"Authorization": f"Bearer {token}", "x-custom": marker})
            assert got.status_code == 200
            missing = http.get(f"{origin}/subscriptions/{sub}/resourcegroups/nope",
                               params={"api-version": "2022-12-01"}, headers={"Authorization": f"Bearer {token}"})
            assert missing.status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if re.match(r"\d{4}-\d\d-\d\d [\d:,]+ sandbox ", line)]
    assert re.search(rf"POST /{conn['tenant_id']}/oauth2/v2\.0/token 200 \d+\.\d ms$", lines[0]), lines
    assert re.search(rf"GET /subscriptions/{sub}/resourcegroups\?api-version=2022-12-01 200 \d+\.\d ms$",
                     lines[1]), lines
    assert re.search(rf"GET /subscriptions/{sub}/resourcegroups/nope\?api-version=2022-12-01 404 \d+\.\d ms$",
                     lines[2]), lines
    assert len(lines) == 3, lines
    for secret in (conn["client_secret"], token, marker, "query-value-must-not-be-logged", "Bearer"):
        assert secret not in out + err
