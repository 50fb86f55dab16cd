"""The prompt-cache model: the rules of docs/facts.md §1, written so they can be checked by eye.

1. The prefix is ``tools`` → ``system`` → ``messages`` (see ``prefix.py``, which also
   folds the level-invalidating parameters into each block's key).
2. At most ``MAX_BREAKPOINTS`` (4) ``cache_control`` markers, the automatic top-level
   one included; more is a 400. Longer TTLs must come before shorter ones; a ``1h``
   marker after a ``5m`` marker is a 400.
3. A *write* happens only at a breakpoint: one entry keyed by the hash of everything up
   to and including that block, and only if that prefix reaches the model's minimum
   cacheable length (``MIN_CACHEABLE_TOKENS``); below it nothing is cached, silently.
4. A *read*: from each breakpoint, walk backwards over at most ``LOOKBACK_BLOCKS`` (20)
   blocks, the breakpoint's own block included, and take the first live entry found.
   The longest such hit over all breakpoints is read.
5. Entries live ``5m`` or ``1h`` and every read refreshes them for another full TTL.
6. An entry becomes readable only once the response that wrote it has started: the
   cache is consulted when a request arrives (``lookup``) but entries are stored when
   its response starts (``commit``). Requests that arrive in between all miss.
7. Caches are per workspace and per model: one store per (workspace, model).
8. Usage buckets are disjoint: input = uncached + read + written, and the written
   tokens are split by TTL (``ephemeral_5m`` / ``ephemeral_1h``): the tokens between
   the read point (or the previous written breakpoint) and a written breakpoint are
   billed at that breakpoint's TTL.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid
from .prefix import CacheControl, Prefix

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20

# Minimum cacheable prefix in tokens (docs/facts.md §1, platform docs "prompt-caching").
MIN_CACHEABLE_TOKENS: dict[str, int] = {
    "claude-opus-4-7": 4096,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-6": 2048,
    "claude-3-5-haiku": 2048,
    "claude-haiku-3-5": 2048,
    "claude-sonnet-4-5": 1024,
    "claude-sonnet-4": 1024,
    "claude-sonnet-4-0": 1024,
    "claude-3-7-sonnet": 1024,
    "claude-sonnet-3-7": 1024,
    "claude-opus-4-1": 1024,
    "claude-opus-4": 1024,
    "claude-opus-4-0": 1024,
}
DEFAULT_MIN_CACHEABLE_TOKENS = 1024
"""For models docs/facts.md §1 does not list (newer ids included): the lowest documented
minimum, so that caching is visible rather than silently swallowed. Overridable per
emulator (``PromptCache(min_cacheable_tokens={...})``)."""

_DATE_SUFFIX = re.compile(r"-\d{8}$")


def model_family(model: str) -> str:
    """A dated id (``claude-sonnet-4-5-20250929``) shares its alias's cache and minimum."""
    return _DATE_SUFFIX.sub("", model)


@dataclass
class Entry:
    """One written prefix."""

    tokens: int
    ttl: str
    written_at: float
    expires_at: float
    writer: str
    path: str

    def alive(self, now: float) -> bool:
        return now < self.expires_at


@dataclass
class Write:
    """A breakpoint this request writes (stored at ``commit``)."""

    index: int
    key: str
    path: str
    prefix_tokens: int
    ttl: str
    billed_tokens: int


@dataclass
class Lookup:
    """What the cache decided for one request: its read and its pending writes."""

    workspace: str
    model: str
    total_tokens: int
    min_tokens: int
    breakpoints: list[int]
    read_index: int = -1
    read_tokens: int = 0
    read_path: str | None = None
    read_writer: str | None = None  # id of the response that wrote the entry read
    writes: list[Write] = field(default_factory=list)
    committed: bool = False

    @property
    def creation_5m(self) -> int:
        return sum(w.billed_tokens for w in self.writes if w.ttl == "5m")

    @property
    def creation_1h(self) -> int:
        return sum(w.billed_tokens for w in self.writes if w.ttl == "1h")

    @property
    def creation_tokens(self) -> int:
        return self.creation_5m + self.creation_1h

    @property
    def uncached_tokens(self) -> int:
        return self.total_tokens - self.read_tokens - self.creation_tokens

    def usage(self) -> dict[str, Any]:
        """The input side of ``usage`` (the three buckets are disjoint)."""
        return {
            "input_tokens": self.uncached_tokens,
            "cache_creation_input_tokens": self.creation_tokens,
            "cache_read_input_tokens": self.read_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.creation_5m,
                "ephemeral_1h_input_tokens": self.creation_1h,
            },
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "model": self.model,
            "total_tokens": self.total_tokens,
            "min_tokens": self.min_tokens,
            "breakpoints": list(self.breakpoints),
            "read_index": self.read_index,
            "read_path": self.read_path,
            "read_writer": self.read_writer,
            "read_tokens": self.read_tokens,
            "writes": [w.__dict__.copy() for w in self.writes],
            **self.usage(),
        }


