"""Issue 20, class 5: a malformed contract is a clear error. Every value read from Key Vault, a ``--contract``
file or the environment is checked: numbers that overflow, JSON nested too deep, endpoints that are not valid
HTTPS URLs end in a RuntimeConfigError (exit 2) naming the secret, file or variable; never a traceback. The
``env`` export stays within what a shell can hold, or refuses with words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claude_foundry import _contract as c
from claude_foundry._client import _sources, envexport
from claude_foundry._client.runtime import RuntimeConfigError
from claude_foundry.cli import exit_code, main

GOOD_URL = "https://acct.services.ai.azure.com/anthropic"
DEEP = '{"a":' * 5000 + "1" + "}" * 5000

BAD_ENDPOINTS = [
    ("https://[::1/anthropic", "has an invalid IPv6 literal"),
    ("https://[zz::1]/anthropic", "invalid IPv6 literal"),
    ("https://acct.example:99999/anthropic", "has a port out of range (1-65535)"),
    ("https://acct.example:0/anthropic", "port 0"),
    ("https://acct.example\n.evil.example/anthropic", "whitespace or control characters"),
    ("https://acct.example/anth\x1b[31mropic", "whitespace or control characters"),
    ("https://user:secret@acct.example/anthropic", "user info"),
    ("https://acct.example:/anthropic", "empty port"),
    ("https://acct_exa mple/anthropic", "whitespace"),
    ("https://-acct.example/anthropic", "invalid host name"),
    ("https://acct.example/anthropic?x=1", "query or fragment"),
    ("http://acct.example/anthropic", "is not an https:// URL"),
    ("https://" + "a" * 3000 + ".example", "characters long"),
]
BAD_MAPS = [
    (DEEP, "nested more than"),
    ('{"fast": {"model": "claude-haiku-4-5", "capacity": 1e400}}', "out of range"),
    ('{"fast": {"model": "claude-haiku-4-5", "capacity": ' + "9" * 40 + "}}", "less than or equal to"),
    ('{"fast": {"model": "claude-haiku-4-5", "capacity": ' + "9" * 5000 + "}}", "digits"),
    ('{"fast": {"model": "claude-haiku-4-5", "capacity": -1}}', "greater than or equal to 0"),
    ('{"fast": {"model": ["not", "a", "string"]}}', "model"),
    ('{"fast": "claude-haiku-4-5"}', "expected an object"),
]


def assert_clear(exc: RuntimeConfigError, where: str, fragment: str) -> None:
    message = str(exc)
    assert exit_code(exc) == 2
    assert where in message, message
    assert fragment in message, message
    assert "secret" not in message.split(where, 1)[0] or where.startswith("Key Vault")


@pytest.mark.parametrize(("url", "fragment"), BAD_ENDPOINTS)
def test_a_bad_endpoint_in_the_environment_names_the_variable(url: str, fragment: str) -> None:
    with pytest.raises(RuntimeConfigError) as info:
        _sources.contract_from_env({c.ENV_BASE_URL: url, c.ENV_API_KEY: "k" * 32})
    assert_clear(info.value, c.ENV_BASE_URL, fragment)
    assert "secret@" not in str(info.value)


@pytest.mark.parametrize("resource", ["acct/../../evil", "acct.evil.example:443", "a\nb", "-acct", "x" * 70])
def test_a_bad_resource_name_in_the_environment_names_the_variable(resource: str) -> None:
    with pytest.raises(RuntimeConfigError) as info:
        _sources.contract_from_env({c.ENV_RESOURCE: resource})
    assert_clear(info.value, c.ENV_RESOURCE, "expected an account name")


@pytest.mark.parametrize(("text", "fragment"), BAD_MAPS)
def test_a_bad_deployment_map_in_the_environment_names_the_variable(text: str, fragment: str) -> None:
    with pytest.raises(RuntimeConfigError) as info:
        _sources.contract_from_env({c.ENV_BASE_URL: GOOD_URL, c.ENV_DEPLOYMENTS: text})
    assert_clear(info.value, c.ENV_DEPLOYMENTS, fragment)


def contract_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "contract.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("url", "fragment"), BAD_ENDPOINTS[:8])
def test_a_bad_endpoint_in_a_contract_file_names_the_file(tmp_path: Path, url: str, fragment: str) -> None:
    path = contract_file(tmp_path, json.dumps({"resource": "acct", "base_url": url, "deployments": {}}))
    with pytest.raises(RuntimeConfigError) as info:
        _sources.stack_from_json(path)
    assert_clear(info.value, str(path), fragment)


@pytest.mark.parametrize(("text", "fragment"), BAD_MAPS)
def test_a_bad_contract_file_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    doc = text if text is DEEP else '{"base_url": "' + GOOD_URL + '", "deployments": ' + text + "}"
    path = contract_file(tmp_path, doc)
    with pytest.raises(RuntimeConfigError) as info:
        _sources.stack_from_json(path)
    assert_clear(info.value, str(path), fragment)


def test_a_bad_accounts_list_in_a_contract_file_names_the_account(tmp_path: Path) -> None:
    doc = {"base_url": GOOD_URL, "version": 2, "accounts": [
        {"account": "primary", "base_url": GOOD_URL, "deployments": {}},
        {"account": "west", "base_url": "https://[::1", "deployments": {}}]}
    path = contract_file(tmp_path, json.dumps(doc))
    with pytest.raises(RuntimeConfigError) as info:
        _sources.stack_from_json(path)
    assert_clear(info.value, str(path), "accounts[1].base_url has an invalid IPv6 literal")


def test_the_cli_exits_2_with_words_for_a_bad_contract_file(tmp_path: Path, capsys, monkeypatch) -> None:
    for var in c.RUNTIME_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    path = contract_file(tmp_path, '{"base_url": "' + GOOD_URL + '", "deployments": ' + BAD_MAPS[1][0] + "}")
    code = main(["smoke", "--contract", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err
    assert "out of range" in err
    assert "Traceback" not in err


class FakeSecrets:
    """Stands in for the SecretClient: secret name -> value."""

    vault_url = "https://kv.vault.azure.net"

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get_secret(self, name: str) -> Any:
        from azure.core.exceptions import ResourceNotFoundError

        if name not in self.values:
            raise ResourceNotFoundError(f"{name} not found")
        return type("Secret", (), {"value": self.values[name]})()

    def close(self) -> None:
        pass


def vault(values: dict[str, str]) -> _sources.VaultSource:
    source = _sources.VaultSource("https://kv.vault.azure.net", c.DEFAULT_SECRET_PREFIX, object(), None)
    source._client = FakeSecrets(values)  # the secrets a planted contract holds
    return source


def planted(**over: str) -> dict[str, str]:
    names = c.SecretNames()
    values = {names.endpoint: GOOD_URL, names.resource: "acct", names.auth_mode: "key", names.api_key: "k" * 32,
              names.deployments: '{"fast": {"model": "claude-haiku-4-5"}}'}
    values.update({getattr(names, k): v for k, v in over.items()})
    return values


def test_a_good_vault_contract_loads() -> None:
    loaded = vault(planted()).load_stack()
    assert loaded.first.base_url == GOOD_URL
    assert set(loaded.first.deployments) == {"fast"}


@pytest.mark.parametrize(("secret", "value", "fragment"), [
    ("endpoint", BAD_ENDPOINTS[0][0], "has an invalid IPv6 literal"),
    ("endpoint", BAD_ENDPOINTS[1][0], "invalid IPv6 literal"),
    ("endpoint", BAD_ENDPOINTS[2][0], "port"),
    ("endpoint", BAD_ENDPOINTS[4][0], "whitespace or control characters"),
    ("endpoint", BAD_ENDPOINTS[6][0], "user info"),
    ("deployments", BAD_MAPS[0][0], "nested more than"),
    ("deployments", BAD_MAPS[1][0], "out of range"),
    ("deployments", BAD_MAPS[2][0], "less than or equal to"),
    ("accounts", DEEP, "nested more than"),
    ("accounts", '{"version": 2, "accounts": [{"account": "west", "base_url": "https://x:70000/a"}]}',
     "accounts[0].base_url has a port out of range"),
    ("auth_mode", "keys", "expected 'key' or 'entra'"),
    ("resource", "acct/../evil", "expected an account name"),
])
def test_a_planted_vault_contract_names_the_secret(secret: str, value: str, fragment: str) -> None:
    name = getattr(c.SecretNames(), secret)
    with pytest.raises(RuntimeConfigError) as info:
        vault(planted(**{secret: value})).load_stack()
    assert_clear(info.value, f"Key Vault secret {name!r}", fragment)


def test_env_refuses_what_a_shell_cannot_hold() -> None:
    many = {f"deployment-{i:04d}": c.DeploymentInfo(model="claude-haiku-4-5", version="1", family="haiku")
            for i in range(2000)}
    contract = c.Contract(resource="acct", base_url=GOOD_URL, deployments=many)
    with pytest.raises(envexport.EnvExportError) as info:
        envexport.env_vars(contract)
    assert f"{c.ENV_DEPLOYMENTS}:" in str(info.value)
    assert "more than one environment variable can hold (131,071)" in str(info.value)
    nul = c.Contract(resource="acct", base_url=GOOD_URL,
                     deployments={"a\0b": c.DeploymentInfo(model="claude-haiku-4-5", version="1", family="haiku")})
    with pytest.raises(envexport.EnvExportError, match="NUL byte"):
        envexport.env_vars(nul)
    few = dict(list(many.items())[:32])
    small = envexport.env_vars(c.Contract(resource="acct", base_url=GOOD_URL, deployments=few))
    assert sum(len(k) + len(v) + 2 for k, v in small.items()) < envexport.MAX_ENV_TOTAL_BYTES
