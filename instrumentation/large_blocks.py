"""The large blocks of a conversation, wherever they sit in the prefix.

The per-block arrays of a span hold only the last 20 blocks (docs/design.md, "Prefix
fingerprints"), so a 50,000-token tool result sent at turn 3 is out of view by turn 10.
The ``context_dead_weight`` insight (tokentrail/analysis/insights_dead_weight.py) needs to
see such a block on every turn that carries it: this module keeps, per conversation
thread, the message blocks of at least :data:`LARGE_BLOCK_TOKENS` estimated tokens, at
most :data:`MAX_LARGE_BLOCKS` of them (the largest; the earliest among equals), and
renders them as one attribute of hashes, absolute block positions and token estimates.
No content leaves the process: the hashes and estimates are the ones the fingerprints
already computed.

Cost: O(new content) like the fingerprints. A new message is looked at only when its
whole estimate reaches the threshold (one integer comparison otherwise); the rendered
string is kept until the set of blocks or the number of tool/system blocks before them
changes. Only a truncated conversation (an edit or a compaction, rare) rescans the
message fingerprints it keeps, which are already in memory. Tools and system are left
out: they are the static prefix, sent on purpose on every call (uncached_prefix is
about them), and their blocks already lead the block window whenever it reaches them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .fingerprint import Blocks

LARGE_BLOCK_TOKENS = 4096  # estimated tokens from which a message block is reported
MAX_LARGE_BLOCKS = 16  # at most this many per call: the largest

# (estimated tokens, message index, block index in the message, block hash)
Entry = tuple[int, int, int, str]


class LargeBlocks:
    """The large blocks of one thread, in prefix order, and their rendered attribute."""

    __slots__ = ("_rendered", "entries", "overflowed")

    def __init__(self, entries: list[Entry] | None = None, overflowed: bool = False) -> None:
        self.entries: list[Entry] = entries if entries is not None else []
        self.overflowed = overflowed  # a large block was left out for lack of room
        self._rendered: tuple[int, str] | None = None  # (head blocks, attribute)

    def copy(self) -> LargeBlocks:
        return LargeBlocks(list(self.entries), self.overflowed)

    def add(self, index: int, fp: Blocks) -> None:
        """Note the large blocks of message ``index`` (appended after the others)."""
        if fp.tokens < LARGE_BLOCK_TOKENS:
            return
        for j, tokens in enumerate(fp.block_tokens):
            if tokens >= LARGE_BLOCK_TOKENS:
                self._keep((tokens, index, j, fp.block_hashes[j]))

    def _keep(self, entry: Entry) -> None:
        entries = self.entries
        self._rendered = None
        if len(entries) < MAX_LARGE_BLOCKS:
            entries.append(entry)
            return
        # Full: the new block replaces the smallest (the latest among equals) if larger.
        self.overflowed = True
        smallest = min(range(len(entries)), key=lambda k: (entries[k][0], -entries[k][1]))
        if entry[0] > entries[smallest][0]:
            del entries[smallest]
            entries.append(entry)  # still in prefix order: it is the latest message

    def truncate(self, shared: int, fps: Sequence[Blocks]) -> None:
        """The conversation was cut back to its first ``shared`` messages: rebuild from
        their fingerprints (a block left out for lack of room may qualify again)."""
        if not self.overflowed:
            if self.entries and self.entries[-1][1] >= shared:
                self.entries = [e for e in self.entries if e[1] < shared]
                self._rendered = None
            return
        self.entries = []
        self.overflowed = False
        self._rendered = None
        for i in range(shared):
            self.add(i, fps[i])

    def attribute(self, head_blocks: int, cum_blocks: Sequence[int]) -> str:
        """``hash:position:tokens`` per block, comma-joined, in prefix order; the
        position is the block's index in the flattened prefix (tools, system, then each
        message's blocks), as in ``prefix_change_block``."""
        rendered = self._rendered
        if rendered is not None and rendered[0] == head_blocks:
            return rendered[1]
        parts = []
        for tokens, i, j, block_hash in self.entries:
            position = head_blocks + (cum_blocks[i - 1] if i else 0) + j
            parts.append(f"{block_hash}:{position}:{tokens}")
        text = ",".join(parts)
        self._rendered = (head_blocks, text)
        return text
