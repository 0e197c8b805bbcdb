"""Moving a logical deployment name to another model: the contract's ``deployment`` field and the runtime following
it (the physical name on the wire, the map re-read periodically and after a 404)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx2
import pytest

from claude_foundry import _contract as c
from claude_foundry._client import runtime as rt
from fakes import FakeTransport, answer, error

BASE = "https://acct.services.ai.azure.com/anthropic"
HI = [{"role": "user", "content": "hi"}]


def entry(model: str, physical: str | None = None) -> c.DeploymentInfo:
    return c.DeploymentInfo(model=model, version="1", family="sonnet", deployment=physical)


# --- the contract -----------------------------------------------------------------------------------


def test_physical_name_is_logical_double_dash_model_within_azure_rules():
    assert c.physical_name("chat", "claude-sonnet-5-5") == "chat--claude-sonnet-5-5"
    # a second move starts from the logical name again, not from the last physical name
    assert c.physical_name("chat--claude-sonnet-5-5", "claude-sonnet-6") == "chat--claude-sonnet-6"
    long = c.physical_name("x" * 80, "claude-sonnet-5-5")
    assert len(long) == 64
    assert long.endswith("--claude-sonnet-5-5")
    with pytest.raises(ValueError, match="too long"):
        c.physical_name("chat", "m" * 70)


def test_the_entry_round_trips_and_an_entry_without_it_is_unchanged():
    moved = {"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5"), "plain": entry("claude-haiku-4-5")}
    text = c.dump_deployment_map(moved)
    data = json.loads(text)
    assert data["chat"]["deployment"] == "chat--claude-sonnet-5-5"
    assert "deployment" not in data["plain"]  # contracts without moves are written exactly as before
    back = c.load_deployment_map(text)
    assert back == moved
    assert back["chat"].physical("chat") == "chat--claude-sonnet-5-5"
    assert back["plain"].physical("plain") == "plain"


def test_an_older_reader_ignores_the_field():
    """What a runtime from before moves reads: pydantic ``extra="ignore"``, the same model and version."""
    text = c.dump_deployment_map({"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")})
    data = json.loads(text)["chat"]
    older = {k: v for k, v in data.items() if k != "deployment"}
    assert c.DeploymentInfo.from_json(older).model == "claude-sonnet-5-5"


@pytest.mark.parametrize(("physical", "words"), [
    ("bad name", "deployment"),
    ("-lead", "deployment"),
    ("x" * 65, "deployment"),
    ("other", "is another logical name"),
])
def test_a_bad_physical_name_is_refused_with_words(physical, words):
    data = {"chat": {"model": "claude-sonnet-5-5", "deployment": physical}, "other": {"model": "claude-haiku-4-5"}}
    with pytest.raises(ValueError, match=words) as info:
        c.deployment_map_from_data(data)
    assert "chat" in str(info.value)


# --- the runtime ------------------------------------------------------------------------------------


class Foundry(FakeTransport):
    """Answers the deployments it has; 404 DeploymentNotFound for any other name. ``sent``: the names sent."""

    def __init__(self, deployments: dict[str, str]) -> None:
        self.deployments = dict(deployments)
        super().__init__(self.serve)

    @property
    def sent(self) -> list[str]:
        return [call.body["model"] for call in self.calls]

    def serve(self, request: httpx2.Request) -> httpx2.Response:
        name = json.loads(request.content)["model"]
        if name not in self.deployments:
            return error(404, "The API deployment for this resource does not exist.", code="DeploymentNotFound")
        return answer(request, model=self.deployments[name], text="hi")


class Vault:
    """The deployment map as the vault holds it; counts reads."""

    def __init__(self, deployments: dict[str, c.DeploymentInfo]) -> None:
        self.map = dict(deployments)
        self.reads = 0

    def __call__(self) -> dict[str, c.DeploymentInfo]:
        self.reads += 1
        return dict(self.map)


def runtime_for(vault: Vault | None, deployments: dict[str, c.DeploymentInfo], **kw) -> rt.FoundryRuntime:
    contract = c.Contract(resource="acct", base_url=BASE, deployments=deployments, api_key="k" * 84)
    kw.setdefault("map_reader", vault)
    return rt.FoundryRuntime(contract, **kw)


def client_of(runtime: rt.FoundryRuntime, foundry: Foundry):
    return runtime.client(max_retries=0, http_client=foundry.client())


def test_the_physical_name_goes_on_the_wire_while_the_app_passes_the_logical_one():
    foundry = Foundry({"chat--claude-sonnet-5-5": "claude-sonnet-5-5"})
    runtime = runtime_for(None, {"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")})
    body = {"model": "chat", "max_tokens": 8, "messages": HI}
    msg = client_of(runtime, foundry).messages.create(**body)
    assert msg.model == "claude-sonnet-5-5"
    assert foundry.sent == ["chat--claude-sonnet-5-5"]
    assert body["model"] == "chat"  # the caller's arguments are not changed
    with pytest.raises(rt.UnknownDeploymentError):
        runtime.wire_name("chat--claude-sonnet-5-5")  # the app keeps the logical name; the physical is no name


def test_a_404_re_reads_the_map_and_retries_once_on_the_new_deployment():
    foundry = Foundry({"chat": "claude-sonnet-4-6"})
    vault = Vault({"chat": entry("claude-sonnet-4-6")})
    runtime = runtime_for(vault, dict(vault.map), map_refresh_interval=None)
    client = client_of(runtime, foundry)
    assert client.messages.create(model="chat", max_tokens=8, messages=HI).model == "claude-sonnet-4-6"
    # the move: the replacement deployed, the contract switched, the old deployment removed at once
    foundry.deployments = {"chat--claude-sonnet-5-5": "claude-sonnet-5-5"}
    vault.map = {"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")}
    assert client.messages.create(model="chat", max_tokens=8, messages=HI).model == "claude-sonnet-5-5"
    assert foundry.sent[-2:] == ["chat", "chat--claude-sonnet-5-5"]
    assert vault.reads == 1
    assert runtime.deployments["chat"].model == "claude-sonnet-5-5"


def test_a_404_that_a_re_read_does_not_explain_is_returned_as_it_came():
    import anthropic

    foundry = Foundry({})
    vault = Vault({"chat": entry("claude-sonnet-4-6")})
    runtime = runtime_for(vault, dict(vault.map), map_refresh_interval=None)
    client = client_of(runtime, foundry)
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="chat", max_tokens=8, messages=HI)
    assert info.value.status_code == 404
    assert foundry.sent == ["chat"]  # no retry: the map did not move
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="chat", max_tokens=8, messages=HI)
    assert vault.reads == 1  # re-reads after 404s are at most one per MAP_REREAD_MIN_INTERVAL


def test_concurrent_404s_share_one_re_read():
    foundry = Foundry({"chat--claude-sonnet-5-5": "claude-sonnet-5-5"})
    vault = Vault({"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")})

    def slow_read():
        time.sleep(0.2)
        return vault()

    runtime = runtime_for(None, {"chat": entry("claude-sonnet-4-6")}, map_reader=slow_read,
                          map_refresh_interval=None)
    client = client_of(runtime, foundry)
    models, errors = [], []

    def call():
        try:
            models.append(client.messages.create(model="chat", max_tokens=8, messages=HI).model)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == []
    assert models == ["claude-sonnet-5-5"] * 8
    assert vault.reads == 1


def test_the_map_is_re_read_in_the_background_on_its_interval():
    foundry = Foundry({"chat": "claude-sonnet-4-6", "chat--claude-sonnet-5-5": "claude-sonnet-5-5"})
    vault = Vault({"chat": entry("claude-sonnet-4-6")})
    runtime = runtime_for(vault, dict(vault.map), map_refresh_interval=0.2)
    client = client_of(runtime, foundry)
    assert client.messages.create(model="chat", max_tokens=8, messages=HI).model == "claude-sonnet-4-6"
    vault.map = {"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")}  # the switch
    deadline = time.monotonic() + 5
    while runtime.deployments["chat"].model != "claude-sonnet-5-5" and time.monotonic() < deadline:
        client.messages.create(model="chat", max_tokens=8, messages=HI)  # a call starts the due re-read
        time.sleep(0.05)
    assert client.messages.create(model="chat", max_tokens=8, messages=HI).model == "claude-sonnet-5-5"
    assert foundry.sent[-1] == "chat--claude-sonnet-5-5"
    assert "chat" in foundry.sent  # the old deployment answered until the runtime followed
    assert 1 <= vault.reads <= 30


def test_a_failing_background_re_read_keeps_the_map_and_never_fails_a_call(caplog):
    foundry = Foundry({"chat": "claude-sonnet-4-6"})

    def broken():
        raise rt.VaultTimeoutError("Key Vault https://kv did not answer")

    runtime = runtime_for(None, {"chat": entry("claude-sonnet-4-6")}, map_reader=broken, map_refresh_interval=0.05)
    client = client_of(runtime, foundry)
    with caplog.at_level("WARNING", logger="claude_foundry._client.runtime"):
        for _ in range(5):
            assert client.messages.create(model="chat", max_tokens=8, messages=HI).model == "claude-sonnet-4-6"
            time.sleep(0.06)
    assert any("keeping the current one" in r.getMessage() for r in caplog.records)


def test_the_async_client_follows_a_move_on_404():
    foundry = Foundry({"chat--claude-sonnet-5-5": "claude-sonnet-5-5"})
    vault = Vault({"chat": entry("claude-sonnet-5-5", "chat--claude-sonnet-5-5")})
    runtime = runtime_for(vault, {"chat": entry("claude-sonnet-4-6")}, map_refresh_interval=None)

    async def go():
        client = runtime.async_client(max_retries=0,
                                      http_client=foundry.async_client())
        return (await client.messages.create(model="chat", max_tokens=8, messages=HI)).model

    assert asyncio.run(go()) == "claude-sonnet-5-5"
    assert foundry.sent == ["chat", "chat--claude-sonnet-5-5"]


def test_env_pins_the_physical_name_for_claude_code():
    from claude_foundry._client.envexport import env_vars

    contract = c.Contract(resource="acct", base_url=BASE,
                          deployments={"chat": c.DeploymentInfo(model="claude-sonnet-5-5", version="2",
                                                                family="sonnet",
                                                                deployment="chat--claude-sonnet-5-5")})
    out = env_vars(contract)
    assert out["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "chat--claude-sonnet-5-5"
    assert json.loads(out[c.ENV_DEPLOYMENTS])["chat"]["deployment"] == "chat--claude-sonnet-5-5"
