"""Cache diagnostics: ``diagnostics.previous_message_id`` → ``cache_miss_reason``.

As on the API (cache-diagnostics docs; anthropic SDK 2.12 ``types/cache_miss_*.py``):
a request that carries a ``diagnostics`` object (``previous_message_id`` may be null to
opt in on the first turn) has a fingerprint stored under its response id, per
workspace. A later request naming that id is compared with it and the first point of
divergence is reported, checked in this order:

1. no stored fingerprint (unknown id, other workspace, or not opted in)
   → ``previous_message_not_found``
2. ``model`` or ``speed`` differ → ``model_changed``
3. tool definitions differ (added, removed, reordered, edited) → ``tools_changed``
4. system blocks differ → ``system_changed``
5. an earlier message differs (anything but appending) → ``messages_changed``
6. other prompt-affecting parameters differ (``tool_choice``, ``thinking``, images,
   citations) → ``unavailable``
7. otherwise no divergence: the response's ``diagnostics`` is ``null``.

``cache_missed_input_tokens`` is the emulator's estimate of the tokens that fell after
the divergence point: the previous request's input tokens minus the tokens of the
prefix the two requests share (tools, system blocks, then whole messages). The
comparison is structural: it does not depend on whether the cache actually hit
(a TTL expiry shows no divergence).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .cache import model_family
from .prefix import Prefix
from .tokens import compact_json

MAX_FINGERPRINTS = 50_000


@dataclass(frozen=True)
class Fingerprint:
    """Hashes and token counts only, never content (like the API's)."""

    model: str
    speed: str
    tools: tuple[tuple[str, int], ...]
    system: tuple[tuple[str, int], ...]
    messages: tuple[tuple[str, int], ...]
    other_params: str
    total_tokens: int


def fingerprint(body: dict[str, Any], prefix: Prefix) -> Fingerprint:
    return Fingerprint(
        model=model_family(str(body.get("model"))),
        speed=body.get("speed") or "standard",
        tools=tuple(prefix.level_block_hashes("tools")),
        system=tuple(prefix.level_block_hashes("system")),
        messages=tuple(zip(prefix.message_hashes, prefix.message_tokens, strict=False)),
        other_params=compact_json({"m": prefix.level_params.get("messages"),
                                   "s": prefix.level_params.get("system")}),
        total_tokens=prefix.total_tokens,
    )


def _shared(prev: tuple[tuple[str, int], ...], cur: tuple[tuple[str, int], ...]) -> int:
    """Tokens of the longest common run of (hash, tokens) items from the start."""
    total = 0
    for a, b in zip(prev, cur, strict=False):
        if a[0] != b[0]:
            break
        total += a[1]
    return total


def compare(prev: Fingerprint | None, cur: Fingerprint) -> dict[str, Any] | None:
    """The ``cache_miss_reason`` for ``cur`` against ``prev``; None = no divergence."""
    if prev is None:
        return {"type": "previous_message_not_found"}

    def changed(kind: str, shared: int) -> dict[str, Any]:
        return {"type": kind, "cache_missed_input_tokens": max(0, prev.total_tokens - shared)}

    if prev.model != cur.model or prev.speed != cur.speed:
        return changed("model_changed", 0)
    tools_tokens = sum(t for _, t in prev.tools)
    if prev.tools != cur.tools:
        return changed("tools_changed", _shared(prev.tools, cur.tools))
    if prev.system != cur.system:
        return changed("system_changed", tools_tokens + _shared(prev.system, cur.system))
    if cur.messages[: len(prev.messages)] != prev.messages:
        before = tools_tokens + sum(t for _, t in prev.system)
        return changed("messages_changed", before + _shared(prev.messages, cur.messages))
    if prev.other_params != cur.other_params:
        return {"type": "unavailable"}
    return None


class DiagnosticsStore:
    """Fingerprints by (workspace, response id), bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], Fingerprint] = OrderedDict()

    def remember(self, workspace: str, message_id: str, fp: Fingerprint) -> None:
        with self._lock:
            self._items[(workspace, message_id)] = fp
            while len(self._items) > MAX_FINGERPRINTS:
                self._items.popitem(last=False)

    def get(self, workspace: str, message_id: str) -> Fingerprint | None:
        with self._lock:
            return self._items.get((workspace, message_id))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
