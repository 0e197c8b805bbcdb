"""Contract version 2: every account of a stack in Key Vault (``<prefix>-accounts`` and a key secret per account),
read by the runtime, while a version 1 reader keeps reading the primary account from the secrets it knows."""

from __future__ import annotations

import json

import pytest
from test_runtime import BASE, KEY_NEW, KEY_OLD, FakeSecretClient, vault_secrets

from claude_foundry import _contract as c
from claude_foundry._client import _sources
from claude_foundry._client import runtime as rt
from fakes import FakeFoundry

SWEDEN_BASE = "https://acct-sc.services.ai.azure.com/anthropic"
KEY_SWEDEN = "sweden-key-00112233445566778899"
SONNET = c.DeploymentInfo("claude-sonnet-4-6", "1", "sonnet")
OPUS = c.DeploymentInfo("claude-opus-4-8", "2", "opus", capacity=50)


pytestmark = pytest.mark.usefixtures("clean_runtime_env")  # tests/conftest.py


def accounts(auth: str = c.AUTH_MODE_KEY) -> list[c.Contract]:
    return [c.Contract("acct", BASE, {"sonnet": SONNET}, auth, api_key="never-dumped", region="eastus2"),
            c.Contract("acct-sc", SWEDEN_BASE, {"sonnet": SONNET, "deep": OPUS}, auth, region="swedencentral",
                       account="sweden")]


def v2_vault(auth: str = c.AUTH_MODE_KEY) -> dict[str, str]:
    names = c.SecretNames()
    secrets = vault_secrets(key=KEY_OLD if auth == c.AUTH_MODE_KEY else None, auth=auth)
    secrets[names.accounts] = c.dump_accounts(accounts(auth), names)
    if auth == c.AUTH_MODE_KEY:
        secrets[names.api_key_of("sweden")] = KEY_SWEDEN
    return secrets


def test_the_accounts_document_round_trips_without_keys() -> None:
    names = c.SecretNames("team-a")
    text = c.dump_accounts(accounts(), names)
    assert "never-dumped" not in text
    listed, key_secrets = c.load_accounts(text)
    assert [(a.account, a.resource, a.region, a.base_url) for a in listed] == [
        ("primary", "acct", "eastus2", BASE), ("sweden", "acct-sc", "swedencentral", SWEDEN_BASE)]
    assert all(a.api_key is None for a in listed)
    assert listed[1].deployments == {"sonnet": SONNET, "deep": OPUS}
    assert key_secrets == {"primary": "team-a-api-key", "sweden": "team-a-api-key-sweden"}
    assert text == c.dump_accounts(list(reversed(accounts()))[::-1], names)  # deterministic


def test_entra_accounts_name_no_key_secret() -> None:
    _, key_secrets = c.load_accounts(c.dump_accounts(accounts(c.AUTH_MODE_ENTRA), c.SecretNames()))
    assert key_secrets == {}


