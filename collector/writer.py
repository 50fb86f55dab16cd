"""The batching writer between the receivers and the store.

ClickHouse wants few large inserts (docs/facts.md §7: batches of 10k-100k rows, about one
insert per second per table; measured here, an insert into otel_traces costs ~20 ms
before its first row), while OTLP clients send many small requests and must get
their 200 only once their data is durable. So requests hand their data to one writer
thread, which inserts per table when a batch is full or its oldest part has waited
``max_delay`` seconds, whichever comes first, and only then resolves each request's
future. Memory is bounded: past ``max_queued_rows`` new work is refused with
:class:`Overloaded` and the receiver answers 429 with ``Retry-After``.

The writer does not look inside what it batches: a *block* is whatever the sink
accepts (ClickHouse Native bytes from the decode workers, or lists of rows), counted
by its number of rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Overloaded(RuntimeError):
    """The queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"collector queue is full; retry after {retry_after}s")
        self.retry_after = retry_after


class WriterClosed(RuntimeError):
    """The writer is shutting down and accepts no new work."""


class BlockSink(Protocol):
    def insert_blocks(self, table: str, columns: Sequence[str], blocks: Sequence[Any]) -> None:
        """Commit all ``blocks`` of ``table`` in one insert (or raise)."""


@dataclass(frozen=True)
class Part:
    """One request's data for one table."""

    table: str
    columns: Sequence[str]
    block: Any
    rows: int


@dataclass
class _Pending:
    block: Any
    rows: int
    future: Future[None]


@dataclass
class _TableQueue:
    columns: Sequence[str]
    items: list[_Pending] = field(default_factory=list)
    rows: int = 0
    since: float = 0.0


class BatchWriter:
    """Collects blocks from many requests and commits them in batches on one thread."""

    def __init__(
        self,
        sink: BlockSink,
        *,
        max_rows: int = 10_000,
        max_delay: float = 0.05,
        max_queued_rows: int = 500_000,
        retry_after: int = 1,
    ) -> None:
        self._sink = sink
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.max_queued_rows = max_queued_rows
        self.retry_after = retry_after
        self._queues: dict[str, _TableQueue] = {}
        self._queued_rows = 0
        self._in_flight_rows = 0
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="tokentrail-writer", daemon=True)
        self._thread.start()

    @property
    def queued_rows(self) -> int:
        """Rows accepted but not yet committed (queued or being inserted)."""
        with self._cond:
            return self._queued_rows + self._in_flight_rows

    def submit(self, part: Part) -> Future[None]:
        """Queue one block; the future resolves once it is committed."""
        return self.submit_many([part])[0]

    def submit_many(self, parts: Sequence[Part]) -> list[Future[None]]:
        """Queue blocks for several tables at once, all or nothing: one request whose
        data spans tables is either wholly accepted or wholly refused, so a refusal
        never leaves half a request queued (its retry would duplicate that half)."""
        futures: list[Future[None]] = [Future() for _ in parts]
        incoming = sum(part.rows for part in parts)
        with self._cond:
            if self._closing:
                raise WriterClosed("collector is shutting down")
            pending = self._queued_rows + self._in_flight_rows
            if pending and pending + incoming > self.max_queued_rows:
                raise Overloaded(self.retry_after)
            for future, part in zip(futures, parts, strict=True):
                if not part.rows:
                    future.set_result(None)
                    continue
                queue = self._queues.get(part.table)
                if queue is None:
                    queue = self._queues[part.table] = _TableQueue(columns=part.columns)
                if not queue.items:
                    queue.since = time.monotonic()
                queue.items.append(_Pending(part.block, part.rows, future))
                queue.rows += part.rows
                self._queued_rows += part.rows
            self._cond.notify()
        return futures

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop accepting work, commit everything queued, and stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("writer did not drain within %.0fs; %d rows uncommitted",
                      timeout, self.queued_rows)

    # --- the writer thread --------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                batch = self._take_due_batch()
                while batch is None:
                    if self._closing and not self._queued_rows:
                        return
                    self._cond.wait(self._wait_time())
                    batch = self._take_due_batch()
                table, columns, items = batch
                rows = sum(p.rows for p in items)
                self._queued_rows -= rows
                self._in_flight_rows += rows
            try:
                self._commit(table, columns, items)
            finally:
                with self._cond:
                    self._in_flight_rows -= rows

    def _wait_time(self) -> float | None:
        oldest = [q.since for q in self._queues.values() if q.items]
        if not oldest:
            return None
        return max(0.0, min(oldest) + self.max_delay - time.monotonic())

    def _take_due_batch(self) -> tuple[str, Sequence[str], list[_Pending]] | None:
        now = time.monotonic()
        for table, queue in self._queues.items():
            if not queue.items:
                continue
            if self._closing or queue.rows >= self.max_rows or now - queue.since >= self.max_delay:
                items, queue.items, queue.rows = queue.items, [], 0
                return table, queue.columns, items
        return None

    def _commit(self, table: str, columns: Sequence[str], items: list[_Pending]) -> None:
        try:
            self._sink.insert_blocks(table, columns, [p.block for p in items])
        except Exception as exc:
            if len(items) == 1:
                log.warning("insert of %d rows into %s failed: %s", items[0].rows, table, exc)
                items[0].future.set_exception(exc)
                return
            # One bad request must not fail the others batched with it: retry each
            # request alone so that only the offending one gets the error.
            log.warning("batch insert into %s failed (%s); retrying per request", table, exc)
            for pending in items:
                try:
                    self._sink.insert_blocks(table, columns, [pending.block])
                except Exception as single_exc:
                    pending.future.set_exception(single_exc)
                else:
                    pending.future.set_result(None)
            return
        for pending in items:
            pending.future.set_result(None)
