"""Runs and turns: ``tokentrail.run(name, **attributes)`` and the run a call belongs to.

A run is one agent task; a turn is one API call in it (docs/design.md "Runs and turns").
Precedence: an explicit :func:`run` context, then the SDK client's conversation id
(``gen_ai.conversation.id``), then continuity: a call whose messages extend an earlier
call's messages (plus its response) continues that call's run (:mod:`.threads`), and a
call that rewrites a conversation behind its first message (an earlier message edited or
removed, a compaction that keeps the task) stays in that conversation's run
(:mod:`.membership`).

The current run is a ``contextvars`` variable, so it follows threads started with
``contextvars.copy_context()`` and asyncio tasks, and nested runs get a parent link.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def new_id() -> str:
    """``uuid.uuid4().hex`` without building a ``UUID`` object (same bits, same format)."""
    value = int.from_bytes(os.urandom(16), "big")
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # variant RFC 4122
    value = (value & ~(0xF000 << 64)) | (4 << 76)  # version 4
    return f"{value:032x}"


class Run:
    """One agent task. ``id`` is what ``llm_calls.run_id`` will hold."""

    __slots__ = ("__weakref__", "_turns", "attributes", "automatic", "id", "last",
                 "last_response_id", "name", "parent_id")

    def __init__(self, name: str | None = None, *, run_id: str | None = None,
                 parent_id: str | None = None, automatic: bool = False,
                 attributes: dict[str, Any] | None = None) -> None:
        self.id = run_id or new_id()
        self.name = name
        self.parent_id = parent_id
        self.automatic = automatic
        self.attributes = dict(attributes or {})
        self._turns = itertools.count(1)
        self.last: Any = None  # the previous call's summary (.prefix.LastCall)
        self.last_response_id: str | None = None

    def next_turn(self) -> int:
        """The next turn number, 1-based (``itertools.count`` is atomic under the GIL)."""
        return next(self._turns)

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, name={self.name!r}, parent_id={self.parent_id!r})"


_current: ContextVar[Run | None] = ContextVar("tokentrail_run", default=None)


def current_run() -> Run | None:
    """The run declared by the innermost active :func:`run` context, if any."""
    return _current.get()


class run:  # used like a function: tokentrail.run("name")
    """Declare a run: ``with tokentrail.run("triage", ticket=42) as r: ...``.

    Also a decorator (sync and async functions): every invocation is a new run. A run
    started inside another run is its sub-run (``tokentrail.run.parent_id``). Keyword
    arguments become span attributes ``tokentrail.run.attributes.<key>``.
    """

    def __init__(self, name: str | None = None, /, *, run_id: str | None = None,
                 **attributes: Any) -> None:
        self.name = name
        self.run_id = run_id
        self.attributes = attributes
        self._tokens: list[Token[Run | None]] = []
        self.run: Run | None = None

    def _enter(self) -> Run:
        parent = _current.get()
        self.run = Run(self.name, run_id=self.run_id,
                       parent_id=parent.id if parent is not None else None,
                       attributes=self.attributes)
        self._tokens.append(_current.set(self.run))
        return self.run

    def _exit(self) -> None:
        _current.reset(self._tokens.pop())

    def __enter__(self) -> Run:
        return self._enter()

    def __exit__(self, *exc: object) -> None:
        self._exit()

    async def __aenter__(self) -> Run:
        return self._enter()

    async def __aexit__(self, *exc: object) -> None:
        self._exit()

    def __call__(self, fn: F) -> F:
        name = self.name or getattr(fn, "__qualname__", None)
        run_id, attributes = self.run_id, self.attributes
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with run(name, run_id=run_id, **attributes):
                    return await fn(*args, **kwargs)
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with run(name, run_id=run_id, **attributes):
                return fn(*args, **kwargs)
        return wrapper  # type: ignore[return-value]


class ConversationRuns:
    """Runs keyed by ``gen_ai.conversation.id``: the conversation id is the run id."""

    def __init__(self, size: int = 1024) -> None:
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> Run:
        with self._lock:
            found = self._runs.get(conversation_id)
            if found is None:
                found = Run(run_id=conversation_id)
                self._runs[conversation_id] = found
                if len(self._runs) > self._size:
                    self._runs.popitem(last=False)
            else:
                self._runs.move_to_end(conversation_id)
            return found
