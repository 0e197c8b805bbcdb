"""The sandbox's prompt cache on its own clock: a prefix expires after its TTL, a read refreshes it, caches are
kept per deployment, and the store stays bounded."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

caching = pytest.importorskip("claude_foundry_sandbox.caching")

DOC = "x" * 20_000  # 5,000 tokens at four characters a token


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _body(ttl: str | None = None, doc: str = DOC) -> dict:
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {"system": [{"type": "text", "text": doc, "cache_control": control}],
            "messages": [{"role": "user", "content": "hi"}]}


def test_a_prefix_expires_after_its_ttl_and_a_read_refreshes_it():
    clock = Clock()
    cache = caching.PromptCache(clock=clock)
    written = cache.use("acct/dep", _body(), "claude-sonnet-4-6", 6000)
    assert written.written_5m == 5000
    assert written.read == 0
    clock.now += 299
    assert cache.use("acct/dep", _body(), "claude-sonnet-4-6", 6000).read == 5000  # refreshed to +300 from here
    clock.now += 299
    assert cache.use("acct/dep", _body(), "claude-sonnet-4-6", 6000).read == 5000
    clock.now += 301
    again = cache.use("acct/dep", _body(), "claude-sonnet-4-6", 6000)
    assert again.read == 0
    assert again.written_5m == 5000


def test_one_hour_entries_outlive_five_minutes():
    clock = Clock()
    cache = caching.PromptCache(clock=clock)
    assert cache.use("a/d", _body("1h"), "claude-sonnet-4-6", 6000).written_1h == 5000
    clock.now += 3000
    assert cache.use("a/d", _body("1h"), "claude-sonnet-4-6", 6000).read == 5000


def test_caches_are_per_deployment_and_the_minimum_is_per_model():
    cache = caching.PromptCache(clock=Clock())
    cache.use("a/one", _body(), "claude-sonnet-4-6", 6000)
    assert cache.use("a/two", _body(), "claude-sonnet-4-6", 6000).read == 0
    short = "y" * 8000  # 2,000 tokens: enough for Sonnet 4.6 (1,024), not for Haiku 4.5 (4,096)
    assert cache.use("a/s", _body(doc=short), "claude-sonnet-4-6", 3000).written == 2000
    assert cache.use("a/h", _body(doc=short), "claude-haiku-4-5", 3000).written == 0
    assert caching.min_cacheable_tokens("claude-opus-5-5") == 512
    assert caching.min_cacheable_tokens("claude-opus-4-6") == 4096
    assert caching.min_cacheable_tokens("claude-unknown-9") == 1024


def test_the_store_is_bounded():
    cache = caching.PromptCache(clock=Clock(), max_entries=3)
    written = [cache.use("a/d", _body(doc=DOC + str(i)), "claude-sonnet-4-6", 6000).written for i in range(10)]
    assert len(cache) == 3
    assert cache.use("a/d", _body(doc=DOC + "9"), "claude-sonnet-4-6", 6000).read == written[9] > 0
    assert cache.use("a/d", _body(doc=DOC + "0"), "claude-sonnet-4-6", 6000).read == 0