@pytest.mark.parametrize(("doc", "words"), [
    ({"version": 3, "accounts": [{"account": "primary", "base_url": BASE}]}, "newer than this claude-foundry"),
    ({"version": 1, "accounts": [{"account": "primary", "base_url": BASE}]}, "unknown contract version"),
    ({"version": 2, "accounts": []}, "non-empty accounts list"),
    ({"version": 2, "accounts": [{"account": "primary"}]}, "accounts[0]: expected"),
    ({"version": 2, "accounts": [{"account": "x", "base_url": BASE, "deployments": []}]}, "accounts[0].deployments"),
])
def test_a_bad_accounts_document_is_refused_in_words(doc: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        c.load_accounts(json.dumps(doc))


def test_secret_names_of_further_accounts() -> None:
    names = c.SecretNames()
    assert names.api_key_of("primary") == names.api_key == "claude-foundry-api-key"
    assert names.api_key_of("sweden") == "claude-foundry-api-key-sweden"
    assert names.accounts == "claude-foundry-accounts"
    with pytest.raises(ValueError, match="not a Key Vault secret name"):
        names.api_key_of("no_underscores")


def test_a_stack_contract_needs_distinct_accounts() -> None:
    with pytest.raises(ValueError, match="at least one account"):
        c.StackContract(())
    one = accounts()[0]
    with pytest.raises(ValueError, match="repeat"):
        c.StackContract((one, one))
    with pytest.raises(KeyError, match="accounts: primary"):
        c.StackContract((one,)).account("nope")


def test_the_runtime_reads_every_account_and_its_own_key(monkeypatch) -> None:
    fake = FakeSecretClient(v2_vault())
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: fake)
    primary = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object())
    assert (primary.account, primary.region, primary.contract.api_key) == ("primary", "eastus2", KEY_OLD)
    stack = primary.stack
    assert stack.version == 2
    assert [a.account for a in stack.serving("deep")] == ["sweden"]
    runtimes = primary.accounts()
    assert runtimes[0] is primary
    sweden = runtimes[1]
    assert (sweden.account, sweden.resource, sweden.region, sweden.base_url) == (
        "sweden", "acct-sc", "swedencentral", SWEDEN_BASE)
    assert sweden.contract.api_key == KEY_SWEDEN
    assert sweden.uses_key
    assert "sweden-key" not in repr(sweden)
    assert "sweden-key" not in repr(stack)
    assert fake.calls.count("claude-foundry-api-key-sweden") == 1
    assert primary.key_vault_round_trips == 1


def test_a_401_on_a_further_account_rereads_that_accounts_key(monkeypatch) -> None:
    secrets = v2_vault()
    fake_kv = FakeSecretClient(secrets)
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: fake_kv)
    sweden = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object()).accounts()[1]
    secrets["claude-foundry-api-key-sweden"] = KEY_NEW  # rotated: the old sweden key now answers 401
    fake = FakeFoundry(KEY_NEW)
    client = sweden.client(http_client=fake.client())
    client.messages.create(model="deep", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert fake.outcomes == [401, 200]
    assert fake_kv.calls.count("claude-foundry-api-key-sweden") == 2
    assert fake_kv.calls.count("claude-foundry-api-key") == 1  # the primary's key was not touched
    again = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object())
    assert again.stack.account("sweden").api_key == KEY_NEW  # the cache has the new key
    assert again.contract.api_key == KEY_OLD


def test_a_version_1_reader_sees_the_primary_account() -> None:
    """What today's runtime (and every earlier one) reads of a version 2 vault: the five version 1 secrets, which
    hold the primary account exactly as a one-account stack's do."""
    secrets = v2_vault()
    names = c.SecretNames()
    v1 = {k: secrets[k] for k in (names.endpoint, names.resource, names.deployments, names.auth_mode, names.api_key)}
    assert v1 == vault_secrets()
    assert c.load_deployment_map(v1[names.deployments]) == {"sonnet": SONNET}


def test_a_broken_accounts_secret_is_a_config_error(monkeypatch) -> None:
    secrets = v2_vault()
    secrets["claude-foundry-accounts"] = json.dumps({"version": 9, "accounts": [{"account": "a", "base_url": BASE}]})
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: FakeSecretClient(secrets))
    with pytest.raises(rt.RuntimeConfigError, match=r"claude-foundry-accounts.*upgrade claude-foundry"):
        rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object())


def test_the_exported_json_reads_back_with_every_account(tmp_path) -> None:
    from claude_foundry._client import envexport

    stack = c.StackContract(tuple(accounts()), version=2)
    for chosen in ("primary", "sweden"):
        text = envexport.render_contract_json(stack.account(chosen), {"CLAUDE_CODE_USE_FOUNDRY": "1"}, stack)
        assert "never-dumped" not in text
        path = tmp_path / f"{chosen}.json"
        path.write_text(text, encoding="utf-8")
        back = rt.FoundryRuntime.from_json(path, auth="entra")
        assert back.account == chosen
        assert sorted(a.account for a in back.stack.accounts) == ["primary", "sweden"]
        assert next(r.account for r in back.accounts()) == chosen
        assert rt.contract_from_json(path).base_url == stack.account(chosen).base_url  # a version 1 reader
