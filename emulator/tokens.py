"""Deterministic token estimate used everywhere in the emulator.

The real tokenizer is not public, and tests must be able to predict exact numbers, so
the emulator uses one simple, documented rule:

    tokens(text) = ceil(len(text.encode("utf-8")) / 4)

applied to the *canonical text* of each prompt block, with a minimum of 1 token for
any block (the real API never counts a block as free). No hidden per-message or
per-request overheads are added: the input tokens of a request are exactly the sum of
its block estimates.

Canonical text per block (``cache_control`` is never part of it):

- ``text`` block, system text block, string ``content``: the text itself.
- tool definition: compact JSON (sorted keys, ``,``/``:`` separators) of the
  definition without ``cache_control``.
- ``tool_use``: ``name`` followed by the compact JSON of ``input``.
- ``tool_result``: its string content, or the sum over its content blocks.
- ``thinking``: the thinking text; ``redacted_thinking``: its ``data``.
- ``image``: a fixed ``IMAGE_TOKENS`` (images are not decoded).
- ``document``: the text of a ``text`` source, else a fixed ``DOCUMENT_TOKENS``.
- anything else: compact JSON of the block without ``cache_control``.

Output tokens use the same rule on what the emulator generates (text, the tool name
plus compact JSON input, thinking text).
"""

from __future__ import annotations

import json
import math
from typing import Any

IMAGE_TOKENS = 1600
"""Fixed estimate for one image (about a 1.2-megapixel picture on the real API)."""

DOCUMENT_TOKENS = 1600
"""Fixed estimate for a binary (PDF / URL / file) document source."""


def count_text(text: str) -> int:
    """Tokens of a piece of text: ceil(utf-8 bytes / 4). Empty text is 0."""
    return math.ceil(len(text.encode("utf-8")) / 4)


def compact_json(value: Any) -> str:
    """The canonical JSON form used for hashing and counting (stable across clients)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def without_cache_control(block: dict[str, Any]) -> dict[str, Any]:
    """A copy of a block minus ``cache_control`` (it never changes the prefix)."""
    return {k: v for k, v in block.items() if k != "cache_control"}


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return count_text(content)
    if isinstance(content, list):
        return sum(block_tokens(b) for b in content if isinstance(b, dict))
    return 0


def raw_block_tokens(block: dict[str, Any]) -> int:
    """Estimate of one message/system block before the 1-token floor."""
    kind = block.get("type")
    if kind == "text":
        return count_text(str(block.get("text", "")))
    if kind == "image":
        return IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return count_text(str(source.get("data", "")))
        if source.get("type") == "content":
            return _content_tokens(source.get("content"))
        return DOCUMENT_TOKENS
    if kind == "tool_use" or kind == "server_tool_use":
        return count_text(str(block.get("name", "")) + compact_json(block.get("input", {})))
    if kind == "tool_result":
        return _content_tokens(block.get("content", ""))
    if kind == "thinking":
        return count_text(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return count_text(str(block.get("data", "")))
    return count_text(compact_json(without_cache_control(block)))


def block_tokens(block: dict[str, Any]) -> int:
    """Tokens of one prompt block (message content block or system text block)."""
    return max(1, raw_block_tokens(block))


def tool_tokens(tool: dict[str, Any]) -> int:
    """Tokens of one tool definition: its compact JSON without ``cache_control``."""
    return max(1, count_text(compact_json(without_cache_control(tool))))


def output_tokens(content: list[dict[str, Any]]) -> int:
    """Output tokens of generated content blocks (no floor: empty output is 0)."""
    total = 0
    for block in content:
        kind = block.get("type")
        if kind == "text":
            total += count_text(block.get("text", ""))
        elif kind == "tool_use":
            total += count_text(block["name"] + compact_json(block.get("input", {})))
        elif kind == "thinking":
            total += count_text(block.get("thinking", ""))
    return total
