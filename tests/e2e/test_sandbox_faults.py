"""Fault injection on the Foundry endpoint."""

from __future__ import annotations

import time

import pytest

from claude_foundry_sandbox import FaultSpec

pytestmark = pytest.mark.e2e

anthropic = pytest.importorskip("anthropic")

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def client(cs_client, claude_account, ssl_context):
    key = cs_client.accounts.list_keys(claude_account["resource_group"], claude_account["account"]).key1
    http = anthropic.DefaultHttpxClient(verify=ssl_context)
    yield anthropic.AnthropicFoundry(api_key=key, base_url=claude_account["base_url"], http_client=http,
                                     max_retries=0)
    http.close()


@pytest.fixture(autouse=True)
def _clean(sandbox):
    sandbox.clear_faults()
    yield
    sandbox.clear_faults()


def _call(client, deployment):
    return client.messages.create(model=deployment, max_tokens=8, messages=MESSAGES)


def test_429_for_n_calls_then_success(sandbox, client, claude_account):
    sandbox.set_fault(claude_account["account"], claude_account["deployment"],
                      FaultSpec(status=429, retry_after=1, count=2))
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError) as info:
            _call(client, claude_account["deployment"])
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.body["error"]["type"] == "rate_limit_error"
    assert _call(client, claude_account["deployment"]).content


def test_sdk_retries_honour_retry_after(sandbox, client, claude_account):
    sandbox.set_fault(claude_account["account"], "*", FaultSpec(status=503, retry_after=0.2, count=1))
    start = time.monotonic()
    msg = client.with_options(max_retries=2).messages.create(model=claude_account["deployment"], max_tokens=8,
                                                             messages=MESSAGES)
    assert msg.content
    assert time.monotonic() - start >= 0.2


def test_fraction(sandbox, client, claude_account):
    sandbox.set_fault(claude_account["subdomain"], claude_account["deployment"],
                      FaultSpec(status=500, fraction=0.5))
    outcomes = []
    for _ in range(40):
        try:
            _call(client, claude_account["deployment"])
            outcomes.append(True)
        except anthropic.InternalServerError:
            outcomes.append(False)
    assert 5 <= outcomes.count(False) <= 35


def test_latency(sandbox, client, claude_account):
    start = time.monotonic()
    _call(client, claude_account["deployment"])
    baseline = time.monotonic() - start
    sandbox.set_fault(claude_account["account"], claude_account["deployment"], FaultSpec(latency=0.5, count=1))
    start = time.monotonic()
    _call(client, claude_account["deployment"])
    assert time.monotonic() - start >= 0.5 > baseline


def test_malformed_body(sandbox, client, claude_account):
    sandbox.set_fault(claude_account["account"], claude_account["deployment"], FaultSpec(malformed=True, count=1))
    with pytest.raises((anthropic.APIResponseValidationError, ValueError)):
        _call(client, claude_account["deployment"])


def test_hang_until_client_timeout(sandbox, client, claude_account):
    sandbox.set_fault(claude_account["account"], claude_account["deployment"], FaultSpec(hang=5, count=1))
    with pytest.raises(anthropic.APITimeoutError):
        client.with_options(timeout=0.3).messages.create(model=claude_account["deployment"], max_tokens=8,
                                                         messages=MESSAGES)


def test_admin_endpoint(sandbox, client, claude_account, ssl_context):
    import httpx

    admin, headers = sandbox.connection["admin_url"], sandbox.admin_headers
    r = httpx.post(f"{admin}/faults", json={"account": claude_account["account"], "deployment": "*",
                                            "status": 403, "count": 1}, headers=headers, verify=ssl_context)
    assert r.status_code == 201
    with pytest.raises(anthropic.PermissionDeniedError):
        _call(client, claude_account["deployment"])
    assert _call(client, claude_account["deployment"]).content
    assert httpx.post(f"{admin}/faults", json={"account": "x", "status": 200}, headers=headers,
                      verify=ssl_context).status_code == 400
    state = httpx.get(f"{admin}/state", headers=headers, verify=ssl_context).json()
    assert state["subscription_id"] == sandbox.connection["subscription_id"]
    assert sandbox.connection["client_secret"] not in str(state)


def test_a_region_pattern_hits_every_account_in_that_region_only() -> None:
    from claude_foundry_sandbox.faults import FaultBook, FaultSpec, fault_names

    book = FaultBook()
    book.set("region:swedencentral", "*", FaultSpec(status=503))
    sweden = {"name": "acct-sc", "location": "swedencentral", "properties": {"customSubDomainName": "acct-sc"}}
    east = {"name": "acct", "location": "eastus2", "properties": {"customSubDomainName": "acct"}}
    assert fault_names(sweden) == ("acct-sc", "acct-sc", "region:swedencentral")
    assert book.draw(fault_names(sweden), "deep").status == 503
    assert book.draw(fault_names(east), "deep") is None
    assert book.draw(fault_names(None, "unknown"), "deep") is None
