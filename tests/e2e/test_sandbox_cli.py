"""``claude-foundry sandbox`` runs until SIGTERM and writes the connection file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from claude_foundry.cli import main

pytestmark = pytest.mark.e2e


def test_cli_serves_and_stops(tmp_path):
    conn_file = tmp_path / "conn.json"
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "claude_foundry.cli", "sandbox", "--connection-file", str(conn_file),
         "--state-dir", str(tmp_path / "state"), "--persist", str(tmp_path / "state.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not conn_file.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no connection file"
            time.sleep(0.05)
        conn = json.loads(conn_file.read_text())
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
