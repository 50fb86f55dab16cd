"""Reading responses: usage buckets, ids, stop reasons, cache diagnostics, stream events.

Everything works on SDK models and on decoded JSON alike (``fields.get``) and
validates types: a field that is missing or of another type sets no attribute, it never
raises (the caller's guard is the second line of defence).

Token buckets follow the GenAI semantic conventions (docs/facts.md §3): ``gen_ai.usage.
input_tokens`` INCLUDES cache reads and writes, which are also given on their own, so a
consumer that subtracts them gets Anthropic's uncached ``input_tokens`` back.
"""

from __future__ import annotations

import json
from typing import Any

from . import attributes as at
from .attributes import sc
from .fields import get
from .guard import swallowed
from .price_factors import usage_factors


def count(value: Any) -> int | None:
    """A token count, or None for anything that is not a non-negative int (bools too)."""
    return value if type(value) is int and value >= 0 else None


_NOTHING: frozenset[str] = frozenset()


def usage_attributes(usage: Any, skip: frozenset[str] = _NOTHING) -> dict[str, Any]:
    """Usage attributes; a group whose every key is in ``skip`` is not even read."""
    out: dict[str, Any] = {}
    if usage is None:
        return out
    uncached = count(get(usage, "input_tokens"))
    read = count(get(usage, "cache_read_input_tokens"))
    write = count(get(usage, "cache_creation_input_tokens"))
    if uncached is not None:
        out[sc.GEN_AI_USAGE_INPUT_TOKENS] = uncached + (read or 0) + (write or 0)
    if read is not None:
        out[sc.GEN_AI_USAGE_CACHE_READ] = read
    if write is not None:
        out[sc.GEN_AI_USAGE_CACHE_CREATION] = write
        out[sc.ANTHROPIC_USAGE_CACHE_WRITE] = write
    split = None
    if sc.ANTHROPIC_USAGE_WRITE_5M not in skip or sc.ANTHROPIC_USAGE_WRITE_1H not in skip:
        split = get(usage, "cache_creation")
    if split is not None:
        w5 = count(get(split, "ephemeral_5m_input_tokens"))
        w1 = count(get(split, "ephemeral_1h_input_tokens"))
        if w5 is not None:
            out[sc.ANTHROPIC_USAGE_WRITE_5M] = w5
        if w1 is not None:
            out[sc.ANTHROPIC_USAGE_WRITE_1H] = w1
    if sc.GEN_AI_USAGE_OUTPUT_TOKENS not in skip:
        output = count(get(usage, "output_tokens"))
        if output is not None:
            out[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    if at.GEN_AI_USAGE_REASONING_OUTPUT not in skip:
        thinking = count(get(get(usage, "output_tokens_details"), "thinking_tokens"))
        if thinking is not None:
            out[at.GEN_AI_USAGE_REASONING_OUTPUT] = thinking
    out.update(usage_factors(usage))  # service tier, server tool uses
    return out


def diagnostics_attributes(message: Any) -> dict[str, Any]:
    """``diagnostics.cache_miss_reason`` of a response (docs/facts.md §1), when it has one."""
    reason = get(get(message, "diagnostics"), "cache_miss_reason")
    if reason is None:
        return {}
    kind = get(reason, "type")
    out: dict[str, Any] = {}
    if isinstance(kind, str):
        out[sc.CACHE_MISS_REASON] = kind
    missed = count(get(reason, "cache_missed_input_tokens"))
    if missed is not None:
        out[sc.CACHE_MISSED_INPUT_TOKENS] = missed
    return out


def message_attributes(message: Any, skip: frozenset[str] = _NOTHING) -> dict[str, Any]:
    """Span attributes of a complete Message (model or decoded JSON).

    ``skip``: keys the caller will drop (the SDK sets them itself); those that can be
    are not even read. Keys in ``skip`` may still be in the result.
    """
    out = usage_attributes(get(message, "usage"), skip)
    if sc.GEN_AI_RESPONSE_ID not in skip:
        response_id = get(message, "id")
        if isinstance(response_id, str):
            out[sc.GEN_AI_RESPONSE_ID] = response_id
    if sc.GEN_AI_RESPONSE_MODEL not in skip:
        model = get(message, "model")
        if isinstance(model, str):
            out[sc.GEN_AI_RESPONSE_MODEL] = model
    stop = get(message, "stop_reason")
    if isinstance(stop, str):
        out[sc.GEN_AI_RESPONSE_FINISH_REASONS] = (stop,)
        out[at.ANTHROPIC_STOP_REASON] = stop
    out.update(diagnostics_attributes(message))
    return out


class StreamAccumulator:
    """Rebuilds what matters of a streamed Message from its events.

    ``message_delta`` usage is cumulative (docs/facts.md §1): fields overwrite, never add.
    Content is rebuilt only as far as the response fingerprint needs it (text, tool
    input JSON, thinking), which is O(output), not O(prompt).
    """

    def __init__(self) -> None:
        self.message: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self.json_parts: dict[int, list[str]] = {}
        self.started = False
        self.delta_seen = False
        self.stopped = False

    def feed(self, event: Any) -> str | None:
        """Take one event; returns its type when it changed the span attributes."""
        kind = get(event, "type")
        if kind == "content_block_delta":
            self._delta(get(event, "index"), get(event, "delta"))
            return None
        if kind == "message_start":
            message = get(event, "message")
            self.started = True
            for name in ("id", "model", "stop_reason", "diagnostics"):
                value = get(message, name)
                if value is not None:
                    self.message[name] = value
            self._usage(get(message, "usage"))
            return kind
        if kind == "content_block_start":
            index = get(event, "index")
            block = get(event, "content_block")
            if isinstance(index, int) and block is not None:
                self.blocks[index] = _plain_block(block)
            return None
        if kind == "message_delta":
            self.delta_seen = True
            stop = get(get(event, "delta"), "stop_reason")
            if stop is not None:
                self.message["stop_reason"] = stop
            self._usage(get(event, "usage"))
            diagnostics = get(event, "diagnostics")
            if diagnostics is not None:
                self.message["diagnostics"] = diagnostics
            return kind
        if kind == "message_stop":
            self.stopped = True
        return None

    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        fields = usage.items() if isinstance(usage, dict) else _fields(usage)
        for name, value in fields:
            if value is not None:
                self.usage[name] = value

    def _delta(self, index: Any, delta: Any) -> None:
        block = self.blocks.get(index) if isinstance(index, int) else None
        if block is None:
            return
        kind = get(delta, "type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + (get(delta, "text") or "")
        elif kind == "input_json_delta":
            self.json_parts.setdefault(index, []).append(get(delta, "partial_json") or "")
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + (get(delta, "thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = get(delta, "signature")

    def snapshot(self) -> dict[str, Any]:
        """The Message as far as the events went, as a plain dict."""
        message = dict(self.message)
        message["usage"] = self.usage
        return message

    def content(self) -> list[dict[str, Any]]:
        out = []
        for index in sorted(self.blocks):
            block = self.blocks[index]
            parts = self.json_parts.get(index)
            if parts is not None:
                try:
                    block["input"] = json.loads("".join(parts) or "{}")
                except ValueError:
                    block["input"] = "".join(parts)
            out.append(block)
        return out


def _fields(model: Any) -> list[tuple[str, Any]]:
    dump = getattr(model, "__dict__", None)
    return list(dump.items()) if isinstance(dump, dict) else []


def _plain_block(block: Any) -> dict[str, Any]:
    if isinstance(block, dict):
        return dict(block)
    data = getattr(block, "__dict__", None)
    return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else {}


def decode_json(response: Any) -> Any:
    """The decoded JSON body of a read ``httpx`` response (a raw response's), or None."""
    try:
        if not getattr(response, "is_closed", False):
            return None
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type:
            return None
        return json.loads(response.content)
    except Exception:
        swallowed("decode a raw response")
        return None
