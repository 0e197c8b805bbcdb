"""End to end: ``claude-foundry env`` against the sandbox's Key Vault, and a secret scan of env and smoke."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
from seeding import MODELS, seed_stack

from claude_foundry import _contract as c
from claude_foundry import cli
from claude_foundry._client import runtime as rt

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]


@pytest.fixture(scope="module")
def stack(sandbox, credential):
    # two opus deployments: the newer model is the default pin. (Not claude-opus-4-5: it is deprecated, and a
    # deprecated model takes no new deployments, in the sandbox as in Foundry.)
    return seed_stack(sandbox, credential, {**MODELS, "opus": "claude-opus-4-7", "opus-old": "claude-opus-4-6"})


def test_env_sh_points_sdk_and_claude_code_at_the_stack(stack, conn_file, capsys):
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file]) == 0
    out, err = capsys.readouterr()
    assert f"export {c.ENV_BASE_URL}={stack.base_url}" in out  # sandbox URL is not the standard template
    assert c.ENV_RESOURCE not in out
    assert "export CLAUDE_CODE_USE_FOUNDRY=1" in out
    assert "export ANTHROPIC_DEFAULT_OPUS_MODEL=opus\n" in out
    assert "export ANTHROPIC_DEFAULT_SONNET_MODEL=sonnet" in out
    assert "export ANTHROPIC_DEFAULT_HAIKU_MODEL=haiku" in out
    assert c.ENV_API_KEY not in out
    assert stack.current_key() not in out + err
    # the printed variables are what a shell gets, and what the runtime reads back
    script = out + f'printf "%s" "${c.ENV_DEPLOYMENTS}"'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    got = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True,  # noqa: S603
                         env=env).stdout
    assert set(json.loads(got)) == {*MODELS, "opus-old"}


def test_env_deployment_pin_and_dotenv_file(stack, conn_file, tmp_path, capsys):
    target = tmp_path / "foundry.env"
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--deployment", "opus-old", "--with-key", "--write", str(target)]) == 0
    out, err = capsys.readouterr()
    key = stack.current_key()
    assert key not in out + err
    text = target.read_text()
    assert f"{c.ENV_API_KEY}={key}" in text
    assert "ANTHROPIC_DEFAULT_OPUS_MODEL=opus-old" in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    # the written file drives the SDK: a runtime from these variables calls the stack
    values = dict(line.split("=", 1) for line in text.splitlines())
    env = {k: v.strip("'") for k, v in values.items()}
    runtime = rt.FoundryRuntime.from_env(env, ca_bundle=stack.sandbox.connection["ca_bundle"])
    with runtime.client("haiku") as client:
        assert client.messages.create(model="haiku", max_tokens=8, messages=[{"role": "user", "content": "x"}])


def test_env_json_roundtrip(stack, conn_file, tmp_path, capsys, monkeypatch):
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--format", "json"]) == 0
    out, _ = capsys.readouterr()
    assert stack.current_key() not in out
    path = tmp_path / "contract.json"
    path.write_text(out)
    monkeypatch.setenv(c.ENV_API_KEY, stack.current_key())
    code = cli.main(["smoke", "--contract", str(path), "--ca-bundle", stack.sandbox.connection["ca_bundle"], "-q"])
    out, err = capsys.readouterr()
    assert code == 0, out + err


def test_secret_scan_of_smoke_and_env(sandbox, credential, conn_file, tmp_path, capsys):
    """No key value in stdout, stderr or reports, whatever happens (passes, 401s with re-reads, failures)."""
    stack = seed_stack(sandbox, credential, {"a": MODELS["sonnet"], "b": MODELS["haiku"]})
    sandbox.set_fault(stack.account, "b", {"status": 401})
    keys = {stack.current_key()}
    try:
        base = ["--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file]
        outputs = []
        assert cli.main(["smoke", *base, "--stream", "--report-json", str(tmp_path / "r.json"),
                         "--report-junit", str(tmp_path / "r.xml")]) == 1
        outputs += list(capsys.readouterr())
        assert cli.main(["smoke", *base, "-q"]) == 1
        outputs += list(capsys.readouterr())
        for fmt in ("sh", "dotenv", "json"):
            assert cli.main(["env", *base, "--format", fmt]) == 0
            outputs += list(capsys.readouterr())
        assert cli.main(["env", *base, "--with-key", "--write", str(tmp_path / "f.env")]) == 0
        outputs += list(capsys.readouterr())
        assert cli.main(["env", *base, "--deployment", "zzz"]) == 2
        outputs += list(capsys.readouterr())
        outputs += [(tmp_path / "r.json").read_text(), (tmp_path / "r.xml").read_text()]
        keys.add(sandbox.connection["client_secret"])
        for text in outputs:
            for secret in keys:
                assert secret not in text
        assert stack.current_key() in (tmp_path / "f.env").read_text()  # only where asked for
    finally:
        sandbox.clear_faults(stack.account)


def test_env_alone_configures_the_python_sdk_through_the_combined_bundle(stack, conn_file, tmp_path, capsys):
    """A fresh interpreter given only env's variables (plus HOME/PATH) calls the stack with a bare
    ``AnthropicFoundry()``: the sandbox CA is trusted through SSL_CERT_FILE, which keeps the system CAs too."""
    import sys

    target = tmp_path / "foundry.env"
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--with-key", "--write", str(target)]) == 0
    capsys.readouterr()
    values = {k: shlex_unquote(v) for k, v in (line.split("=", 1) for line in target.read_text().splitlines())}
    assert values["NODE_EXTRA_CA_CERTS"] == stack.sandbox.connection["ca_bundle"]
    bundle = values["SSL_CERT_FILE"]
    assert values["REQUESTS_CA_BUNDLE"] == bundle
    from pathlib import Path

    text = Path(bundle).read_text(encoding="utf-8")
    assert Path(values["NODE_EXTRA_CA_CERTS"]).read_text(encoding="utf-8").strip() in text
    assert text.count("BEGIN CERTIFICATE") > 1  # the system CAs are kept
    assert values["ANTHROPIC_DEFAULT_OPUS_MODEL_SUPPORTED_CAPABILITIES"] == \
        "effort,xhigh_effort,max_effort,thinking,adaptive_thinking,interleaved_thinking"  # claude-opus-4-7
    code = ("import anthropic, os; c = anthropic.AnthropicFoundry(max_retries=0); "
            "print(c.messages.create(model=os.environ['ANTHROPIC_DEFAULT_HAIKU_MODEL'], max_tokens=8, "
            "messages=[{'role': 'user', 'content': 'x'}]).model)")
    env = {**values, "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    got = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,  # noqa: S603
                         timeout=60, check=False)
    assert got.returncode == 0, got.stderr[-2000:]
    assert got.stdout.strip() == MODELS["haiku"]
    assert stack.current_key() not in got.stdout + got.stderr


def shlex_unquote(value: str) -> str:
    import shlex

    words = shlex.split(value)
    return words[0] if words else ""


def test_the_client_base_url_takes_a_plain_http_request(stack, conn_file, tmp_path, capsys, ssl_context):
    """What `env` prints is enough for a client that takes a URL (curl as Microsoft documents it): POST
    ``$CLAUDE_FOUNDRY_BASE_URL/v1/messages`` with ``x-api-key`` and ``anthropic-version`` answers 200 with a
    Messages body."""
    import httpx

    target = tmp_path / "client.env"
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--with-key", "--write", str(target)]) == 0
    capsys.readouterr()
    values = {k: v.strip("'") for k, v in (line.split("=", 1) for line in target.read_text().splitlines())}
    base = values[c.ENV_CLIENT_BASE_URL]
    assert base == stack.base_url.rstrip("/")
    r = httpx.post(f"{base}/v1/messages", verify=ssl_context, timeout=30,
                   headers={"x-api-key": values[c.ENV_API_KEY], "anthropic-version": "2023-06-01",
                            "content-type": "application/json"},
                   json={"model": "haiku", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["type"] == "message"
    assert body["content"][0]["type"] == "text"


def test_claude_code_settings_block_from_the_stack(stack, conn_file, capsys):
    assert cli.main(["env", "--vault-url", stack.vault_url, "--prefix", stack.prefix, "--sandbox", conn_file,
                     "--format", "claude-code"]) == 0
    out, err = capsys.readouterr()
    env = json.loads(out)["env"]
    assert env["CLAUDE_CODE_USE_FOUNDRY"] == "1"
    assert env[c.ENV_BASE_URL] == stack.base_url.rstrip("/")
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "haiku"
    assert c.ENV_API_KEY not in env
    assert stack.current_key() not in out + err
