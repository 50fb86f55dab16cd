"""Prefix fingerprints: hashes and estimated tokens of tools, system and message blocks.

The cacheable prefix is ``tools`` -> ``system`` -> ``messages`` (docs/facts.md §1). Flattened in
that order, every *block* (one tool definition, one system text block, one content
block of a message; string content counts as one text block) gets:

- a hash of its canonical content (``cache_control`` is never part of it, as on the
  API, so moving a breakpoint does not look like an edit),
- an estimated token count, with the emulator's documented rule
  (``emulator/tokens.py``: ``ceil(utf-8 bytes / 4)`` of the canonical text, at least 1,
  images and binary documents a fixed 1600) so estimates and emulated usage agree,
- its ``cache_control`` marker, if any (breakpoint position and TTL).

Canonical forms do not depend on whether a block is a dict or an SDK model, so the
assistant message an application appends from ``response.content`` hashes the same as
the response it came from.

Everything here is computed once per *new* object; :mod:`.threads` decides what is new.
Tools and system are bounded in size and compared by deep equality against a private
copy, so an in-place edit of a tool description is seen.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .fields import get, given

IMAGE_TOKENS = 1600  # emulator/tokens.py IMAGE_TOKENS
DOCUMENT_TOKENS = 1600  # emulator/tokens.py DOCUMENT_TOKENS
DEFAULT_TTL = "5m"  # docs/facts.md §1: the default TTL of an ephemeral breakpoint


_BLAKE2B_8 = hashlib.blake2b(digest_size=8)  # copied per digest: no keyword parsing


def digest(text: str) -> str:
    """``blake2b(text, digest_size=8).hexdigest()``."""
    h = _BLAKE2B_8.copy()
    h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def count_text(text: str) -> int:
    """ceil(utf-8 bytes / 4), the emulator's rule (``emulator/tokens.py``)."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
    return (size + 3) // 4


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json", exclude_none=True)
    if isinstance(value, (set, tuple, frozenset)):
        return list(value)
    return str(value)


# One encoder for the process: ``json.dumps`` with options builds a new one per call.
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=_jsonable).encode


def compact_json(value: Any) -> str:
    return _ENCODE(value)


def _plain(block: Any) -> dict[str, Any]:
    """A block as a dict without ``cache_control`` (and without None fields of models)."""
    if isinstance(block, dict):
        data = block
    else:
        dump = getattr(block, "model_dump", None)
        data = dump(mode="json", exclude_none=True) if dump is not None else {"value": str(block)}
    return {k: v for k, v in data.items() if k != "cache_control"}


def _text_of(content: Any) -> str:
    """Canonical text of a tool_result's content (string or blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "\x1f".join(canonical(b)[1] for b in content)
    return "" if content is None else compact_json(content)


def canonical(block: Any) -> tuple[str, str, int]:
    """(type, canonical text for the hash, estimated tokens) of one content block."""
    if isinstance(block, str):
        return "text", block, max(1, count_text(block))
    kind = get(block, "type") or ""
    if kind == "text":
        text = get(block, "text") or ""
        return kind, text, max(1, count_text(text))
    if kind in ("tool_use", "server_tool_use"):
        body = compact_json(get(block, "input"))
        name = get(block, "name") or ""
        return kind, f"{get(block, 'id')}\x1f{name}\x1f{body}", max(1, count_text(name + body))
    if kind == "tool_result":
        text = _text_of(get(block, "content"))
        key = f"{get(block, 'tool_use_id')}\x1f{bool(get(block, 'is_error'))}\x1f{text}"
        return kind, key, max(1, count_text(text))
    if kind == "thinking":
        text = get(block, "thinking") or ""
        return kind, f"{text}\x1f{get(block, 'signature')}", max(1, count_text(text))
    if kind == "redacted_thinking":
        data = get(block, "data") or ""
        return kind, data, max(1, count_text(data))
    if kind == "image":
        return kind, compact_json(get(block, "source")), IMAGE_TOKENS
    if kind == "document":
        source = get(block, "source")
        if get(source, "type") == "text":
            text = get(source, "data") or ""
            return kind, text, max(1, count_text(text))
        return kind, compact_json(_plain(block)), DOCUMENT_TOKENS
    text = compact_json(_plain(block))
    return kind, text, max(1, count_text(text))


def block_hash(kind: str, text: str) -> str:
    return digest(f"{kind}\x00{text}")


def mark_of(block: Any) -> str | None:
    """The TTL of a block's ``cache_control`` breakpoint, or None."""
    if isinstance(block, str):
        return None
    control = get(block, "cache_control")
    if not control:
        return None
    return get(control, "ttl") or DEFAULT_TTL


@dataclass(slots=True, frozen=True)
class Blocks:
    """Fingerprint of a run of blocks: one message, or the tools or system level."""

    hash: str
    block_hashes: tuple[str, ...]
    block_tokens: tuple[int, ...]
    tokens: int
    marks: tuple[tuple[int, str], ...]  # (block index within this run, ttl)


EMPTY = Blocks(digest(""), (), (), 0, ())


def block_fingerprint(block: Any) -> tuple[str, int]:
    """(hash, estimated tokens) of one content block."""
    kind, text, count = canonical(block)
    return block_hash(kind, text), count


