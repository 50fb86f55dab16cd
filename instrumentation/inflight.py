"""Request analysis while the request is in flight.

Analysing a Messages request (thread match, fingerprints of the new messages, prefix
and change attributes) costs 50-150 µs of Python per call. Once it has sent the
request, the SDK waits for the API (0.3-30 s) with the GIL released. So the analysis is
queued to one background thread when a call starts and *joined* when its result is first needed: at
the latest when the response is recorded, before the span ends. The thread is woken
when the SDK has built the request and is about to send it (:meth:`InFlight.wake`); in a
real call the analysis is finished long before the response, and the caller pays only
for queueing it.

When the result is needed before the background thread has taken it (a cached or mocked
response, no network wait), the joining thread runs the queued analyses itself; when
that keeps happening, the thread is no longer woken (it would cost a syscall and a GIL
switch for nothing) except to probe now and then. Either way analyses run one at a
time, in submission order: a sequential agent's call N+1 sees call N's conversation
state exactly as when the analysis ran inline.

One queue and one daemon thread per process, started the first time it is woken. The
thread holds no state of its own: after ``fork`` the child starts a new one on demand, and at
interpreter exit nothing is lost, because every call joins its own analysis.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

from .forks import reset_in_child
from .guard import swallowed

MISSES_TO_PAUSE = 8  # consecutive calls whose analysis the thread did not reach in time
PROBE_EVERY = 64  # while paused, wake the thread for one call in this many


class Task:
    """One queued analysis; ``result`` is what the function returned (None if it raised)."""

    __slots__ = ("done", "fn", "result", "seq")

    def __init__(self, fn: Callable[[], Any], seq: int = 0) -> None:
        self.fn: Callable[[], Any] | None = fn
        self.seq = seq
        self.result: Any = None
        self.done = False

    def run(self) -> None:
        fn, self.fn = self.fn, None
        try:
            if fn is not None:
                self.result = fn()
        except Exception:
            swallowed("analyse a request")
        finally:
            self.done = True


class InFlight:
    """A FIFO of analyses, drained by a background thread or by whoever joins first."""

    def __init__(self, name: str = "tokentrail-analysis") -> None:
        self._name = name
        self._reset()
        reset_in_child(self._reset)

    def _reset(self) -> None:
        self._queue: deque[Task] = deque()
        self._seq = itertools.count(1)
        self._released = 0  # the background thread takes tasks up to this ``seq``
        self._misses = 0  # consecutive joins that found a released task not started
        self._paused = 0  # wakes skipped while paused
        self._runner = threading.Lock()  # held while a task runs: one at a time, in order
        self._owner: int | None = None  # the thread holding _runner
        self._wake: SimpleQueue[None] = SimpleQueue()
        self._worker: threading.Thread | None = None

    def submit(self, fn: Callable[[], Any]) -> Task:
        """Queue ``fn``; it runs after :meth:`wake` on the background thread, or in
        :meth:`join`, whichever comes first."""
        task = Task(fn, next(self._seq))
        self._queue.append(task)
        return task

    def wake(self) -> None:
        """Let the background thread take the queue: call when the caller is about to
        wait for the network.

        Not at submit time: the thread runs as soon as the caller releases the GIL, and
        the SDK releases it briefly before sending (``uuid4`` for the idempotency key
        reads ``os.urandom``), so a woken thread would take the analysis and hold the
        GIL while the caller waits to build its request. For the same reason the thread
        takes only the tasks queued up to the last wake, never a call's that is still
        being built.
        """
        queue = self._queue
        if not queue:
            return
        if self._misses >= MISSES_TO_PAUSE:
            # Responses keep coming back before the thread can start (no network wait:
            # a local cache, a mock transport): waking it only costs a syscall and a GIL
            # switch later. The callers run their analyses; every PROBE_EVERY-th call
            # tries the thread again.
            self._paused += 1
            if self._paused % PROBE_EVERY:
                return
        self._released = max(self._released, queue[-1].seq)
        if self._worker is None:
            self._start()
        self._wake.put(None)

    def join(self, task: Task) -> bool:
        """Wait for ``task``, running queued tasks here if nobody else is; whether it ran.

        Returns False without waiting if called from inside a running task (a finalizer
        that the garbage collector runs there): the lock is not reentrant, and a call
        that ends that way simply goes without its analysis.
        """
        if task.done:
            self._misses = 0
            return True
        me = threading.get_ident()
        if self._owner == me:
            return False
        with self._runner:
            self._owner = me
            try:
                if not task.done and task.seq <= self._released:
                    self._misses += 1  # woken for it, and yet it had not started
                queue = self._queue
                while not task.done and queue:
                    queue.popleft().run()
            finally:
                self._owner = None
        return task.done

    def _drain(self) -> None:
        with self._runner:
            self._owner = threading.get_ident()
            try:
                queue = self._queue
                while queue and queue[0].seq <= self._released:
                    queue.popleft().run()
            finally:
                self._owner = None

    def _start(self) -> None:
        try:
            worker = threading.Thread(target=_work, args=(weakref.ref(self), self._wake),
                                      name=self._name, daemon=True)
            worker.start()
            self._worker = worker
        except Exception:  # e.g. at interpreter shutdown: joiners run the tasks
            swallowed("start the analysis thread")
            self._misses = MISSES_TO_PAUSE  # retry only when the pause probes

    def resume(self) -> None:
        """Wake the thread again from the next call on, even if it was paused."""
        self._misses = 0

    def pending(self) -> int:
        """Tasks queued and not yet started (for tests and diagnostics)."""
        return len(self._queue)


def _work(ref: weakref.ReferenceType[InFlight], wake: SimpleQueue[None]) -> None:
    while True:
        wake.get()
        inflight = ref()
        if inflight is None or inflight._wake is not wake:  # collected, or reset by fork
            return
        try:
            inflight._drain()
        except Exception:
            swallowed("drain the analysis queue")
        del inflight


INFLIGHT = InFlight()
"""The process's queue; every tracker shares it (order across trackers does not matter)."""
