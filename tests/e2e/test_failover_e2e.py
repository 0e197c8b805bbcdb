"""End to end: failover across two stacks (two accounts) in the sandbox, with account-wide faults on the first."""

from __future__ import annotations

import asyncio
import time

import pytest
from seeding import MODELS, grant_caller, rotate_key, seed_stack

from claude_foundry._client import runtime as rt
from claude_foundry._client.failover import CircuitBreaker, FailoverRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("clean_runtime_env")]

anthropic = pytest.importorskip("anthropic")

HI = [{"role": "user", "content": "hi"}]

FAULTS = {
    "down": {"down": True},
    "429": {"status": 429, "retry_after": 20},
    "slow": {"latency": 3.0},
    "500": {"status": 500},
}


@pytest.fixture(scope="module")
def stacks(sandbox, credential):
    return seed_stack(sandbox, credential, MODELS, prefix="cf-fo-a"), seed_stack(sandbox, credential, MODELS,
                                                                               prefix="cf-fo-b")


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


def runtime_for(stack, **kw) -> rt.FoundryRuntime:
    return rt.FoundryRuntime.from_key_vault(stack.vault_url, prefix=stack.prefix, credential=stack.credential,
                                            ca_bundle=stack.sandbox.connection["ca_bundle"], **kw)


def failover(stacks, **kw) -> FailoverRuntime:
    kw.setdefault("timeout", 1.5)
    return FailoverRuntime([runtime_for(stacks[0]), runtime_for(stacks[1])],
                           breaker=CircuitBreaker(failures=3, cool_down=30.0), **kw)


def served_by(sandbox, stack) -> list[int]:
    return [a["status"] for a in sandbox.faults.answers(stack.account)]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_sync_fails_over_to_the_second(sandbox, stacks, kind, caplog):
    a, b = stacks
    fo = failover(stacks)
    with fo:
        client = fo.client("sonnet")
        assert client.messages.create(model="sonnet", max_tokens=8, messages=HI).content
        assert fo.stats()[a.account]["served"] == 1
        sandbox.set_fault(a.account, "*", FAULTS[kind])
        with caplog.at_level("INFO", logger="claude_foundry._client.failover"):
            start = time.monotonic()
            msg = client.messages.create(model="sonnet", max_tokens=8, messages=HI)
            took = time.monotonic() - start
        assert msg.content[0].text
        s = fo.stats()
        assert s[a.account]["failovers"] == 1
        assert s[b.account]["served"] == 1
        assert f"failover: endpoint {a.account} failed" in caplog.text
        assert took < 3.0  # the slow account is abandoned at the 1.5 s timeout; a 429's retry-after is not waited
        key = fo._endpoints[0].runtime.contract.api_key
        assert key not in caplog.text


def test_breaker_opens_on_a_down_account(sandbox, stacks):
    a, b = stacks
    sandbox.set_fault(a.account, "*", {"down": True})
    with failover(stacks) as fo:
        client = fo.client("sonnet")
        for _ in range(5):
            client.messages.create(model="sonnet", max_tokens=8, messages=HI)
        s = fo.stats()
    assert s[a.account]["failed"] == 3  # then the breaker is open: no more attempts on a
    assert s[a.account]["breaker"] == "open"
    assert s[b.account]["served"] == 5


def test_async_and_streaming(sandbox, stacks):
    a, b = stacks
    fo = failover(stacks)
    sandbox.set_fault(a.account, "*", {"status": 503})

    async def go() -> str:
        client = fo.async_client("opus")
        msg = await client.messages.create(model="opus", max_tokens=8, messages=HI)
        assert msg.model == MODELS["opus"]
        text = ""
        async with client.messages.stream(model="opus", max_tokens=16, messages=HI) as stream:
            async for chunk in stream.text_stream:
                text += chunk
        await fo.aclose()
        return text

    assert asyncio.run(go())
    with fo.client("haiku").messages.stream(model="haiku", max_tokens=16, messages=HI) as stream:
        assert stream.get_final_message().content
    fo.close()
    s = fo.stats()
    assert s[b.account]["served"] == 3
    assert s[a.account]["failovers"] == 3
    assert served_by(sandbox, a)[-3:] == [503, 503, 503]


def test_key_rotation_on_the_preferred_account(sandbox, stacks):
    a, _b = stacks
    fo = failover(stacks)
    with fo:
        client = fo.client("sonnet")
        client.messages.create(model="sonnet", max_tokens=8, messages=HI)
        rotate_key(a)  # a 401 on a: the runtime re-reads a's key and retries on a, no failover
        time.sleep(2.1)  # the re-read rate limit of a key holder
        client.messages.create(model="sonnet", max_tokens=8, messages=HI)
        s = fo.stats()
    assert s[a.account]["served"] == 2
    assert fo.failovers == 0
    assert fo._endpoints[0].runtime.key_rereads == 1


def test_entra_auth(sandbox, stacks):
    a, b = stacks
    rts = [runtime_for(a, auth="entra"), runtime_for(b, auth="entra")]
    for s in stacks:
        grant_caller(s, sandbox.connection["principal_id"])
    sandbox.set_fault(a.account, "*", {"down": True})
    with FailoverRuntime(rts, timeout=5) as fo:
        msg = fo.client("sonnet").messages.create(model="sonnet", max_tokens=8, messages=HI)
        assert msg.content
        assert fo.stats()[b.account]["served"] == 1
