"""Prompt caching as the Messages API reports it in ``usage``.

A request marks cache breakpoints with ``cache_control: {"type": "ephemeral", "ttl": "5m" | "1h"}`` on a tool, a
system block or a message content block, or once at the top level (automatic caching: the breakpoint goes on the
last cacheable block). The prefix of a breakpoint is everything up to and including its block, in the API's order
``tools`` → ``system`` → ``messages``. The first request with a prefix long enough for the model writes it
(``cache_creation_input_tokens`` and ``cache_creation.ephemeral_{5m,1h}_input_tokens``); the same prefix again
within its TTL reads it (``cache_read_input_tokens``), which refreshes the TTL; ``input_tokens`` is what is left
after the last breakpoint. Shapes: anthropic-sdk-python ``types/usage.py`` (``Usage``, ``CacheCreation``) and
Anthropic's prompt-caching guide (platform.claude.com/docs/en/build-with-claude/prompt-caching).

Caches are kept per Foundry account and deployment, in memory, bounded (:data:`MAX_ENTRIES`), and end with the
process. Token counts are the sandbox's estimate (four characters a token), consistent with ``count_tokens``.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
DEFAULT_TTL = "5m"
MAX_BREAKPOINTS = 4
MAX_ENTRIES = 10_000

#: Minimum cacheable prompt length (tokens) per model, from Anthropic's prompt-caching guide as quoted in 2026 by
#: LiteLLM's prompt-caching docs (2026-10-07) and news.creeta.com (512 for Opus 5 / Fable 5 / Mythos 5; 2,048 for
#: Opus 4.7; 4,096 for Opus 4.6, Opus 4.5, Haiku 4.5; 1,024 otherwise). A shorter prefix is not cached, silently,
#: as the API does. Matched by the longest model-id prefix.
MIN_CACHEABLE_TOKENS = {
    "claude-opus-5": 512, "claude-fable-5": 512, "claude-mythos-5": 512,
    "claude-opus-4-7": 2048,
    "claude-opus-4-6": 4096, "claude-opus-4-5": 4096, "claude-haiku-4-5": 4096,
}
DEFAULT_MIN_CACHEABLE_TOKENS = 1024


class CacheControlProblem(Exception):
    """A 400 ``invalid_request_error`` about ``cache_control``, with the API's wording."""


def min_cacheable_tokens(model: str) -> int:
    best = ""
    for prefix in MIN_CACHEABLE_TOKENS:
        if model.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return MIN_CACHEABLE_TOKENS[best] if best else DEFAULT_MIN_CACHEABLE_TOKENS


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _block_text(block: Any) -> str:
    """The text a block contributes to the token estimate (as ``foundry.count_input_tokens`` counts it)."""
    if isinstance(block, str):
        return block
    if isinstance(block, dict) and block.get("type") == "text":
        return str(block.get("text", ""))
    return ""


@dataclass(frozen=True)
class Breakpoint:
    index: int          # position in the flattened prompt (tools, system, messages)
    ttl: str


def _ttl_of(where: str, control: Any) -> str:
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        raise CacheControlProblem(f"{where}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", DEFAULT_TTL)
    if ttl not in TTL_SECONDS:
        raise CacheControlProblem(f"{where}.ttl: Input should be '5m' or '1h'")
    return str(ttl)


def flatten(body: dict[str, Any]) -> tuple[list[Any], list[Breakpoint]]:
    """The prompt's blocks in cache order and the breakpoints among them; :class:`CacheControlProblem` for a bad
    ``cache_control`` or more than :data:`MAX_BREAKPOINTS`."""
    blocks: list[Any] = []
    points: list[Breakpoint] = []

    def add(block: Any, where: str) -> None:
        blocks.append(block)
        if isinstance(block, dict) and block.get("cache_control") is not None:
            points.append(Breakpoint(len(blocks) - 1, _ttl_of(f"{where}.cache_control", block["cache_control"])))

    for i, tool in enumerate(body.get("tools") or ()):
        add(tool, f"tools.{i}")
    system = body.get("system")
    if isinstance(system, list):
        for i, block in enumerate(system):
            add(block, f"system.{i}")
    elif isinstance(system, str) and system:
        add(system, "system")
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for j, block in enumerate(content):
                add(block, f"messages.{i}.content.{j}")
        elif content is not None:
            add(content, f"messages.{i}.content")
    top = body.get("cache_control")
    if top is not None:
        ttl = _ttl_of("cache_control", top)
        if blocks and not any(p.index == len(blocks) - 1 for p in points):
            points.append(Breakpoint(len(blocks) - 1, ttl))
    if len(points) > MAX_BREAKPOINTS:
        raise CacheControlProblem(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                                  f"Found {len(points)}.")
    return blocks, points


def check(body: dict[str, Any]) -> None:
    flatten(body)


def _strip(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block


def _piece(block: Any) -> str:
    if isinstance(block, dict) and "input_schema" in block:  # a tool definition
        return json.dumps(_strip(block), sort_keys=True)
    return _block_text(block)


def _prefix_tokens(blocks: list[Any], upto: int) -> int:
    return estimate_tokens(" ".join(_piece(b) for b in blocks[: upto + 1]))


def _prefix_key(scope: str, blocks: list[Any], upto: int) -> str:
    data = json.dumps([scope, [_strip(b) for b in blocks[: upto + 1]]], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


@dataclass
class CacheUsage:
    read: int = 0
    written_5m: int = 0
    written_1h: int = 0

    @property
    def written(self) -> int:
        return self.written_5m + self.written_1h


@dataclass
class PromptCache:
    """Prefix hashes with their expiry, per account and deployment (the ``scope`` of :meth:`use`)."""

    clock: Callable[[], float] = time.monotonic
    max_entries: int = MAX_ENTRIES
    _entries: OrderedDict[str, tuple[float, str]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def use(self, scope: str, body: dict[str, Any], model: str, total_tokens: int) -> CacheUsage:
        """Read the longest cached prefix, write the longer ones: what ``usage`` reports for this request."""
        blocks, points = flatten(body)
        usage = CacheUsage()
        if not points:
            return usage
        minimum = min_cacheable_tokens(model)
        now = self.clock()
        with self._lock:
            for key, (expires, _) in list(self._entries.items()):
                if expires <= now:
                    del self._entries[key]
            sized = [(p, min(_prefix_tokens(blocks, p.index), total_tokens), _prefix_key(scope, blocks, p.index))
                     for p in points]
            hit = -1
            for n, (_, _, key) in enumerate(sized):
                if key in self._entries:
                    hit = n
            covered = 0
            if hit >= 0:
                point, tokens, key = sized[hit]
                usage.read = tokens
                covered = tokens
                self._entries[key] = (now + TTL_SECONDS[point.ttl], point.ttl)  # a read refreshes the TTL
                self._entries.move_to_end(key)
            for point, tokens, key in sized[hit + 1:]:
                if tokens < minimum or tokens <= covered:
                    continue
                if point.ttl == "1h":
                    usage.written_1h += tokens - covered
                else:
                    usage.written_5m += tokens - covered
                covered = tokens
                self._entries[key] = (now + TTL_SECONDS[point.ttl], point.ttl)
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return usage

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def usage_fields(total_tokens: int, cache: CacheUsage) -> dict[str, Any]:
    """The ``usage`` input fields of a response: ``input_tokens`` is what the cache neither read nor wrote."""
    return {
        "input_tokens": max(0, total_tokens - cache.read - cache.written),
        "cache_creation_input_tokens": cache.written,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache.written_5m,
                           "ephemeral_1h_input_tokens": cache.written_1h},
    }
