"""Unit tests of ``claude-foundry smoke`` argument handling and the pytest plugin (no network)."""

from __future__ import annotations

import json

import pytest

from claude_foundry import _contract as c
from claude_foundry import cli

KEY = "smoke-cli-unit-key-0123456789"
pytest_plugins = ["pytester"]


pytestmark = pytest.mark.usefixtures("clean_runtime_env")  # tests/conftest.py


@pytest.mark.parametrize(("argv", "words"), [
    (["smoke"], "error: no target: pass --vault-url, --base-url/--resource with --deployments, --stack or "
                f"--contract (or set {c.ENV_VAULT_URL})"),
    (["smoke", "--vault-url", "https://kv", "--base-url", "https://x/anthropic"],
     "error: --vault-url and --base-url are exclusive: choose one target"),
    (["smoke", "--base-url", "https://x/anthropic"], "error: --base-url/--resource need --deployments a,b,c"),
    (["smoke", "--base-url", "https://x/anthropic", "--deployments", "a"],
     f"error: no key: set {c.ENV_API_KEY}, or pass --entra to use an Entra ID token"),
    (["smoke", "--resource", "r", "--deployments", "a", "--concurrency", "0"], "--concurrency"),
    (["smoke", "--resource", "r", "--deployments", "a", "--timeout", "0"], "--timeout"),
    (["smoke", "--sandbox", "/nonexistent/conn.json", "--vault-url", "https://kv"], "connection file not found"),
    (["smoke", "--contract", "/nonexistent/c.json"], "not found"),
])
def test_usage_errors_exit_2(argv, words, capsys):
    assert cli.main(argv) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(("target", "words"), [
    ({}, f"no target: pass vault_url, base_url/resource with deployments or contract_file (or set {c.ENV_VAULT_URL})"),
    ({"vault_url": "https://kv", "base_url": "https://x/anthropic"},
     "vault_url and base_url are exclusive: choose one target"),
    ({"base_url": "https://x/anthropic"}, "base_url/resource need deployments a,b,c"),
    ({"base_url": "https://x/anthropic", "deployments": ["a"]},
     f'no key: set {c.ENV_API_KEY}, or pass auth="entra" to use an Entra ID token'),
])
def test_the_library_names_the_target_fields(target, words):
    """What the CLI words as flags above, the library words as RuntimeTarget's fields (docs/architecture.md)."""
    from claude_foundry._client.targets import RuntimeTarget, resolve_runtime
    from claude_foundry._errors import UserError

    with pytest.raises(UserError) as caught:
        resolve_runtime(RuntimeTarget(**target), environ={})
    assert str(caught.value) == words


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
    pytester.makeconftest('pytest_plugins = ["claude_foundry.pytest_plugin"]')
    pytester.makepyfile("def test_x(claude_foundry_smoke):\n    assert False\n")
    for name in (c.ENV_VAULT_URL, c.ENV_RESOURCE, c.ENV_BASE_URL):
        pytester._monkeypatch.delenv(name, raising=False)
    result = pytester.runpytest_inprocess("-p", "no:asyncio", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)


# --- a stack with several accounts ----------------------------------------------------------------------------

MULTI_STACK = """\
environment: prod
location: eastus2
resource_group: rg-claude-prod
foundry:
  name: contoso-claude-prod
  model_provider: {organization_name: Contoso, country_code: US, industry: technology}
deployments:
  sonnet: {model: claude-sonnet-4-6, capacity: 200}
  deep: {model: claude-opus-4-6, capacity: 50}
key_vault: {name: kv-contoso-claude-prod}
accounts:
  sweden:
    name: contoso-claude-prod-sc
    location: swedencentral
    deployments: [sonnet]
  west:
    name: contoso-claude-prod-w
    location: westus3
"""


def test_stack_expectations_follow_what_each_account_serves(tmp_path):
    from claude_foundry.cli._smoke import stack_expectations

    path = tmp_path / "prod.yaml"
    path.write_text(MULTI_STACK, encoding="utf-8")
    assert stack_expectations(str(path), None) == {"primary": ["sonnet", "deep"], "sweden": ["sonnet"],
                                                   "west": ["sonnet", "deep"]}
    assert stack_expectations(str(path), ["deep"]) == {"primary": ["deep"], "west": ["deep"]}
    assert stack_expectations(str(path), ["nope", "sonnet"]) == {"primary": ["nope", "sonnet"], "sweden": ["sonnet"],
                                                                 "west": ["sonnet"]}


def _multi_contract(tmp_path):
    from claude_foundry.program.spec import load_spec

    stack_file = tmp_path / "prod.yaml"
    stack_file.write_text(MULTI_STACK, encoding="utf-8")
    stack = load_spec(stack_file).stack_contract()
    path = tmp_path / "contract.json"
    path.write_text(json.dumps({**stack.first.public_json(), **stack.public_json()}), encoding="utf-8")
    return path


def test_contract_subset_is_checked_against_every_account(tmp_path, monkeypatch, capsys):
    from claude_foundry._client import smoke

    path = _multi_contract(tmp_path)
    monkeypatch.setenv(c.ENV_API_KEY, KEY)
    assert cli.main(["smoke", "--contract", str(path), "--deployments", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown deployment 'nope' on any account of the stack" in err
    assert "sweden: sonnet" in err
    assert KEY not in err

    seen = {}

    def fake_run_smoke(runtime, names, **kwargs):
        seen["names"] = names
        seen["accounts"] = [a.account for a in runtime.stack.accounts]
        return smoke.SmokeReport(resource=runtime.resource, base_url=runtime.base_url, auth=runtime.auth)

    monkeypatch.setattr(smoke, "run_smoke", fake_run_smoke)
    assert cli.main(["smoke", "--contract", str(path), "--deployments", "sonnet", "-q"]) == 1  # no results: fails
    assert seen == {"names": ["sonnet"], "accounts": ["primary", "sweden", "west"]}
