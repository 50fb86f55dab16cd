"""The SSE event sequence of a streamed message, as the API sends it.

``message_start`` (the message with empty content, ``stop_reason: null`` and the input
usage; ``output_tokens`` is provisional), a ``ping``, then per content block
``content_block_start`` / ``content_block_delta``... / ``content_block_stop`` (text as
``text_delta``, tool input as ``input_json_delta`` fragments, thinking as
``thinking_delta`` plus a ``signature_delta``), then ``message_delta`` with the stop
reason and the *cumulative* usage, and ``message_stop``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

CHUNK_CHARS = 24


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or []


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def events(message: dict[str, Any], chunk_chars: int = CHUNK_CHARS
           ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (event name, data) pairs for a complete message."""
    usage = message["usage"]
    start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": start_usage}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            for part in _chunks(block["text"], chunk_chars):
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "text_delta", "text": part}}
        elif kind == "tool_use":
            yield "content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"],
                                  "input": {}}}
            raw = json.dumps(block["input"], separators=(",", ":"))
            for part in ["", *_chunks(raw, chunk_chars)]:
                yield "content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": part}}
        elif kind == "thinking":
            yield "content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
            for part in _chunks(block["thinking"], chunk_chars):
                yield "content_block_delta", {
                    "type": "content_block_delta", "index": index,
                    "delta": {"type": "thinking_delta", "thinking": part}}
            yield "content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "signature_delta", "signature": block["signature"]}}
        else:
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": block}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    delta_usage = {
        "input_tokens": usage["input_tokens"],
        "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "output_tokens": usage["output_tokens"],
    }
    if "server_tool_use" in usage:
        # Running totals too: server tools run while the message is generated, so the
        # API's final count arrives here (the SDK's MessageDeltaUsage.server_tool_use).
        delta_usage["server_tool_use"] = usage["server_tool_use"]
    yield "message_delta", {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"],
                  "stop_sequence": message["stop_sequence"]},
        "usage": delta_usage,
    }
    yield "message_stop", {"type": "message_stop"}