def breakpoints_of(prefix: Prefix) -> list[int]:
    """Indexes of the breakpoints, checked against rule 2 (count and TTL order)."""
    marked = [i for i, b in enumerate(prefix.blocks) if b.cache_control is not None]
    if len(marked) > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(marked)}."
        )
    seen_short: str | None = None
    for i in marked:
        cc: CacheControl = prefix.blocks[i].cache_control  # type: ignore[assignment]
        if cc.ttl == "5m" and seen_short is None:
            seen_short = prefix.blocks[i].path
        elif cc.ttl == "1h" and seen_short is not None:
            raise invalid(
                f"{prefix.blocks[i].path}.cache_control: a ttl='1h' cache_control block "
                f"must not come after a ttl='5m' cache_control block ({seen_short}); "
                "longer TTLs must come first"
            )
    return marked


class PromptCache:
    """All cache entries of one emulator, one store per (workspace, model)."""

    def __init__(self, min_cacheable_tokens: dict[str, int] | None = None,
                 default_min_tokens: int = DEFAULT_MIN_CACHEABLE_TOKENS) -> None:
        self.min_cacheable = {**MIN_CACHEABLE_TOKENS, **(min_cacheable_tokens or {})}
        self.default_min_tokens = default_min_tokens
        self._stores: dict[tuple[str, str], dict[str, Entry]] = {}
        self._lock = threading.RLock()

    def min_tokens(self, model: str) -> int:
        return self.min_cacheable.get(model_family(model), self.default_min_tokens)

    def _store(self, workspace: str, model: str) -> dict[str, Entry]:
        return self._stores.setdefault((workspace, model_family(model)), {})

    def lookup(self, workspace: str, model: str, prefix: Prefix, now: float) -> Lookup:
        """Rules 2-5 at request arrival: find the read, refresh it, plan the writes."""
        marked = breakpoints_of(prefix)
        blocks = prefix.blocks
        result = Lookup(workspace, model, prefix.total_tokens, self.min_tokens(model), marked)
        with self._lock:
            store = self._store(workspace, model)
            for key in [k for k, e in store.items() if not e.alive(now)]:
                del store[key]

            # Rule 4: backward lookup over at most 20 blocks from each breakpoint.
            for bp in marked:
                for i in range(bp, max(bp - LOOKBACK_BLOCKS, -1), -1):
                    if blocks[i].key in store:
                        result.read_index = max(result.read_index, i)
                        break

            if result.read_index >= 0:
                hit = blocks[result.read_index]
                result.read_tokens = prefix.tokens_through(result.read_index)
                result.read_path = hit.path
                result.read_writer = store[hit.key].writer
                # Rule 5: a read refreshes the entry it read, and any entry of this
                # request's own breakpoints inside the read prefix.
                for i in [result.read_index, *marked]:
                    entry = store.get(blocks[i].key)
                    if i <= result.read_index and entry is not None:
                        entry.expires_at = now + CacheControl(entry.ttl).seconds

            # Rule 3: writes at breakpoints past the read point, if long enough.
            billed_from = result.read_index
            for bp in marked:
                if bp <= result.read_index:
                    continue
                prefix_tokens = prefix.tokens_through(bp)
                if prefix_tokens < result.min_tokens:
                    continue
                ttl = blocks[bp].cache_control.ttl  # type: ignore[union-attr]
                billed = prefix_tokens - prefix.tokens_through(billed_from)
                result.writes.append(Write(bp, blocks[bp].key, blocks[bp].path,
                                           prefix_tokens, ttl, billed))
                billed_from = bp
        return result

    def commit(self, lookup: Lookup, started_at: float, writer: str) -> None:
        """Rule 6: the response has started, so its writes become readable now."""
        if lookup.committed:
            return
        lookup.committed = True
        with self._lock:
            store = self._store(lookup.workspace, lookup.model)
            for w in lookup.writes:
                seconds = CacheControl(w.ttl).seconds
                store[w.key] = Entry(w.prefix_tokens, w.ttl, started_at, started_at + seconds,
                                     writer, w.path)

    def entries(self, now: float | None = None) -> list[dict[str, Any]]:
        """Introspection: every live entry (all entries when ``now`` is None)."""
        out = []
        with self._lock:
            for (workspace, model), store in self._stores.items():
                for key, e in store.items():
                    if now is None or e.alive(now):
                        out.append({"workspace": workspace, "model": model, "key": key,
                                    **e.__dict__})
        return out

    def clear(self) -> None:
        with self._lock:
            self._stores.clear()