def _blocks(items: list[Any] | tuple[Any, ...], head: str,
            fingerprint: Callable[[Any], tuple[str, int]] = block_fingerprint) -> Blocks:
    """The fingerprint of a run of blocks (or tools), ``head`` naming the run."""
    hashes: list[str] = []
    tokens: list[int] = []
    marks: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        item_hash, count = fingerprint(item)
        hashes.append(item_hash)
        tokens.append(count)
        ttl = mark_of(item)
        if ttl is not None:
            marks.append((index, ttl))
    return Blocks(digest(head + "\x00" + "\x00".join(hashes)), tuple(hashes), tuple(tokens),
                  sum(tokens), tuple(marks))


def message_blocks(message: Any) -> list[Any] | tuple[Any, ...]:
    content = get(message, "content")
    if isinstance(content, (list, tuple)):
        return content
    return [content if isinstance(content, str) else ("" if content is None else str(content))]


def message_fingerprint(message: Any) -> Blocks:
    """Fingerprint of one message: its role and its content blocks."""
    return _blocks(message_blocks(message), str(get(message, "role") or ""))


def message_marks(message: Any) -> tuple[tuple[int, str], ...]:
    """Only the breakpoints of a message: a cheap re-check of recent messages."""
    content = get(message, "content")
    if not isinstance(content, (list, tuple)):
        return ()
    out = []
    for index, block in enumerate(content):
        ttl = mark_of(block)
        if ttl is not None:
            out.append((index, ttl))
    return tuple(out)


def response_fingerprint(content: Any) -> Blocks:
    """The fingerprint of the assistant message that a response's content makes."""
    return _blocks(content if isinstance(content, (list, tuple)) else [], "assistant")


def tool_fingerprint(tool: Any) -> tuple[str, int]:
    text = compact_json(_plain(tool))
    return block_hash("tool", text), max(1, count_text(text))


class LevelCache:
    """Fingerprints of the tools or system level, recomputed only when the value changes.

    The few most recent values are kept as private deep copies and compared with ``==``
    (C-level, and identical leaves compare by identity), so a value that an application
    edits in place is still seen as changed. Bounded: tools and system do not grow with
    the conversation.
    """

    def __init__(self, compute: Callable[[Any], Blocks], size: int = 8) -> None:
        self._compute = compute
        self._size = size
        self._entries: OrderedDict[int, tuple[Any, Blocks]] = OrderedDict()
        self._strings: OrderedDict[str, Blocks] = OrderedDict()

    def get(self, value: Any) -> Blocks:
        if isinstance(value, str):
            found = self._strings.get(value)
            if found is None:
                found = self._compute([value])
                self._strings[value] = found
                if len(self._strings) > self._size:
                    self._strings.popitem(last=False)
            return found
        for key, (private, found) in self._entries.items():
            if private == value:
                self._entries.move_to_end(key)
                return found
        found = self._compute(value)
        try:
            private = copy.deepcopy(value)
        except Exception:
            private = object()  # uncopyable: never matches, recomputed next time
        self._entries[id(private)] = (private, found)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return found


def system_fingerprint(system: Any) -> Blocks:
    if isinstance(system, str):
        system = [system]
    return _blocks(list(system), "system")


def new_tools_cache() -> LevelCache:
    return LevelCache(lambda tools: _blocks(list(tools), "tools", tool_fingerprint))


def new_system_cache() -> LevelCache:
    return LevelCache(system_fingerprint)


# Request parameters that invalidate the cache, by the level they invalidate (docs/facts.md §1).
SYSTEM_LEVEL_PARAMS = ("speed",)
MESSAGE_LEVEL_PARAMS = ("tool_choice", "thinking")


def cache_params(body: dict[str, Any], tools: Any) -> dict[str, Any]:
    """The request parameters that decide whether a cached prefix can be used."""
    params: dict[str, Any] = {"model": body.get("model")}
    for name in SYSTEM_LEVEL_PARAMS + MESSAGE_LEVEL_PARAMS:
        value = body.get(name)
        if given(value):
            params[name] = value
    if tools and any(str(get(t, "type") or "").startswith("web_search") for t in tools):
        params["web_search"] = True
    return params


_PARAMS_HASHES: dict[Any, str] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def params_hash(params: dict[str, Any]) -> str:
    """``digest(compact_json(params))``, memoized when the values are hashable.

    Most calls of a process send the same few parameter sets (often just the model), so
    the JSON encoding and the digest are paid once per distinct set, not per call.
    """
    for value in params.values():
        if type(value) not in _SCALARS:  # e.g. a dict (thinking, tool_choice)
            return digest(compact_json(params))
    key = tuple((name, type(value), value) for name, value in params.items())
    found = _PARAMS_HASHES.get(key)
    if found is None:
        found = digest(compact_json(params))
        if len(_PARAMS_HASHES) >= 256:
            _PARAMS_HASHES.clear()
        _PARAMS_HASHES[key] = found
    return found


def first_difference(old: str, new: str) -> int:
    """Index of the first character where two strings differ (binary search on slices)."""
    if old == new:
        return -1
    lo, hi = 0, min(len(old), len(new))
    if old[:hi] == new[:hi]:
        return hi
    while lo < hi:  # invariant: old[:lo] == new[:lo], old[:hi] != new[:hi]
        mid = (lo + hi + 1) // 2
        if old[:mid] == new[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo
