"""End to end (sandbox over real HTTPS, a real subprocess): ``ANTHROPIC_LOG=debug claude-foundry smoke`` with
every logger at DEBUG never prints a bearer token, a key or the client secret (a hanging Key Vault, an interrupted
stream and the other findings are in tests/unit/test_client_hardening.py, against local servers)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from seeding import MODELS, grant_caller, seed_stack

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

#: ``claude-foundry`` with the root logger at DEBUG: every library's DEBUG lines reach stderr.
ALL_DEBUG = ("import logging, sys; logging.basicConfig(level=logging.DEBUG); "
             "from claude_foundry.cli import main; sys.exit(main(sys.argv[1:]))")
#: ``claude-foundry`` as installed: ANTHROPIC_LOG=debug alone turns on the anthropic SDK's and httpx's logs.
AS_INSTALLED = "import sys; from claude_foundry.cli import main; sys.exit(main(sys.argv[1:]))"
JWT = re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.")


def _run(code: str, argv: list[str], tmp_path) -> tuple[subprocess.CompletedProcess[str], dict]:
    report = tmp_path / f"r{time.monotonic_ns()}.json"
    env = {**os.environ, "ANTHROPIC_LOG": "debug", "AZURE_LOG_LEVEL": "debug"}
    for name in ("ANTHROPIC_FOUNDRY_API_KEY", "ANTHROPIC_FOUNDRY_BASE_URL", "ANTHROPIC_FOUNDRY_RESOURCE",
                 "CLAUDE_FOUNDRY_VAULT_URL", "CLAUDE_FOUNDRY_DEPLOYMENTS"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-c", code, *argv, "--report-json", str(report)],  # noqa: S603
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    return proc, (json.loads(report.read_text()) if report.exists() else {})


@pytest.mark.parametrize("code", [ALL_DEBUG, AS_INSTALLED], ids=["all-loggers-debug", "anthropic-log-debug"])
def test_entra_smoke_debug_log_holds_no_token(sandbox, credential, conn_file, connection, tmp_path, code):
    stack = seed_stack(sandbox, credential, {"opus": MODELS["opus"]}, disable_local_auth=True)
    grant_caller(stack, connection["principal_id"])
    token = credential.get_token("https://cognitiveservices.azure.com/.default").token
    proc, report = _run(code, ["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox",
                               conn_file, "--entra", "--stream", "--role-propagation-timeout", "30",
                               "--poll-interval", "0.2"], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert report["auth"] == "entra"
    assert "Request options" in output  # the SDK did log each request, headers included ...
    assert "'Authorization': '***'" in output  # ... with the header masked
    assert not JWT.search(output), JWT.search(output)
    assert token.split(".")[2] not in output  # the sandbox's signature part of any token it issued
    assert connection["client_secret"] not in output
    if code == ALL_DEBUG:
        assert "azure.core.pipeline.policies.http_logging_policy" in output  # Key Vault's requests logged too


def test_key_smoke_debug_log_holds_no_key(sandbox, credential, conn_file, tmp_path):
    stack = seed_stack(sandbox, credential, {"sonnet": MODELS["sonnet"]})
    key = stack.current_key()
    proc, report = _run(ALL_DEBUG, ["smoke", "--vault-url", stack.vault_url, "--prefix", stack.prefix,
                                    "--sandbox", conn_file, "--stream"], tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert report["auth"] == "key"
    assert "'x-api-key': '***'" in output
    assert key not in output
    assert key not in json.dumps(report)
