"""A call's prompt prefix against the previous call of its run, part by part.

The instrumentation exports hashes and sizes, never text (docs/design.md, "Prefix
fingerprints"): hashes of the tools, system prompt and cache-keying parameters, and a
window of the last 20 message and block hashes with the counts that give the window's
absolute start (``count - len(array)``). Comparing two calls part by part therefore
says, for each part, ``same``, ``changed``, ``new`` (beyond the previous prompt) or
``unknown`` (outside the previous call's window, or a source without fingerprints).
Where the change *first* happened (message, block, character, a hint of what the text
looks like) was found in the agent process and is read from ``prefix_change_*``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Part:
    kind: str  # model | params | tools | system | message | block
    index: int | None  # absolute message / block index (as the instrumentation counts)
    label: str
    state: str  # same | changed | new | unknown
    hash: str = ""
    previous_hash: str = ""
    tokens: int | None = None  # estimated tokens of a block
    breakpoint_ttl: str = ""  # this block carries a cache_control breakpoint (its TTL)
    breakpoint_tokens: int | None = None  # estimated tokens up to that breakpoint
    first_difference: bool = False


@dataclass
class Breakpoint:
    block: int
    ttl: str
    tokens: int | None
    in_window: bool


@dataclass
class PrefixDiff:
    fingerprinted: bool  # the call's source recorded fingerprints
    has_previous: bool
    parts: list[Part] = field(default_factory=list)
    breakpoints: list[Breakpoint] = field(default_factory=list)
    automatic_caching: bool = False
    message_count: int = 0
    block_count: int = 0
    prefix_tokens: int = 0
    window_messages: tuple[int, int] = (0, 0)  # [start, end) of the messages shown
    window_blocks: tuple[int, int] = (0, 0)
    change_level: str = ""
    change_params: list[str] = field(default_factory=list)
    change_message: int | None = None
    change_block: int | None = None
    change_char: int | None = None
    change_hint: str = ""
    cache_miss_reason: str = ""
    cache_missed_input_tokens: int = 0
    model_changed: bool = False  # the model differs from the previous call's

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _list(row: dict[str, Any] | None, key: str) -> list[Any]:
    value = (row or {}).get(key)
    return list(value) if value else []


def _int(row: dict[str, Any] | None, key: str) -> int:
    return int((row or {}).get(key) or 0)


def _state(current: str, previous: str | None) -> str:
    if not current or previous is None or previous == "":
        return "unknown"
    return "same" if current == previous else "changed"


def _window(row: dict[str, Any] | None, hashes_key: str, count_key: str
            ) -> tuple[int, list[str], int]:
    """(absolute start, hashes, total count) of a call's message or block window."""
    hashes = [str(h) for h in _list(row, hashes_key)]
    count = max(_int(row, count_key), len(hashes))
    return count - len(hashes), hashes, count


def _lookup(start: int, hashes: Sequence[str], count: int, index: int) -> str | None:
    """The previous call's hash at ``index``: '' if outside its window, None if beyond
    its prompt (a new part)."""
    if index >= count:
        return None
    if index < start:
        return ""
    return hashes[index - start]


def compare(call: dict[str, Any], previous: dict[str, Any] | None) -> PrefixDiff:
    """The parts of ``call``'s prefix, each against ``previous`` (None for a run's
    first call). Missing columns (older stores, other sources) read as empty."""
    fingerprinted = bool(call.get("prefix_system_hash") or call.get("prefix_tools_hash")
                         or _list(call, "prefix_message_hashes")
                         or _list(call, "prefix_block_hashes"))
    diff = PrefixDiff(
        fingerprinted=fingerprinted, has_previous=previous is not None,
        automatic_caching=bool(call.get("cache_automatic")),
        message_count=_int(call, "prefix_message_count"),
        block_count=_int(call, "prefix_block_count"),
        prefix_tokens=_int(call, "prefix_tokens"),
        change_level=str(call.get("prefix_change_level") or ""),
        change_params=[str(p) for p in _list(call, "prefix_change_params")],
        change_message=call.get("prefix_change_message"),
        change_block=call.get("prefix_change_block"),
        change_char=call.get("prefix_change_char"),
        change_hint=str(call.get("prefix_change_hint") or ""),
        cache_miss_reason=str(call.get("cache_miss_reason") or ""),
        cache_missed_input_tokens=_int(call, "cache_missed_input_tokens"),
    )
    prev_or_blank = previous or {}

    model, prev_model = str(call.get("model") or ""), prev_or_blank.get("model")
    diff.parts.append(Part("model", None, "model", _state(model, prev_model) if previous
                           else "unknown", model, str(prev_model or ""),
                           first_difference=diff.change_level == "model"))
    diff.model_changed = diff.parts[-1].state == "changed"
    for kind in ("params", "tools", "system"):
        current = str(call.get(f"prefix_{kind}_hash") or "")
        before = str(prev_or_blank.get(f"prefix_{kind}_hash") or "")
        label = {"params": "parameters", "tools": "tools", "system": "system prompt"}[kind]
        # Without fingerprints both hashes are empty: "same" would be a guess.
        known = previous is not None and fingerprinted
        diff.parts.append(Part(kind, None, label, _state(current, before) if known else "unknown",
                               current, before, first_difference=diff.change_level == kind))

    start, hashes, count = _window(call, "prefix_message_hashes", "prefix_message_count")
    p_start, p_hashes, p_count = _window(previous, "prefix_message_hashes",
                                         "prefix_message_count")
    diff.window_messages = (start, count)
    for offset, current in enumerate(hashes):
        index = start + offset
        before = _lookup(p_start, p_hashes, p_count, index) if previous else ""
        state = "new" if before is None else _state(current, before)
        diff.parts.append(Part("message", index, f"message {index}", state, current,
                               before or "",
                               first_difference=diff.change_message == index))

    start, hashes, count = _window(call, "prefix_block_hashes", "prefix_block_count")
    tokens = [int(t) for t in _list(call, "prefix_block_tokens")]
    p_start, p_hashes, p_count = _window(previous, "prefix_block_hashes", "prefix_block_count")
    breakpoints = [int(b) for b in _list(call, "cache_breakpoints")]
    ttls = [str(t) for t in _list(call, "cache_ttls")]
    bp_tokens = [int(t) for t in _list(call, "cache_breakpoint_tokens")]
    marks = {b: (ttls[k] if k < len(ttls) and ttls[k] else "5m",
                 bp_tokens[k] if k < len(bp_tokens) else None)
             for k, b in enumerate(breakpoints)}
    diff.window_blocks = (start, count)
    # token estimates cover the same window as the hashes (aligned at its end)
    token_start = count - len(tokens)
    for offset, current in enumerate(hashes):
        index = start + offset
        before = _lookup(p_start, p_hashes, p_count, index) if previous else ""
        state = "new" if before is None else _state(current, before)
        ttl, upto = marks.get(index, ("", None))
        k = index - token_start
        diff.parts.append(Part("block", index, f"block {index}", state, current, before or "",
                               tokens=tokens[k] if 0 <= k < len(tokens) else None,
                               breakpoint_ttl=ttl, breakpoint_tokens=upto,
                               first_difference=diff.change_block == index))
    diff.breakpoints = [Breakpoint(b, marks[b][0], marks[b][1], start <= b < count)
                        for b in breakpoints]
    return diff
