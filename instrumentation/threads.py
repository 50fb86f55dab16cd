"""Conversation threads: what makes fingerprints O(new content) and runs automatic.

A *thread* remembers one conversation as last sent: the message list (a shallow
snapshot), each message's fingerprint, running sums of tokens and blocks, and the
fingerprint of the response. A new call whose messages start with a thread's
snapshot reuses those fingerprints and hashes only the messages after it.

Checking "starts with" is ``messages[:k] == snapshot`` (done without the slice, see
:func:`_starts_with`): a C-level comparison that stops at identity for the objects an
application re-sends (the anthropic SDK 2.x passes the application's own message
objects through; 0.x passes equal copies, which compare by value, still in C). So the
per-call Python work is bounded by the new messages plus a small re-check window, not
by the conversation's length.

When no thread is found that way, :meth:`ThreadTable.match_content` looks again by
fingerprint (``cache_control`` left out), for applications that rebuild their messages
for each call with the breakpoints moved, and finds the conversation that a call
rewrites (membership.py, rule 4).

Known limit (documented in the README section of the instrumentation): a message that
an application edits *in place* after sending it keeps its old fingerprint, except
its ``cache_control`` markers in the last :data:`RECHECK` messages, which are
re-read on every call (agents move the breakpoint forward that way).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from .fields import get
from .fingerprint import Blocks, message_fingerprint, message_marks, response_fingerprint
from .large_blocks import LARGE_BLOCK_TOKENS, LargeBlocks
from .runs import Run

RECHECK = 4  # trailing messages whose cache_control markers are re-read each call
SCAN = 32  # most recent threads tried per call


class Response:
    """A thread's last response, fingerprinted only if the next call needs it.

    The anthropic SDK 2.x passes the application's own message objects through, so the
    assistant message of the next call usually holds the very ``content`` list that the
    response returned: recognised by identity, without hashing it a second time
    (:func:`message_fingerprint` of that message is computed anyway). Otherwise (0.x
    copies, streams) the response is hashed on first use, as before.
    """

    __slots__ = ("_blocks", "content")

    def __init__(self, content: Any) -> None:
        self.content = content
        self._blocks: Blocks | None = None

    @property
    def blocks(self) -> Blocks:
        blocks = self._blocks
        if blocks is None:
            blocks = self._blocks = response_fingerprint(self.content)
        return blocks

    def made(self, message: Any, fp: Blocks) -> bool:
        """Whether ``message`` (fingerprint ``fp``) is the assistant message of this response."""
        content = self.content
        if (isinstance(content, list) and get(message, "content") is content
                and get(message, "role") == "assistant"):
            return True
        return fp.hash == self.blocks.hash


class Thread:
    __slots__ = ("cum_blocks", "cum_tokens", "fps", "large", "marked", "messages", "response",
                 "response_id", "run")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.messages: list[Any] = []
        self.fps: list[Blocks] = []
        self.cum_tokens: list[int] = []
        self.cum_blocks: list[int] = []
        self.marked: set[int] = set()
        self.large = LargeBlocks()  # blocks of >= LARGE_BLOCK_TOKENS anywhere (large_blocks.py)
        self.response: Response | None = None
        self.response_id: str | None = None

    def copy_for(self, run: Run) -> Thread:
        other = Thread(run)
        other.messages = list(self.messages)
        other.fps = list(self.fps)
        other.cum_tokens = list(self.cum_tokens)
        other.cum_blocks = list(self.cum_blocks)
        other.marked = set(self.marked)
        other.large = self.large.copy()
        return other


@dataclass(slots=True)
class Match:
    thread: Thread | None  # the thread whose snapshot prefixes the messages
    shared: int  # how many messages it covers
    continues: bool  # the message after the snapshot is that thread's response
    fps: dict[int, Blocks]  # fingerprints computed while matching, by message index
    # Shared messages equal in content but not as sent (match_content): the snapshot
    # takes the call's objects there, so the next call finds them as sent again.
    relink: tuple[int, ...] = ()


class ThreadTable:
    """The most recent threads of the process (bounded LRU)."""

    def __init__(self, size: int = 256) -> None:
        self._threads: OrderedDict[int, Thread] = OrderedDict()
        self._size = size
        self.lock = threading.Lock()

    def match(self, messages: list[Any]) -> Match:
        n = len(messages)
        best: Thread | None = None
        best_k = -1
        computed: dict[int, Blocks] = {}
        for thread in islice(reversed(self._threads.values()), SCAN):
            snapshot = thread.messages
            k = len(snapshot)
            if k > n or k == 0:
                continue
            # Cheap rejections before the O(k) C-level comparison.
            if messages[0] != snapshot[0] or messages[k - 1] != snapshot[-1]:
                continue
            if not _starts_with(messages, snapshot, k, n):
                continue
            if k < n and thread.response is not None:
                fp = computed.get(k)
                if fp is None:
                    fp = computed[k] = message_fingerprint(messages[k])
                if thread.response.made(messages[k], fp):
                    return Match(thread, k, True, computed)
            if k > best_k:
                best, best_k = thread, k
        return Match(best, max(best_k, 0), False, computed)

    def match_content(self, messages: list[Any],
                      computed: dict[int, Blocks]) -> tuple[Match, Match | None]:
        """The second look, when :meth:`match` found no thread to continue: the
        messages compared by content, ``cache_control`` left out (:func:`_leading`). An
        application that rebuilds its messages for each call with the breakpoints moved
        (Anthropic's prompt-caching cookbook marks the last two user turns of a fresh
        list) sends equal content in unequal objects. Only messages that differ as sent
        are fingerprinted, once, into ``computed`` (by index, reused by :func:`extend`).
        Returns two matches among the :data:`SCAN` most recent threads:

        - the thread whose messages prefix the call's (as :meth:`match`, by content);
        - the conversation the call *rewrites*, if no thread prefixes it (docs/design.md
          "Runs and turns", rule 4): the answered thread that shares the longest leading
          run of messages with the call, the most recent on a tie, if the call differs
          from it at an earlier message. The call must keep at least the first message
          and send at least two more from the first difference on (``shared < n - 1``):
          an edited or removed earlier message, or a compaction that keeps the task,
          goes on from there; one new message after a shared start is how a new
          conversation on the same template (few-shot examples, a task preamble) opens,
          and a call made of a thread's leading messages only is another sample.
        """
        n = len(messages)
        best: Thread | None = None
        best_k = -1
        rewritten: Thread | None = None
        rewritten_shared = 0
        best_relink: tuple[int, ...] = ()
        rewritten_relink: tuple[int, ...] = ()
        first = messages[0]
        first_hash: str | None = None
        for thread in islice(reversed(self._threads.values()), SCAN):
            fps = thread.fps
            k = len(fps)
            if k == 0:
                continue
            if thread.messages[0] is not first:  # most threads: another conversation
                if first_hash is None:
                    fp = computed.get(0)
                    if fp is None:
                        fp = computed[0] = message_fingerprint(first)
                    first_hash = fp.hash
                if fps[0].hash != first_hash:
                    continue
            shared, relink = _leading(messages, thread, computed)
            if shared == 0:
                continue
            response = thread.response
            if shared == k:
                if k < n and response is not None:
                    fp = computed.get(k)
                    if fp is None:
                        fp = computed[k] = message_fingerprint(messages[k])
                    if response.made(messages[k], fp):
                        return Match(thread, k, True, computed, relink), None
                if k > best_k:
                    best, best_k, best_relink = thread, k, relink
            elif response is not None and rewritten_shared < shared < n - 1:
                rewritten, rewritten_shared, rewritten_relink = thread, shared, relink
        if best is not None:
            return Match(best, best_k, False, computed, best_relink), None
        found = Match(None, 0, False, computed)
        if rewritten is None:
            return found, None
        return found, Match(rewritten, rewritten_shared, False, computed, rewritten_relink)

    def add(self, thread: Thread) -> None:
        self._threads[id(thread)] = thread
        self._threads.move_to_end(id(thread))
        while len(self._threads) > self._size:
            self._threads.popitem(last=False)

    def touch(self, thread: Thread) -> None:
        if id(thread) in self._threads:
            self._threads.move_to_end(id(thread))
        else:
            self.add(thread)

    def clear(self) -> None:
        self._threads.clear()


def _starts_with(messages: list[Any], snapshot: list[Any], k: int, n: int) -> bool:
    """``messages[:k] == snapshot`` (``k == len(snapshot) <= n``), touching only new messages.

    Slicing ``messages[:k]`` would take a reference to every message of the
    conversation, i.e. write to each object's header: on late turns, hundreds of cache
    misses per call. Instead the snapshot is lengthened by the ``n - k`` new messages,
    compared with ``==`` (C-level: equal-length lists skip identical items by pointer,
    and compare the others as before), and cut back. Call with the table's lock held.
    """
    if k == n:
        return messages == snapshot
    snapshot.extend(islice(messages, k, None))
    try:
        return len(snapshot) == n and messages == snapshot
    finally:
        del snapshot[k:]


def _leading(messages: list[Any], thread: Thread,
             computed: dict[int, Blocks]) -> tuple[int, tuple[int, ...]]:
    """How many leading messages of the call have the same content as the thread's, and
    which of them differ as sent (``Match.relink``).

    Objects that are the same or equal are the same message; only a pair that differs
    as sent is compared by fingerprint (the call's message hashed once, into
    ``computed``). With the snapshot relinked to the call's objects, a list rebuilt for
    each call with moved breakpoints costs a hash of the few messages rebuilt since the
    last call, not of the conversation.
    """
    fps = thread.fps
    shared = 0
    relink: list[int] = []
    for i, (message, old) in enumerate(zip(messages, thread.messages, strict=False)):
        if message is not old and message != old:
            fp = computed.get(i)
            if fp is None:
                fp = computed[i] = message_fingerprint(message)
            if fp.hash != fps[i].hash:
                break
            relink.append(i)
        shared += 1
    return shared, tuple(relink)


def extend(thread: Thread, messages: list[Any], shared: int,
           computed: dict[int, Blocks], relink: tuple[int, ...] = ()) -> None:
    """Bring ``thread`` (whose first ``shared`` messages match) up to ``messages``;
    ``relink``: shared messages whose snapshot entry takes the call's object."""
    if shared < len(thread.messages):
        # Copy on truncate: a run's LastCall may still read the first entries of these
        # lists (``messages``/``fps`` only ever grow in place, see LastCall).
        thread.messages = thread.messages[:shared]
        thread.fps = thread.fps[:shared]
        thread.large.truncate(shared, thread.fps)
    snapshot = thread.messages
    for i in relink:  # the same content (LastCall reads it as before), as sent now
        snapshot[i] = messages[i]
    fps, cum_tokens, cum_blocks, marked = (thread.fps, thread.cum_tokens, thread.cum_blocks,
                                           thread.marked)
    del cum_tokens[shared:], cum_blocks[shared:]
    marked.difference_update([i for i in marked if i >= shared])
    # Re-read the breakpoints of the last few shared messages.
    for i in range(max(0, shared - RECHECK), shared):
        marks = message_marks(messages[i])
        if marks != fps[i].marks:
            # In place: LastCall readers use only hashes and blocks, which stay the same.
            fps[i] = replace(fps[i], marks=marks)
            if marks:
                marked.add(i)
            else:
                marked.discard(i)
    tokens = cum_tokens[-1] if cum_tokens else 0
    blocks = cum_blocks[-1] if cum_blocks else 0
    for i in range(shared, len(messages)):
        fp = computed.get(i)
        if fp is None:
            fp = message_fingerprint(messages[i])
        fps.append(fp)
        tokens += fp.tokens
        blocks += len(fp.block_hashes)
        cum_tokens.append(tokens)
        cum_blocks.append(blocks)
        if fp.marks:
            marked.add(i)
        if fp.tokens >= LARGE_BLOCK_TOKENS:
            thread.large.add(i, fp)
    # Append only the new messages (O(new), no copy of the whole conversation).
    thread.messages.extend(islice(messages, shared, None))
