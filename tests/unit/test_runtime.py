"""Unit tests of the runtime: contract sources, deployment checks, key rotation via the middleware."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from claude_foundry import _contract as c
from claude_foundry._client import _sources
from claude_foundry._client import runtime as rt
from fakes import FakeFoundry, FakeTransport

KEY_OLD = "old-key-0123456789abcdef"
KEY_NEW = "new-key-fedcba9876543210"
BASE = "https://acct.services.ai.azure.com/anthropic"


def make_runtime(fake: FakeFoundry, reader=None, **kw) -> rt.FoundryRuntime:
    contract = c.Contract(
        resource="acct", base_url=BASE, api_key=KEY_OLD,
        deployments={"sonnet": c.DeploymentInfo(model="claude-sonnet-4-6", version="1", family="sonnet")},
    )
    return rt.FoundryRuntime(contract, key_reader=reader, **kw)


pytestmark = pytest.mark.usefixtures("clean_runtime_env")  # tests/conftest.py


# --- contract sources -----------------------------------------------------------------------------


def test_env_resource_and_base_url_are_exclusive():
    with pytest.raises(rt.RuntimeConfigError, match="mutually exclusive"):
        rt.contract_from_env({c.ENV_API_KEY: KEY_OLD, c.ENV_RESOURCE: "a", c.ENV_BASE_URL: BASE})


def test_env_needs_resource_or_base_url():
    with pytest.raises(rt.RuntimeConfigError, match=c.ENV_RESOURCE):
        rt.contract_from_env({c.ENV_API_KEY: KEY_OLD})


def test_env_resource_with_comma_list():
    got = rt.contract_from_env({c.ENV_API_KEY: KEY_OLD, c.ENV_RESOURCE: "acct", c.ENV_DEPLOYMENTS: "a, b"})
    assert got.base_url == BASE
    assert got.resource == "acct"
    assert sorted(got.deployments) == ["a", "b"]
    assert got.deployments["a"].model == ""
    assert got.auth_mode == c.AUTH_MODE_KEY
    assert KEY_OLD not in repr(got)


def test_env_base_url_with_json_map_and_no_key_means_entra():
    mapping = c.dump_deployment_map({"s": c.DeploymentInfo("claude-sonnet-4-6", "1", "sonnet")})
    got = rt.contract_from_env({c.ENV_BASE_URL: "https://127.0.0.1:8443/foundry/acct/anthropic/",
                                c.ENV_DEPLOYMENTS: mapping})
    assert got.resource == "acct"
    assert got.base_url == "https://127.0.0.1:8443/foundry/acct/anthropic"
    assert got.deployments["s"].model == "claude-sonnet-4-6"
    assert got.auth_mode == c.AUTH_MODE_ENTRA
    assert got.api_key is None


def test_env_bad_json_map():
    with pytest.raises(rt.RuntimeConfigError, match=c.ENV_DEPLOYMENTS):
        rt.contract_from_env({c.ENV_RESOURCE: "a", c.ENV_DEPLOYMENTS: "{not json"})


def test_json_roundtrip(tmp_path):
    original = c.Contract(resource="acct", base_url=BASE, api_key=KEY_OLD,
                          deployments={"s": c.DeploymentInfo("claude-sonnet-4-6", "1", "sonnet")})
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(original.public_json()))
    assert KEY_OLD not in path.read_text()
    loaded = rt.contract_from_json(path)
    assert loaded == c.Contract(resource="acct", base_url=BASE, deployments=original.deployments)


def test_json_refuses_a_key(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"base_url": BASE, "api_key": KEY_OLD}))
    with pytest.raises(rt.RuntimeConfigError, match="never contain the key") as info:
        rt.contract_from_json(path)
    assert KEY_OLD not in str(info.value)


def test_json_missing_file(tmp_path):
    with pytest.raises(rt.RuntimeConfigError, match="not found"):
        rt.contract_from_json(tmp_path / "nope.json")


def test_from_json_takes_key_from_env(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"resource": "acct", "base_url": BASE, "auth_mode": "key", "deployments": {}}))
    monkeypatch.setenv(c.ENV_API_KEY, KEY_OLD)
    runtime = rt.FoundryRuntime.from_json(path)
    assert runtime.uses_key
    assert KEY_OLD not in repr(runtime)


# --- runtime facts --------------------------------------------------------------------------------


def test_unknown_deployment_fails_fast_without_network():
    fake = FakeFoundry(KEY_OLD)
    runtime = make_runtime(fake)
    with pytest.raises(rt.UnknownDeploymentError, match="known deployments: sonnet") as info:
        runtime.client("opus")
    assert info.value.known == ["sonnet"]
    client = runtime.client(http_client=fake.client())
    with pytest.raises(rt.UnknownDeploymentError):
        client.messages.create(model="opus", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert fake.calls == []


def test_key_auth_without_key_is_refused():
    contract = c.Contract(resource="a", base_url=BASE, auth_mode=c.AUTH_MODE_ENTRA)
    with pytest.raises(rt.RuntimeConfigError, match="local auth"):
        rt.FoundryRuntime(contract, auth="key")


def test_auto_auth_without_key_is_entra():
    contract = c.Contract(resource="a", base_url=BASE, auth_mode=c.AUTH_MODE_ENTRA)
    runtime = rt.FoundryRuntime(contract, credential=object(), token_scope=c.TOKEN_SCOPE_AI_AZURE)
    assert runtime.auth == "entra"
    assert runtime.token_scope == c.TOKEN_SCOPE_AI_AZURE


def test_token_scope_from_env(monkeypatch):
    monkeypatch.setenv(c.ENV_TOKEN_SCOPE, c.TOKEN_SCOPE_AI_AZURE)
    contract = c.Contract(resource="a", base_url=BASE, auth_mode=c.AUTH_MODE_ENTRA)
    assert rt.FoundryRuntime(contract).token_scope == c.TOKEN_SCOPE_AI_AZURE


def test_entra_sends_bearer_token():
    class Cred:
        def __init__(self):
            self.scopes = []

        def get_token(self, *scopes, **kw):
            from azure.core.credentials import AccessToken
            self.scopes.append(scopes)
            return AccessToken("tok-123", 2**31)

        def get_token_info(self, *scopes, options=None):
            from azure.core.credentials import AccessTokenInfo
            self.scopes.append(scopes)
            return AccessTokenInfo("tok-123", 2**31)

    contract = c.Contract(resource="a", base_url=BASE, auth_mode=c.AUTH_MODE_ENTRA)
    cred = Cred()
    runtime = rt.FoundryRuntime(contract, credential=cred)
    transport = FakeTransport()
    client = runtime.client(http_client=transport.client())
    client.messages.create(model="x", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    (sent,) = transport.requests
    assert (sent.headers.get("authorization"), sent.headers.get("x-api-key")) == ("Bearer tok-123", None)
    assert cred.scopes[0] == (c.DEFAULT_TOKEN_SCOPE,)


# --- rotation -------------------------------------------------------------------------------------


def test_rotation_sync_one_reread_one_retry():
    fake = FakeFoundry(KEY_OLD)
    reads = []

    def reader():
        reads.append(1)
        return KEY_NEW

    runtime = make_runtime(fake, reader)
    client = runtime.client("sonnet", http_client=fake.client())
    kwargs = {"model": "sonnet", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    assert client.messages.create(**kwargs).content[0].text == "pong"
    fake.keys = KEY_NEW  # rotated behind our back
    assert client.messages.create(**kwargs).content[0].text == "pong"
    assert len(reads) == 1
    assert fake.outcomes == [200, 401, 200]
    assert fake.calls[-1].api_key == KEY_NEW
    # later calls use the new key directly, and so do new clients
    client.messages.create(**kwargs)
    runtime.client(http_client=fake.client()).messages.create(**kwargs)
    assert fake.outcomes[-2:] == [200, 200]
    assert len(reads) == 1
    assert runtime.contract.api_key == KEY_NEW
    assert KEY_NEW not in repr(runtime.contract)


def test_a_key_header_of_the_call_is_replaced_by_the_runtime_key():
    fake = FakeFoundry(KEY_OLD)
    runtime = make_runtime(fake)
    client = runtime.client(http_client=fake.client())
    for name in ("x-api-key", "X-Api-Key", "api-key"):
        msg = client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}],
                                     extra_headers={name: "bogus", "x-other": "1"})
        assert msg.content[0].text == "pong"
    assert [(call.api_key, call.outcome) for call in fake.calls] == [(KEY_OLD, 200)] * 3


def test_a_copy_sending_another_key_gets_the_runtime_key_after_a_401():
    fake = FakeFoundry(KEY_OLD)
    reads = []
    runtime = make_runtime(fake, lambda: reads.append(1) or KEY_OLD)
    client = runtime.client(max_retries=0, http_client=fake.client())
    stale = client.with_options(api_key="stale-key-0123456789")
    kwargs = {"model": "sonnet", "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    assert stale.messages.create(**kwargs).content[0].text == "pong"
    assert stale.messages.create(**kwargs).content[0].text == "pong"
    assert client.messages.create(**kwargs).content[0].text == "pong"
    assert [(call.api_key, call.outcome) for call in fake.calls] == [
        ("stale-key-0123456789", 401), (KEY_OLD, 200), (KEY_OLD, 200), (KEY_OLD, 200)]
    assert reads == []  # the runtime's key was current: nothing to re-read


def test_wrong_key_gives_401_after_one_reread():
    import anthropic

    fake = FakeFoundry("something-else")
    reads = []
    runtime = make_runtime(fake, lambda: reads.append(1) or KEY_OLD)
    client = runtime.client(max_retries=0, http_client=fake.client())
    with pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert len(reads) == 1
    assert len(fake.calls) == 1  # unchanged key: no pointless retry
    assert KEY_OLD not in str(info.value)
    # a second 401 right after does not re-read again (rate limited)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert len(reads) == 1


def test_no_reader_means_401_passes_through():
    import anthropic

    fake = FakeFoundry(KEY_NEW)
    runtime = make_runtime(fake)
    client = runtime.client(max_retries=0, http_client=fake.client())
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert len(fake.calls) == 1


def test_rotation_async_and_streaming_start():
    fake = FakeFoundry(KEY_OLD)
    reads = []
    runtime = make_runtime(fake, lambda: reads.append(1) or KEY_NEW)

    async def main():
        client = runtime.async_client(http_client=fake.async_client())
        fake.keys = KEY_NEW
        msg = await client.messages.create(model="sonnet", max_tokens=4,
                                           messages=[{"role": "user", "content": "hi"}])
        assert msg.content[0].text == "pong"
        text = ""
        async with client.messages.stream(model="sonnet", max_tokens=4,
                                          messages=[{"role": "user", "content": "hi"}]) as stream:
            async for chunk in stream.text_stream:
                text += chunk
        assert text == "pong"

    asyncio.run(main())
    assert len(reads) == 1
    assert fake.outcomes == [401, 200, 200]


def test_rotation_sync_streaming_start():
    fake = FakeFoundry(KEY_OLD)
    runtime = make_runtime(fake, lambda: KEY_NEW)
    client = runtime.client(http_client=fake.client())
    fake.keys = KEY_NEW
    with client.messages.stream(model="sonnet", max_tokens=4,
                                messages=[{"role": "user", "content": "hi"}]) as stream:
        assert "".join(stream.text_stream) == "pong"
    assert fake.outcomes == [401, 200]


def test_messages_create_helper():
    fake = FakeFoundry(KEY_OLD)
    runtime = make_runtime(fake)
    runtime._shared_client = runtime.client(http_client=fake.client())
    msg = runtime.messages_create("sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert msg.model == "sonnet"
    with pytest.raises(rt.UnknownDeploymentError):
        runtime.messages_create("nope", max_tokens=4, messages=[])


def test_sdk_debug_log_is_redacted(caplog):
    fake = FakeFoundry(KEY_OLD)
    runtime = make_runtime(fake)
    client = runtime.client(http_client=fake.client())
    with caplog.at_level(logging.DEBUG, logger="anthropic"):
        client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert "Request options" in caplog.text
    assert KEY_OLD not in caplog.text


# --- Key Vault source (with a fake SecretClient) --------------------------------------------------


class FakeSecretClient:
    vault_url = "https://kv.vault.azure.net"

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets
        self.calls: list[str] = []

    def close(self):
        pass

    def get_secret(self, name):
        from azure.core.exceptions import ResourceNotFoundError

        self.calls.append(name)
        if name not in self.secrets:
            raise ResourceNotFoundError(f"secret {name} not found")

        class S:
            value = self.secrets[name]

        return S()


def vault_secrets(prefix="claude-foundry", key=KEY_OLD, auth="key") -> dict[str, str]:
    names = c.SecretNames(prefix)
    out = {
        names.endpoint: BASE,
        names.resource: "acct",
        names.deployments: c.dump_deployment_map(
            {"sonnet": c.DeploymentInfo("claude-sonnet-4-6", "1", "sonnet")}),
        names.auth_mode: auth,
    }
    if key:
        out[names.api_key] = key
    return out


def test_key_vault_load_is_cached_once(monkeypatch):
    fake = FakeSecretClient(vault_secrets())
    made = []
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: made.append(a) or fake)
    r1 = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net/", credential=object())
    r2 = rt.FoundryRuntime.from_key_vault("https://KV.vault.azure.net", credential=object())
    assert len(made) == 1
    assert len(fake.calls) == 6  # the five version 1 secrets, and the (absent) accounts document
    assert r1.contract == r2.contract
    assert r1.contract.api_key == KEY_OLD
    assert r1.key_vault_round_trips == 1
    assert r1.deployments["sonnet"].family == "sonnet"


def test_key_vault_load_concurrent_threads_one_load(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    fake = FakeSecretClient(vault_secrets())
    made = []
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: made.append(a) or fake)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: rt.contract_from_key_vault("https://kv.vault.azure.net", credential=object()),
                      range(16)))
    assert len(made) == 1


def test_key_vault_entra_stack(monkeypatch):
    fake = FakeSecretClient(vault_secrets(key=None, auth="entra"))
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: fake)
    runtime = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object())
    assert runtime.auth == "entra"
    assert runtime.contract.auth_mode == "entra"


def test_key_vault_missing_secret_is_clear(monkeypatch):
    secrets = vault_secrets()
    del secrets["claude-foundry-deployments"]
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: FakeSecretClient(secrets))
    with pytest.raises(rt.RuntimeConfigError, match="claude-foundry-deployments"):
        rt.contract_from_key_vault("https://kv.vault.azure.net", credential=object())


def test_key_vault_rotation_updates_cache(monkeypatch):
    secrets = vault_secrets()
    fake_kv = FakeSecretClient(secrets)
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: fake_kv)
    runtime = rt.FoundryRuntime.from_key_vault("https://kv.vault.azure.net", credential=object())
    fake = FakeFoundry(KEY_NEW)
    secrets["claude-foundry-api-key"] = KEY_NEW
    client = runtime.client(http_client=fake.client())
    client.messages.create(model="sonnet", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert runtime.key_vault_round_trips == 2
    assert fake_kv.calls.count("claude-foundry-api-key") == 2
    assert rt.contract_from_key_vault("https://kv.vault.azure.net", credential=object()).api_key == KEY_NEW


def test_from_environment_prefers_vault(monkeypatch):
    monkeypatch.setenv(c.ENV_VAULT_URL, "https://kv.vault.azure.net")
    monkeypatch.setenv(c.ENV_SECRET_PREFIX, "team-a")
    fake_kv = FakeSecretClient(vault_secrets(prefix="team-a"))
    monkeypatch.setattr(_sources, "_secret_client", lambda *a: fake_kv)
    runtime = rt.FoundryRuntime.from_environment(credential=object())
    assert runtime.resource == "acct"
    assert fake_kv.calls[0] == "team-a-endpoint"
