"""Unit tests of ``claude-foundry smoke`` argument handling and the pytest plugin (no network)."""

from __future__ import annotations

import json

import pytest

from claude_foundry import cli
from claude_foundry import contract as c
from claude_foundry.client import runtime as rt

KEY = "smoke-cli-unit-key-0123456789"
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in c.RUNTIME_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    rt.clear_contract_cache()


@pytest.mark.parametrize(("argv", "words"), [
    (["smoke"], "no target"),
    (["smoke", "--vault-url", "https://kv", "--base-url", "https://x/anthropic"], "exclusive"),
    (["smoke", "--base-url", "https://x/anthropic"], "--deployments"),
    (["smoke", "--base-url", "https://x/anthropic", "--deployments", "a"], c.ENV_API_KEY),
    (["smoke", "--resource", "r", "--deployments", "a", "--concurrency", "0"], "--concurrency"),
    (["smoke", "--resource", "r", "--deployments", "a", "--timeout", "0"], "--timeout"),
    (["smoke", "--sandbox", "/nonexistent/conn.json", "--vault-url", "https://kv"], "connection file not found"),
    (["smoke", "--contract", "/nonexistent/c.json"], "not found"),
])
def test_usage_errors_exit_2(argv, words, capsys):
    assert cli.main(argv) == 2
    assert words in capsys.readouterr().err


def test_both_env_resource_and_base_url(monkeypatch, capsys):
    monkeypatch.setenv(c.ENV_API_KEY, KEY)
    monkeypatch.setenv(c.ENV_RESOURCE, "r")
    monkeypatch.setenv(c.ENV_BASE_URL, "https://r.services.ai.azure.com/anthropic")
    monkeypatch.setenv(c.ENV_DEPLOYMENTS, "a")
    assert cli.main(["smoke"]) == 2
    err = capsys.readouterr().err
    assert "mutually exclusive" in err
    assert KEY not in err


def test_contract_subset_unknown_deployment(tmp_path, monkeypatch, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"resource": "r", "base_url": "https://r.services.ai.azure.com/anthropic",
                                "deployments": {"a": {"model": "claude-opus-4-6"}}}))
    monkeypatch.setenv(c.ENV_API_KEY, KEY)
    assert cli.main(["smoke", "--contract", str(path), "--deployments", "b"]) == 2
    assert "known deployments: a" in capsys.readouterr().err


def test_plugin_skips_without_target(pytester):
    pytester.makeconftest('pytest_plugins = ["claude_foundry.client.pytest_plugin"]')
    pytester.makepyfile("def test_x(claude_foundry_smoke):\n    assert False\n")
    for name in (c.ENV_VAULT_URL, c.ENV_RESOURCE, c.ENV_BASE_URL):
        pytester._monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
