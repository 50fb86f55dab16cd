"""Assemble the prefix attributes of one call and find what changed since the run's last call."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

from . import attributes as at
from . import change_hint
from .attributes import sc
from .fields import get
from .fingerprint import Blocks, canonical, first_difference, message_blocks
from .threads import Thread

_HASH = attrgetter("hash")
_BLOCK_HASHES = attrgetter("block_hashes")
_BLOCK_TOKENS = attrgetter("block_tokens")


@dataclass(slots=True)
class LastCall:
    """What the next call of the same run is compared with."""

    model: Any
    tools: Blocks
    system: Blocks
    system_value: Any
    params: dict[str, Any]
    params_hash: str
    thread: Thread | None
    # The thread's own lists, shared, not copied (O(1) per call): they only grow in place
    # (threads.extend copies them before any truncation), so their first ``count``
    # entries stay what this call sent, in content: an entry of ``messages`` may be
    # relinked to an object of equal content but other ``cache_control`` (Match.relink),
    # which the text comparison here leaves out too. Only hashes and blocks of ``fps``
    # are read here; their ``marks`` may be updated in place later.
    messages: list[Any]
    fps: list[Blocks]
    count: int


def prefix_attributes(tools: Blocks, system: Blocks, thread: Thread | None, params_hash: str,
                      automatic: Any, window: int) -> dict[str, Any]:
    fps = thread.fps if thread is not None else []
    n = len(fps)
    head_blocks = len(tools.block_hashes) + len(system.block_hashes)
    head_tokens = tools.tokens + system.tokens
    msg_blocks = thread.cum_blocks[-1] if n else 0
    msg_tokens = thread.cum_tokens[-1] if n else 0
    total_blocks = head_blocks + msg_blocks

    breakpoints: list[int] = []
    ttls: list[str] = []
    bp_tokens: list[int] = []
    running = 0
    for index, ttl in tools.marks:
        breakpoints.append(index)
        ttls.append(ttl)
        bp_tokens.append(sum(tools.block_tokens[: index + 1]))
    for index, ttl in system.marks:
        breakpoints.append(len(tools.block_hashes) + index)
        ttls.append(ttl)
        bp_tokens.append(tools.tokens + sum(system.block_tokens[: index + 1]))
    if thread is not None:
        for i in sorted(thread.marked):
            fp = fps[i]
            base = head_blocks + (thread.cum_blocks[i - 1] if i else 0)
            running = head_tokens + (thread.cum_tokens[i - 1] if i else 0)
            for j, ttl in fp.marks:
                breakpoints.append(base + j)
                ttls.append(ttl)
                bp_tokens.append(running + sum(fp.block_tokens[: j + 1]))
    if automatic and total_blocks:
        ttl = get(automatic, "ttl") or "5m"
        breakpoints.append(total_blocks - 1)
        ttls.append(ttl)
        bp_tokens.append(head_tokens + msg_tokens)

    # The trailing window of block hashes/tokens, in prefix order: the fewest trailing
    # messages that hold ``window`` blocks (found by bisection on the running block
    # counts), then tools and system if they are not enough; joined in C.
    start = bisect_right(thread.cum_blocks, msg_blocks - window, 0, n) if n else 0
    tail = fps[start:n]
    block_hashes = list(chain.from_iterable(map(_BLOCK_HASHES, tail)))
    block_tokens = list(chain.from_iterable(map(_BLOCK_TOKENS, tail)))
    if len(block_hashes) < window:
        block_hashes[:0] = tools.block_hashes + system.block_hashes
        block_tokens[:0] = tools.block_tokens + system.block_tokens
    if len(block_hashes) > window:
        block_hashes = block_hashes[-window:]
        block_tokens = block_tokens[-window:]

    # List attributes go out comma-joined (see attributes.py): one string for the
    # OpenTelemetry SDK to validate instead of one check per element.
    attrs: dict[str, Any] = {
        sc.PREFIX_TOOLS_HASH: tools.hash,
        sc.PREFIX_SYSTEM_HASH: system.hash,
        sc.PREFIX_PARAMS_HASH: params_hash,
        sc.PREFIX_MESSAGE_HASHES: ",".join(map(_HASH, fps[-window:])),
        sc.PREFIX_BLOCK_HASHES: ",".join(block_hashes),
        sc.PREFIX_BLOCK_TOKENS: ",".join(map(str, block_tokens)),
        at.PREFIX_MESSAGE_COUNT: n,
        at.PREFIX_BLOCK_COUNT: total_blocks,
        at.PREFIX_TOKENS: head_tokens + msg_tokens,
        sc.CACHE_BREAKPOINTS: ",".join(map(str, breakpoints)),
        sc.CACHE_TTLS: ",".join(map(str, ttls)),
        at.CACHE_BREAKPOINT_TOKENS: ",".join(map(str, bp_tokens)),
    }
    if automatic:
        attrs[at.CACHE_AUTOMATIC] = True
    if thread is not None and thread.large.entries:
        attrs[sc.PREFIX_LARGE_BLOCKS] = thread.large.attribute(head_blocks, thread.cum_blocks)
    return attrs


def _first_block_change(old: Blocks, new: Blocks) -> int:
    for j, (a, b) in enumerate(zip(old.block_hashes, new.block_hashes, strict=False)):
        if a != b:
            return j
    return min(len(old.block_hashes), len(new.block_hashes))


def _char(old_blocks: Any, new_blocks: Any, j: int) -> int | None:
    try:
        old_kind, old_text, _ = canonical(old_blocks[j])
        new_kind, new_text, _ = canonical(new_blocks[j])
    except (IndexError, TypeError):
        return None
    if old_kind != new_kind:
        return 0
    position = first_difference(old_text, new_text)
    return None if position < 0 else position


def _hint(old_blocks: Any, new_blocks: Any, j: int, char: int) -> str:
    """What the text that changed looks like (:mod:`.change_hint`); runs only on a change."""
    try:
        old_text, new_text = canonical(old_blocks[j])[1], canonical(new_blocks[j])[1]
    except (IndexError, TypeError):
        return change_hint.OTHER
    return change_hint.classify_text_change(old_text, new_text, char)


def _as_blocks(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, (list, tuple)) else []


def change_attributes(last: LastCall, current: LastCall, continues: bool) -> dict[str, Any]:
    """What differs from the run's previous call, first level first (docs/facts.md §1 order)."""
    out: dict[str, Any] = {}
    changed_params = sorted(k for k in set(last.params) | set(current.params)
                            if k != "model" and last.params.get(k) != current.params.get(k))
    if changed_params:
        out[at.CHANGE_PARAMS] = ",".join(changed_params)
    head = len(current.tools.block_hashes)
    if last.model != current.model:
        out[at.CHANGE_LEVEL] = "model"
    elif last.tools.hash != current.tools.hash:
        out[at.CHANGE_LEVEL] = "tools"
        out[at.CHANGE_BLOCK] = _first_block_change(last.tools, current.tools)
        out[sc.CHANGE_HINT] = (change_hint.REORDERED if change_hint.is_reordering(
            last.tools.block_hashes, current.tools.block_hashes) else change_hint.OTHER)
    elif last.system.hash != current.system.hash:
        out[at.CHANGE_LEVEL] = "system"
        j = _first_block_change(last.system, current.system)
        out[at.CHANGE_BLOCK] = head + j
        char = _char(_as_blocks(last.system_value), _as_blocks(current.system_value), j)
        if char is not None:
            out[at.CHANGE_CHAR] = char
            out[sc.CHANGE_HINT] = _hint(_as_blocks(last.system_value),
                                        _as_blocks(current.system_value), j, char)
        if change_hint.is_reordering(last.system.block_hashes, current.system.block_hashes):
            out[sc.CHANGE_HINT] = change_hint.REORDERED
    elif changed_params:
        out[at.CHANGE_LEVEL] = "params"
    elif continues:
        out[at.CHANGE_LEVEL] = "none"
    else:
        _message_change(last, current, out, head + len(current.system.block_hashes))
    return out


def _message_change(last: LastCall, current: LastCall, out: dict[str, Any], head: int) -> None:
    old, new = last.fps, current.fps
    old_n, new_n = last.count, current.count
    blocks = head
    for i in range(min(old_n, new_n)):
        if old[i].hash != new[i].hash:
            j = _first_block_change(old[i], new[i])
            out[at.CHANGE_LEVEL] = "messages"
            out[at.CHANGE_MESSAGE] = i
            out[at.CHANGE_BLOCK] = blocks + j
            if i < old_n and i < new_n:
                char = _char(message_blocks(last.messages[i]),
                             message_blocks(current.messages[i]), j)
                if char is not None:
                    out[at.CHANGE_CHAR] = char
                    out[sc.CHANGE_HINT] = _hint(message_blocks(last.messages[i]),
                                                message_blocks(current.messages[i]), j, char)
            return
        blocks += len(new[i].block_hashes)
    if new_n < old_n:
        out[at.CHANGE_LEVEL] = "messages"
        out[at.CHANGE_MESSAGE] = new_n
        out[at.CHANGE_BLOCK] = blocks
    else:
        out[at.CHANGE_LEVEL] = "none"
