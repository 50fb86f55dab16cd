"""Turn a Messages request into the ordered list of prefix blocks the cache works on.

The cacheable prefix is ``tools`` → ``system`` → ``messages`` (docs/facts.md §1). Each block
gets its token estimate (``tokens.py``), a hash of its own content, and a cumulative
*key*: a hash of everything up to and including it. The key also mixes in the request
parameters that invalidate a level and every level after it (docs/facts.md §1 table):

- system level: ``speed``, the web-search toggle, the citations toggle;
- messages level: ``tool_choice``, the number of images, the ``thinking`` parameters.

So changing ``tool_choice`` changes the keys of every message block but not of the
tools or system blocks, exactly like the real cache. The model and the workspace are
not in the key: the cache keeps one store per (workspace, model) instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid
from .tokens import block_tokens, compact_json, tool_tokens, without_cache_control

TTL_SECONDS = {"5m": 300, "1h": 3600}
"""The two TTLs the API accepts for ``cache_control`` (docs/facts.md §1)."""


@dataclass(frozen=True)
class CacheControl:
    """A parsed ``{"type": "ephemeral", "ttl": ...}`` marker."""

    ttl: str = "5m"

    @property
    def seconds(self) -> int:
        return TTL_SECONDS[self.ttl]


@dataclass(frozen=True)
class Block:
    """One block of the prefix, in prefix order."""

    level: str  # "tools" | "system" | "messages"
    path: str  # where it sits in the request, e.g. "messages[2].content[0]"
    tokens: int
    content_hash: str
    key: str  # cumulative hash of the prefix through this block
    cache_control: CacheControl | None = None
    automatic: bool = False  # breakpoint placed by top-level cache_control


@dataclass
class Prefix:
    """The request's prefix: blocks plus the per-level parameter fingerprints."""

    blocks: list[Block]
    level_params: dict[str, str] = field(default_factory=dict)
    message_hashes: list[str] = field(default_factory=list)
    message_tokens: list[int] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return sum(b.tokens for b in self.blocks)

    def tokens_through(self, index: int) -> int:
        """Tokens of blocks[0..index] inclusive (0 for index < 0)."""
        return sum(b.tokens for b in self.blocks[: index + 1])

    def level_tokens(self, level: str) -> int:
        return sum(b.tokens for b in self.blocks if b.level == level)

    def level_hash(self, level: str) -> str:
        return _hash(*(b.content_hash for b in self.blocks if b.level == level))

    def level_block_hashes(self, level: str) -> list[tuple[str, int]]:
        return [(b.content_hash, b.tokens) for b in self.blocks if b.level == level]


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def parse_cache_control(value: Any, where: str) -> CacheControl | None:
    """Validate a ``cache_control`` value; ``None`` when absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") != "ephemeral":
        raise invalid(f"{where}.cache_control: Input tag does not match the expected 'ephemeral'")
    ttl = value.get("ttl", "5m")
    if ttl is None:
        ttl = "5m"
    if ttl not in TTL_SECONDS:
        raise invalid(f"{where}.cache_control.ttl: Input should be '5m' or '1h'")
    return CacheControl(ttl=ttl)


def normalize_content(content: Any) -> list[dict[str, Any]]:
    """String content is one text block, as on the real API."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def count_images(messages: list[dict[str, Any]]) -> int:
    """Images anywhere in the messages, including inside tool results."""
    n = 0
    for message in messages:
        for block in normalize_content(message.get("content", [])):
            if block.get("type") == "image":
                n += 1
            elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
                n += sum(1 for b in block["content"] if b.get("type") == "image")
    return n


def _citations_enabled(messages: list[dict[str, Any]]) -> bool:
    for message in messages:
        for block in normalize_content(message.get("content", [])):
            if block.get("type") == "document" and (block.get("citations") or {}).get("enabled"):
                return True
    return False


def system_level_params(body: dict[str, Any]) -> dict[str, Any]:
    """Parameters whose change invalidates the system and messages caches (docs/facts.md §1)."""
    tools = body.get("tools") or []
    return {
        "speed": body.get("speed") or "standard",
        "web_search": any(str(t.get("type", "")).startswith("web_search") for t in tools),
        "citations": _citations_enabled(body.get("messages") or []),
    }


def messages_level_params(body: dict[str, Any]) -> dict[str, Any]:
    """Parameters whose change invalidates only the messages cache (docs/facts.md §1)."""
    return {
        "tool_choice": body.get("tool_choice") or {"type": "auto"},
        "thinking": body.get("thinking") or {"type": "disabled"},
        "images": count_images(body.get("messages") or []),
    }


def build_prefix(body: dict[str, Any]) -> Prefix:
    """Flatten a (validated) request body into prefix blocks with cumulative keys."""
    blocks: list[Block] = []
    state = _hash("prefix-v1")

    def add(level: str, path: str, tokens: int, content: str, raw_cc: Any) -> None:
        nonlocal state
        content_hash = _hash(level, content)
        state = _hash(state, content_hash)
        cc = parse_cache_control(raw_cc, path)
        blocks.append(Block(level, path, tokens, content_hash, state, cc))

    for i, tool in enumerate(body.get("tools") or []):
        add("tools", f"tools[{i}]", tool_tokens(tool), compact_json(without_cache_control(tool)),
            tool.get("cache_control"))

    system_params = compact_json(system_level_params(body))
    state = _hash(state, "system", system_params)
    system = body.get("system")
    if system:
        for i, block in enumerate(normalize_content(system)):
            add("system", f"system[{i}]", block_tokens(block),
                compact_json(without_cache_control(block)), block.get("cache_control"))

    message_params = compact_json(messages_level_params(body))
    state = _hash(state, "messages", message_params)
    message_hashes: list[str] = []
    message_tokens: list[int] = []
    for m, message in enumerate(body.get("messages") or []):
        role = str(message.get("role"))
        parts = [role]
        tokens = 0
        for j, block in enumerate(normalize_content(message.get("content", []))):
            # The first block of a message carries the role, so moving a block across a
            # message boundary (or changing a role) changes the prefix.
            content = compact_json(without_cache_control(block))
            if j == 0:
                content = f"<{role}>" + content
            n = block_tokens(block)
            add("messages", f"messages[{m}].content[{j}]", n, content, block.get("cache_control"))
            parts.append(blocks[-1].content_hash)
            tokens += n
        message_hashes.append(_hash(*parts))
        message_tokens.append(tokens)

    auto = parse_cache_control(body.get("cache_control"), "body")
    if auto is not None and blocks:
        # Automatic caching: the breakpoint goes on the last block of the prompt. If that
        # block already carries an explicit marker, the explicit one stands (one slot).
        last = blocks[-1]
        if last.cache_control is None:
            blocks[-1] = Block(last.level, last.path, last.tokens, last.content_hash, last.key,
                               auto, automatic=True)

    return Prefix(
        blocks=blocks,
        level_params={"system": system_params, "messages": message_params},
        message_hashes=message_hashes,
        message_tokens=message_tokens,
    )
